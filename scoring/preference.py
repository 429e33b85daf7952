"""Quality learned from people: a pairwise model of their judgments, on top of the weak-label model.

People's answers order faces within a cluster: an A/B answer says one pick is better than the
other (weighted by the vote margin), and two faces of one cluster graded differently are ordered
by their grades (weighted by the grade difference: excellent over unidentifiable counts twice).

The model gives every face a score, higher better (only the order within a cluster means
anything)::

    f(x) = p(x) + Σ_k w_k · z_k(x)
    P(a judged better than b) = σ(s · (f(a) − f(b)))        (Bradley–Terry, as in RankNet)

- ``p``, the prior: the weak model's quality of the face, standardised over the training faces.
- ``z_k``: the face's percentile in feature k among the training faces, centred to
  [−0.5, 0.5], on the weak model's own inputs (|pose|, |exposure| …, ``model_inputs``) and
  turned so that larger is better; an unmeasured feature counts as typical (0), as the weak
  labels leave it out.
- ``w`` has a Gaussian prior N(0, 1/λ); ``s`` ≥ 0 says how consistently people agree with f.

Why this form:

- The residual is Heuristic1's own form, a weighted sum of feature percentiles, with weights
  learned from people instead of set by hand. A few hundred pairs fit ten weights, and the
  weights say what people value more, or less, than the weak model does.
- Noise goes into ``s``, not into the weights: when the answers carry no information, ``s``
  falls to 0, which takes away the pull on ``w``, and the penalty returns ``w`` to 0. The
  ranking is then the weak model's, never one that random answers turned around.
- λ is chosen by cross-validation over the training clusters: the largest λ ("prior alone"
  the largest of all) whose loss is within half a standard error of the best, so that under
  weak evidence the model stays nearest the weak one. On simulated annotators answering coin
  tosses, half an SE never left the prior (90 trainings of 10–40 clusters), while it learned
  from 20 clusters of informative answers; the usual one SE learned nothing below ~100 pairs.

Held out: a share of the clusters (seeded) is not trained on; the summary gives, on their pairs,
how often the learned model and the weak model order the two faces as people did, and an exact
sign test on the pairs where only one of them does.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from scoring.features import SMALLER_BETTER, FeatureTable
from scoring.quality import FeatureVersionMismatch, QualityModel, model_inputs

_FORMAT = "face-curation-preference-model/1"
# Reference values kept per feature for the percentiles: quantiles beyond this many faces.
_REFERENCE_SIZE = 1001
# How far, in standard errors of the best, a larger penalty's cross-validated loss may be.
_PENALTY_TOLERANCE = 0.5


class NotEnoughJudgments(ValueError):
    """Too few ordered pairs, or clusters, to train on and hold some out."""


class PriorMismatch(ValueError):
    """Scores asked of a preference model with another weak model than it was trained on."""


@dataclass(frozen=True)
class PreferenceParams:
    """- ``min_pairs``, ``min_clusters``: the least to train on (clusters with at least one pair).
    - ``held_out``: the share of those clusters (at least one) kept out of training, drawn with
      ``seed``; their pairs measure the models.
    - ``penalties``: the λ tried; ``folds``: cross-validation folds over the training clusters."""

    min_pairs: int = 20
    min_clusters: int = 3
    held_out: float = 0.25
    penalties: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
    folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "penalties", tuple(float(p) for p in self.penalties))
        if not 0 < self.held_out < 1:
            raise ValueError("held_out must be in (0, 1)")
        if self.min_clusters < 3:
            raise ValueError("min_clusters must be at least 3: one held out, two to cross-validate")
        if not self.penalties or min(self.penalties) <= 0:
            raise ValueError("penalties: at least one, all positive")
        if self.folds < 2:
            raise ValueError("folds must be at least 2")


@dataclass(frozen=True, eq=False)
class Judged:
    """People's labels on the N faces of a table.

    ``clusters`` (N,): each face's cluster; ``grades`` (N,): 0 unidentifiable, 1 usable,
    2 excellent, −1 not graded; ``preferences`` (P, 3): rows of (better face row, worse face
    row, votes), both faces of one cluster."""

    clusters: np.ndarray
    grades: np.ndarray
    preferences: np.ndarray = field(default_factory=lambda: np.empty((0, 3), dtype=np.int64))

    def __post_init__(self) -> None:
        clusters = np.asarray(self.clusters, dtype=np.int64).reshape(-1)
        grades = np.asarray(self.grades, dtype=np.int64).reshape(-1)
        preferences = np.asarray(self.preferences, dtype=np.int64).reshape(-1, 3)
        if len(grades) != len(clusters):
            raise ValueError(f"{len(grades)} grades for {len(clusters)} faces")
        if not np.isin(grades, (-1, 0, 1, 2)).all():
            raise ValueError("grades are 0, 1, 2, or -1 for a face not graded")
        rows = preferences[:, :2]
        if len(preferences) and (rows.min() < 0 or rows.max() >= len(clusters)):
            raise ValueError("a preference names a face row outside the table")
        if (preferences[:, 2] < 1).any() or (rows[:, 0] == rows[:, 1]).any():
            raise ValueError("a preference needs two faces and at least one vote")
        if (clusters[rows[:, 0]] != clusters[rows[:, 1]]).any():
            raise ValueError("a preference orders two faces of one cluster")
        object.__setattr__(self, "clusters", clusters)
        object.__setattr__(self, "grades", grades)
        object.__setattr__(self, "preferences", preferences)


@dataclass(frozen=True, eq=False)
class Pairs:
    """M ordered pairs: face rows ``better`` and ``worse`` (M,), ``weight`` (M,), and
    ``from_ab`` (M,): an A/B answer, else two grades."""

    better: np.ndarray
    worse: np.ndarray
    weight: np.ndarray
    from_ab: np.ndarray

    def __len__(self) -> int:
        return len(self.better)

    def take(self, mask: np.ndarray) -> Pairs:
        return Pairs(self.better[mask], self.worse[mask], self.weight[mask], self.from_ab[mask])


def judged_pairs(judged: Judged) -> Pairs:
    """The A/B preferences, then every pair of faces of one cluster with different grades."""
    better = [judged.preferences[:, 0]]
    worse = [judged.preferences[:, 1]]
    weight = [judged.preferences[:, 2].astype(np.float64)]
    graded = np.flatnonzero(judged.grades >= 0)
    for cluster in np.unique(judged.clusters[graded]):
        rows = graded[judged.clusters[graded] == cluster]
        first, second = np.triu_indices(len(rows), k=1)
        a, b = rows[first], rows[second]
        difference = judged.grades[a] - judged.grades[b]
        ordered = difference != 0
        better.append(np.where(difference > 0, a, b)[ordered])
        worse.append(np.where(difference > 0, b, a)[ordered])
        weight.append(np.abs(difference[ordered]).astype(np.float64))
    from_ab = np.zeros(sum(len(part) for part in better), dtype=bool)
    from_ab[: len(judged.preferences)] = True
    return Pairs(
        np.concatenate(better).astype(np.intp),
        np.concatenate(worse).astype(np.intp),
        np.concatenate(weight),
        from_ab,
    )


@dataclass(frozen=True)
class PreferenceSummary:
    """What a model was trained on, what it chose, and how it and the weak model order the
    held-out pairs. Accuracies count a tie as half; ``learned_only_right`` / ``weak_only_right``
    are the held-out pairs only that model orders as people did, and ``sign_test_p`` the exact
    two-sided sign test on them."""

    faces: int
    clusters: int
    pairs: int
    ab_pairs: int
    grade_pairs: int
    trained_on_clusters: int
    trained_on_pairs: int
    held_out_clusters: int
    held_out_pairs: int
    accuracy_held_out: float
    weak_accuracy_held_out: float
    learned_only_right: int
    weak_only_right: int
    sign_test_p: float
    penalty: float | None  # None: the prior alone won the cross-validation
    agreement: float  # s
    weights: dict[str, float] = field(default_factory=dict)


def prior_fingerprint(prior: QualityModel) -> str:
    """A digest of a weak model's parameters, training summary and feature version: two
    trainings practically never share one."""
    text = json.dumps(
        [asdict(prior.params), asdict(prior.summary), prior.feature_version],
        sort_keys=True,
        default=float,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class PreferenceModel:
    """A trained preference model; scores faces with the weak model it was trained on top of."""

    params: PreferenceParams
    summary: PreferenceSummary
    features: tuple[str, ...]
    reference: tuple[np.ndarray, ...]  # per feature, sorted values of the training faces
    prior_mean: float
    prior_scale: float
    weights: np.ndarray  # w, (F,)
    agreement: float  # s
    prior_fingerprint: str
    feature_version: str = ""

    def predict(
        self,
        table: FeatureTable,
        prior: QualityModel,
        feature_version: str | None = None,
        prior_quality: np.ndarray | None = None,
    ) -> np.ndarray:
        """Score f of each face; shape (N,). ``prior`` must be the weak model it was trained
        with; give the faces' ``feature_version`` to have it checked, and ``prior_quality``
        (N,), ``prior``'s quality of these faces, when it was computed already (scoring stores
        it), so that its forest need not run again."""
        if feature_version is not None and feature_version != self.feature_version:
            raise FeatureVersionMismatch(
                f"the learned model was trained on features {self.feature_version or 'unknown'}"
                f" but these faces were measured by {feature_version}: train a new one"
            )
        if prior_fingerprint(prior) != self.prior_fingerprint:
            raise PriorMismatch("this is not the weak model the learned model was trained with")
        if len(table) == 0:
            return np.empty(0)
        if prior_quality is None:
            prior_quality = prior.predict(table)
        elif np.shape(prior_quality) != (len(table),):
            raise ValueError(f"expected {len(table)} prior scores, got {np.shape(prior_quality)}")
        return self._score(table, np.asarray(prior_quality, dtype=np.float64))

    def _score(self, table: FeatureTable, prior: np.ndarray) -> np.ndarray:
        standard = (prior - self.prior_mean) / self.prior_scale
        return standard + _centred_percentiles(table, self.features, self.reference) @ self.weights

    def save(self, path: str | Path) -> None:
        """Write the model to one file (a joblib pickle of plain values and arrays)."""
        import joblib

        joblib.dump(
            {
                "format": _FORMAT,
                "params": asdict(self.params),
                "summary": asdict(self.summary),
                "features": list(self.features),
                "reference": [np.asarray(values) for values in self.reference],
                "prior_mean": self.prior_mean,
                "prior_scale": self.prior_scale,
                "weights": np.asarray(self.weights),
                "agreement": self.agreement,
                "prior_fingerprint": self.prior_fingerprint,
                "feature_version": self.feature_version,
            },
            path,
            compress=3,
        )

    @classmethod
    def load(cls, path: str | Path) -> PreferenceModel:
        """Read a file written by :meth:`save`. Pickles run code: load only your own files."""
        import joblib

        data = joblib.load(path)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            found = data.get("format", "unknown") if isinstance(data, dict) else "unknown"
            raise ValueError(
                f"{Path(path).name} is not a {_FORMAT} learned model (found {found}): "
                "train a new one"
            )
        return cls(
            PreferenceParams(**data["params"]),
            PreferenceSummary(**data["summary"]),
            tuple(data["features"]),
            tuple(np.asarray(values) for values in data["reference"]),
            data["prior_mean"],
            data["prior_scale"],
            np.asarray(data["weights"]),
            data["agreement"],
            data["prior_fingerprint"],
            data["feature_version"],
        )


def _reference(table: FeatureTable, features: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    columns = model_inputs(table, features)
    reference = []
    for k in range(len(features)):
        values = np.sort(columns[:, k][np.isfinite(columns[:, k])])
        if len(values) > _REFERENCE_SIZE:
            values = np.quantile(values, np.linspace(0, 1, _REFERENCE_SIZE))
        reference.append(values)
    return tuple(reference)


def _centred_percentiles(
    table: FeatureTable, features: tuple[str, ...], reference: tuple[np.ndarray, ...]
) -> np.ndarray:
    """(N, F): each face's mid-rank percentile among the reference values, minus 0.5, negated
    where smaller is better (so a positive weight always means "people value it"); 0 where the
    feature is not measured or has no reference."""
    columns = model_inputs(table, features)
    result = np.zeros(columns.shape)
    for k, values in enumerate(reference):
        measured = np.isfinite(columns[:, k])
        if not len(values) or not measured.any():
            continue
        x = columns[measured, k]
        below = np.searchsorted(values, x, side="left")
        at_most = np.searchsorted(values, x, side="right")
        centred = (below + at_most) / (2.0 * len(values)) - 0.5
        result[measured, k] = -centred if features[k] in SMALLER_BETTER else centred
    return result


@dataclass(frozen=True, eq=False)
class _Differences:
    """Per pair, better minus worse: of the standardised prior (M,) and the percentiles (M, F)."""

    prior: np.ndarray
    percentiles: np.ndarray
    weight: np.ndarray

    def take(self, mask: np.ndarray) -> _Differences:
        return _Differences(self.prior[mask], self.percentiles[mask], self.weight[mask])


def _objective(
    differences: _Differences, penalty: float
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The negative log posterior of θ = (s, w) and its gradient."""
    from scipy.special import expit

    def value(theta: np.ndarray) -> tuple[float, np.ndarray]:
        s, w = theta[0], theta[1:]
        margin = differences.prior + differences.percentiles @ w
        f = s * margin
        loss = float(differences.weight @ np.logaddexp(0.0, -f)) + 0.5 * penalty * float(w @ w)
        pull = differences.weight * expit(-f)
        gradient = np.concatenate(
            [[-(pull @ margin)], -s * (pull @ differences.percentiles) + penalty * w]
        )
        return loss, gradient

    return value


