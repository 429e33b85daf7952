"""How many judgments a campaign needs (no Django): the stopping rule's estimates, and what
disagreement-first order saves, replayed on recorded outcomes.

**Interval width.** A share's 95 % Wilson interval after ``n`` trials with observed share ``p``
is ``2z/(1 + z²/n) · √(p(1-p)/n + z²/4n²)`` wide. Its width falls with ``n`` for a fixed ``p``;
the estimate assumes the share stays where it is and finds the smallest ``n`` whose width is at
most the target. Judgments arrive in random order, so the trials grow in proportion to the
judgments: the judgments needed are the judgments made times ``n_needed / n_now``.

**Sign test.** An A/B comparison is decided when the exact sign test on the decisive answers
(A or B better) has p < α. Assuming A's share of them stays at ``p ≠ ½``, the estimate is the
smallest number of decisive answers at which the test would decide; at ``p = ½`` it never does.

**Disagreement first.** Among the selectors of a grade campaign, the quantity that says which
is better is the paired difference of their "usable" shares over the clusters. A cluster where
every selector picked the same face adds exactly 0 to every difference, so judging it only
costs. Random order judges clusters of both kinds; disagreement-first order judges only the
others (in random order among them) and counts the agreeing clusters as the known zeros they
are: the difference is ``(1 - f) · mean over the judged disagreeing clusters``, ``f`` the share
of agreeing clusters, known from the picks before any judgment.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

Z = float(stats.norm.ppf(0.975))
# Never stop on fewer trials than this: a handful of answers can agree by chance and make an
# interval look narrow.
MIN_TRIALS = 20


def wilson_width(share: float, n: float) -> float:
    """Width of the 95 % Wilson interval of a share observed over ``n`` trials; 1 for none."""
    if n <= 0:
        return 1.0
    z2 = Z * Z
    return 2 * Z / (1 + z2 / n) * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))


def trials_for_width(share: float, target: float, *, start: int = 1) -> int:
    """The fewest trials (at least ``start`` and ``MIN_TRIALS``) at which a share staying at
    ``share`` has a Wilson interval at most ``target`` wide."""
    low = max(start, MIN_TRIALS)
    if wilson_width(share, low) <= target:
        return low
    high = low * 2
    while wilson_width(share, high) > target:
        high *= 2
    while high - low > 1:
        middle = (low + high) // 2
        if wilson_width(share, middle) <= target:
            high = middle
        else:
            low = middle
    return high


def decisive_to_decide(share_a: float, alpha: float, *, limit: int = 1_000_000) -> int | None:
    """The fewest decisive A/B answers at which A's share staying at ``share_a`` decides the
    exact sign test at ``alpha``; None when it never would (a share of ½) or not below
    ``limit``."""
    if abs(share_a - 0.5) < 1e-9:
        return None

    def decides(n: int) -> bool:
        wins = round(share_a * n)
        return float(stats.binomtest(wins, n).pvalue) < alpha

    high = 1
    while not decides(high):
        high *= 2
        if high > limit:
            return None
    low = high // 2
    while high - low > 1:  # p-values of rounded shares are nearly monotone in n
        middle = (low + high) // 2
        if decides(middle):
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class ClusterOutcome:
    """One cluster of a grade campaign: the items random order asks (one per distinct face
    picked), whether every selector picked the same face, and per pair of selectors the paired
    difference of their picks being usable (-1, 0 or 1)."""

    items: int
    agreed: bool
    differences: tuple[int, ...]


@dataclass(frozen=True)
class Savings:
    """Judgments each order needs to bring the widest paired-difference interval to ``width``
    (medians over the replays); None when it never gets there."""

    width: float
    random: float | None
    disagreement: float | None

    @property
    def saved(self) -> float | None:
        if self.random is None or self.disagreement is None:
            return None
        return 1 - self.disagreement / self.random

    def times(self, factor: float) -> Savings:
        """The same, each judgment counted ``factor`` times."""
        return Savings(
            self.width,
            None if self.random is None else self.random * factor,
            None if self.disagreement is None else self.disagreement * factor,
        )

    @property
    def points(self) -> float:
        """``width`` in percentage points."""
        return 100 * self.width


def _width(sums: list[float], squares: list[float], n: int, scale: float) -> float:
    """Widest normal 95 % interval of the pairs' mean differences, scaled."""
    if n < 2:
        return math.inf
    widest = 0.0
    for total, square in zip(sums, squares, strict=True):
        variance = max(square - total * total / n, 0.0) / (n - 1)
        widest = max(widest, 2 * Z * scale * math.sqrt(variance / n))
    return widest


