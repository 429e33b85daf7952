"""Weak-label quality regression (§6.1.3): labels from feature percentiles, a random forest on them.

Labels need the whole face population (percentiles); the trained forest then scores any single
face from its features, giving an absolute quality in [0, 1]. A feature may be NaN (unmeasured):
the labels leave it out for that face, and the forest routes missing values itself.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from scoring.features import (
    FEATURE_NAMES,
    PAPER_FEATURES,
    SMALLER_BETTER,
    FeatureTable,
    goodness,
)
from scoring.ranking import percentiles

_FORMAT = "face-curation-quality-model/2"

_DEFAULT_WEIGHTS = {
    "brightness": 0.25,
    "resolution": 1.0,
    "sharpness": 1.0,
    "roll": 0.5,
    "pitch": 1.0,
    "yaw": 1.5,
    "fiqa": 2.0,
    "exposure": 1.0,
    "artifacts": 1.5,
    "identity": 1.0,
}
# Per bucket, worst to best: (population percentile P, value S) per feature.
_DEFAULT_BUCKETS = (
    {
        "brightness": (10, 25), "resolution": (10, 40.0**2), "sharpness": (10, 0.2),
        "roll": (10, 30), "pitch": (10, 30), "yaw": (10, 40),
        "fiqa": (10, 0.45), "exposure": (10, 0.75), "artifacts": (10, 0.6),
        "identity": (10, 0.35),
    },
    {
        "brightness": (25, 35), "resolution": (25, 60.0**2), "sharpness": (25, 0.3),
        "roll": (25, 20), "pitch": (25, 20), "yaw": (25, 25),
        "fiqa": (25, 0.50), "exposure": (25, 0.55), "artifacts": (25, 0.4),
        "identity": (25, 0.40),
    },
    {
        "brightness": (45, 45), "resolution": (50, 100.0**2), "sharpness": (50, 0.4),
        "roll": (40, 12), "pitch": (45, 12), "yaw": (50, 15),
        "fiqa": (50, 0.55), "exposure": (45, 0.40), "artifacts": (45, 0.2),
        "identity": (40, 0.45),
    },
    {
        "brightness": (65, 55), "resolution": (75, 150.0**2), "sharpness": (75, 0.5),
        "roll": (60, 6), "pitch": (65, 8), "yaw": (75, 8),
        "fiqa": (75, 0.58), "exposure": (65, 0.25), "artifacts": (65, 0.1),
        "identity": (60, 0.55),
    },
)  # fmt: skip


@dataclass(frozen=True)
class QualityParams:
    """Every parameter of the weak labels and the regressor; per-feature ones keyed by name.

    - ``features``: the features labelled and learned from; drop one to turn it off.
    - ``weights``: Heuristic1 = Σ wᵢ·percentileᵢ / (100·Σ wᵢ) over the face's measured features,
      in [0, 1]. The learned quality weighs most (it sees blur, noise, compression, occlusion);
      yaw and artifacts next (a side face, a grainy or blocky one is hard to recognise);
      brightness least (exposure measures light).
    - ``bucket_percentiles[k]`` / ``bucket_values[k]``: bucket k+1 is reached when for every
      feature i the population percentile ≥ P_i^k or the value reaches S_i^k ("value ≥ S", or
      for pose, exposure and artifacts |value| ≤ S), an unmeasured feature passing. Buckets are
      ordered worst to best and must tighten; bucket score = the highest bucket reached / their
      number.
    - label = (Heuristic1 + bucket score) / 2.
    - The forest: ``trees``, ``min_samples_leaf``, ``seed``; ``held_out`` of the faces (at random,
      by ``seed``) measure R² and are not trained on.

    ``QualityParams()`` is the default over all nine features; :meth:`paper` is the paper's six
    with the values we first ran.
    """

    features: tuple[str, ...] = FEATURE_NAMES
    weights: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT_WEIGHTS))
    bucket_percentiles: tuple[Mapping[str, float], ...] = tuple(
        {name: p for name, (p, _) in bucket.items()} for bucket in _DEFAULT_BUCKETS
    )
    bucket_values: tuple[Mapping[str, float], ...] = tuple(
        {name: float(v) for name, (_, v) in bucket.items()} for bucket in _DEFAULT_BUCKETS
    )
    trees: int = 200
    min_samples_leaf: int = 2
    held_out: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        unknown = set(self.features) - set(FEATURE_NAMES)
        if unknown or not self.features or len(set(self.features)) != len(self.features):
            raise ValueError(
                f"features: distinct names among {', '.join(FEATURE_NAMES)}; "
                f"got {', '.join(self.features) or 'none'}"
            )
        weights = [self.weights.get(name) for name in self.features]
        given = [weight for weight in weights if weight is not None]
        if len(given) < len(weights) or min(given) < 0 or sum(given) <= 0:
            raise ValueError("weights: a non-negative number per feature, not all zero")
        if len(self.bucket_percentiles) != len(self.bucket_values):
            raise ValueError("bucket_percentiles and bucket_values need one row per bucket")
        for row in (*self.bucket_percentiles, *self.bucket_values):
            missing = [name for name in self.features if name not in row]
            if missing:
                raise ValueError(f"every bucket row needs a value for {', '.join(missing)}")
        for lower, upper in itertools.pairwise(self.bucket_percentiles):
            if any(upper[name] < lower[name] for name in self.features):
                raise ValueError("bucket_percentiles must not loosen from one bucket to the next")
        for lower, upper in itertools.pairwise(self.bucket_values):
            for name in self.features:
                a, b = lower[name], upper[name]
                if (b > a) if name in SMALLER_BETTER else (b < a):
                    raise ValueError(f"bucket_values of {name} must not loosen")
        if not 0 < self.held_out < 1:
            raise ValueError("held_out must be in (0, 1)")

    @classmethod
    def paper(cls) -> QualityParams:
        """The paper's six features, with the weights and buckets we first ran."""
        weights = (0.5, 1.0, 1.5, 0.5, 1.0, 1.5)
        percentiles_ = (
            (10, 10, 10, 10, 10, 10),
            (25, 25, 25, 25, 25, 25),
            (45, 50, 50, 40, 45, 50),
            (65, 75, 75, 60, 65, 75),
        )
        values = (
            (25, 40.0**2, 0.2, 30, 30, 40),
            (35, 60.0**2, 0.3, 20, 20, 25),
            (45, 100.0**2, 0.4, 12, 12, 15),
            (55, 150.0**2, 0.5, 6, 8, 8),
        )
        return cls(
            features=PAPER_FEATURES,
            weights=dict(zip(PAPER_FEATURES, weights, strict=True)),
            bucket_percentiles=tuple(
                {n: float(v) for n, v in zip(PAPER_FEATURES, row, strict=True)}
                for row in percentiles_
            ),
            bucket_values=tuple(
                {n: float(v) for n, v in zip(PAPER_FEATURES, row, strict=True)} for row in values
            ),
        )

    def with_features(self, features: tuple[str, ...]) -> QualityParams:
        """The same parameters over fewer features (turning the others off)."""
        return replace(self, features=tuple(features))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityParams:
        """The parameters from ``asdict`` output read back from JSON or a pickle."""
        converted = dict(data)
        converted["features"] = tuple(data["features"])
        for key in ("bucket_percentiles", "bucket_values"):
            converted[key] = tuple(dict(row) for row in data[key])
        converted["weights"] = dict(data["weights"])
        return cls(**converted)


