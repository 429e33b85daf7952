import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.features import FEATURE_NAMES, PAPER_FEATURES, SMALLER_BETTER, FeatureTable, goodness
from scoring.ranking import percentiles
from scoring.selectors import (
    DEFAULT_STAGES,
    FIQA_GUARDS,
    PAPER_STAGES,
    FilterStage,
    face_cost,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_learned,
    select_regression,
)


def random_table(rng, n):
    return FeatureTable(
        brightness=rng.uniform(0, 100, n),
        resolution=rng.uniform(100, 90000, n),
        sharpness=rng.uniform(0, 1, n),
        roll=rng.uniform(-40, 40, n),
        pitch=rng.uniform(-40, 40, n),
        yaw=rng.uniform(-90, 90, n),
        fiqa=rng.uniform(0, 1, n),
        exposure=rng.uniform(-1, 1, n),
        identity=rng.uniform(0, 1, n),
    )


def test_baseline_cost_equals_the_papers_formula_on_random_inputs():
    rng = np.random.default_rng(0)
    table = random_table(rng, 200)
    for i in range(len(table)):
        yaw, pitch, roll = table.yaw[i], table.pitch[i], table.roll[i]
        pose = (
            max(abs(yaw) - 1, 0) + 1.5 * max(abs(pitch) - 1, 0) + 0.5 * max(abs(roll) - 1, 0)
        ) ** 3
        size = max(200 - table.resolution[i] ** 0.5, 0)
        assert face_cost(table)[i] == pytest.approx(pose + size, rel=1e-12)
    assert select_baseline(table) == int(np.argmin(face_cost(table)))


def test_fiqa_and_regression_pick_the_highest_score():
    table = random_table(np.random.default_rng(1), 30)
    assert select_fiqa(table, guards=()) == int(np.argmax(table.fiqa))
    unmeasured = table.replace(fiqa=np.full(30, np.nan))
    assert select_fiqa(unmeasured, guards=()) == int(np.argmax(table.sharpness))
    quality = np.linspace(0, 1, 30)[::-1]
    assert select_regression(table, quality) == 0


def test_the_fiqa_selector_first_drops_what_the_learned_quality_cannot_see():
    # The model likes the tilted, the dark and the blurred face best; seven plain faces follow.
    table = random_table(np.random.default_rng(5), 10).replace(
        fiqa=np.array([0.9, 0.85, 0.8, 0.7, 0.6, 0.6, 0.5, 0.5, 0.4, 0.4]),
        roll=np.array([35.0] + [2.0] * 9),
        exposure=np.array([0.0, -0.8] + [0.1] * 8),
        sharpness=np.array([0.9, 0.9, 0.1] + [0.8] * 7),
    )
    assert select_fiqa(table, guards=()) == 0
    assert select_fiqa(table) == 3


def test_percentiles_give_the_best_100_and_ties_the_same():
    assert percentiles(np.array([3.0, 1.0, 3.0, 2.0])) == pytest.approx([100, 0, 100, 100 / 3])
    assert percentiles(np.array([5.0])).tolist() == [100.0]
    mixed = percentiles(np.array([np.nan, 1.0, 2.0]))
    assert np.isnan(mixed[0]) and mixed[1:].tolist() == [0.0, 100.0]


def test_unmeasured_faces_fail_a_stage_unless_nobody_is_measured():
    table = random_table(np.random.default_rng(3), 6)
    identity = np.array([np.nan, 0.9, np.nan, 0.2, np.nan, 0.5])
    stage = FilterStage("identity", threshold=0.45, top=1)
    kept = select_filtering(table.replace(identity=identity), [stage]).stages[0].survivors
    assert kept == (1, 5)
    nobody = select_filtering(table.replace(identity=np.full(6, np.nan)), [stage])
    assert nobody.stages[0].survivors == tuple(range(6))


def test_exposure_stages_and_goodness_look_at_its_size_not_its_sign():
    table = random_table(np.random.default_rng(4), 4).replace(
        exposure=np.array([-0.9, 0.1, -0.2, 0.8])
    )
    result = select_filtering(table, [FilterStage("exposure", threshold=0.3)])
    assert result.stages[0].survivors == (1, 2)


