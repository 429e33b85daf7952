"""Image degradations that make a face harder to recognise, for the method-quality benchmark and
the tests: each takes an RGB uint8 image (H, W, 3) and returns a degraded copy of the same size.

``sunglasses`` needs the face's landmarks (5, 2); the others only the image and a random
generator (motion blur's direction and JPEG's quality are drawn from it).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Degradation = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def gaussian_blur(sigma: float) -> Degradation:
    def degrade(image, landmarks, rng):
        return cv2.GaussianBlur(image, (0, 0), sigma)

    return degrade


def motion_blur(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A straight 11-pixel streak in a random direction (a camera or head moving)."""
    length = 11
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    angle = float(rng.uniform(0, 180))
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def noise(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian sensor noise of sigma 18/255 on every channel."""
    noisy = image.astype(np.float32) + rng.normal(0.0, 18.0, image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """JPEG at a quality drawn from 6 to 10: 8 x 8 blocks and lost colour."""
    quality = int(rng.integers(6, 11))
    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def gamma(power: float) -> Degradation:
    """``255 · (x / 255) ** power``: above 1 darkens (2.6: a badly under-exposed shot)."""
    table = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** power), 0, 255).astype(np.uint8)

    def degrade(image, landmarks, rng):
        return table[image]

    return degrade


def overexpose(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two and a half stops too much light: values × 2.5, clipped at white."""
    return np.clip(image.astype(np.float32) * 2.5, 0, 255).astype(np.uint8)


def low_resolution(factor: float) -> Degradation:
    """Down to ``factor`` of the size and back up: the pixels of a small, far face."""

    def degrade(image, landmarks, rng):
        height, width = image.shape[:2]
        small = cv2.resize(
            image,
            (max(1, round(width * factor)), max(1, round(height * factor))),
            interpolation=cv2.INTER_AREA,
        )
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)

    return degrade


def rotation(degrees: float) -> Degradation:
    """The image turned ``degrees`` about its centre (a tilted head), edges repeated."""

    def degrade(image, landmarks, rng):
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        return cv2.warpAffine(
            image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    return degrade


def sunglasses(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A near-black band over both eyes, as wide as the face and as tall as half the eye
    distance, following the eyes' slant: sunglasses, or a hand across the eyes."""
    left, right = np.asarray(landmarks[0], float), np.asarray(landmarks[1], float)
    along = right - left
    distance = float(np.hypot(*along))
    along /= max(distance, 1e-6)
    across = np.array([-along[1], along[0]])
    half_width, half_height = 0.95 * distance, 0.28 * distance
    centre = (left + right) / 2.0
    corners = np.array(
        [
            centre - half_width * along - half_height * across,
            centre + half_width * along - half_height * across,
            centre + half_width * along + half_height * across,
            centre - half_width * along + half_height * across,
        ]
    )
    covered = image.copy()
    cv2.fillConvexPoly(covered, np.rint(corners).astype(np.int32), (18, 18, 22), cv2.LINE_AA)
    return covered


DEGRADATIONS: dict[str, Degradation] = {
    "blur-2": gaussian_blur(2.0),
    "blur-3": gaussian_blur(3.0),
    "motion-blur": motion_blur,
    "noise": noise,
    "jpeg": jpeg,
    "dark": gamma(2.6),
    "overexposed": overexpose,
    "low-resolution": low_resolution(0.3),
    "rotated": rotation(35.0),
    "sunglasses": sunglasses,
}
