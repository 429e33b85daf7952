"""Weak labels and the quality forest (§6.1.3)."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from scoring.features import PAPER_FEATURES, FeatureExtractor, FeatureTable, goodness
from scoring.quality import (
    FeatureVersionMismatch,
    QualityModel,
    QualityParams,
    _stratified,
    train_quality_model,
    weak_labels,
)
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


@pytest.fixture(scope="module")
def model(population):
    return train_quality_model(population)


def test_the_forest_fits_the_weak_labels_of_held_out_real_faces(population, model):
    assert len(population) >= 1000
    assert model.summary.held_out >= 200
    assert model.summary.r2_held_out >= 0.9


# Features the weak labels weigh at least 1 that vary over most real faces (exposure is flat
# within its tolerance, and artifacts is 0 on most clean faces).
RANKING_FEATURES = ("resolution", "sharpness", "yaw", "pitch", "fiqa")


@pytest.mark.parametrize("name", RANKING_FEATURES)
def test_quality_rises_with_a_feature_when_the_others_are_held(population, model, name):
    # A typical face (every feature at the population's median), then the one feature swept
    # from its 2nd to 98th percentile, worst to best: the labels rise with it, and so must the
    # forest's quality.
    typical = np.nanmedian(population.matrix(model.features), axis=0)
    measured = np.isfinite(population.column(name))
    values = population.column(name)[measured]
    worst_to_best = values[np.argsort(goodness(population, name)[measured])]
    sweep = worst_to_best[(np.linspace(0.02, 0.98, 25) * (len(values) - 1)).astype(int)]
    faces = FeatureTable.from_matrix(np.tile(typical, (25, 1)), model.features)
    quality = model.predict(faces.replace(**{name: sweep}))
    assert spearmanr(np.arange(25), quality)[0] >= 0.85
    assert quality[-1] - quality[0] >= 0.03


def test_a_face_better_in_every_feature_gets_the_higher_quality(population, model):
    good = np.stack([goodness(population, name) for name in model.features], axis=1)
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(population), (4000, 2))
    first, second = good[pairs[:, 0]], good[pairs[:, 1]]
    dominates = np.all(first >= second, axis=1) & np.any(first > second, axis=1)
    assert dominates.sum() >= 50
    better, worse = pairs[dominates].T
    quality = model.predict(population)
    assert np.mean(quality[better] > quality[worse]) >= 0.95


def test_training_is_deterministic_under_a_seed(population):
    params = QualityParams(trees=30, seed=7)
    first, second = train_quality_model(population, params), train_quality_model(population, params)
    assert np.array_equal(first.predict(population), second.predict(population))
    assert first.summary == second.summary


def test_with_a_fit_limit_every_face_is_labelled_and_the_forest_fits_a_sample(population):
    params = QualityParams(trees=30)
    limit = len(population) // 4
    whole = train_quality_model(population, params)
    sampled = train_quality_model(population, params, fit_at_most=limit)
    summary = sampled.summary
    assert (summary.faces, summary.trained_on) == (len(population), limit)
    assert summary.held_out == round(limit / 4)  # held out 1 to 4 trained on, as without a limit
    # The labels are the population's either way: percentiles among every face.
    assert summary.label_quantiles == whole.summary.label_quantiles
    assert summary.bucket_counts == whole.summary.bucket_counts
    # A quarter of the faces fit nearly as well (R² 0.94 against 0.96 measured).
    assert summary.r2_held_out >= 0.9
    again = train_quality_model(population, params, fit_at_most=limit)
    assert np.array_equal(again.predict(population), sampled.predict(population))
    assert train_quality_model(population, params, fit_at_most=len(population)).summary == (
        whole.summary
    )


def test_the_fit_sample_keeps_the_share_of_the_rarest_labels():
    # 1 % of the faces are excellent. One face from each of 500 slices of the label order holds
    # exactly 5 of them, every time; 500 drawn at random would hold 5 ± 2.
    labels = np.r_[np.full(9_900, 0.3), np.linspace(0.9, 1.0, 100)]
    rows = np.random.default_rng(0).permutation(len(labels))
    for seed in range(20):
        sample = _stratified(labels, rows, 500, np.random.default_rng(seed))
        assert len(np.unique(sample)) == 500 and np.isin(sample, rows).all()
        assert (labels[sample] >= 0.9).sum() == 5


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
    with pytest.raises(ValueError, match="is not a .* quality model"):
        QualityModel.load(tmp_path / "other.joblib")


def test_a_model_refuses_faces_of_another_feature_version(population):
    model = train_quality_model(population, QualityParams(trees=10), feature_version="v-a")
    assert model.predict(population, feature_version="v-a").shape == (len(population),)
    with pytest.raises(FeatureVersionMismatch, match="trained on features v-a.*measured by v-b"):
        model.predict(population, feature_version="v-b")


def test_a_feature_turned_off_is_not_learned_from(population):
    params = QualityParams(trees=10).with_features(("resolution", "sharpness", "fiqa"))
    model = train_quality_model(population, params)
    assert model.features == ("resolution", "sharpness", "fiqa")
    assert set(model.summary.feature_importances) == {"resolution", "sharpness", "fiqa"}
    # Changing a feature it does not use changes nothing.
    moved = population.replace(yaw=population.yaw + 40)
    assert np.array_equal(model.predict(moved), model.predict(population))


def test_unmeasured_features_are_left_out_of_the_labels():
    table = FeatureTable.from_matrix(
        np.array([[20, 30.0**2, 0.1, 40, 40, 60], [70, 200.0**2, 0.9, 0, 0, 0]]),
        PAPER_FEATURES,
    ).replace(identity=np.array([np.nan, 0.7]))
    labels = weak_labels(table)
    assert labels.heuristic.tolist() == [0.0, 1.0]
    model = train_quality_model(
        FeatureTable.concat([table] * 10), QualityParams(trees=5, min_samples_leaf=1)
    )
    assert "identity" in model.features and "fiqa" not in model.features
    assert np.all(np.isfinite(model.predict(table)))


def test_weak_labels_follow_the_definition():
    table = FeatureTable.from_matrix(
        np.array(
            [
                [20, 30.0**2, 0.1, 40, 40, 60],  # worst everywhere
                [50, 80.0**2, 0.4, 10, 10, 20],
                [70, 200.0**2, 0.9, 0, 0, 0],  # best everywhere
            ]
        ),
        PAPER_FEATURES,
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
    params = replace(
        QualityParams.paper(),
        bucket_percentiles=(dict.fromkeys(PAPER_FEATURES, 100.0),),
        bucket_values=(
            dict(zip(PAPER_FEATURES, (30.0, 50.0**2, 0.2, 30.0, 30.0, 40.0), strict=True)),
        ),
    )
    table = FeatureTable.from_matrix(
        np.array(
            [
                [90, 300.0**2, 0.9, 0, 0, 0],
                [40, 60.0**2, 0.3, 5, 5, 10],
            ]
        ),
        PAPER_FEATURES,
    )
    assert weak_labels(table, params).bucket.tolist() == [1.0, 1.0]


def test_parameters_reject_loosening_buckets():
    paper = QualityParams.paper()
    with pytest.raises(ValueError, match="must not loosen"):
        replace(
            paper,
            bucket_percentiles=(
                dict.fromkeys(PAPER_FEATURES, 50.0),
                dict.fromkeys(PAPER_FEATURES, 40.0),
            ),
            bucket_values=(dict.fromkeys(PAPER_FEATURES, 0.0),) * 2,
        )
    with pytest.raises(ValueError, match="features"):
        QualityParams(features=("sharpness", "nonsense"))