def test_a_stage_keeps_faces_passing_any_criterion():
    table = FeatureTable.from_matrix(
        np.array(
            [
                [50, 100.0**2, 0.9, 0, 0, 2],  # yaw 2: passes the threshold
                [50, 100.0**2, 0.8, 0, 0, -30],  # second best |yaw| among the rest: top 2
                [50, 100.0**2, 0.7, 0, 0, 60],
                [50, 100.0**2, 0.6, 0, 0, 80],
            ]
        ),
        PAPER_FEATURES,
    )
    result = select_filtering(table, [FilterStage("yaw", threshold=10, top=2)])
    assert result.stages[0].survivors == (0, 1)
    assert result.chosen == 0


def test_filtering_never_returns_an_empty_cluster_even_when_nobody_clears_the_bar():
    table = random_table(np.random.default_rng(2), 10)
    result = select_filtering(table, [FilterStage("sharpness", threshold=2.0)])
    assert result.stages[0].survivors == (int(np.argmax(table.sharpness)),)


def test_filtering_stages_reject_nonsense():
    with pytest.raises(ValueError):
        FilterStage("yaw")
    with pytest.raises(ValueError):
        FilterStage("hair", top=1)
    with pytest.raises(ValueError):
        FilterStage("yaw", percentile=120)
    with pytest.raises(ValueError):
        select_filtering(random_table(np.random.default_rng(0), 0))


# Few distinct values so that ties are common.
values = st.sampled_from([-50.0, -10.0, -1.0, 0.0, 0.5, 1.0, 3.0, 20.0, 70.0, 5000.0, np.nan])
rows = st.lists(st.tuples(*[values] * len(FEATURE_NAMES)), min_size=1, max_size=25)
stage_strategy = st.builds(
    FilterStage,
    feature=st.sampled_from(FEATURE_NAMES),
    threshold=values.filter(np.isfinite),
    top=st.none() | st.integers(1, 5),
    percentile=st.none() | st.floats(0, 100),
)


@st.composite
def cluster_and_stages(draw):
    matrix = np.array(draw(rows))
    matrix[:, FEATURE_NAMES.index("resolution")] **= 2  # an area is never negative
    table = FeatureTable.from_matrix(matrix)
    chosen = draw(
        st.one_of(
            st.just(list(DEFAULT_STAGES)),
            st.just(list(PAPER_STAGES)),
            st.lists(stage_strategy, min_size=1, max_size=5),
        )
    )
    order = np.array(draw(st.permutations(range(len(table)))))
    return table, chosen, order


@settings(max_examples=150, deadline=None)
@given(cluster_and_stages())
def test_filtering_properties(case):
    table, chosen_stages, order = case
    result = select_filtering(table, chosen_stages)
    previous = set(range(len(table)))
    for outcome in result.stages:
        survivors = set(outcome.survivors)
        assert survivors, "a stage emptied the cluster"
        assert survivors <= previous, "survivors grew"
        assert outcome.best in survivors
        previous = survivors
    assert result.chosen in result.stages[-1].survivors

    shuffled = select_filtering(table.take(order), chosen_stages)
    assert np.array_equal(
        table.take(order).matrix()[shuffled.chosen], table.matrix()[result.chosen], equal_nan=True
    ), "row order changed the pick"


@settings(max_examples=100, deadline=None)
@given(cluster_and_stages())
def test_baseline_and_fiqa_picks_do_not_depend_on_row_order(case):
    table, _, order = case
    for select in (select_baseline, select_fiqa):
        assert np.array_equal(
            table.take(order).matrix()[select(table.take(order))],
            table.matrix()[select(table)],
            equal_nan=True,
        )


