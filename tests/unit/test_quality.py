"""Weak labels and the quality forest (§6.1.3)."""

import cv2
import numpy as np
import pytest

from scoring.features import FeatureExtractor, FeatureTable
from scoring.quality import QualityModel, QualityParams, train_quality_model, weak_labels
from tests.unit.facedata import aflw_faces, lfw_faces, load_rgb, photo_faces


def degraded_views(image, box, landmarks):
    """The face region under real degradations (downscale, blur, gamma): 8 views, as
    (image, boxes (1, 4), landmarks (1, 5, 2)) groups."""
    x, y, w, h = box
    x0, y0 = max(int(x - 0.5 * w), 0), max(int(y - 0.5 * h), 0)
    region = image[y0 : int(y + 1.5 * h), x0 : int(x + 1.5 * w)]
    offset = np.array([x0, y0])
    for zoom in (1.0, 0.4):
        small = cv2.resize(region, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA)
        for blur in (0, 2):
            for gamma in (0.7, 1.4):
                view = cv2.GaussianBlur(small, (0, 0), blur) if blur else small
                view = cv2.LUT(view, (255 * (np.arange(256) / 255) ** gamma).astype(np.uint8))
                yield (
                    view,
                    (np.r_[box[:2] - offset, box[2:]] * zoom)[None],
                    ((landmarks - offset) * zoom)[None],
                )


@pytest.fixture(scope="module")
def population():
    """Real faces (LFW, web photos, AFLW2000) under degradations: 8 views of each."""
    faces = [*lfw_faces(60), *photo_faces(), *(face for face, _ in aflw_faces())]
    groups = (
        view
        for face in faces
        for view in degraded_views(load_rgb(face.path), face.box, face.landmarks)
    )
    return FeatureExtractor().extract_many(groups)


def test_the_forest_fits_the_weak_labels_of_held_out_real_faces(population):
    assert len(population) >= 1000
    model = train_quality_model(population)
    assert model.summary.held_out >= 200
    assert model.summary.r2_held_out >= 0.9


def test_quality_is_in_the_unit_interval(population):
    model = train_quality_model(population, QualityParams(trees=30))
    wild = FeatureTable.from_matrix(np.array([[0, 0, 0, 90, 90, 90], [100, 1e7, 1, 0, 0, 0]]))
    for table in (population, wild):
        quality = model.predict(table)
        assert np.all((quality >= 0) & (quality <= 1))


def test_training_is_deterministic_under_a_seed(population):
    params = QualityParams(trees=30, seed=7)
    first, second = train_quality_model(population, params), train_quality_model(population, params)
    assert np.array_equal(first.predict(population), second.predict(population))
    assert first.summary == second.summary


def test_a_saved_model_loads_with_its_parameters_and_summary(population, tmp_path):
    model = train_quality_model(population, QualityParams(trees=20, seed=3))
    model.save(tmp_path / "quality.joblib")
    loaded = QualityModel.load(tmp_path / "quality.joblib")
    assert loaded.params == model.params
    assert loaded.summary == model.summary
    assert np.array_equal(loaded.predict(population), model.predict(population))


def test_loading_something_else_fails_clearly(tmp_path):
    import joblib

    joblib.dump({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(ValueError, match="not a quality model"):
        QualityModel.load(tmp_path / "other.joblib")


def test_weak_labels_follow_the_definition():
    table = FeatureTable.from_matrix(
        np.array(
            [
                [20, 30.0**2, 0.1, 40, 40, 60],  # worst everywhere
                [50, 80.0**2, 0.4, 10, 10, 20],
                [70, 200.0**2, 0.9, 0, 0, 0],  # best everywhere
            ]
        )
    )
    params = QualityParams()
    labels = weak_labels(table, params)
    assert labels.heuristic.tolist() == [0.0, 0.5, 1.0]
    # The worst face is at percentile 0 and clears no absolute value of bucket 1.
    assert labels.bucket[0] == 0.0
    # The best face is at percentile 100 everywhere: the top bucket.
    assert labels.bucket[2] == 1.0
    assert np.allclose(labels.label, (labels.heuristic + labels.bucket) / 2)


def test_a_face_reaches_a_bucket_by_value_alone():
    # Two faces: the second is worse by percentile everywhere, but clears bucket 1's values.
    params = QualityParams(
        bucket_percentiles=((100.0,) * 6,), bucket_values=((30.0, 50.0**2, 0.2, 30.0, 30.0, 40.0),)
    )
    table = FeatureTable.from_matrix(
        np.array(
            [
                [90, 300.0**2, 0.9, 0, 0, 0],
                [40, 60.0**2, 0.3, 5, 5, 10],
            ]
        )
    )
    assert weak_labels(table, params).bucket.tolist() == [1.0, 1.0]


def test_parameters_reject_loosening_buckets():
    with pytest.raises(ValueError):
        QualityParams(
            bucket_percentiles=((50.0,) * 6, (40.0,) * 6), bucket_values=((0.0,) * 6, (0.0,) * 6)
        )
