"""The bootstrap interval of the median: what it covers, its seed, its edge cases, its memory."""

import math
import tracemalloc

import numpy as np

from curation.evaluation.stats import bootstrap_median_interval


def test_the_interval_covers_the_true_median_about_95_percent_of_the_time():
    # Skewed data, where the mean (1) is far from the median (ln 2): an interval of the wrong
    # statistic or at the wrong level would miss this.
    rng = np.random.default_rng(0)
    covered = []
    for seed in range(400):
        low, high = bootstrap_median_interval(
            list(rng.exponential(1.0, 40)), resamples=1000, seed=seed
        )
        covered.append(low <= math.log(2) <= high)
    assert 0.91 <= np.mean(covered) <= 0.98


def test_the_same_seed_gives_the_same_interval_and_another_seed_another():
    values = list(np.random.default_rng(1).normal(10, 2, size=200))
    first = bootstrap_median_interval(values, seed=3)
    assert bootstrap_median_interval(values, seed=3) == first
    assert bootstrap_median_interval(values, seed=4) != first
    assert first[0] < float(np.median(values)) < first[1]


def test_missing_values_are_left_out_and_too_few_values_give_a_plain_answer():
    values = [1.0, 5.0, 2.0, 4.0, 3.0]
    assert bootstrap_median_interval([None, *values, None]) == bootstrap_median_interval(values)
    assert bootstrap_median_interval([7.5, None]) == (7.5, 7.5)
    assert all(math.isnan(v) for v in bootstrap_median_interval([None]))


def test_many_values_are_resampled_in_batches_not_all_at_once():
    values = list(np.random.default_rng(2).normal(size=200_000))
    tracemalloc.start()
    try:
        low, high = bootstrap_median_interval(values, resamples=200)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert low < 0 < high
    # All 200 resamples at once would take 200 × 200,000 × (8-byte index + 8-byte value) = 610 MiB.
    assert peak < 100 * 2**20