def _fit(differences: _Differences, penalty: float | None) -> tuple[float, np.ndarray]:
    """(s, w) at the posterior's mode; ``penalty`` None keeps w at 0 (the prior alone)."""
    from scipy.optimize import minimize

    features = differences.percentiles.shape[1]
    if penalty is None:
        alone = _Differences(
            differences.prior, np.zeros((len(differences.prior), 0)), differences.weight
        )
        result = minimize(
            _objective(alone, 1.0), [1.0], jac=True, method="L-BFGS-B", bounds=[(0.0, None)]
        )
        return float(result.x[0]), np.zeros(features)
    result = minimize(
        _objective(differences, penalty),
        np.r_[1.0, np.zeros(features)],
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, None)] + [(None, None)] * features,
    )
    return float(result.x[0]), result.x[1:]


def _pair_losses(differences: _Differences, s: float, w: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, -s * (differences.prior + differences.percentiles @ w))


def _penalty_chosen(
    differences: _Differences, groups: np.ndarray, params: PreferenceParams
) -> float | None:
    """Cross-validate over the pairs' clusters ``groups`` (M,); the largest penalty within
    ``_PENALTY_TOLERANCE`` standard errors of the best (see above)."""
    rng = np.random.default_rng(params.seed + 1)
    clusters = rng.permutation(np.unique(groups))
    folds = np.array_split(clusters, min(params.folds, len(clusters)))
    candidates: list[float | None] = [*sorted(params.penalties), None]
    losses = np.zeros((len(candidates), len(groups)))
    for fold in folds:
        test = np.isin(groups, fold)
        for i, penalty in enumerate(candidates):
            s, w = _fit(differences.take(~test), penalty)
            losses[i, test] = _pair_losses(differences.take(test), s, w)
    share = differences.weight / differences.weight.mean()
    weighted = losses * share
    means = weighted.mean(axis=1)
    best = int(np.argmin(means))
    error = weighted[best].std(ddof=1) / math.sqrt(len(groups)) if len(groups) > 1 else 0.0
    limit = means[best] + _PENALTY_TOLERANCE * error
    chosen = max(i for i in range(len(candidates)) if means[i] <= limit)
    return candidates[chosen]


