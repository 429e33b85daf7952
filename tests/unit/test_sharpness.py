"""The built-in sharpness on real faces (blur, noise, gamma, upscaling, size) and on step edges
of known blur."""

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from scoring.sharpness import SharpnessParams, edge_blur, sharpness
from tests.unit.facedata import lfw_faces, load_rgb, photo_faces

BLURS = (0, 0.5, 1, 1.5, 2, 3, 4)


@pytest.fixture(scope="module")
def faces():
    found = lfw_faces(60)
    assert len(found) >= 50
    return [(load_rgb(face.path), face.box[None]) for face in found]


def score(image, boxes) -> float:
    return float(sharpness(image, boxes)[0])


def blurred(image, sigma):
    return image if sigma == 0 else cv2.GaussianBlur(image, (0, 0), sigma)


def test_sharpness_falls_as_blur_rises(faces):
    rhos = [
        spearmanr(BLURS, [score(blurred(image, s), boxes) for s in BLURS])[0]
        for image, boxes in faces
    ]
    assert np.median(rhos) <= -0.95


def test_added_noise_does_not_raise_sharpness(faces):
    rng = np.random.default_rng(0)
    rises = []
    for image, boxes in faces:
        noisy = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
        rises.append(score(noisy, boxes) - score(image, boxes))
    assert np.quantile(rises, 0.95) <= 0.02


def test_gamma_barely_moves_sharpness(faces):
    moves = []
    for image, boxes in faces:
        base = score(image, boxes)
        for gamma in (0.6, 0.8, 1.25, 1.6):
            table = (255 * (np.arange(256) / 255) ** gamma).round().astype(np.uint8)
            moves.append(abs(score(cv2.LUT(image, table), boxes) - base))
    assert np.median(moves) < 0.1


def around(image, box, margin=0.6):
    """The region around a face (for speed on 4,000 px photos) and the box inside it."""
    x, y, w, h = box
    x0, y0 = max(int(x - margin * w), 0), max(int(y - margin * h), 0)
    x1 = min(int(x + w * (1 + margin)), image.shape[1])
    y1 = min(int(y + h * (1 + margin)), image.shape[0])
    return image[y0:y1, x0:x1], np.array([[x - x0, y - y0, w, h]])


@pytest.fixture(scope="module")
def photos():
    return [around(load_rgb(face.path), face.box) for face in photo_faces()]


def test_an_upscaled_small_face_scores_below_the_real_large_one(photos):
    below = []
    for region, boxes in photos:
        zoom = 80 / boxes[0, 2]
        height, width = region.shape[:2]
        small = cv2.resize(
            region,
            (max(round(width * zoom), 1), max(round(height * zoom), 1)),
            interpolation=cv2.INTER_AREA,
        )
        upscaled = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        below.append(score(upscaled, boxes) < score(region, boxes))
    assert np.mean(below) >= 0.95


def test_sharpness_barely_depends_on_the_size_of_a_large_face(photos):
    moves = []
    for region, boxes in photos:
        if boxes[0, 2] >= 256:  # still larger than the normalised size at half scale
            half = cv2.resize(region, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            moves.append(abs(score(half, boxes / 2) - score(region, boxes)))
    assert len(moves) >= 10
    assert np.median(moves) < 0.03


def bars(blur: float, dark: int = 60, light: int = 190) -> np.ndarray:
    """A 256 x 256 grey image of vertical bars 16 px wide (straight step edges), blurred by a
    Gaussian of sigma ``blur`` px."""
    gray = np.full((256, 256), dark, np.float32)
    for left in range(0, 256, 32):
        gray[:, left : left + 16] = light
    if blur:
        gray = cv2.GaussianBlur(gray, (0, 0), blur)
    return np.repeat(gray.round().astype(np.uint8)[:, :, None], 3, axis=2)


# A box 128 px wide: the normalised size, so the bars are measured at their own pixels.
BARS_BOX = np.array([64.0, 64.0, 128.0, 128.0])


def test_the_blur_of_a_step_edge_is_recovered():
    # Blur widths add in quadrature: the estimate is the known blur combined with the width that
    # sampling gives a perfect step (itself below the half-score width).
    step = edge_blur(bars(0), BARS_BOX)
    assert 0.5 < step < SharpnessParams().blur_scale
    for blur in (1.0, 1.5, 2.0, 3.0):
        assert edge_blur(bars(blur), BARS_BOX) == pytest.approx(np.hypot(blur, step), rel=0.03)


def test_contrast_and_brightness_do_not_change_the_blur_of_a_step_edge():
    for blur in (0.0, 1.0, 2.0):
        reference = edge_blur(bars(blur), BARS_BOX)
        for dark, light in ((100, 140), (20, 240), (150, 250)):
            measured = edge_blur(bars(blur, dark, light), BARS_BOX)
            assert measured == pytest.approx(reference, rel=0.03)


def test_a_face_without_edges_scores_zero():
    flat = np.full((256, 256, 3), 128, np.uint8)
    assert score(flat, BARS_BOX[None]) == 0.0


def test_blur_scale_is_the_blur_that_scores_one_half():
    image = bars(2.0)
    params = SharpnessParams(blur_scale=edge_blur(image, BARS_BOX))
    assert sharpness(image, BARS_BOX[None], params)[0] == pytest.approx(0.5)
    assert score(image, BARS_BOX[None]) < 0.5 < score(bars(0), BARS_BOX[None])