@dataclass(frozen=True, eq=False)
class WeakLabels:
    """Per face (N,): population percentiles (N, F) over ``params.features`` (NaN where not
    measured), Heuristic1, bucket score and the label."""

    percentiles: np.ndarray
    heuristic: np.ndarray
    bucket: np.ndarray
    label: np.ndarray


def weak_labels(table: FeatureTable, params: QualityParams = QualityParams()) -> WeakLabels:
    """The weak labels of every face of the population ``table``."""
    names = params.features
    pct = np.stack([percentiles(goodness(table, name)) for name in names], axis=1)
    pct = pct.reshape(len(table), len(names))
    measured = np.isfinite(pct)
    weights = np.asarray([params.weights[name] for name in names], dtype=np.float64)
    weight_sum = measured @ weights
    heuristic = np.divide(
        np.where(measured, pct, 0.0) @ weights,
        100.0 * weight_sum,
        out=np.zeros(len(table)),
        where=weight_sum > 0,
    )

    reached = np.zeros(len(table))
    for k, (needed_pct, needed_value) in enumerate(
        zip(params.bucket_percentiles, params.bucket_values, strict=True), start=1
    ):
        meets = np.ones(len(table), dtype=bool)
        for i, name in enumerate(names):
            value = table.column(name)
            with np.errstate(invalid="ignore"):
                by_value = (
                    np.abs(value) <= needed_value[name]
                    if name in SMALLER_BETTER
                    else value >= needed_value[name]
                )
                meets &= ~measured[:, i] | (pct[:, i] >= needed_pct[name]) | by_value
        reached[meets] = k
    bucket = reached / len(params.bucket_values)
    return WeakLabels(pct, heuristic, bucket, (heuristic + bucket) / 2.0)