def test_percentiles_of_a_large_population_follow_the_definition():
    # Past 10,000 values the ranks come from sorting positions: the same numbers as the share of
    # the others each value is at least as large as, ties and unmeasured values included.
    rng = np.random.default_rng(6)
    values = rng.integers(0, 500, 30_000).astype(float)
    values[rng.random(30_000) < 0.1] = np.nan
    measured = values[np.isfinite(values)]
    counts = np.bincount(measured.astype(int), minlength=500)
    at_most = np.cumsum(counts) - 1  # the others at most each value
    expected = np.full(len(values), np.nan)
    expected[np.isfinite(values)] = 100.0 * at_most[measured.astype(int)] / (len(measured) - 1)
    assert np.array_equal(percentiles(values), expected, equal_nan=True)


# The selectors as they were first written: every face sorted by its score, then by every
# feature's goodness, then by every raw value. They now sort only the faces that tie; the picks
# must not change.
def full_order(table, first):
    keys = [table.column(name) for name in reversed(FEATURE_NAMES)]
    keys += [goodness(table, name) for name in reversed(FEATURE_NAMES)]
    keys.append(first)
    return np.lexsort([-key for key in keys])


def full_sort_filtering(table, stages):
    rows, outcomes = np.arange(len(table)), []
    for stage in stages:
        entering = table.take(rows)
        value, good = entering.column(stage.feature), goodness(entering, stage.feature)
        measured = np.isfinite(value)
        keep = np.ones(len(rows), dtype=bool)
        if measured.any():
            keep[:] = False
            if stage.threshold is not None:
                keep |= (
                    np.abs(value) < stage.threshold
                    if stage.feature in SMALLER_BETTER
                    else value > stage.threshold
                )
            if stage.top is not None:
                keep[full_order(entering, good)[: stage.top]] = True
            if stage.percentile is not None:
                keep |= percentiles(good) >= stage.percentile
            keep &= measured
            if not keep.any():
                keep[full_order(entering, good)[0]] = True
        rows = rows[keep]
        survivors = table.take(rows)
        best = int(rows[full_order(survivors, goodness(survivors, stage.feature))[0]])
        outcomes.append((tuple(rows.tolist()), best))
    return outcomes


def full_sort_fiqa(table):
    rows = np.array(full_sort_filtering(table, FIQA_GUARDS)[-1][0])
    survivors = table.take(rows)
    fiqa = survivors.column("fiqa")
    first = fiqa if np.isfinite(fiqa).any() else survivors.sharpness
    return int(rows[full_order(survivors, first)[0]])


def tied_table(rng, n):
    """Faces whose features often tie (a few values, zeros of both signs, clipped ends) and are
    often unmeasured, as real clusters do at their extremes."""
    choices = np.array([-40.0, -3.0, -0.0, 0.0, 0.2, 0.5, 1.0, 1.0, 12.0, 300.0, np.nan])
    matrix = np.where(
        rng.random((n, 10)) < 0.5, rng.choice(choices, (n, 10)), rng.normal(0, 9, (n, 10))
    )
    matrix[:, FEATURE_NAMES.index("resolution")] **= 2
    return FeatureTable.from_matrix(matrix)


@pytest.mark.parametrize("seed", range(6))
def test_picks_equal_those_of_a_full_sort_on_random_tables(seed):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n = int(rng.integers(1, 400 if rng.random() < 0.2 else 30))
        table = tied_table(rng, n) if rng.random() < 0.7 else random_table(rng, n)
        stages = [DEFAULT_STAGES, PAPER_STAGES, FIQA_GUARDS][int(rng.integers(3))]
        result = select_filtering(table, stages)
        outcomes = [(outcome.survivors, outcome.best) for outcome in result.stages]
        assert outcomes == full_sort_filtering(table, stages)
        assert result.chosen == outcomes[-1][1]
        assert select_fiqa(table) == full_sort_fiqa(table)
        assert select_baseline(table) == int(full_order(table, -face_cost(table))[0])
        scores = rng.choice([0.1, 0.5, 0.9, np.nan], n)  # forests and preference scores tie
        assert select_regression(table, scores) == int(full_order(table, scores)[0])
        assert select_learned(table, scores) == int(full_order(table, scores)[0])
