"""Weak-label quality regression (§6.1.3): labels from feature percentiles, a random forest on them.

Labels need the whole face population (percentiles); the trained forest then scores any single
face from its six features, giving an absolute quality in [0, 1].
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoring.features import FEATURE_NAMES, POSE_FEATURES, FeatureTable
from scoring.selectors import goodness, percentiles

_FORMAT = "face-curation-quality-model/1"


@dataclass(frozen=True)
class QualityParams:
    """Every parameter of the weak labels and the regressor, per feature in ``FEATURE_NAMES``
    order (brightness, resolution, sharpness, roll, pitch, yaw).

    - ``weights``: Heuristic1 = Σ wᵢ·percentileᵢ / (100·Σ wᵢ), in [0, 1]. Yaw and sharpness weigh
      most (a side face or a blurred one is hard to recognise); roll least (it can be levelled).
    - ``bucket_percentiles[k]`` / ``bucket_values[k]``: bucket k+1 is reached when for every
      feature i the population percentile ≥ P_i^k or the value reaches S_i^k ("value ≥ S", or for
      pose |angle| ≤ S degrees). Buckets are ordered worst to best and must tighten; bucket score =
      the highest bucket reached / number of buckets (0 when none).
    - label = (Heuristic1 + bucket score) / 2.
    - The forest: ``trees``, ``min_samples_leaf``, ``seed``; ``held_out`` of the faces (at random,
      by ``seed``) measure R² and are not trained on.
    """

    weights: tuple[float, ...] = (0.5, 1.0, 1.5, 0.5, 1.0, 1.5)
    bucket_percentiles: tuple[tuple[float, ...], ...] = (
        (10.0, 10.0, 10.0, 10.0, 10.0, 10.0),
        (25.0, 25.0, 25.0, 25.0, 25.0, 25.0),
        (45.0, 50.0, 50.0, 40.0, 45.0, 50.0),
        (65.0, 75.0, 75.0, 60.0, 65.0, 75.0),
    )
    bucket_values: tuple[tuple[float, ...], ...] = (
        (25.0, 40.0**2, 0.2, 30.0, 30.0, 40.0),
        (35.0, 60.0**2, 0.3, 20.0, 20.0, 25.0),
        (45.0, 100.0**2, 0.4, 12.0, 12.0, 15.0),
        (55.0, 150.0**2, 0.5, 6.0, 8.0, 8.0),
    )
    trees: int = 200
    min_samples_leaf: int = 2
    held_out: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        width = len(FEATURE_NAMES)
        if len(self.weights) != width or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"weights: {width} non-negative numbers, not all zero")
        if len(self.bucket_percentiles) != len(self.bucket_values):
            raise ValueError("bucket_percentiles and bucket_values need one row per bucket")
        for row in (*self.bucket_percentiles, *self.bucket_values):
            if len(row) != width:
                raise ValueError(f"every bucket row needs {width} numbers")
        for lower, upper in itertools.pairwise(self.bucket_percentiles):
            if any(b < a for a, b in zip(lower, upper, strict=True)):
                raise ValueError("bucket_percentiles must not loosen from one bucket to the next")
        for lower, upper in itertools.pairwise(self.bucket_values):
            for name, a, b in zip(FEATURE_NAMES, lower, upper, strict=True):
                if (b > a) if name in POSE_FEATURES else (b < a):
                    raise ValueError(f"bucket_values of {name} must not loosen")
        if not 0 < self.held_out < 1:
            raise ValueError("held_out must be in (0, 1)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityParams:
        """The parameters from ``asdict`` output read back from JSON or a pickle."""
        converted: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("bucket_percentiles", "bucket_values"):
                converted[key] = tuple(tuple(row) for row in value)
            else:
                converted[key] = tuple(value) if isinstance(value, list) else value
        return cls(**converted)


@dataclass(frozen=True, eq=False)
class WeakLabels:
    """Per face (N,): population percentiles (N, 6), Heuristic1, bucket score and the label."""

    percentiles: np.ndarray
    heuristic: np.ndarray
    bucket: np.ndarray
    label: np.ndarray


def weak_labels(table: FeatureTable, params: QualityParams = QualityParams()) -> WeakLabels:
    """The weak labels of every face of the population ``table``."""
    pct = np.stack([percentiles(goodness(table, name)) for name in FEATURE_NAMES], axis=1)
    weights = np.asarray(params.weights)
    heuristic = pct @ weights / (100.0 * weights.sum())

    reached = np.zeros(len(table))
    for k, (needed_pct, needed_value) in enumerate(
        zip(params.bucket_percentiles, params.bucket_values, strict=True), start=1
    ):
        meets = np.ones(len(table), dtype=bool)
        for i, name in enumerate(FEATURE_NAMES):
            value = table.column(name)
            by_value = (
                np.abs(value) <= needed_value[i]
                if name in POSE_FEATURES
                else value >= needed_value[i]
            )
            meets &= (pct[:, i] >= needed_pct[i]) | by_value
        reached[meets] = k
    bucket = reached / len(params.bucket_values)
    return WeakLabels(pct, heuristic, bucket, (heuristic + bucket) / 2.0)


@dataclass(frozen=True)
class TrainingSummary:
    """What a model was trained on and how well it fits the weak labels of faces it never saw."""

    faces: int
    trained_on: int
    held_out: int
    r2_held_out: float
    label_mean: float
    label_quantiles: tuple[float, ...]  # 0, 10, 25, 50, 75, 90, 100 %
    bucket_counts: tuple[int, ...]  # faces reaching exactly bucket 0, 1, ..., K
    feature_importances: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class QualityModel:
    """A trained random forest with the parameters and summary it came from."""

    params: QualityParams
    summary: TrainingSummary
    forest: Any  # a fitted sklearn RandomForestRegressor

    def predict(self, table: FeatureTable) -> np.ndarray:
        """Quality in [0, 1] of each face; shape (N,)."""
        if len(table) == 0:
            return np.empty(0)
        return np.clip(self.forest.predict(_inputs(table)), 0.0, 1.0)

    def save(self, path: str | Path) -> None:
        """Write the model, its parameters and summary to one file (a joblib pickle)."""
        import joblib

        joblib.dump(
            {
                "format": _FORMAT,
                "params": asdict(self.params),
                "summary": asdict(self.summary),
                "forest": self.forest,
            },
            path,
            compress=3,
        )

    @classmethod
    def load(cls, path: str | Path) -> QualityModel:
        """Read a file written by :meth:`save`. Pickles run code: load only your own files."""
        import joblib

        data = joblib.load(path)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a quality model file ({_FORMAT})")
        summary = data["summary"]
        summary["label_quantiles"] = tuple(summary["label_quantiles"])
        summary["bucket_counts"] = tuple(summary["bucket_counts"])
        return cls(
            QualityParams.from_dict(data["params"]), TrainingSummary(**summary), data["forest"]
        )


def _inputs(table: FeatureTable) -> np.ndarray:
    """The forest's (N, 6) input: the features, with |angle| for pose. The labels are symmetric
    in the pose signs, so the forest need not learn each side of zero separately."""
    return np.stack(
        [
            np.abs(table.column(name)) if name in POSE_FEATURES else table.column(name)
            for name in FEATURE_NAMES
        ],
        axis=1,
    )


def train_quality_model(
    table: FeatureTable, params: QualityParams = QualityParams()
) -> QualityModel:
    """Label the population ``table`` and fit the forest; the same inputs give the same model."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import r2_score

    if len(table) < 10:
        raise ValueError(f"need at least 10 faces to train, got {len(table)}")
    labels = weak_labels(table, params)
    features = _inputs(table)
    order = np.random.default_rng(params.seed).permutation(len(table))
    cut = max(1, math.ceil(params.held_out * len(table)))
    test, train = order[:cut], order[cut:]
    forest = RandomForestRegressor(
        n_estimators=params.trees,
        min_samples_leaf=params.min_samples_leaf,
        random_state=params.seed,
        n_jobs=1,
    )
    forest.fit(features[train], labels.label[train])
    buckets = np.rint(labels.bucket * len(params.bucket_values)).astype(int)
    summary = TrainingSummary(
        faces=len(table),
        trained_on=len(train),
        held_out=len(test),
        r2_held_out=float(r2_score(labels.label[test], forest.predict(features[test]))),
        label_mean=float(labels.label.mean()),
        label_quantiles=tuple(
            float(q) for q in np.percentile(labels.label, [0, 10, 25, 50, 75, 90, 100])
        ),
        bucket_counts=tuple(
            int(c) for c in np.bincount(buckets, minlength=len(params.bucket_values) + 1)
        ),
        feature_importances={
            name: float(v)
            for name, v in zip(FEATURE_NAMES, forest.feature_importances_, strict=True)
        },
    )
    return QualityModel(params, summary, forest)
