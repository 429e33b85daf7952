"""The stopping rule's estimates and the disagreement-first savings, checked by simulating
annotators whose answers follow a known truth."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from scipy import stats

from curation.evaluation.planning import (
    ClusterOutcome,
    Z,
    decisive_to_decide,
    full_width,
    order_savings,
    trials_for_width,
    wilson_width,
)
from curation.evaluation.stats import wilson_interval


def test_wilson_width_is_the_wilson_interval_width():
    for count, n in ((0, 10), (3, 24), (50, 100), (99, 100)):
        low, high = wilson_interval(count, n)
        assert wilson_width(count / n, n) == pytest.approx(high - low, abs=1e-9)


def test_trials_for_width_is_the_fewest():
    for share in (0.05, 0.3, 0.5):
        n = trials_for_width(share, 0.1)
        assert wilson_width(share, n) <= 0.1 < wilson_width(share, n - 1)


def test_the_width_estimate_comes_true_within_ten_percent():
    """An annotator pool grades picks that are usable with probability 0.3. After 60 grades
    the estimate says how many grades bring the interval to 10 points; grading on to that count,
    the width lands within ±10 % of the target in at least 90 % of 500 campaigns."""
    rng = random.Random(1)
    target, landed = 0.10, []
    for _ in range(500):
        grades = [rng.random() < 0.3 for _ in range(60)]
        needed = trials_for_width(sum(grades) / len(grades), target, start=len(grades))
        grades += [rng.random() < 0.3 for _ in range(needed - len(grades))]
        landed.append(wilson_width(sum(grades) / len(grades), len(grades)) / target)
    within = sum(0.9 <= ratio <= 1.1 for ratio in landed) / len(landed)
    assert within >= 0.9, within


def test_the_sign_test_estimate_comes_true_within_a_factor_of_one_and_a_half():
    """A is better on 65 % of the decisive pairs. From the first 40, the estimate of the
    decisive answers that decide the test at α = 0.05 is, in the median over 300 campaigns,
    within a factor 1.5 of when the test actually first decided."""
    rng = random.Random(2)
    estimates, actual = [], []
    for _ in range(300):
        answers = [rng.random() < 0.65 for _ in range(40)]
        estimate = decisive_to_decide(sum(answers) / 40, 0.05)
        if estimate is None:  # the first 40 came out even: no estimate
            continue
        estimates.append(max(estimate, 40))
        while stats.binomtest(sum(answers), len(answers)).pvalue >= 0.05:
            answers.append(rng.random() < 0.65)
        actual.append(len(answers))
    ratio = statistics.median(estimates) / statistics.median(actual)
    assert 1 / 1.5 <= ratio <= 1.5, ratio


def test_an_even_share_is_never_decided():
    assert decisive_to_decide(0.5, 0.05) is None


def _graded_campaign(rng: random.Random, clusters: int, agreeing: float) -> list[ClusterOutcome]:
    """Two selectors. In an agreeing cluster both picked one face; elsewhere selector 1's pick is
    usable with probability 0.85 and selector 2's with 0.6. Annotators grade a face wrongly one
    time in ten."""

    def graded(usable: bool) -> bool:
        return usable if rng.random() > 0.1 else not usable

    outcomes = []
    for _ in range(clusters):
        if rng.random() < agreeing:
            outcomes.append(ClusterOutcome(1, True, (0,)))
            continue
        first, second = graded(rng.random() < 0.85), graded(rng.random() < 0.6)
        outcomes.append(ClusterOutcome(2, False, (int(first) - int(second),)))
    return outcomes


def test_disagreement_first_reaches_the_width_with_fewer_judgments():
    rng = random.Random(3)
    outcomes = _graded_campaign(rng, 600, agreeing=0.5)
    width = full_width(outcomes)
    savings = order_savings(outcomes, width, replays=100)
    assert savings.random is not None and savings.disagreement is not None
    assert savings.disagreement < savings.random
    # Half the clusters agree and cost one judgment each of the 1.5 per cluster: about a third
    # of the judgments go to clusters that cannot tell the selectors apart.
    assert savings.saved == pytest.approx(1 / 3, abs=0.12)


def test_a_large_campaign_replayed_on_a_sample_gives_what_the_whole_replay_gives():
    rng = random.Random(8)
    outcomes = _graded_campaign(rng, 6_000, agreeing=0.4)
    width = full_width(outcomes)
    whole = order_savings(outcomes, width, replays=40, at_most=len(outcomes))
    sampled = order_savings(outcomes, width, replays=40, at_most=1_000)
    assert whole.random and whole.disagreement and sampled.random and sampled.disagreement
    assert sampled.width == whole.width
    assert sampled.random == pytest.approx(whole.random, rel=0.1)
    assert sampled.disagreement == pytest.approx(whole.disagreement, rel=0.1)
    assert sampled.saved == pytest.approx(whole.saved, abs=0.05)


def test_disagreement_first_intervals_still_cover_the_truth():
    """The saving is not bought with wrong intervals: judging only the disagreeing clusters
    (200 of them) and weighting by their share, the 95 % interval covers the true difference
    of usable shares in about 95 % of 400 campaigns."""
    rng = random.Random(4)
    truth = 0.5 * (0.85 * 0.9 + 0.15 * 0.1 - (0.6 * 0.9 + 0.4 * 0.1))
    covered = 0
    for _ in range(400):
        outcomes = [o for o in _graded_campaign(rng, 800, agreeing=0.5) if not o.agreed][:200]
        values = [o.differences[0] for o in outcomes]
        estimate = 0.5 * statistics.mean(values)
        half = Z * 0.5 * statistics.stdev(values) / math.sqrt(len(values))
        covered += estimate - half <= truth <= estimate + half
    assert 0.91 <= covered / 400 <= 0.98, covered / 400
