"""Face sharpness in [0, 1]: how wide the blur of the face's edges is.

The paper scored sharpness with FaceQNet; here the learned quality is its own feature
(``scoring.fiqa``) and this measure stays a plain, explainable edge width. It estimates how
wide the blur of the face's strong edges is, in pixels of the face resized to at most
``max_side`` wide (the names are fields of :class:`SharpnessParams`):

1. The face box (plus a ``margin`` so filters see context) is converted to luminance and resized
   so the box is ``clip(box width, min_side, max_side)`` pixels wide. Faces larger than
   ``max_side`` are reduced, so sharpness does not depend on the face size; smaller faces keep
   their pixels, so a small sharp face is not punished for being small (``resolution`` measures
   size).
2. Gradient energy is taken at two Gaussian scales ``s1 < s2`` (``scale_fine``,
   ``scale_coarse``) over the face's strongest edges (the top ``edge_fraction`` of coarse-scale
   gradient energy, slightly dilated). For a step edge blurred by ``b`` pixels, the energy ratio
   is ``sqrt((b² + s2²) / (b² + s1²))``, which is inverted to give ``b``. A ratio of two energies
   on the same pixels does not change when the face is brighter, darker or more contrasted, and
   gamma changes it little.
3. Sensor noise would add fine-scale energy and look like detail. The noise level is estimated
   robustly (median absolute diagonal difference, dominated by the flat skin) and its expected
   energy removed from both scales, so added noise does not raise the score.
4. ``sharpness = 1 / (1 + (b / blur_scale)²)``: 1 for a perfect edge, 0.5 at ``blur_scale``
   pixels of blur, towards 0 for a heavily blurred face.

An upscaled small face has the box of a large face but the detail of a small one: its edges are
wide at the normalised size, so it scores below the real large face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np


@dataclass(frozen=True)
class SharpnessParams:
    """The settings of the edge-width measure; the defaults are the feature's
    (``sharpness=edge-blur-1`` in ``FeatureConfig.version``).

    - ``min_side``, ``max_side``: the face box is resized to ``clip(width, min_side, max_side)``
      pixels wide before measuring; blur widths are in pixels of that normalised face.
    - ``scale_fine``, ``scale_coarse``: the two Gaussian sigmas (normalised pixels) whose gradient
      energies are compared; a blur much wider than ``scale_coarse`` cannot be told apart.
    - ``edge_fraction``: the share of the box's pixels, by coarse-scale gradient energy, measured
      as its strong edges.
    - ``blur_scale``: the blur width (normalised pixels) that scores 0.5.
    - ``margin``: context around the box, as a share of its size on each side, that the filters
      see (statistics still come from the box alone).
    """

    min_side: int = 32
    max_side: int = 128
    scale_fine: float = 1.0
    scale_coarse: float = 2.5
    edge_fraction: float = 0.1
    blur_scale: float = 1.5
    margin: float = 0.15

    def __post_init__(self) -> None:
        if not 0 < self.min_side <= self.max_side:
            raise ValueError("need 0 < min_side <= max_side")
        if not 0 < self.scale_fine < self.scale_coarse:
            raise ValueError("need 0 < scale_fine < scale_coarse")
        if not 0 < self.edge_fraction <= 1:
            raise ValueError("edge_fraction must be in (0, 1]")
        if self.blur_scale <= 0 or self.margin < 0:
            raise ValueError("blur_scale must be positive and margin not negative")


def _gradient_energy(gray: np.ndarray, scale: float) -> np.ndarray:
    smooth = cv2.GaussianBlur(gray, (0, 0), scale)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return gx * gx + gy * gy


@cache
def _noise_energy(scale: float) -> float:
    """Mean gradient energy at ``scale`` of unit-variance white noise (a constant per scale)."""
    noise = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    return float(_gradient_energy(noise, scale)[16:-16, 16:-16].mean())


def face_crop(
    image: np.ndarray, box: Sequence[float], margin: float
) -> tuple[np.ndarray, int, int]:
    """The box grown by ``margin`` of its size on each side, clipped to the image.

    Returns the crop and the offset (x, y) of the crop's corner in the image.
    """
    x, y, w, h = box
    height, width = image.shape[:2]
    x0 = max(int(np.floor(x - margin * w)), 0)
    y0 = max(int(np.floor(y - margin * h)), 0)
    x1 = min(int(np.ceil(x + w * (1 + margin))), width)
    y1 = min(int(np.ceil(y + h * (1 + margin))), height)
    return image[y0:y1, x0:x1], x0, y0


def edge_blur(
    image: np.ndarray, box: Sequence[float], params: SharpnessParams = SharpnessParams()
) -> float:
    """Estimated blur width (Gaussian sigma, in pixels of the normalised face) of one face.

    ``image`` is RGB uint8 (H, W, 3); ``box`` is (x, y, w, h).
    """
    x, y, w, h = box
    sigma_fine, sigma_coarse = params.scale_fine, params.scale_coarse
    crop, x0, y0 = face_crop(image, box, params.margin)
    scale = float(np.clip(w, params.min_side, params.max_side)) / w
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    gray = cv2.resize(
        cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0,
        None,
        fx=scale,
        fy=scale,
        interpolation=interpolation,
    )

    # Statistics come from the face box only; the margin just feeds the filters.
    ix0, iy0 = int((x - x0) * scale), int((y - y0) * scale)
    inner = (slice(iy0, iy0 + max(int(h * scale), 4)), slice(ix0, ix0 + max(int(w * scale), 4)))
    fine = _gradient_energy(gray, sigma_fine)[inner]
    coarse = _gradient_energy(gray, sigma_coarse)[inner]

    diagonal = gray[1:, 1:] - gray[1:, :-1] - gray[:-1, 1:] + gray[:-1, :-1]
    noise_sigma = float(np.median(np.abs(diagonal[inner]))) / (0.6745 * 2.0)

    edges = (coarse >= np.quantile(coarse, 1.0 - params.edge_fraction)).astype(np.uint8)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8)).astype(bool)
    noise_var = noise_sigma * noise_sigma
    energy_fine = fine[edges].mean() - _noise_energy(sigma_fine) * noise_var
    energy_coarse = coarse[edges].mean() - _noise_energy(sigma_coarse) * noise_var
    if energy_coarse <= 1e-12 or energy_fine <= 1e-12:
        return float("inf")  # no edge stands out of the noise: as good as fully blurred
    ratio_sq = float(
        np.clip(energy_fine / energy_coarse, 1.0 + 1e-6, (sigma_coarse / sigma_fine) ** 2 - 1e-6)
    )
    blur_sq = (sigma_coarse**2 - ratio_sq * sigma_fine**2) / (ratio_sq - 1.0)
    return float(np.sqrt(max(blur_sq, 0.0)))


def sharpness(
    image: np.ndarray, boxes: np.ndarray, params: SharpnessParams = SharpnessParams()
) -> np.ndarray:
    """Built-in sharpness in [0, 1] of the faces ``boxes`` (N, 4) of one RGB image; shape (N,)."""
    blur = np.array([edge_blur(image, box, params) for box in np.asarray(boxes, dtype=np.float64)])
    return 1.0 / (1.0 + (blur / params.blur_scale) ** 2)
