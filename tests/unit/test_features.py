import colorsys

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from scoring.features import (
    FEATURE_NAMES,
    FeatureConfig,
    FeatureExtractor,
    FeatureTable,
    brightness,
    resolution,
)
from tests.unit.facedata import aflw_faces, fsanet_models, lfw_faces, load_rgb


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


def turned(image, box, landmarks, degrees):
    """The image turned ``degrees`` counter-clockwise on screen about the box centre, and the
    landmarks with it."""
    matrix = cv2.getRotationMatrix2D((box[0] + box[2] / 2, box[1] + box[3] / 2), degrees, 1.0)
    image = cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT101)
    return image, np.c_[landmarks, np.ones(5)] @ matrix.T


def darker(image):
    return cv2.LUT(image, (255 * (np.arange(256) / 255) ** 2.0).round().astype(np.uint8))


@pytest.mark.parametrize("with_fsanet", [False, True])
def test_each_column_answers_to_its_own_change_of_the_face(with_fsanet):
    # Each copy changes one thing of real faces; the column measuring it moves the right way and,
    # for pose, the other angles stay put. A column filled from the wrong measure, a wrong crop
    # or a swapped angle fails here.
    config = FeatureConfig(pose_models=fsanet_models() if with_fsanet else (), device="cpu")
    extractor = FeatureExtractor(config)
    rng = np.random.default_rng(0)
    turns = []  # (yaw, pitch, roll) changes of each face turned 20 degrees on screen
    for face in lfw_faces(60)[:6]:
        image, box, landmarks = load_rgb(face.path), face.box, face.landmarks

        def features(copy, points=landmarks, box=box):
            return extractor.extract(copy, box[None], points[None])

        clean = features(image)
        dark = features(darker(image))
        assert dark.brightness[0] < clean.brightness[0] - 10
        assert dark.exposure[0] < clean.exposure[0] - 0.2
        blurred = features(cv2.GaussianBlur(image, (0, 0), 2.5))
        assert blurred.sharpness[0] < clean.sharpness[0] - 0.1
        assert blurred.fiqa[0] < clean.fiqa[0]
        grain = np.clip(image + rng.normal(0, 18, image.shape), 0, 255).astype(np.uint8)
        assert features(grain).artifacts[0] > clean.artifacts[0] + 0.5
        pose = ("yaw", "pitch", "roll")
        turns.append(features(*turned(image, box, landmarks, 20)).matrix(pose) - clean.matrix(pose))
        assert clean.resolution[0] == box[2] * box[3]
        assert np.isnan(clean.identity[0]), "identity needs the cluster: not the extractor's"
    yaw, pitch, roll = np.median(np.concatenate(turns), axis=0)
    assert roll == pytest.approx(-20, abs=3)  # counter-clockwise on screen is negative roll
    assert abs(yaw) < 3 and abs(pitch) < 3
    assert ("fsanet" in extractor.version) == with_fsanet


@pytest.mark.parametrize("with_fsanet", [False, True])
def test_yaw_and_pitch_columns_follow_the_labelled_angles(with_fsanet):
    # AFLW2000 faces turn and tilt far more than they roll; a swapped column does not correlate.
    config = FeatureConfig(pose_models=fsanet_models() if with_fsanet else (), device="cpu")
    extractor = FeatureExtractor(config)
    faces = aflw_faces()
    groups = [(load_rgb(face.path), face.box[None], face.landmarks[None]) for face, _ in faces]
    table = extractor.extract_many(groups)
    labels = np.array([truth for _, truth in faces])
    assert spearmanr(table.yaw, labels[:, 0])[0] >= 0.9
    assert spearmanr(table.pitch, labels[:, 1])[0] >= 0.7


def test_rows_follow_the_boxes_of_an_image():
    # Two real faces side by side in one image, given in both orders.
    first, second = lfw_faces(60)[:2]
    left, right = load_rgb(first.path), load_rgb(second.path)
    image = np.ascontiguousarray(np.hstack([left, right]))
    shift = np.array([left.shape[1], 0])
    boxes = np.stack([first.box, np.r_[second.box[:2] + shift, second.box[2:]]])
    landmarks = np.stack([first.landmarks, second.landmarks + shift])
    extractor = FeatureExtractor(FeatureConfig(device="cpu"))
    forward = extractor.extract(image, boxes, landmarks).matrix()
    backward = extractor.extract(image, boxes[::-1], landmarks[::-1]).matrix()
    assert np.array_equal(forward, backward[::-1], equal_nan=True)
    alone = extractor.extract(image, boxes[1:], landmarks[1:]).matrix()
    assert np.array_equal(forward[1:], alone, equal_nan=True)
    assert not np.allclose(forward[0], forward[1], equal_nan=True)


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


def test_every_feature_has_a_label_for_people():
    from scoring.features import FEATURE_LABELS, FEATURE_NAMES

    assert list(FEATURE_LABELS) == list(FEATURE_NAMES)
