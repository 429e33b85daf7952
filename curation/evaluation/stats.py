"""The statistics behind the evaluation tables, in plain Python and numpy (no Django).

Each function is checked in the tests against the reference implementation (scipy, statsmodels,
krippendorff) on the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 0) when there are no trials."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p of k successes in n fair coin flips (the sign test, exact McNemar):
    the total probability of outcomes no more likely than the one seen."""
    if n == 0:
        return 1.0
    probabilities = [math.comb(n, i) / 2**n for i in range(n + 1)]
    observed = probabilities[k]
    p = sum(q for q in probabilities if q <= observed * (1 + 1e-7))
    return min(1.0, p)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test on the decisive pairs (ties are left out before)."""
    return binomial_two_sided(min(wins, losses), wins + losses)


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
    values: Sequence[float], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of the median (seeded, so exports are repeatable)."""
    data = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(data) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(data, size=(resamples, len(data)), replace=True), axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return (float(low), float(high))


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
