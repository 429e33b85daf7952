"""The learned measures on real faces: fiqa, exposure and identity order faces as people would."""

import cv2
import numpy as np
import pytest

from bench.degradations import DEGRADATIONS
from scoring.artifacts import artifacts
from scoring.dlib_resnet import DlibFaceEmbedder
from scoring.exposure import exposure
from scoring.features import FeatureExtractor
from scoring.fiqa import aligned_faces
from scoring.identity import (
    embedding_bytes,
    embedding_from_bytes,
    embedding_rows,
    geometric_median,
    identity_scores,
)
from tests.unit.facedata import lfw_clusters, lfw_faces, load_rgb


@pytest.fixture(scope="module")
def faces():
    found = lfw_faces(40)
    assert len(found) >= 30
    return [(load_rgb(face.path), face.box, face.landmarks) for face in found]


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor()


# Share of faces whose degraded copy must score below the clean face, per degradation: measured
# 1.00 for all of these on 40 LFW faces; a floor with room for other faces.
FIQA_FLOORS = {
    "blur-3": 0.95,
    "motion-blur": 0.9,
    "noise": 0.95,
    "jpeg": 0.95,
    "low-resolution": 0.9,
    "sunglasses": 0.9,
}


@pytest.mark.parametrize("name", sorted(FIQA_FLOORS))
def test_fiqa_orders_clean_faces_above_degraded_copies(faces, extractor, name):
    rng = np.random.default_rng(0)
    clean, degraded = [], []
    for image, box, landmarks in faces:
        copy = DEGRADATIONS[name](image, landmarks, rng)
        clean.append(extractor.extract(image, box[None], landmarks[None]).fiqa[0])
        degraded.append(extractor.extract(copy, box[None], landmarks[None]).fiqa[0])
    clean, degraded = np.array(clean), np.array(degraded)
    assert np.mean(clean > degraded) >= FIQA_FLOORS[name]


GAMMAS = (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.6)


def gamma(image, value):
    table = (255 * (np.arange(256) / 255) ** value).round().astype(np.uint8)
    return cv2.LUT(image, table)


def test_exposure_falls_monotonically_as_gamma_darkens_the_face(faces):
    curves = []
    for image, _, landmarks in faces:
        crops = np.concatenate([aligned_faces(gamma(image, g), landmarks[None]) for g in GAMMAS])
        curves.append(exposure(crops))
    curves = np.array(curves)
    steps = np.diff(curves, axis=1)
    assert np.all(steps <= 1e-12), "exposure rose while the face darkened"
    # Strictly falling wherever it is not pinned at -1 or +1.
    free = (np.abs(curves[:, 1:]) < 1) & (np.abs(curves[:, :-1]) < 1)
    assert np.all(steps[free] < 0)
    clean = curves[:, GAMMAS.index(1.0)]
    assert np.mean(np.abs(clean) < 0.5) >= 0.9, "clean news photos read as badly exposed"
    assert np.mean(curves[:, GAMMAS.index(0.35)] - clean) > 0.2


@pytest.mark.parametrize("name, sign", [("dark", -1), ("overexposed", 1)])
def test_darkened_and_burnt_faces_fail_the_default_exposure_bar(faces, name, sign):
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            exposure(aligned_faces(DEGRADATIONS[name](image, landmarks, rng), landmarks[None]))
            for image, _, landmarks in faces
        ]
    )
    assert np.mean(sign * values > 0.35) >= 0.9


def test_exposure_sees_clipping():
    grey = np.full((1, 96, 96, 3), 128, np.uint8)
    half_white = grey.copy()
    half_white[:, 48:] = 255
    half_black = grey.copy()
    half_black[:, 48:] = 0
    values = exposure(np.concatenate([grey, half_white, half_black]))
    assert abs(values[0]) < 0.01
    assert values[1] > 0.5 and values[2] < -0.5


@pytest.fixture(scope="module")
def clusters():
    found = lfw_clusters(34, 8)
    assert len(found) >= 30
    embedder = DlibFaceEmbedder(device="cpu")
    return [
        np.concatenate([embedder(load_rgb(face.path), face.box[None]) for face in cluster])
        for cluster in found
    ]


def test_a_face_of_another_person_gets_the_lowest_identity(clusters):
    lowest = 0
    for index, members in enumerate(clusters):
        stranger = clusters[(index + 1) % len(clusters)][0]
        scores = identity_scores(np.vstack([members, stranger]))
        lowest += int(np.argmin(scores) == len(members))
    assert lowest / len(clusters) >= 0.95


def test_identity_is_not_pulled_off_by_a_minority_of_strangers(clusters):
    # Three strangers among eight faces: every member still scores above every stranger in
    # most clusters, and the members' scores barely move.
    separated = 0
    for index, members in enumerate(clusters):
        strangers = np.vstack([clusters[(index + k) % len(clusters)][k] for k in (1, 2, 3)])
        scores = identity_scores(np.vstack([members, strangers]))
        separated += int(scores[: len(members)].min() > scores[len(members) :].max())
        alone = identity_scores(members)
        assert np.abs(scores[: len(members)] - alone).max() < 0.15
    assert separated / len(clusters) >= 0.9


def test_geometric_median_resists_outliers():
    rng = np.random.default_rng(0)
    inliers = rng.normal(0, 0.1, (20, 8))
    outliers = rng.normal(5, 0.1, (8, 8))
    centre = geometric_median(np.vstack([inliers, outliers]))
    assert np.linalg.norm(centre) < 0.3
    assert np.linalg.norm(np.vstack([inliers, outliers]).mean(axis=0)) > 1.0


def test_embedding_rows_take_the_best_and_a_spread_of_the_rest():
    priority = np.arange(100.0)
    rows = embedding_rows(priority, top=4, sample=5)
    assert set(range(96, 100)) <= set(rows.tolist())
    assert len(rows) == 9 and rows.min() == 0
    assert embedding_rows(np.arange(9.0), top=4, sample=5).tolist() == list(range(9))


def test_embeddings_are_stored_in_256_bytes_to_three_decimals():
    vector = np.random.default_rng(1).normal(0, 0.1, 128).astype(np.float32)
    data = embedding_bytes(vector)
    assert len(data) == 256
    assert np.abs(embedding_from_bytes(data) - vector).max() < 1e-3


@pytest.mark.parametrize("name", ["noise", "jpeg"])
def test_artifacts_see_grain_and_blocks_that_clean_faces_lack(faces, name):
    rng = np.random.default_rng(0)
    clean, degraded = [], []
    for image, box, landmarks in faces:
        clean.append(artifacts(image, box[None])[0])
        degraded.append(artifacts(DEGRADATIONS[name](image, landmarks, rng), box[None])[0])
    assert np.mean(np.array(clean) == 0) >= 0.9, "clean faces read as noisy or blocky"
    assert np.mean(np.array(degraded) >= 0.5) >= 0.9


@pytest.mark.parametrize("name", ["blur-3", "low-resolution", "dark"])
def test_smoothing_or_darkening_a_face_is_not_read_as_artifacts(faces, name):
    # Nor as fewer: a clean face is already at 0, so a smoother copy cannot rank above it.
    rng = np.random.default_rng(0)
    values = [
        artifacts(DEGRADATIONS[name](image, landmarks, rng), box[None])[0]
        for image, box, landmarks in faces
    ]
    assert np.mean(np.array(values) == 0) >= 0.9
