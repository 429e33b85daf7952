"""``artifacts``: visible sensor noise or compression blocks on a face, 0 (none) to 1 (heavy).

The learned quality sees every face at 96 px, and the edge-width sharpness takes noise out by
design, so neither sees grain or JPEG blocks on a face larger than that. This measure looks at
the face box at its own resolution, in grey levels (0-255):

- noise: the standard deviation of the noise, estimated robustly from the median absolute
  diagonal second difference (flat skin dominates it; edges are outliers). Clean photos measure
  1.5-3.7 (5-95 %), σ = 18/255 added noise about 12.6.
- blockiness: the mean absolute step between neighbouring pixels across the 8-pixel grid
  (``block``) of the image (where JPEG and most video codecs put their block edges) over the mean
  step elsewhere. Clean photos measure 0.93-1.16; JPEG at quality 6-10 about 2.6. A face
  resampled after compression has no grid left to find, and reads as clean.

``artifacts = max((noise - noise_free) / noise_span, (blockiness - block_free) / block_span)``,
clipped to [0, 1] (the names are fields of :class:`ArtifactsParams`). Both parts are zero below a
level every clean face stays under: a smooth, blurred or compressed face has less noise than a
clean one, and must not rank above it for that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ITU-R BT.601 luma weights, RGB order.
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class ArtifactsParams:
    """The settings of the artifacts measure; the defaults are the feature's (``noise-block-1``).

    - ``noise_free``: the noise σ (grey levels) at and below which a face reads as clean;
    - ``noise_span``: how much more noise than that reads as 1 (heavy);
    - ``block_free``: the blockiness at and below which a face reads as clean;
    - ``block_span``: how much more blockiness than that reads as 1;
    - ``block``: the codec's block size in pixels: block edges lie on multiples of it.
    """

    noise_free: float = 5.0
    noise_span: float = 8.0
    block_free: float = 1.3
    block_span: float = 0.7
    block: int = 8

    def __post_init__(self) -> None:
        if self.noise_span <= 0 or self.block_span <= 0:
            raise ValueError("noise_span and block_span must be positive")
        if self.block < 2:
            raise ValueError("block must be at least 2 pixels")


def noise_and_blockiness(
    image: np.ndarray, box, block: int = ArtifactsParams.block
) -> tuple[float, float]:
    """Noise σ (grey levels) and blockiness (a ratio, 1 = no grid of ``block`` pixels) of one
    face box (x, y, w, h) of an RGB uint8 image."""
    height, width = image.shape[:2]
    x, y, w, h = (int(round(v)) for v in box)
    x0, y0 = min(max(x, 0), width - 2), min(max(y, 0), height - 2)
    x1, y1 = max(min(x + w, width - 1), x0 + 2), max(min(y + h, height - 1), y0 + 2)
    # One pixel more on the right and bottom, so the last steps in the box are measured.
    gray = image[y0 : y1 + 1, x0 : x1 + 1].astype(np.float64) @ _LUMA
    inner = gray[:-1, :-1]
    diagonal = gray[1:-1, 1:-1] - gray[1:-1, :-2] - gray[:-2, 1:-1] + gray[:-2, :-2]
    noise = float(np.median(np.abs(diagonal))) / (0.6745 * 2.0) if diagonal.size else 0.0
    across = np.abs(np.diff(gray[:-1], axis=1))  # step between column c and c + 1
    down = np.abs(np.diff(gray[:, :-1], axis=0))
    on_column = (np.arange(x0, x0 + inner.shape[1]) % block) == block - 1
    on_row = (np.arange(y0, y0 + inner.shape[0]) % block) == block - 1
    if not on_column.any() or on_column.all() or not on_row.any() or on_row.all():
        return noise, 1.0
    at_grid = across[:, on_column].mean() + down[on_row].mean()
    elsewhere = across[:, ~on_column].mean() + down[~on_row].mean()
    return noise, float((at_grid + 1e-6) / (elsewhere + 1e-6))


def artifacts(
    image: np.ndarray, boxes: np.ndarray, params: ArtifactsParams = ArtifactsParams()
) -> np.ndarray:
    """``artifacts`` in [0, 1] of the faces ``boxes`` (N, 4) of one RGB uint8 image; (N,)."""
    values = []
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        noise, blockiness = noise_and_blockiness(image, box, params.block)
        values.append(
            max(
                (noise - params.noise_free) / params.noise_span,
                (blockiness - params.block_free) / params.block_span,
            )
        )
    return np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
