"""``exposure``: how far a face is from a usable exposure, signed, in [-1, 1].

The paper's ``brightness`` (mean HSV value of the box) mixes hair, background and a dark or
pale skin with the light on the face, and says nothing of clipped shadows or highlights. This
measure looks only at the skin of the aligned face (the crop ``scoring.fiqa.aligned_faces`` makes
for LightQNet, so it costs no extra warp):

1. luminance ``L`` in [0, 1] of the inner face: rows 30-90 %, columns 20-80 % of the crop
   (forehead to chin, eye to eye; no hair, no background);
2. its key, the log-average ``exp(mean(log(L + 1/255)))``, which clean faces put near 0.5
   (measured on LFW: median 0.51, 90 % between 0.34 and 0.65);
3. ``exposure = log2(key / 0.5) / 2 + clipped_high - clipped_low``, clipped to [-1, 1], where
   ``clipped_high`` / ``clipped_low`` are the shares of pixels at or above 0.96 / at or below 0.04.

So 0 is a well exposed face, -1 a face lost in shadow (two stops under, or fully crushed), +1 a
face burnt out. Each term only falls when the pixels darken, so the value falls monotonically
under any darkening curve (gamma > 1) and rises under any brightening one.

For ranking, ``goodness`` ignores ``|exposure| <= TOLERANCE`` (half a stop): natural skin tones
differ by about that much, and a selector must not prefer lighter skin.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 0.25
_ROWS = (0.30, 0.90)
_COLUMNS = (0.20, 0.80)
_CLIP_LOW = 0.04
_CLIP_HIGH = 0.96
_MID_KEY = 0.5
# ITU-R BT.601 luma weights, in the crop's BGR order.
_LUMA_BGR = np.array([0.114, 0.587, 0.299])


def exposure(aligned_bgr: np.ndarray) -> np.ndarray:
    """Exposure in [-1, 1] of (N, S, S, 3) uint8 BGR aligned face crops; shape (N,)."""
    crops = np.asarray(aligned_bgr)
    if crops.ndim != 4 or crops.shape[3] != 3:
        raise ValueError(f"expected (N, S, S, 3) crops, got shape {crops.shape}")
    if len(crops) == 0:
        return np.empty(0)
    size = crops.shape[1]
    inner = crops[
        :,
        round(_ROWS[0] * size) : round(_ROWS[1] * size),
        round(_COLUMNS[0] * size) : round(_COLUMNS[1] * size),
    ]
    luma = (inner.astype(np.float64) @ _LUMA_BGR / 255.0).reshape(len(crops), -1)
    key = np.exp(np.log(luma + 1.0 / 255.0).mean(axis=1))
    high = (luma >= _CLIP_HIGH).mean(axis=1)
    low = (luma <= _CLIP_LOW).mean(axis=1)
    return np.clip(np.log2(key / _MID_KEY) / 2.0 + high - low, -1.0, 1.0)


def exposure_goodness(values: np.ndarray) -> np.ndarray:
    """Larger is better: ``-(|exposure| - TOLERANCE)`` beyond the tolerance, else 0; (N,)."""
    return -np.maximum(np.abs(np.asarray(values, dtype=np.float64)) - TOLERANCE, 0.0)
