"""The hand-made measures on constructed images whose answer is known: artifacts' noise and block
grid, exposure's stops."""

import numpy as np
import pytest

from scoring.artifacts import ArtifactsParams, artifacts, noise_and_blockiness
from scoring.exposure import ExposureParams, exposure, exposure_goodness

BOX = (16.0, 16.0, 96.0, 96.0)


def grey(level: float, size: int = 128) -> np.ndarray:
    return np.full((size, size, 3), level, np.float64)


def rgb(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [4.0, 8.0, 16.0])
def test_the_noise_of_a_flat_face_is_its_standard_deviation(sigma):
    rng = np.random.default_rng(0)
    noisy = grey(128) + rng.normal(0, sigma, (128, 128, 1))  # the same noise on every channel
    noise, _ = noise_and_blockiness(rgb(noisy), BOX)
    assert noise == pytest.approx(sigma, rel=0.1)


def blocks(offset: int) -> np.ndarray:
    """Flat 8 x 8 blocks of random grey levels whose edges lie ``offset`` px off the 8 px grid."""
    levels = np.random.default_rng(1).uniform(60, 200, (18, 18))
    tiles = np.kron(levels, np.ones((8, 8)))[offset : offset + 128, offset : offset + 128]
    return rgb(np.repeat(tiles[:, :, None], 3, axis=2))


def test_blocks_on_the_codec_grid_are_artifacts_and_the_same_blocks_off_it_are_not():
    on_grid, off_grid = blocks(0), blocks(4)
    assert noise_and_blockiness(on_grid, BOX)[1] > 10
    assert noise_and_blockiness(off_grid, BOX)[1] < 0.5
    assert artifacts(on_grid, np.array([BOX]))[0] == 1.0
    assert artifacts(off_grid, np.array([BOX]))[0] == 0.0
    # A 4 px codec grid holds the shifted blocks' edges too.
    assert artifacts(off_grid, np.array([BOX]), ArtifactsParams(block=4))[0] == 1.0


def test_artifacts_reach_half_midway_along_the_noise_span():
    params = ArtifactsParams()
    sigma = params.noise_free + params.noise_span / 2
    noisy = grey(128) + np.random.default_rng(2).normal(0, sigma, (128, 128, 1))
    assert artifacts(rgb(noisy), np.array([BOX]), params)[0] == pytest.approx(0.5, abs=0.1)


def test_exposure_counts_half_a_unit_per_stop():
    # Crops of uniform luminance: 0.5 is well exposed; each halving of the light is one stop.
    crops = np.stack([rgb(grey(255 * key, 96)) for key in (0.5, 0.25, 0.125)])
    assert exposure(crops) == pytest.approx([0.0, -0.5, -1.0], abs=0.03)  # log(L + 1/255)
    brighter_key = ExposureParams(mid_key=0.25)
    assert exposure(crops[1:2], brighter_key)[0] == pytest.approx(0.0, abs=0.02)


def test_exposure_goodness_ignores_only_the_tolerance():
    values = np.array([-0.6, -0.2, 0.0, 0.1, 0.4])
    assert exposure_goodness(values).tolist() == pytest.approx([-0.35, 0, 0, 0, -0.15])
    strict = ExposureParams(tolerance=0.0)
    assert exposure_goodness(values, strict).tolist() == pytest.approx(-np.abs(values))