@dataclass(frozen=True)
class TrainingSummary:
    """What a model was trained on and how well it fits the weak labels of faces it never saw:
    ``faces`` labelled (the population), ``trained_on`` the forest was fitted on, ``held_out``
    that measured R². Below the fit limit ``trained_on + held_out == faces``; above it, both are
    samples (see ``train_quality_model``)."""

    faces: int
    trained_on: int
    held_out: int
    r2_held_out: float
    label_mean: float
    label_quantiles: tuple[float, ...]  # 0, 10, 25, 50, 75, 90, 100 %
    bucket_counts: tuple[int, ...]  # faces reaching exactly bucket 0, 1, ..., K
    feature_importances: dict[str, float] = field(default_factory=dict)


class FeatureVersionMismatch(ValueError):
    """Faces measured by other extractors than the ones a model was trained on."""


@dataclass(frozen=True, eq=False)
class QualityModel:
    """A trained random forest with the parameters, summary and feature version it came from.

    ``feature_version`` names the extractors of its training faces (``FeatureExtractor.version``);
    the model refuses faces measured by others, whose values mean something else.
    """

    params: QualityParams
    summary: TrainingSummary
    forest: Any  # a fitted sklearn RandomForestRegressor
    feature_version: str = ""

    @property
    def features(self) -> tuple[str, ...]:
        return self.params.features

    def predict(self, table: FeatureTable, feature_version: str | None = None) -> np.ndarray:
        """Quality in [0, 1] of each face; shape (N,). Give the faces' ``feature_version`` to
        have it checked against the training faces'."""
        if feature_version is not None and feature_version != self.feature_version:
            raise FeatureVersionMismatch(
                f"the quality model was trained on features {self.feature_version or 'unknown'}"
                f" but these faces were measured by {feature_version}: train a new model"
            )
        if len(table) == 0:
            return np.empty(0)
        return np.clip(self.forest.predict(model_inputs(table, self.features)), 0.0, 1.0)

    def save(self, path: str | Path) -> None:
        """Write the model, its parameters and summary to one file (a joblib pickle)."""
        import joblib

        joblib.dump(
            {
                "format": _FORMAT,
                "params": asdict(self.params),
                "summary": asdict(self.summary),
                "feature_version": self.feature_version,
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
            found = data.get("format", "unknown") if isinstance(data, dict) else "unknown"
            raise ValueError(
                f"{Path(path).name} is not a {_FORMAT} quality model (found {found}): "
                "train a new one"
            )
        summary = data["summary"]
        summary["label_quantiles"] = tuple(summary["label_quantiles"])
        summary["bucket_counts"] = tuple(summary["bucket_counts"])
        return cls(
            QualityParams.from_dict(data["params"]),
            TrainingSummary(**summary),
            data["forest"],
            data["feature_version"],
        )


def model_inputs(table: FeatureTable, names: tuple[str, ...]) -> np.ndarray:
    """The forest's (N, F) input: the features, |value| for pose and exposure (the labels are
    symmetric in their signs, so the forest need not learn each side of zero), NaN kept."""
    return np.stack(
        [
            np.abs(table.column(name)) if name in SMALLER_BETTER else table.column(name)
            for name in names
        ],
        axis=1,
    ).reshape(len(table), len(names))


def train_quality_model(
    table: FeatureTable,
    params: QualityParams = QualityParams(),
    feature_version: str = "",
    fit_at_most: int | None = None,
) -> QualityModel:
    """Label the population ``table`` and fit the forest; the same inputs give the same model.

    Every face is labelled against all the others, and a ``params.held_out`` share of them is
    kept out of the fit. When more than ``fit_at_most`` faces are left to fit on, the forest
    fits that many, a sample stratified by label (``_stratified``), and R² is measured on
    held-out faces in the same proportion as without a limit: a forest's fit time grows faster
    than its faces, while its R² barely moves past about 100,000 (bench/README.md, "Scale").

    Features with no measured face are dropped from ``params.features`` (and so recorded)."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import r2_score

    if len(table) < 10:
        raise ValueError(f"need at least 10 faces to train, got {len(table)}")
    if fit_at_most is not None and fit_at_most < 10:
        raise ValueError(f"fit_at_most must be at least 10, got {fit_at_most}")
    measured = tuple(n for n in params.features if np.isfinite(table.column(n)).any())
    if not measured:
        raise ValueError("none of the model's features is measured on these faces")
    params = params.with_features(measured)
    labels = weak_labels(table, params)
    rng = np.random.default_rng(params.seed)
    order = rng.permutation(len(table))
    cut = max(1, math.ceil(params.held_out * len(table)))
    test, train = order[:cut], order[cut:]
    if fit_at_most is not None and len(train) > fit_at_most:
        train = _stratified(labels.label, train, fit_at_most, rng)
        test = test[: max(1, round(fit_at_most * params.held_out / (1 - params.held_out)))]
    forest = RandomForestRegressor(
        n_estimators=params.trees,
        min_samples_leaf=params.min_samples_leaf,
        random_state=params.seed,
        n_jobs=-1,  # threads; each tree's seed is drawn first, so the trees do not depend on it
    )
    forest.fit(model_inputs(table.take(train), params.features), labels.label[train])
    # Threads would add the trees' predictions up in whatever order they finish: one thread
    # adds them in a fixed order, so the same faces always get the same quality, to the bit.
    forest.set_params(n_jobs=1)
    predicted = forest.predict(model_inputs(table.take(test), params.features))
    buckets = np.rint(labels.bucket * len(params.bucket_values)).astype(int)
    summary = TrainingSummary(
        faces=len(table),
        trained_on=len(train),
        held_out=len(test),
        r2_held_out=float(r2_score(labels.label[test], predicted)),
        label_mean=float(labels.label.mean()),
        label_quantiles=tuple(
            float(q) for q in np.percentile(labels.label, [0, 10, 25, 50, 75, 90, 100])
        ),
        bucket_counts=tuple(
            int(c) for c in np.bincount(buckets, minlength=len(params.bucket_values) + 1)
        ),
        feature_importances={
            name: float(v)
            for name, v in zip(params.features, forest.feature_importances_, strict=True)
        },
    )
    return QualityModel(params, summary, forest, feature_version)


def _stratified(
    labels: np.ndarray, rows: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` of ``rows``, ascending: ``rows`` ordered by their ``labels`` cut into
    ``count`` slices of (nearly) equal size, and one drawn at random from each, so that every
    part of the label range, the rare best faces included, keeps its share."""
    ordered = rows[np.argsort(labels[rows], kind="stable")]
    edges = len(rows) * np.arange(count + 1) // count
    drawn = edges[:-1] + (rng.random(count) * np.diff(edges)).astype(np.intp)
    return np.sort(ordered[drawn])
