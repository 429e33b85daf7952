"""The statistics behind the evaluation tables (no Django): scipy's binomial test and Wilson
interval, the order statistics that bound the median; Holm's correction and Krippendorff's α,
which scipy lacks, written here.

The tests check these against other implementations (statsmodels, scipy, krippendorff).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion; (0, 0) when there are no trials."""
    if n == 0:
        return (0.0, 0.0)
    interval = stats.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(interval.low), float(interval.high))


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test on the decisive pairs (ties are left out before); 1 when there
    are none."""
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses).pvalue)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Exact McNemar test from the discordant counts."""
    return sign_test(only_first, only_second)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def median_interval_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """The ranks (1-based, in ascending order) of the two order statistics that bound a
    distribution-free interval of the median of ``n`` values.

    The number of values below the true median is Binomial(n, ½) whatever the distribution, so
    [x₍ₗ₎, x₍ₙ₊₁₋ₗ₎] holds it with probability 1 − 2·P(B ≤ l − 1); ``l`` is the largest rank
    for which that is at least ``confidence`` (scipy's ``quantile_test`` interval). Only the
    two ranks are needed, so the database returns the bounds without sending the values. Below
    6 values no pair of ranks reaches 95 %: the range, (1, n), which covers less (94 % at 5
    values, 50 % at 2)."""
    if n < 1:
        raise ValueError("no values, no interval")
    tail = (1 - confidence) / 2
    below = int(stats.binom.ppf(tail, n, 0.5))
    if stats.binom.cdf(below, n, 0.5) > tail:
        below -= 1
    low = max(below + 1, 1)
    return low, n + 1 - low


def krippendorff_alpha_ordinal(units: Mapping[tuple[int, ...], int]) -> float:
    """Krippendorff's α with the ordinal metric, from the units counted by how they were rated:
    ``units`` maps (ratings in the first category, in the second, …), the categories in their
    order, to how many units were rated so. The database counts them; no unit's ratings are
    listed.

    Units with fewer than two ratings carry no pairing information and are left out, and so
    are categories nobody used.
    """
    coincidence: np.ndarray | None = None
    for counts, many in units.items():
        m = sum(counts)
        if m < 2:
            continue
        c = np.asarray(counts, dtype=np.float64)
        # Each rating paired with every other of its unit, weighted 1 / (m - 1).
        pairs = many * (np.outer(c, c) - np.diag(c)) / (m - 1)
        coincidence = pairs if coincidence is None else coincidence + pairs
    if coincidence is None:
        return math.nan
    used = coincidence.sum(axis=1) > 0
    coincidence = coincidence[np.ix_(used, used)]
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    k = len(totals)
    if n <= 1 or k < 2:
        return math.nan

    def delta(c: int, d: int) -> float:
        low, high = min(c, d), max(c, d)
        between = totals[low : high + 1].sum() - (totals[low] + totals[high]) / 2.0
        return between**2

    distances = np.array([[delta(c, d) for d in range(k)] for c in range(k)])
    observed = (coincidence * distances).sum()
    expected = (np.outer(totals, totals) * distances).sum() / (n - 1)
    return 1.0 - observed / expected if expected else math.nan