def _sign_test(wins: int, losses: int) -> float:
    from scipy.stats import binomtest

    return 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses).pvalue)


def _accuracy(right: np.ndarray, tied: np.ndarray) -> float:
    return float(np.mean(right + 0.5 * tied)) if len(right) else math.nan


def train_preference_model(
    table: FeatureTable,
    judged: Judged,
    prior: QualityModel,
    params: PreferenceParams = PreferenceParams(),
) -> PreferenceModel:
    """Fit on the judged faces ``table`` (N) on top of ``prior``, over its features and for its
    feature version; the same inputs give the same model. Raises NotEnoughJudgments."""
    if len(judged.clusters) != len(table):
        raise ValueError(f"labels for {len(judged.clusters)} faces, features for {len(table)}")
    pairs = judged_pairs(judged)
    if len(pairs) < params.min_pairs:
        raise NotEnoughJudgments(
            f"need at least {params.min_pairs} pairs of faces that people ordered (A/B answers, "
            f"or two different grades in one cluster), found {len(pairs)}: judge more"
        )
    pair_clusters = judged.clusters[pairs.better]
    clusters = np.unique(pair_clusters)
    if len(clusters) < params.min_clusters:
        raise NotEnoughJudgments(
            f"need ordered pairs in at least {params.min_clusters} clusters to hold some out, "
            f"found {len(clusters)}: judge more clusters"
        )
    order = np.random.default_rng(params.seed).permutation(clusters)
    held = order[: max(1, math.ceil(params.held_out * len(clusters)))]
    test = np.isin(pair_clusters, held)
    train_faces = ~np.isin(judged.clusters, held)

    quality = prior.predict(table)
    features = prior.features
    reference = _reference(table.take(np.flatnonzero(train_faces)), features)
    prior_mean = float(quality[train_faces].mean())
    spread = float(quality[train_faces].std())
    prior_scale = spread if spread > 1e-9 else 1.0
    standard = (quality - prior_mean) / prior_scale
    percentiles = _centred_percentiles(table, features, reference)
    differences = _Differences(
        standard[pairs.better] - standard[pairs.worse],
        percentiles[pairs.better] - percentiles[pairs.worse],
        pairs.weight,
    )
    trained = differences.take(~test)
    penalty = _penalty_chosen(trained, pair_clusters[~test], params)
    s, w = _fit(trained, penalty)

    held_pairs = pairs.take(test)
    learned = (standard + percentiles @ w)[held_pairs.better] - (standard + percentiles @ w)[
        held_pairs.worse
    ]
    weak = quality[held_pairs.better] - quality[held_pairs.worse]
    learned_right, weak_right = learned > 0, weak > 0
    summary = PreferenceSummary(
        faces=len(table),
        clusters=len(clusters),
        pairs=len(pairs),
        ab_pairs=int(pairs.from_ab.sum()),
        grade_pairs=int((~pairs.from_ab).sum()),
        trained_on_clusters=len(clusters) - len(held),
        trained_on_pairs=int((~test).sum()),
        held_out_clusters=len(held),
        held_out_pairs=int(test.sum()),
        accuracy_held_out=_accuracy(learned_right, learned == 0),
        weak_accuracy_held_out=_accuracy(weak_right, weak == 0),
        learned_only_right=int((learned_right & ~weak_right).sum()),
        weak_only_right=int((weak_right & ~learned_right).sum()),
        sign_test_p=_sign_test(
            int((learned_right & ~weak_right).sum()), int((weak_right & ~learned_right).sum())
        ),
        penalty=penalty,
        agreement=s,
        weights={name: float(value) for name, value in zip(features, w, strict=True)},
    )
    return PreferenceModel(
        params=params,
        summary=summary,
        features=features,
        reference=reference,
        prior_mean=prior_mean,
        prior_scale=prior_scale,
        weights=w,
        agreement=s,
        prior_fingerprint=prior_fingerprint(prior),
        feature_version=prior.feature_version,
    )
