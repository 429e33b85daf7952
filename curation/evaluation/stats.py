"""The statistics behind the evaluation tables (no Django): scipy's binomial test, Wilson interval
and bootstrap; Holm's correction and Krippendorff's α, which scipy lacks, written here.

The tests check these against other implementations (statsmodels, krippendorff).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

# Bootstrap resamples are drawn this many values at a time (about 16 MiB of indices and values).
_BOOTSTRAP_BATCH_VALUES = 2**20


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


def bootstrap_median_interval(
    values: Sequence[float | None], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of the median, None values left out; seeded, so
    exports are repeatable."""
    data = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(data) == 0:
        return (math.nan, math.nan)
    if len(data) == 1:  # every resample is the one value (scipy needs two)
        return (float(data[0]), float(data[0]))
    result = stats.bootstrap(
        (data,),
        np.median,
        n_resamples=resamples,
        batch=max(1, _BOOTSTRAP_BATCH_VALUES // len(data)),
        vectorized=True,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def krippendorff_alpha_ordinal(units: Sequence[Sequence[int]]) -> float:
    """Krippendorff's α with the ordinal metric, from each unit's list of ratings (ranks).

    Units with fewer than two ratings carry no pairing information and are left out.
    """
    units = [list(unit) for unit in units if len(unit) >= 2]
    if not units:
        return math.nan
    values = sorted({v for unit in units for v in unit})
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    coincidence = np.zeros((k, k))
    for unit in units:
        m = len(unit)
        for a in range(m):
            for b in range(m):
                if a != b:
                    coincidence[index[unit[a]], index[unit[b]]] += 1.0 / (m - 1)
    totals = coincidence.sum(axis=1)
    n = totals.sum()
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
