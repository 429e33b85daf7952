import colorsys

import numpy as np
import pytest

from scoring.features import (
    FEATURE_NAMES,
    FeatureConfig,
    FeatureExtractor,
    FeatureTable,
    brightness,
    resolution,
)
from tests.unit.facedata import fsanet_models, lfw_faces, load_rgb


def independent_brightness(image: np.ndarray, box) -> float:
    """Mean HSV value in percent, by the standard library's colorsys."""
    x, y, w, h = (round(v) for v in (box[0], box[1], box[0] + box[2], box[1] + box[3]))
    pixels = image[y:h, x:w].reshape(-1, 3) / 255.0
    return 100.0 * np.mean([colorsys.rgb_to_hsv(*pixel)[2] for pixel in pixels])


def test_brightness_equals_an_independent_hsv_computation_on_random_images():
    rng = np.random.default_rng(0)
    for _ in range(5):
        image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
        box = np.array(
            [rng.uniform(0, 30), rng.uniform(0, 20), rng.uniform(5, 40), rng.uniform(5, 35)]
        )
        assert brightness(image, box[None])[0] == pytest.approx(
            independent_brightness(image, box), abs=1e-9
        )


def test_brightness_equals_an_independent_hsv_computation_on_real_faces():
    for face in lfw_faces(60)[:5]:
        image = load_rgb(face.path)
        assert brightness(image, face.box[None])[0] == pytest.approx(
            independent_brightness(image, face.box), abs=1e-9
        )


def test_resolution_is_the_box_area():
    boxes = np.array([[0, 0, 10, 20], [5, 5, 3.5, 2]])
    assert resolution(boxes).tolist() == [200.0, 7.0]


def test_feature_table_rejects_columns_of_different_lengths():
    with pytest.raises(ValueError):
        FeatureTable(brightness=[1, 2], resolution=[1], sharpness=[1], roll=[1], pitch=[1], yaw=[1])


def test_feature_table_round_trips_through_a_matrix_and_is_read_only():
    matrix = np.arange(30, dtype=float).reshape(3, 10)
    table = FeatureTable.from_matrix(matrix)
    assert np.array_equal(table.matrix(), matrix)
    assert np.array_equal(table.take([2, 0]).matrix(), matrix[[2, 0]])
    assert len(FeatureTable.concat([table, table])) == 6
    with pytest.raises(ValueError):
        table.yaw[0] = 1.0


@pytest.mark.parametrize("with_fsanet", [False, True])
def test_extractor_gives_one_row_per_face_in_range(with_fsanet):
    config = FeatureConfig(pose_models=fsanet_models() if with_fsanet else ())
    extractor = FeatureExtractor(config)
    faces = lfw_faces(60)[:4]
    groups = [(load_rgb(f.path), f.box[None], f.landmarks[None]) for f in faces]
    table = extractor.extract_many(groups)
    assert len(table) == 4
    assert np.all((table.sharpness >= 0) & (table.sharpness <= 1))
    assert np.all((table.brightness >= 0) & (table.brightness <= 100))
    assert np.all(np.abs(table.matrix(("yaw", "pitch", "roll"))) < 90)
    assert np.all((table.fiqa > 0) & (table.fiqa < 1))
    assert np.all(np.abs(table.exposure) <= 1)
    assert np.all((table.artifacts >= 0) & (table.artifacts <= 1))
    assert np.all(np.isnan(table.identity)), "identity needs the cluster: not the extractor's"
    assert ("fsanet" in extractor.version) == with_fsanet


def test_the_shipped_models_are_on_by_default():
    version = FeatureExtractor().version
    assert "pose=fsanet:fsanet-1x1-iter-688590+fsanet-var-iter-688590" in version
    assert "fiqa=lightqnet-dm100" in version


def test_extractor_handles_an_image_without_faces():
    table = FeatureExtractor().extract(
        np.zeros((20, 20, 3), np.uint8), np.empty((0, 4)), np.empty((0, 5, 2))
    )
    assert len(table) == 0
    assert table.matrix(FEATURE_NAMES).shape == (0, len(FEATURE_NAMES))
