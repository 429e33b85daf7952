"""The interval of the median from two order statistics: what it covers, that it is scipy's
distribution-free interval and close to the bootstrap it replaced, its edge cases, its memory."""

import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

from curation.evaluation.stats import median_interval_ranks


def interval(values: np.ndarray) -> tuple[float, float]:
    ordered = np.sort(values)
    low, high = median_interval_ranks(len(ordered))
    return float(ordered[low - 1]), float(ordered[high - 1])


def test_the_interval_covers_the_true_median_at_least_95_percent_of_the_time():
    # Skewed data, where the mean (1) is far from the median (ln 2): an interval of the wrong
    # statistic or at the wrong level would miss this. At 40 values the ranks 14 and 27 cover
    # the median with probability 96.2 %, whatever the distribution.
    rng = np.random.default_rng(0)
    covered = [
        low <= math.log(2) <= high
        for low, high in (interval(rng.exponential(1.0, 40)) for _ in range(400))
    ]
    assert 0.93 <= np.mean(covered) <= 0.99
    low, high = median_interval_ranks(40)
    assert (low, high) == (14, 27)
    assert 1 - 2 * stats.binom.cdf(low - 1, 40, 0.5) == pytest.approx(0.9615, abs=1e-4)


@pytest.mark.parametrize("n", [6, 7, 40, 201, 1000])
def test_the_ranks_give_scipys_distribution_free_interval(n):
    values = np.random.default_rng(n).normal(size=n)
    reference = stats.quantile_test(values, q=0, p=0.5).confidence_interval(0.95)
    assert interval(values) == (reference.low, reference.high)


@pytest.mark.parametrize("draw", ["normal", "exponential"])
def test_the_interval_is_close_to_the_bootstrap_it_replaces(draw):
    rng = np.random.default_rng(3)
    values = rng.normal(10, 2, 300) if draw == "normal" else rng.exponential(1.0, 300)
    low, high = interval(values)
    bootstrap = stats.bootstrap(
        (values,), np.median, n_resamples=2000, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    width = high - low
    assert abs(bootstrap.low - low) < 0.1 * width
    assert abs(bootstrap.high - high) < 0.1 * width


def test_below_six_values_the_interval_is_the_range():
    assert median_interval_ranks(1) == (1, 1)
    assert median_interval_ranks(2) == (1, 2)
    assert median_interval_ranks(5) == (1, 5)
    assert median_interval_ranks(6) == (1, 6)  # 96.9 %: the first n that reaches 95 %
    with pytest.raises(ValueError):
        median_interval_ranks(0)


def test_millions_of_values_need_two_ranks_not_their_values():
    tracemalloc.start()
    try:
        low, high = median_interval_ranks(4_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # About the median ± 0.98 √n: the ranks are symmetric and tight.
    assert low + high == 4_000_001
    assert 1_998_000 < low < 1_998_100
    assert peak < 2**20
