"""Model files that ship inside this package (see ``weights/PROVENANCE.md``)."""

from pathlib import Path

WEIGHTS = Path(__file__).resolve().parent / "weights"
FSANET_MODELS = (
    WEIGHTS / "fsanet" / "fsanet-1x1-iter-688590.onnx",
    WEIGHTS / "fsanet" / "fsanet-var-iter-688590.onnx",
)
LIGHTQNET_MODEL = WEIGHTS / "lightqnet" / "lightqnet-dm100.onnx"
