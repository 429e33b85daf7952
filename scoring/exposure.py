"""``exposure``: how far a face is from a usable exposure, signed, in [-1, 1].

The paper's ``brightness`` (mean HSV value of the box) mixes hair, background and a dark or
pale skin with the light on the face, and says nothing of clipped shadows or highlights. This
measure looks only at the skin of the aligned face (the crop ``scoring.fiqa.aligned_faces`` makes
for LightQNet, so it costs no extra warp):

1. luminance ``L`` in [0, 1] of the inner face: rows 30-90 %, columns 20-80 % of the crop (forehead
   to chin, eye to eye; no hair, no background);
2. its key, the log-average ``exp(mean(log(L + 1/255)))``, which clean faces put near 0.5
   (measured on LFW: median 0.51, 90 % between 0.34 and 0.65);
3. ``exposure = log2(key / 0.5) / 2 + clipped_high - clipped_low``, clipped to [-1, 1], where
   ``clipped_high`` / ``clipped_low`` are the shares of pixels at or above 0.96 / at or below 0.04.

So 0 is a well exposed face, -1 a face lost in shadow (two stops under, or fully crushed), +1 a
face burnt out. Each term only falls when the pixels darken, so the value falls monotonically
under any darkening curve (gamma > 1) and rises under any brightening one.

For ranking, ``goodness`` ignores ``|exposure| <= tolerance`` (half a stop): natural skin tones
differ by about that much, and a selector must not prefer lighter skin. The numbers above are the
defaults of :class:`ExposureParams`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ITU-R BT.601 luma weights, in the crop's BGR order.
_LUMA_BGR = np.array([0.114, 0.587, 0.299])


@dataclass(frozen=True)
class ExposureParams:
    """The settings of the exposure measure; the defaults are the feature's (``key-clip-1``).

    - ``rows``, ``columns``: the inner face measured, as (start, end) shares of the aligned
      crop's height and width.
    - ``clip_low``, ``clip_high``: luminances at or below / at or above which a pixel counts as
      crushed / burnt out.
    - ``mid_key``: the key that reads as exposure 0 when no pixel is crushed or burnt out.
    - ``tolerance``: the ``|exposure|`` that ranking ignores (``exposure_goodness``).
    """

    rows: tuple[float, float] = (0.30, 0.90)
    columns: tuple[float, float] = (0.20, 0.80)
    clip_low: float = 0.04
    clip_high: float = 0.96
    mid_key: float = 0.5
    tolerance: float = 0.25

    def __post_init__(self) -> None:
        for start, end in (self.rows, self.columns):
            if not 0 <= start < end <= 1:
                raise ValueError("rows and columns must be (start, end) with 0 <= start < end <= 1")
        if not 0 <= self.clip_low < self.mid_key < self.clip_high <= 1:
            raise ValueError("need 0 <= clip_low < mid_key < clip_high <= 1")
        if self.tolerance < 0:
            raise ValueError("tolerance must not be negative")


def exposure(aligned_bgr: np.ndarray, params: ExposureParams = ExposureParams()) -> np.ndarray:
    """Exposure in [-1, 1] of (N, S, S, 3) uint8 BGR aligned face crops; shape (N,)."""
    crops = np.asarray(aligned_bgr)
    if crops.ndim != 4 or crops.shape[3] != 3:
        raise ValueError(f"expected (N, S, S, 3) crops, got shape {crops.shape}")
    if len(crops) == 0:
        return np.empty(0)
    size = crops.shape[1]
    (top, bottom), (left, right) = params.rows, params.columns
    inner = crops[
        :, round(top * size) : round(bottom * size), round(left * size) : round(right * size)
    ]
    luma = (inner.astype(np.float64) @ _LUMA_BGR / 255.0).reshape(len(crops), -1)
    key = np.exp(np.log(luma + 1.0 / 255.0).mean(axis=1))
    high = (luma >= params.clip_high).mean(axis=1)
    low = (luma <= params.clip_low).mean(axis=1)
    return np.clip(np.log2(key / params.mid_key) / 2.0 + high - low, -1.0, 1.0)


def exposure_goodness(values: np.ndarray, params: ExposureParams = ExposureParams()) -> np.ndarray:
    """Larger is better: ``-(|exposure| - tolerance)`` beyond the tolerance, else 0; (N,)."""
    return -np.maximum(np.abs(np.asarray(values, dtype=np.float64)) - params.tolerance, 0.0)
