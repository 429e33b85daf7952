"""The filter tuner on simulated judgments: a hidden "true" config decides which faces are good,
simulated annotators grade some faces and decide some A/B pairs from it with noise, and the
tuner has to find that config among random ones without looking at the held-out clusters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scoring.features import FEATURE_NAMES, FeatureTable
from scoring.selectors import DEFAULT_STAGES, FilterStage, select_filtering
from scoring.tuning import (
    PERCENTILES,
    THRESHOLD_RANGES,
    TOP_RANGE,
    ClusterLabels,
    config_picks,
    config_score,
    picks_score,
    random_configs,
    split_clusters,
    tune,
    wilson_interval,
)

CONFIGS = 30
TRUE_CONFIG = 11  # the hidden truth is one of the candidates, not the config in use
NEAR_MISS = 12  # the truth a little more lenient: the same picks on about 50–90 % of clusters


def simulated_cluster(rng: np.random.Generator) -> FeatureTable:
    n = int(rng.integers(6, 20))
    return FeatureTable(
        brightness=rng.uniform(15, 85, n),
        resolution=rng.uniform(40, 260, n) ** 2,
        sharpness=rng.uniform(0.1, 1, n),
        roll=rng.normal(0, 10, n),
        pitch=rng.normal(0, 12, n),
        yaw=rng.normal(0, 25, n),
        fiqa=rng.uniform(0.2, 0.7, n),
        exposure=rng.normal(0, 0.35, n),
        artifacts=rng.uniform(0, 0.5, n),
        identity=rng.uniform(0.25, 0.85, n),
    )


def true_grades(table: FeatureTable, stages) -> np.ndarray:
    """2 for the true config's pick, 1 for a face that survives its first half of the stages,
    0 for the rest."""
    result = select_filtering(table, stages)
    grades = np.zeros(len(table), dtype=int)
    grades[list(result.stages[(len(stages) - 1) // 2].survivors)] = 1
    grades[result.chosen] = 2
    return grades


def annotate(table, truth, rng, noise=0.15) -> ClusterLabels:
    """40 % of the faces graded and three A/B pairs decided; each answer is a random one
    with probability ``noise``; A/B pairs of equal truth come out equal (no preference)."""
    n = len(table)
    graded = rng.choice(n, size=max(1, int(0.4 * n)), replace=False)
    grades = {
        int(row): int(rng.integers(0, 3)) if rng.random() < noise else int(truth[row])
        for row in graded
    }
    preferences = []
    for _ in range(3):
        a, b = (int(r) for r in rng.choice(n, size=2, replace=False))
        if truth[a] == truth[b] and rng.random() >= noise:
            continue
        a_better = truth[a] > truth[b] if rng.random() >= noise else rng.random() < 0.5
        preferences.append((a, b) if a_better else (b, a))
    return ClusterLabels(grades=grades, preferences=tuple(preferences))


def more_lenient(stages):
    return tuple(
        replace(
            stage,
            top=(stage.top or 0) + 1,
            percentile=None if stage.percentile is None else max(stage.percentile - 15, 5.0),
        )
        for stage in stages
    )


def simulated_world(seed: int, clusters: int = 200):
    rng = np.random.default_rng(seed)
    configs = list(random_configs(CONFIGS, seed=seed))
    truth = configs[TRUE_CONFIG]
    configs[NEAR_MISS] = more_lenient(truth)
    tables = [simulated_cluster(rng) for _ in range(clusters)]
    labels = [annotate(table, true_grades(table, truth), rng) for table in tables]
    return configs, tables, labels


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_tuner_finds_the_config_that_is_truly_best(seed):
    configs, tables, labels = simulated_world(seed)

    result = tune(configs, tables, labels, seed=seed)

    held_tables = [tables[i] for i in result.held_out_clusters]
    chosen = config_picks(configs[result.chosen], held_tables)
    true = config_picks(configs[TRUE_CONFIG], held_tables)
    near = config_picks(configs[NEAR_MISS], held_tables)
    assert 0.4 < np.mean(near == true) < 0.95  # a real rival
    assert result.chosen == TRUE_CONFIG or np.mean(chosen == true) >= 0.95
    assert result.ranking[0] == result.chosen == TRUE_CONFIG
    # It beats the config in use on clusters it never searched on.
    winner, default = result.candidates[result.chosen], result.candidates[0]
    assert winner.held_out.mean > default.held_out.mean
    assert winner.held_out.low > default.held_out.high


def test_the_held_out_score_comes_from_clusters_the_search_never_saw():
    configs, tables, labels = simulated_world(4, clusters=120)
    result = tune(configs, tables, labels, seed=4)
    search, held_out = set(result.search_clusters), set(result.held_out_clusters)
    assert search.isdisjoint(held_out) and search | held_out == set(range(len(tables)))
    assert abs(len(search) - len(held_out)) <= 1

    winner = result.candidates[result.chosen]
    held_tables = [tables[i] for i in result.held_out_clusters]
    held_labels = [labels[i] for i in result.held_out_clusters]
    assert winner.held_out.score == pytest.approx(
        config_score(winner.stages, held_tables, held_labels).score
    )
    assert list(winner.held_out_picks) == list(config_picks(winner.stages, held_tables))

    # Whatever people said about the held-out clusters, the search ranks the same way.
    flipped = list(labels)
    for i in result.held_out_clusters:
        flipped[i] = ClusterLabels(
            grades={row: 2 - grade for row, grade in labels[i].grades.items()},
            preferences=tuple((worse, better) for better, worse in labels[i].preferences),
        )
    again = tune(configs, tables, flipped, seed=4)
    assert again.ranking == result.ranking
    assert [c.search for c in again.candidates] == [c.search for c in result.candidates]
    assert again.candidates[again.chosen].held_out != winner.held_out


def test_only_the_config_in_use_and_the_top_k_are_scored_on_the_held_out_clusters():
    configs, tables, labels = simulated_world(5, clusters=60)
    heard = []
    result = tune(configs, tables, labels, seed=5, top_k=3, progress=lambda *p: heard.append(p))
    assert result.compared[0] == 0 and len(result.compared) == 4
    assert set(result.compared[1:]) == set([i for i in result.ranking if i != 0][:3])
    assert result.chosen in result.compared
    held = {c.index for c in result.candidates if c.held_out is not None}
    assert held == set(result.compared)
    assert heard[-1] == (CONFIGS + 4, CONFIGS + 4) and len(heard) == CONFIGS + 4


def test_a_config_judged_on_few_clusters_does_not_win_by_luck():
    tables = [FeatureTable.from_matrix(np.zeros((2, len(FEATURE_NAMES)))) for _ in range(100)]
    # Row 0 of every cluster was graded usable (0.5) or excellent, 70 % excellent: mean 0.85;
    # row 1 was judged on three clusters only, excellent every time.
    labels = [
        ClusterLabels(grades={0: 2 if i % 10 < 7 else 1} | ({1: 2} if i < 3 else {}))
        for i in range(100)
    ]
    steady = picks_score([0] * 100, labels)
    few = picks_score([1] * 100, labels)
    assert (few.covered, few.mean) == (3, 1.0)
    assert steady.covered == 100 and steady.mean == pytest.approx(0.85)
    assert few.score < steady.score
    assert few.score == pytest.approx(0.4385, abs=1e-4)
    assert steady.score == pytest.approx(0.7672, abs=1e-4)
    assert config_score(DEFAULT_STAGES, tables, labels) == steady  # equal rows: row 0 wins


def test_the_interval_is_wilsons_for_whole_successes_and_empty_without_any():
    from statsmodels.stats.proportion import proportion_confint

    for successes, n in [(0, 5), (3, 3), (12, 40), (85, 100)]:
        expected = proportion_confint(successes, n, method="wilson")
        assert wilson_interval(successes / n, n) == pytest.approx(expected, abs=1e-7)
    assert wilson_interval(0.0, 0) == (0.0, 1.0)
    empty = picks_score([0, 1], [ClusterLabels(), ClusterLabels(grades={0: 2})])
    assert (empty.mean, empty.covered, empty.score) == (None, 0, 0.0)


def test_a_pick_is_scored_by_its_grade_and_its_a_b_items():
    labels = ClusterLabels(grades={0: 1, 2: 0}, preferences=((0, 1), (1, 2), (3, -1)))
    assert labels.value(0) == pytest.approx((0.5 + 1) / 2)
    assert labels.value(1) == pytest.approx(0.5)  # lost once, won once
    assert labels.value(2) == pytest.approx(0.0)
    assert labels.value(3) == 1.0
    assert labels.value(4) is None
    assert labels.labelled_rows() == {0, 1, 2, 3}


def test_random_configs_keep_the_config_in_use_first_and_draw_within_the_ranges():
    configs = random_configs(200, seed=9, first=DEFAULT_STAGES)
    assert configs[0] == DEFAULT_STAGES
    assert configs == random_configs(200, seed=9)
    assert configs != random_configs(200, seed=10)
    orders = set()
    for stages in configs[1:]:
        features = [stage.feature for stage in stages]
        assert len(features) == len(set(features)) >= 2
        orders.add(tuple(features))
        for stage in stages:
            assert isinstance(stage, FilterStage)
            if stage.threshold is not None:
                low, high = THRESHOLD_RANGES[stage.feature]
                value = stage.threshold**0.5 if stage.feature == "resolution" else stage.threshold
                assert low * 0.95 <= value <= high * 1.05
            assert stage.top is None or TOP_RANGE[0] <= stage.top <= TOP_RANGE[1]
            assert stage.percentile is None or stage.percentile in PERCENTILES
    assert len(orders) > 190  # subsets and orders vary
    only = random_configs(20, seed=1, features=("yaw", "pitch", "sharpness"))
    assert {s.feature for stages in only[1:] for s in stages} == {"yaw", "pitch", "sharpness"}


def test_the_split_is_seeded_and_covers_every_cluster_once():
    search, held = split_clusters(11, seed=3)
    assert len(search) == 6 and len(held) == 5
    assert sorted([*search, *held]) == list(range(11))
    assert [list(a) for a in split_clusters(11, seed=3)] == [list(search), list(held)]
    assert list(split_clusters(11, seed=4)[0]) != list(search)


def test_ties_keep_the_config_in_use():
    tables = [FeatureTable.from_matrix(np.ones((1, len(FEATURE_NAMES)))) for _ in range(10)]
    labels = [ClusterLabels(grades={0: 2}) for _ in range(10)]
    other = (replace(DEFAULT_STAGES[0], threshold=0.3),)
    result = tune((DEFAULT_STAGES, other), tables, labels, seed=0)
    assert result.ranking == (0, 1) and result.chosen == 0