def _replay(
    clusters: Sequence[ClusterOutcome], width: float, scale: float, rng: random.Random
) -> float | None:
    """Judge the clusters in a random order; the judgments spent when the interval first is at
    most ``width`` after ``MIN_TRIALS`` clusters, None if never. The running sums of every
    prefix of the order at once (the widths :func:`_width` would give one by one)."""
    order = list(range(len(clusters)))
    rng.shuffle(order)
    differences = np.array([clusters[k].differences for k in order], dtype=float)
    spent = np.cumsum([clusters[k].items for k in order])
    n = np.arange(1, len(order) + 1, dtype=float)[:, None]
    sums, squares = differences.cumsum(axis=0), (differences**2).cumsum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):  # the first prefix: n − 1 = 0
        variance = np.maximum(squares - sums * sums / n, 0.0) / (n - 1)
        widest = (2 * Z * scale * np.sqrt(variance / n)).max(axis=1)
    reached = np.flatnonzero((n[:, 0] >= MIN_TRIALS) & (widest <= width))
    return float(spent[reached[0]]) if reached.size else None


# Clusters replayed at most: a larger campaign is replayed on a sample of them (see below).
REPLAYED_CLUSTERS = 2_000


def order_savings(
    clusters: Sequence[ClusterOutcome],
    width: float,
    *,
    replays: int = 200,
    seed: int = 0,
    at_most: int = REPLAYED_CLUSTERS,
) -> Savings:
    """Replay the recorded outcomes in ``replays`` random orders each way (all clusters; only
    the disagreeing ones, weighted by their share) and compare the judgments spent to reach
    ``width``.

    Each replay costs a step per cluster: beyond ``at_most`` clusters, the replays run on a
    random sample of ``at_most``, to the width that sample reaches with every cluster judged
    (``width`` is the whole campaign's), and the judgments they spend are scaled by all /
    sampled."""
    rng = random.Random(seed)
    factor, reached = 1.0, width
    if len(clusters) > at_most:
        factor = len(clusters) / at_most
        clusters = rng.sample(list(clusters), at_most)
        reached = full_width(clusters)
    disagreeing = [c for c in clusters if not c.agreed]
    if not clusters or not disagreeing:
        return Savings(width, None, None)
    scale = len(disagreeing) / len(clusters)
    spent = {
        "random": [_replay(clusters, reached, 1.0, rng) for _ in range(replays)],
        "disagreement": [_replay(disagreeing, reached, scale, rng) for _ in range(replays)],
    }

    def median(values: list[float | None]) -> float | None:
        found = sorted(v for v in values if v is not None)
        if len(found) * 2 < len(values):  # most replays never got there
            return None
        return float(sorted(math.inf if v is None else v for v in values)[len(values) // 2])

    return Savings(width, median(spent["random"]), median(spent["disagreement"])).times(factor)


def full_width(clusters: Sequence[ClusterOutcome]) -> float:
    """The width random order reaches once every cluster is judged."""
    pairs = len(clusters[0].differences) if clusters else 0
    sums = [float(sum(c.differences[p] for c in clusters)) for p in range(pairs)]
    squares = [float(sum(c.differences[p] ** 2 for c in clusters)) for p in range(pairs)]
    return _width(sums, squares, len(clusters), 1.0)
