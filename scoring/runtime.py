"""ONNX Runtime sessions for the small per-face models (FSA-Net, a FaceQNet-style model)."""

from __future__ import annotations

from collections.abc import Sequence

from scoring.device import default_device


def onnx_providers(device: str | None) -> list[str]:
    """Execution providers for a torch-style device name: CUDA first when asked for and present.

    ``None`` asks for CUDA when present (``default_device``); that asks torch, so it is done only
    when onnxruntime could use CUDA at all."""
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return ["CPUExecutionProvider"]
    if (device or default_device()).startswith("cuda"):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def onnx_session(path: str, providers: Sequence[str]):
    """A session running one operator at a time: these models see one 64-224 px face per call,
    where threads cost more than they give (measured: 2x the faces/s of the default on 2 cores).
    Scale out with more workers instead."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=list(providers))
