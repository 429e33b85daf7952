"""Tuning the filtering selector: random search over its stages, scored against people's labels,
with the last word given to clusters the search never saw.

The paper tuned its stages by random search and visual inspection. Here each candidate is a list
of stages (``random_configs``); its pick on a labelled cluster is scored by what people said
about that face (``ClusterLabels.value``):

- a graded face: its grade, 0 unidentifiable, 0.5 usable, 1 excellent;
- each A/B item the face was in and that people decided: 1 when it won, 0 when it lost;
- a face with several of those: their mean. A pick nobody judged leaves the cluster uncovered.

A config's score is the lower bound of the 95 % Wilson interval of its mean over the covered
clusters (for values between 0 and 1 rather than successes it is conservative: p(1 - p) bounds
their variance). A config whose picks were judged on three clusters, all excellent, scores 0.44,
below one judged on a hundred with a mean of 0.85 (0.77): low coverage cannot win by luck.

Overfitting: ``tune`` splits the labelled clusters in two halves (seeded). Every candidate is
ranked on the search half. The active config (candidate 0) and the best ``top_k`` others are
then scored on the held-out half, which the search never saw, and the best of those few by
held-out score is the one recommended. Choosing among four on the held-out half leaves its score
nearly unbiased; ranking hundreds on it would not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scoring.features import FEATURE_NAMES, FeatureTable
from scoring.selectors import DEFAULT_STAGES, FilterStage, select_filtering

# The range each feature's threshold T is drawn from: what the features measure on real faces
# (README, "The method"), from lenient to strict. Resolution is drawn as the side of a square box
# in pixels and squared.
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "brightness": (25.0, 60.0),
    "resolution": (60.0, 200.0),
    "sharpness": (0.3, 0.8),
    "roll": (5.0, 20.0),
    "pitch": (6.0, 25.0),
    "yaw": (6.0, 30.0),
    "fiqa": (0.35, 0.65),
    "exposure": (0.15, 0.6),
    "artifacts": (0.05, 0.4),
    "identity": (0.35, 0.6),
}
TOP_RANGE = (1, 5)  # M: keep the best 1–5 faces entering the stage
PERCENTILES = tuple(float(p) for p in range(10, 95, 5))  # P: 10, 15, …, 90
CRITERION_CHANCE = 0.7  # each of T, M, P is set with this chance (at least one always is)
MIN_STAGES = 2
Z = 1.959964  # the normal quantile of a 95 % interval
TOP_K = 3
GRADE_VALUES = (0.0, 0.5, 1.0)  # unidentifiable, usable, excellent


def _random_stage(rng: np.random.Generator, feature: str) -> FilterStage:
    chosen = rng.random(3) < CRITERION_CHANCE
    if not chosen.any():
        chosen[0] = True
    threshold = top = percentile = None
    if chosen[0]:
        low, high = THRESHOLD_RANGES[feature]
        value = float(rng.uniform(low, high))
        threshold = float(round(value) ** 2) if feature == "resolution" else float(f"{value:.2g}")
    if chosen[1]:
        top = int(rng.integers(TOP_RANGE[0], TOP_RANGE[1] + 1))
    if chosen[2]:
        percentile = float(rng.choice(PERCENTILES))
    return FilterStage(feature, threshold=threshold, top=top, percentile=percentile)


def random_configs(
    n: int,
    seed: int,
    *,
    first: Sequence[FilterStage] = DEFAULT_STAGES,
    features: Sequence[str] = FEATURE_NAMES,
) -> tuple[tuple[FilterStage, ...], ...]:
    """``n`` candidate stage lists: ``first`` (the config in use, so the search can always
    keep it), then ``n - 1`` drawn with ``seed``: a random subset of ``features`` (at least
    ``MIN_STAGES``) in random order, each stage with T, M and P from the ranges above."""
    if n < 1:
        raise ValueError("draw at least one config")
    unknown = set(features) - set(FEATURE_NAMES)
    if unknown or len(features) < MIN_STAGES:
        raise ValueError(f"need at least {MIN_STAGES} known features, got {list(features)}")
    rng = np.random.default_rng(seed)
    configs = [tuple(first)]
    for _ in range(n - 1):
        count = int(rng.integers(MIN_STAGES, len(features) + 1))
        order = rng.permutation(len(features))[:count]
        configs.append(tuple(_random_stage(rng, features[i]) for i in order))
    return tuple(configs)


@dataclass(frozen=True)
class ClusterLabels:
    """People's labels on one cluster's faces, by row of the cluster's ``FeatureTable``.

    ``grades``: row → grade rank (0 unidentifiable, 1 usable, 2 excellent); ``preferences``:
    (better row, worse row), one per decided A/B item (-1 for a face that is not one of the
    cluster's rows)."""

    grades: Mapping[int, int] = field(default_factory=dict)
    preferences: tuple[tuple[int, int], ...] = ()

    def value(self, row: int) -> float | None:
        """What people said about the face of ``row``, in [0, 1]; None when nothing."""
        evidence = [GRADE_VALUES[self.grades[row]]] if row in self.grades else []
        evidence += [
            float(row == better) for better, worse in self.preferences if row in (better, worse)
        ]
        return sum(evidence) / len(evidence) if evidence else None

    def labelled_rows(self) -> set[int]:
        rows = set(self.grades) | {row for pair in self.preferences for row in pair}
        return {row for row in rows if row >= 0}


@dataclass(frozen=True)
class Score:
    """A config scored on some clusters: the ``mean`` value of its picks over the ``covered``
    clusters (None when none) and its 95 % Wilson interval ``low``–``high``; ``score``, what
    ranks configs, is ``low``."""

    mean: float | None
    covered: int
    clusters: int
    low: float
    high: float

    @property
    def score(self) -> float:
        return self.low

    @property
    def coverage(self) -> float:
        return self.covered / self.clusters if self.clusters else 0.0


def wilson_interval(mean: float, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a mean of ``n`` values in [0, 1]; (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    centre = mean + Z**2 / (2 * n)
    spread = Z * np.sqrt(mean * (1 - mean) / n + Z**2 / (4 * n**2))
    scale = 1 + Z**2 / n
    return max(0.0, float(centre - spread) / scale), min(1.0, float(centre + spread) / scale)


def config_picks(stages: Sequence[FilterStage], tables: Sequence[FeatureTable]) -> np.ndarray:
    """The row the filtering selector picks in each cluster; (clusters,) int."""
    return np.array([select_filtering(table, stages).chosen for table in tables], dtype=np.intp)


def picks_score(picks: Sequence[int] | np.ndarray, labels: Sequence[ClusterLabels]) -> Score:
    """Score one pick per cluster against the clusters' labels (see the module's docstring)."""
    values = [
        value
        for pick, cluster in zip(picks, labels, strict=True)
        if (value := cluster.value(int(pick))) is not None
    ]
    mean = float(np.mean(values)) if values else None
    low, high = wilson_interval(mean or 0.0, len(values))
    return Score(mean, len(values), len(labels), low, high)


def config_score(
    stages: Sequence[FilterStage], tables: Sequence[FeatureTable], labels: Sequence[ClusterLabels]
) -> Score:
    """The config's picks on these clusters scored against their labels."""
    return picks_score(config_picks(stages, tables), labels)


def split_clusters(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster indices for the search (the larger half when ``count`` is odd) and held out."""
    order = np.random.default_rng(seed).permutation(count)
    half = (count + 1) // 2
    return np.sort(order[:half]), np.sort(order[half:])


@dataclass(frozen=True)
class Candidate:
    """One config: its search score, and for the compared few its held-out score and picks on
    the held-out clusters (rows, in ``TuningResult.held_out_clusters`` order)."""

    index: int
    stages: tuple[FilterStage, ...]
    search: Score
    held_out: Score | None = None
    held_out_picks: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TuningResult:
    """``candidates`` in the order given; ``ranking`` their indices by search score, best first;
    ``compared`` candidate 0 and the ``top_k`` best others, scored on the held-out clusters;
    ``chosen`` the best of those by held-out score."""

    candidates: tuple[Candidate, ...]
    ranking: tuple[int, ...]
    compared: tuple[int, ...]
    chosen: int
    search_clusters: tuple[int, ...]
    held_out_clusters: tuple[int, ...]


def tune(
    configs: Sequence[Sequence[FilterStage]],
    tables: Sequence[FeatureTable],
    labels: Sequence[ClusterLabels],
    *,
    seed: int,
    top_k: int = TOP_K,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> TuningResult:
    """Rank ``configs`` (candidate 0: the config in use) on a seeded half of the labelled
    clusters, compare candidate 0 and the ``top_k`` best others on the other half, and choose
    among those by held-out score (ties keep candidate 0). ``progress(done, total)`` hears of
    every config scored."""
    if len(tables) != len(labels):
        raise ValueError(f"{len(tables)} clusters but {len(labels)} label sets")
    if len(tables) < 2:
        raise ValueError("tuning needs at least two labelled clusters: one to search, one to check")
    search, held_out = split_clusters(len(tables), seed)
    search_tables, search_labels = [tables[i] for i in search], [labels[i] for i in search]
    held_tables, held_labels = [tables[i] for i in held_out], [labels[i] for i in held_out]
    total = len(configs) + min(top_k, len(configs) - 1) + 1
    scores = []
    for index, stages in enumerate(configs):
        scores.append(picks_score(config_picks(stages, search_tables), search_labels))
        progress(index + 1, total)
    # Best first; equal scores keep the earlier candidate (candidate 0 before any other).
    ranking = tuple(sorted(range(len(configs)), key=lambda i: (-scores[i].score, i)))
    compared = (0, *[i for i in ranking if i != 0][:top_k])
    candidates = [Candidate(i, tuple(stages), scores[i]) for i, stages in enumerate(configs)]
    held: dict[int, Score] = {}
    for done, index in enumerate(compared, start=len(configs) + 1):
        picks = config_picks(configs[index], held_tables)
        held[index] = picks_score(picks, held_labels)
        candidates[index] = Candidate(
            index, tuple(configs[index]), scores[index], held[index], tuple(int(p) for p in picks)
        )
        progress(done, total)
    chosen = min(compared, key=lambda i: (-held[i].score, i != 0, -scores[i].score, i))
    return TuningResult(
        candidates=tuple(candidates),
        ranking=ranking,
        compared=compared,
        chosen=chosen,
        search_clusters=tuple(int(i) for i in search),
        held_out_clusters=tuple(int(i) for i in held_out),
    )
