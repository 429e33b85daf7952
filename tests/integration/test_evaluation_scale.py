"""The evaluation as the database computes it: equal to the per-judgment Python it replaced (kept
here as the reference) on campaigns judged by simulated annotators, with undos, skips, check
items and every filter; a number of queries that does not grow with the judgments; and the
dashboard served from the cache until a judgment, an undo, a campaign or a scoring changes what
it shows."""

from __future__ import annotations

import csv
import io
import itertools
import math
import random
import secrets
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from curation.accounts.users import user_create
from curation.evaluation.aggregates import SAMPLE, brackets, order_statistics
from curation.evaluation.cache import result_key, tables_asked
from curation.evaluation.checks import annotator_checks
from curation.evaluation.judgments import _keyset
from curation.evaluation.labels import face_labels
from curation.evaluation.slices import SLICERS, ab_slices, grade_slices
from curation.evaluation.stats import krippendorff_alpha_ordinal, median_interval_ranks
from curation.evaluation.tables import (
    FEATURES,
    GRADE_RANK,
    Filters,
    agreement,
    counted_judgments,
    table1,
    table2,
    table3,
)
from curation.evaluation.versions import judgments_changed
from curation.models import Campaign, Cluster, Face, Frame, Item, Judgment, Selection, Title
from curation.review.campaigns import campaign_create
from curation.review.queue import DECISIVE, answer_record, campaign_recount, next_item, undo_last
from scoring.features import SMALLER_BETTER

pytestmark = pytest.mark.django_db

SELECTORS = list(Selection.Selector.values)
GRADES = ["unidentifiable", "usable", "excellent"]


class Judged:
    """Two titles of clusters of four faces (features drawn at random, some unmeasured), a
    random pick per selector, three campaigns with check items, and judgments as annotators
    leave them: several per item, some given, undone and given again, some skipped, spread over
    ten days."""

    def __init__(self, seed: int = 0, clusters: tuple[int, ...] = (16, 10)):
        self.rng = random.Random(seed)
        self.people: list = [
            user_create(username=f"ann{k}", role="annotator", password="pw-ann-1")[0]
            for k in range(5)
        ]
        self.titles = [self._title(f"title-{k}", n) for k, n in enumerate(clusters)]
        self.grades = campaign_create(
            name="grades", kind="grade", titles=self.titles, selectors=SELECTORS, overlap=3,
            gold_share=0.2,
        )  # fmt: skip
        self.ab = campaign_create(
            name="ab", kind="ab", titles=self.titles, selectors=["filtering", "regression"],
            overlap=3, gold_share=0.3,
        )  # fmt: skip
        self.again = campaign_create(
            name="again", kind="grade", titles=self.titles[:1], selectors=["baseline", "fiqa"],
            overlap=2,
        )  # fmt: skip
        for campaign in (self.grades, self.ab, self.again):
            self.judge(campaign)
        self.judge_repeats()
        start = timezone.now() - timedelta(days=10)
        judgments = list(Judgment.objects.order_by("pk"))
        for judgment in judgments:
            judgment.created_at = start + timedelta(days=self.rng.randrange(10))
        Judgment.objects.bulk_update(judgments, ["created_at"])

    def _title(self, name: str, clusters: int) -> Title:
        title = Title.objects.create(name=name, status=Title.Status.SCORED)
        for index in range(clusters):
            cluster = Cluster.objects.create(title=title, label=f"{name}-{index}")
            faces = [self._face(title, cluster, f"{name}-{index}-{k}") for k in range(4)]
            for selector in SELECTORS:
                face = self.rng.choice(faces)
                Selection.objects.create(
                    cluster=cluster, selector=selector, parameters="t", face=face
                )
        return title

    def _face(self, title: Title, cluster: Cluster, name: str) -> Face:
        rng = self.rng
        frame = Frame.objects.create(
            title=title, source_name=name, image=f"x/{name}.jpg", width=640, height=480
        )
        side = rng.uniform(20, 300)

        def maybe(value: float, unmeasured: float = 0.15) -> float | None:
            return None if rng.random() < unmeasured else value

        return Face.objects.create(
            title=title,
            cluster=cluster,
            frame=frame,
            box_x=1,
            box_y=1,
            box_w=side,
            box_h=side,
            landmarks=[[0, 0]] * 5,
            confidence=0.99,
            brightness=rng.uniform(10, 90),
            resolution=side * side,
            sharpness=maybe(rng.uniform(0, 1), 0.1),
            yaw=maybe(rng.gauss(0, 25)),
            pitch=rng.gauss(0, 12),
            roll=rng.gauss(0, 6),
            fiqa=maybe(rng.uniform(0.2, 0.7), 0.3),
            exposure=maybe(rng.uniform(-1, 1)),
            identity=rng.uniform(0, 1),
            quality=rng.uniform(0, 1),
        )

    def answer(self, campaign: Campaign) -> str:
        if campaign.kind == Campaign.Kind.AB:
            return self.rng.choice(["a", "a", "b", "equal"])
        return self.rng.choice(GRADES + ["usable", "excellent"])

    def record(self, item: Item, person, answer: str) -> Judgment:
        return Judgment.objects.create(
            item=item,
            annotator=person,
            answer=answer,
            seconds=1.0,
            token=secrets.token_hex(16),
            left_is_a=self.rng.random() < 0.5 if item.campaign.kind == "ab" else None,
        )

    def judge(self, campaign: Campaign) -> None:
        for item in campaign.items.filter(identical=False, repeat_of=None):
            people = self.rng.sample(self.people, self.rng.randint(0, 4))
            for person in people:
                if self.rng.random() < 0.1:  # given, then undone
                    undone = self.record(item, person, self.answer(campaign))
                    Judgment.objects.create(
                        item=item,
                        annotator=person,
                        answer="undo",
                        seconds=0,
                        token=secrets.token_hex(16),
                        supersedes=undone,
                    )
                answer = "skip" if self.rng.random() < 0.05 else self.answer(campaign)
                self.record(item, person, answer)
        campaign_recount(campaign)  # the counters the queue keeps with each answer

    def judge_repeats(self) -> None:
        """Each repeat answered by those who answered its original, mostly the same way."""
        for repeat in Item.objects.exclude(repeat_of=None).select_related("campaign"):
            for original in Judgment.objects.filter(item=repeat.repeat_of, answer__in=DECISIVE):
                if self.rng.random() < 0.8:
                    same = self.rng.random() < 0.7
                    answer = original.answer if same else self.answer(repeat.campaign)
                    self.record(repeat, original.annotator, answer)
        for campaign in Campaign.objects.filter(items__repeat_of__isnull=False).distinct():
            campaign_recount(campaign)


@pytest.fixture
def judged() -> Judged:
    return Judged()


# The per-judgment Python the database replaced: a reference to check it against.


def reference_items(filters: Filters, kind: str, fields=()) -> list[tuple]:
    """(campaign, cluster, title, selectors, outcome, *fields) per item counted: a grade item's
    lower median grade rank, an A/B item's majority answer."""
    votes: dict[int, list[str]] = defaultdict(list)
    about: dict[int, tuple] = {}
    rows = counted_judgments(filters, kind).values_list(
        "item_id",
        "answer",
        "item__campaign_id",
        "item__cluster_id",
        "item__cluster__title__name",
        "item__selectors",
        *fields,
    )
    for item, answer, *rest in rows:
        votes[item].append(answer)
        about[item] = tuple(rest)
    items = []
    for item, answers in votes.items():
        campaign, cluster, title, selectors, *values = about[item]
        if kind == Campaign.Kind.GRADE:
            outcome: object = statistics.median_low(GRADE_RANK[a] for a in answers)
        else:
            ranked = Counter(answers).most_common()
            outcome = ranked[0][0] if len(ranked) == 1 or ranked[0][1] > ranked[1][1] else "equal"
        items.append((campaign, cluster, title, selectors, outcome, *values))
    return items


def reference_table1(filters: Filters) -> tuple[dict, dict]:
    grades: dict[str, dict] = defaultdict(dict)
    for campaign, cluster, _, selectors, grade in reference_items(filters, "grade"):
        for selector in selectors:
            grades[selector][(campaign, cluster)] = grade
    present = [s for s in SELECTORS if s in grades]
    counts = {
        s: (
            len(grades[s]),
            sum(g == 0 for g in grades[s].values()),
            sum(g >= 1 for g in grades[s].values()),
            sum(g == 2 for g in grades[s].values()),
        )
        for s in present
    }
    tests = {}
    for first, second in itertools.combinations(present, 2):
        shared = grades[first].keys() & grades[second].keys()
        for outcome, hit in (("unidentifiable", 0), ("excellent", 2)):
            a = sum(grades[first][k] == hit and grades[second][k] != hit for k in shared)
            b = sum(grades[second][k] == hit and grades[first][k] != hit for k in shared)
            tests[(first, second, outcome)] = (len(shared), a, b)
    return counts, tests


def reference_table2(filters: Filters) -> dict:
    outcomes: dict[tuple, Counter] = defaultdict(Counter)
    for _, _, title, selectors, outcome in reference_items(filters, "ab"):
        for scope in ("all titles", title):
            outcomes[(tuple(selectors), scope)][outcome] += 1
    return {key: (c["a"], c["b"], c["equal"]) for key, c in outcomes.items()}


def reference_agreement(filters: Filters) -> dict:
    result: dict[tuple[str, str], object] = {}
    for kind in ("grade", "ab"):
        by_item: dict[int, list] = defaultdict(list)
        for item, answer, name in counted_judgments(filters, kind).values_list(
            "item_id", "answer", "annotator__username"
        ):
            by_item[item].append((answer, name))
        shared = [js for js in by_item.values() if len(js) >= 2]
        if kind == "grade":
            profiles = Counter(
                tuple(sum(GRADE_RANK[a] == rank for a, _ in js) for rank in range(3))
                for js in shared
            )
            result[(kind, "value")] = krippendorff_alpha_ordinal(profiles)
        else:
            pairs = [a == b for js in shared for (a, _), (b, _) in itertools.combinations(js, 2)]
            result[(kind, "value")] = sum(pairs) / len(pairs) if pairs else None
        result[(kind, "items")] = len(shared)
        agrees: dict[str, list[bool]] = defaultdict(list)
        for js in shared:
            for k, (answer, name) in enumerate(js):
                others = Counter(a for j, (a, _) in enumerate(js) if j != k).most_common()
                if len(others) > 1 and others[0][1] == others[1][1]:
                    continue
                agrees[name].append(answer == others[0][0])
        for name, marks in agrees.items():
            result[(kind, name)] = (len(marks), sum(marks))
    return result


def reference_bin(slicer, values: list[float | None]) -> str:
    measures: dict[str, Callable[[float], float]] = {
        "ABS({})": abs,
        "SQRT({})": math.sqrt,
        "{}": float,
    }
    measure = measures[slicer.measure]
    measured = [measure(v) for v in values if v is not None and not math.isnan(v)]
    if not measured:
        return "unmeasured"
    value = statistics.fmean(measured)
    return next(label for label, upper in slicer.bins if value < upper)


def reference_slices(filters: Filters) -> tuple[dict, dict]:
    columns = [s.field for s in SLICERS if s.field is not None]
    grades: dict[tuple, Counter] = defaultdict(Counter)
    items = reference_items(filters, "grade", [f"item__face__{c}" for c in columns])
    for _, _, title, selectors, grade, *values in items:
        stored = dict(zip(columns, values, strict=True))
        for slicer in SLICERS:
            label = title if slicer.field is None else reference_bin(slicer, [stored[slicer.field]])
            for selector in selectors:
                grades[(slicer.key, selector, label)][grade] += 1
    outcomes: dict[tuple, Counter] = defaultdict(Counter)
    fields = [f"item__{face}__{c}" for c in columns for face in ("face", "face_b")]
    for _, _, title, selectors, outcome, *values in reference_items(filters, "ab", fields):
        stored = {c: values[2 * k : 2 * k + 2] for k, c in enumerate(columns)}
        for slicer in SLICERS:
            label = title if slicer.field is None else reference_bin(slicer, stored[slicer.field])
            outcomes[(slicer.key, tuple(selectors), label)][outcome] += 1
    return grades, outcomes


def reference_labels(filters: Filters) -> tuple[dict, dict, list]:
    ranks: dict[int, list[int]] = defaultdict(list)
    clusters: dict[int, int] = {}
    votes: dict[tuple, Counter] = defaultdict(Counter)
    for kind, cluster, face, face_b, answer in counted_judgments(filters).values_list(
        "item__campaign__kind", "item__cluster_id", "item__face_id", "item__face_b_id", "answer"
    ):
        clusters[face] = cluster
        if kind == "grade":
            ranks[face].append(GRADE_RANK[answer])
        else:
            clusters[face_b] = cluster
            votes[(cluster, face, face_b)][answer] += 1
    preferences = []
    for (cluster, a, b), counter in votes.items():
        if margin := counter["a"] - counter["b"]:
            better, worse = (a, b) if margin > 0 else (b, a)
            preferences.append((cluster, better, worse, abs(margin)))
    grades = {face: statistics.median_low(values) for face, values in ranks.items()}
    return grades, clusters, preferences


FILTERS = {
    "everything": lambda w: Filters(),
    "one campaign": lambda w: Filters(campaigns=[w.again.pk]),
    "two campaigns": lambda w: Filters(campaigns=[w.grades.pk, w.ab.pk]),
    "one title": lambda w: Filters(titles=[w.titles[1].pk]),
    "dates": lambda w: Filters(
        since=(timezone.localdate() - timedelta(days=7)),
        until=(timezone.localdate() - timedelta(days=3)),
    ),
    "an annotator left out": lambda w: Filters(excluded={"ann2": "gold 1/9 right"}),
}


@pytest.mark.parametrize("case", FILTERS)
def test_the_database_counts_what_the_python_did(judged, case):
    filters = FILTERS[case](judged)
    counts, tests = reference_table1(filters)
    grades, comparisons = table1(filters)
    assert {
        r["selector"]: (
            r["n"],
            r["unidentifiable"]["count"],
            r["usable"]["count"],
            r["excellent"]["count"],
        )
        for r in grades.raw
    } == counts
    assert {
        (r["first"], r["second"], r["outcome"]): (r["paired"], r["only_first"], r["only_second"])
        for r in comparisons.raw
    } == tests
    assert counts, "the world must grade something under every filter"

    assert {
        ((r["a"], r["b"]), r["scope"]): (r["wins_a"], r["wins_b"], r["equal"])
        for r in table2(filters).raw
        if r["judged"]
    } == reference_table2(filters)

    expected = reference_agreement(filters)
    found = {}
    for row in agreement(filters).raw:
        if "annotator" in row:
            share = row["agreement_with_majority"]
            found[(row["kind"], row["annotator"])] = (
                row["judgments"],
                round(share * row["judgments"]),
            )
        else:
            found[(row["kind"], "value")] = row["value"]
            found[(row["kind"], "items")] = row["items"]
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert found[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
        else:
            assert found[key] == value, key


@pytest.mark.parametrize("case", ["everything", "one title", "an annotator left out"])
def test_the_slices_bin_and_count_as_the_python_did(judged, case):
    filters = FILTERS[case](judged)
    grades, outcomes = reference_slices(filters)
    assert {
        (r["slice"], r["selector"], r["bin"]): (
            r["n"],
            r["unidentifiable"]["count"],
            r["usable"]["count"],
            r["excellent"]["count"],
        )
        for r in grade_slices(filters).raw
    } == {
        key: (sum(c.values()), c[0], c[1] + c[2], c[2])
        for key, c in grades.items()
        if key[1] in SELECTORS
    }
    assert {
        (r["slice"], (r["a"], r["b"]), r["bin"]): (r["wins_a"], r["wins_b"], r["equal"])
        for r in ab_slices(filters).raw
    } == {key: (c["a"], c["b"], c["equal"]) for key, c in outcomes.items()}


def reference_picks(filters: Filters) -> dict[str, list[int]]:
    titles = Title.objects.filter(pk__in=filters.titles) if filters.titles else Title.objects.all()
    picks: dict[str, list[int]] = defaultdict(list)
    if not filters.campaigns:
        for selector, face in Selection.objects.filter(cluster__title__in=titles).values_list(
            "selector", "face_id"
        ):
            picks[selector].append(face)
        return picks
    for kind, selectors, face, face_b in Item.objects.filter(
        campaign__in=filters.campaigns
    ).values_list("campaign__kind", "selectors", "face_id", "face_b_id"):
        for position, selector in enumerate(selectors):
            picks[selector].append(face_b if kind == "ab" and position == 1 else face)
    return picks


@pytest.mark.parametrize("parallel", [False, True], ids=["", "parallel workers"])
@pytest.mark.parametrize("case", ["everything", "one title", "two campaigns"])
def test_table_3_medians_and_intervals_are_the_order_statistics(judged, case, parallel):
    """``parallel``: planned as if the tables were large, the scans are shared with parallel
    workers, which must see the rows this test's transaction wrote."""
    filters = FILTERS[case](judged)
    if parallel:
        with connection.cursor() as cursor:  # SET: until the test's transaction rolls back
            cursor.execute(
                "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
                " SET min_parallel_table_scan_size = 0; SET min_parallel_index_scan_size = 0"
            )
    titles = [t.pk for t in judged.titles] if not filters.titles else filters.titles
    features = {f.pk: f for f in Face.objects.filter(title__in=titles)}
    groups = {"Dataset": [f for f in features.values() if f.sharpness is not None]}
    groups |= {s: [features[pk] for pk in ids] for s, ids in reference_picks(filters).items()}
    table = table3(filters)
    assert table.columns[1:] == [g for g in ["Dataset", *SELECTORS] if groups.get(g)]
    for row in table.raw:
        feature = row["feature"]
        for group in table.columns[1:]:
            values = [getattr(f, feature) for f in groups[group]]
            values = sorted(
                abs(v) if feature in SMALLER_BETTER else v for v in values if v is not None
            )
            cell = row[group]
            assert cell["n"] == len(values)
            if not values:
                assert math.isnan(cell["median"])
                continue
            assert cell["median"] == statistics.median(values)
            low, high = median_interval_ranks(len(values))
            assert (cell["low"], cell["high"]) == (values[low - 1], values[high - 1])
            if len(values) >= 6:  # scipy's distribution-free interval, from the values
                reference = stats.quantile_test(values, p=0.5).confidence_interval(0.95)
                assert (cell["low"], cell["high"]) == (reference.low, reference.high)
    assert [name for name, _ in FEATURES] == [row["feature"] for row in table.raw]


@pytest.mark.parametrize("case", ["everything", "two campaigns", "dates"])
def test_labels_and_checks_are_counted_as_the_python_did(judged, case):
    filters = FILTERS[case](judged)
    grades, clusters, preferences = reference_labels(filters)
    labels = face_labels(filters)
    assert labels.grades == grades
    assert labels.clusters == clusters
    assert sorted((p.cluster, p.better, p.worse, p.votes) for p in labels.preferences) == sorted(
        preferences
    )
    assert labels.campaigns == sorted(
        set(counted_judgments(filters).values_list("item__campaign_id", flat=True))
    )

    live = Judgment.objects.filter(answer__in=DECISIVE, superseded_by__isnull=True)
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for judgment in live.select_related("item", "annotator"):
        item, name = judgment.item, judgment.annotator.username
        if filters.campaigns and item.campaign_id not in filters.campaigns:
            continue
        day = timezone.localtime(judgment.created_at).date()
        if (filters.since and day < filters.since) or (filters.until and day > filters.until):
            continue
        if item.gold:
            expected[name][0] += 1
            expected[name][1] += judgment.answer == item.gold
        elif item.repeat_of_id:
            first = live.filter(annotator=judgment.annotator, item=item.repeat_of_id).first()
            if first is not None:
                expected[name][2] += 1
                expected[name][3] += judgment.answer == first.answer
    found = {
        c.annotator: [c.gold, c.gold_right, c.repeats, c.consistent]
        for c in annotator_checks(filters)
    }
    assert found == dict(expected)
    assert any(checks[2] for checks in found.values()), "the world must answer repeats"


# Query counts: a fixed number of statements, whatever the number of judgments.


def more_judgments(world: Judged) -> None:
    """Another campaign over both titles, judged: about twice the judgments."""
    campaign = campaign_create(
        name="more", kind="grade", titles=world.titles, selectors=SELECTORS, overlap=4
    )
    world.judge(campaign)
    world.judge(campaign)


TABLES = {
    "table1": lambda f: table1(f),
    "table2": lambda f: table2(f),
    "table3": lambda f: table3(f),
    "agreement": lambda f: agreement(f),
    "slices": lambda f: (grade_slices(f), ab_slices(f)),
    "checks": lambda f: annotator_checks(f),
    "labels": lambda f: face_labels(f),
}


@pytest.mark.parametrize("name", TABLES)
def test_each_table_reads_a_fixed_number_of_queries(judged, name, django_assert_max_num_queries):
    compute = TABLES[name]
    with CaptureQueriesContext(connection) as few:
        compute(Filters())
    before = Judgment.objects.count()
    more_judgments(judged)
    assert Judgment.objects.count() > 1.8 * before
    with django_assert_max_num_queries(len(few)):
        compute(Filters())
    with django_assert_max_num_queries(len(few)):
        compute(replace(Filters(), excluded={"ann1": "x"}, titles=[judged.titles[0].pk]))


@pytest.fixture
def admin(client):
    boss, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(boss)
    return client


def statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements that count for a table (not sessions, forms, savepoints or stamps)."""
    return [q["sql"] for q in captured if "GROUP BY" in q["sql"]]


def test_the_dashboard_reads_a_fixed_number_of_queries_cold_and_warm(
    judged, admin, django_assert_max_num_queries
):
    url = reverse("evaluation")
    with CaptureQueriesContext(connection) as cold:
        assert admin.get(url, {"exclude_below": 50}).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert admin.get(url, {"exclude_below": 50}).status_code == 200
    assert statements(cold) and not statements(warm)
    assert len(warm) < len(cold)
    more_judgments(judged)
    with django_assert_max_num_queries(len(cold)):
        admin.get(url, {"exclude_below": 50})
    with django_assert_max_num_queries(len(warm)):
        admin.get(url, {"exclude_below": 50})


def grade_counts(client) -> dict:
    """Table 1's graded clusters per selector, as the dashboard's API shows them."""
    tables = client.get("/api/tables/").json()
    return {row["selector"]: row["n"] for row in tables[0]["raw"]}


@pytest.fixture
def fresh() -> tuple[Campaign, object]:
    """A small judged world and a new grade campaign of the learned picks, with an annotator."""
    world = Judged(clusters=(4,))
    campaign = campaign_create(
        name="fresh", kind="grade", titles=world.titles, selectors=["learned"], overlap=1
    )
    return campaign, world.people[0]


def test_a_judgment_and_an_undo_through_the_queue_refresh_the_cache(
    admin, fresh, django_capture_on_commit_callbacks
):
    campaign, person = fresh
    before = grade_counts(admin)
    with CaptureQueriesContext(connection) as again:
        assert grade_counts(admin) == before
    assert not statements(again)  # from the cache
    served = next_item(campaign=campaign, annotator=person)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        answer_record(
            campaign=campaign, annotator=person, token=served.token, answer="usable", viewed_ms=900
        )
    assert callbacks, "the answer's transaction moves the evaluation's version on"
    assert grade_counts(admin) == before | {"learned": before["learned"] + 1}
    with django_capture_on_commit_callbacks(execute=True):
        undo_last(campaign=campaign, annotator=person)
    assert grade_counts(admin) == before


def learned_graded(response) -> int:
    """Table 1's graded clusters of the learned selector, as the dashboard showed them."""
    return next(r["n"] for r in response.context["tables"][0].raw if r["selector"] == "learned")


def test_after_a_judgment_the_dashboard_shows_the_last_tables_at_once_then_the_fresh_ones(
    admin, fresh, django_capture_on_commit_callbacks
):
    campaign, person = fresh
    url = reverse("evaluation")
    first = admin.get(url)
    assert first.context["refresh"] is None, "nothing kept yet: computed for this load"
    for _ in range(2):
        served = next_item(campaign=campaign, annotator=person)
        with django_capture_on_commit_callbacks(execute=True):
            answer_record(campaign=campaign, annotator=person, token=served.token, answer="usable")
    stale = admin.get(url)
    page = stale.content.decode()
    assert learned_graded(stale) == learned_graded(first), "the last tables, at once"
    assert "miss up to 2 answers given since" in page and 'id="freshness"' in page
    # The test client closes the response as a server does once it is sent: the fresh tables
    # were computed then. The note's poll says so, and the next load shows them.
    freshness = reverse("evaluation-freshness")
    ready = admin.get(freshness, {"shown": stale.context["served_at"].isoformat()})
    assert ready.status_code == 200 and "Fresh tables are ready" in ready.content.decode()
    assert admin.get(freshness, {"shown": timezone.now().isoformat()}).status_code == 204
    assert admin.get(freshness, {"shown": "yesterday"}).status_code == 400
    fresh = admin.get(url)
    assert fresh.context["refresh"] is None
    assert learned_graded(fresh) == learned_graded(first) + 2
    assert grade_counts(admin)["learned"] == learned_graded(fresh), "the API counts up to now"


def test_tables_computed_long_ago_are_stale_whatever_the_versions_and_show_their_date(admin):
    """A result older than FRESH_SECONDS is refreshed even when nothing it counts changed (what
    the versions do not see: a title renamed); the note gives its day when it is not today's."""
    Judged(clusters=(4,))
    url = reverse("evaluation")
    admin.get(url)
    key = result_key(*tables_asked(Filters()))
    kept = cache.get(key)
    long_ago = timezone.now() - timedelta(days=2)
    cache.set(key, replace(kept, computed_at=long_ago))
    page = admin.get(url)
    assert page.context["refresh"] is not None
    assert f"These tables are from {long_ago:%-d %b %Y}" in page.content.decode()
    assert cache.get(key).computed_at > long_ago, "computed again once the page was sent"
    assert admin.get(url).context["refresh"] is None


def test_a_judgment_committed_out_of_order_is_caught_by_the_version(
    admin, django_capture_on_commit_callbacks
):
    """Two answers commit in the other order than their ids: the dashboard read between them
    saw the newest id already. Only the version the commit moves on tells it is stale."""
    world = Judged(clusters=(4,))
    campaign = campaign_create(
        name="late", kind="grade", titles=world.titles, selectors=["learned"], overlap=1
    )
    items = list(campaign.items.filter(identical=False, gold="").order_by("pk")[:2])
    with connection.cursor() as cursor:  # the id of an answer still in its transaction
        cursor.execute("SELECT nextval(pg_get_serial_sequence('curation_judgment', 'id'))")
        reserved = cursor.fetchone()[0]
    newest = world.record(items[1], world.people[0], "usable")
    campaign_recount(campaign)
    before = grade_counts(admin)
    late = Judgment.objects.create(
        pk=reserved,
        item=items[0],
        annotator=world.people[1],
        answer="excellent",
        seconds=1.0,
        token=secrets.token_hex(16),
    )
    assert late.pk < newest.pk and not Judgment.objects.filter(pk__gt=newest.pk).exists()
    campaign_recount(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        judgments_changed()
    assert grade_counts(admin)["learned"] == before["learned"] + 1


def table_3_read(captured: CaptureQueriesContext) -> bool:
    """Whether Table 3's features were read (its group of every face is named in the SQL)."""
    return any("'Dataset'" in q["sql"] for q in captured)


def test_table_3_stays_cached_through_judgments_until_the_picks_change(
    judged, admin, django_capture_on_commit_callbacks
):
    url = reverse("evaluation")
    admin.get(url)
    item = judged.grades.items.filter(identical=False, gold="").first()
    with django_capture_on_commit_callbacks(execute=True):
        judged.record(item, judged.people[0], "excellent")
        campaign_recount(judged.grades)
        judgments_changed()
    with CaptureQueriesContext(connection) as after_judgment:
        admin.get(url)
    assert statements(after_judgment) and not table_3_read(after_judgment)
    cluster = judged.titles[0].clusters.first()
    pick = Selection.objects.get(cluster=cluster, selector="baseline")
    other = cluster.faces.exclude(pk=pick.face_id).first()
    pick.delete()  # scoring again replaces the picks
    Selection.objects.create(cluster=cluster, selector="baseline", parameters="t2", face=other)
    with CaptureQueriesContext(connection) as after_scoring:
        page = admin.get(url).content.decode()
    assert table_3_read(after_scoring)
    assert "Table 3" in page


@pytest.mark.parametrize("n", [*range(1, 40), 97, 1000, 65_537, 1_000_001])
def test_the_database_returns_the_order_statistics_of_any_number_of_values(n):
    """Values 1 … n, shuffled: each order statistic is its own rank."""
    source = (
        "SELECT CAST(g AS DOUBLE PRECISION) AS v FROM generate_series(1, %s) AS g ORDER BY random()"
    )
    cell = order_statistics([("all", source, [n])], [("v", "p.v")])["all"]["v"]
    low, high = median_interval_ranks(n)
    assert (cell.n, cell.low, cell.high) == (n, low, high)
    assert cell.median == statistics.median(range(1, n + 1))


# Rows (grp, v): k = 1 … n, its value k · 7 mod n (each value once, in no order), in one of
# two groups by parity, or in a group of its own for the first three.
SPREAD_OUT = (
    "SELECT CASE WHEN k <= 3 THEN 'few' ELSE 'g' || (k %% 2) END AS grp,"
    " CAST((k * 7) %% %s AS DOUBLE PRECISION) AS v FROM generate_series(1, %s) AS k"
)


def spread_out(n: int) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for k in range(1, n + 1):
        groups["few" if k <= 3 else f"g{k % 2}"].append(float(k * 7 % n))
    return groups


def exact(values: list[float]) -> tuple:
    values = sorted(values)
    low, high = median_interval_ranks(len(values))
    return len(values), statistics.median(values), values[low - 1], values[high - 1]


def test_sampled_brackets_keep_a_few_percent_of_the_values_and_the_statistics_exact():
    n = 200_003  # prime to 7: k · 7 mod n takes every value once
    sample = f"SELECT * FROM ({SPREAD_OUT}) AS p WHERE random() < %s"
    narrow, wide = brackets(sample, [n, n, SAMPLE], [("v", "p.v")])
    groups = spread_out(n)
    for grp in ("g0", "g1"):
        low, high = narrow[grp]["v"]
        wide_low, wide_high = wide[grp]["v"]
        assert wide_low < low < high < wide_high
        kept = sum(low <= v <= high for v in groups[grp])
        assert 0 < kept < 0.12 * len(groups[grp])
    for bounds in (narrow, wide):  # too few to tell
        assert bounds.get("few", {"v": (None, None)})["v"] == (None, None)
    with CaptureQueriesContext(connection) as captured:
        found = order_statistics([(None, SPREAD_OUT, [n, n])], [("v", "p.v")], [narrow, wide])
    assert len(statements(captured)) == 1 and "float_values" in statements(captured)[0]
    for grp, values in groups.items():
        cell = found[grp]["v"]
        assert (cell.n, cell.median, cell.low, cell.high) == exact(values)


BELOW = {"g0": {"v": (0.0, 1.0)}}  # below the middle ranks
ABOVE = {"g1": {"v": (900.0, 1e9)}}  # above them
WITHIN = {"g0": {"v": (499.0, 501.0)}, "g1": {"v": (None, 498.0)}}  # within them
HOLDS = {"g1": {"v": (float("-inf"), float("inf"))}, "few": {"v": (5.0, None)}}


@pytest.mark.parametrize(
    ("bounds", "windows", "sorted_whole"),
    [
        ([BELOW], 1, True),
        ([ABOVE], 1, True),
        ([WITHIN], 1, True),
        ([HOLDS], 1, False),
        ([{}], 1, False),  # no bracket: every value kept
        ([WITHIN, HOLDS], 2, False),  # the wider brackets hold
        ([BELOW, ABOVE], 2, True),
        ([], 0, True),
    ],
)
def test_a_bracket_that_misses_the_middle_ranks_is_seen_and_the_next_one_tried(
    bounds, windows, sorted_whole
):
    """n = 1,003: g0 and g1 hold 500 values spread over 0 … 1,002, so the ranks around their
    middle (218 … 283) hold values near 436 … 566; ``few`` holds 7, 14 and 21. Each bracket
    is tried in turn, then every value sorted."""
    n = 1_003
    with CaptureQueriesContext(connection) as captured:
        found = order_statistics([(None, SPREAD_OUT, [n, n])], [("v", "p.v")], bounds)
    read = statements(captured)
    assert sum("float_values" in sql for sql in read) == windows
    assert len(read) == windows + sorted_whole
    for grp, values in spread_out(n).items():
        cell = found[grp]["v"]
        assert (cell.n, cell.median, cell.low, cell.high) == exact(values)


@pytest.mark.parametrize("n", [1, 2, 3, 40, 1000, 65_537])
def test_one_group_through_its_bracket_gives_the_same_order_statistics(n):
    source = (
        "SELECT CAST(g AS DOUBLE PRECISION) AS v FROM generate_series(1, %s) AS g ORDER BY random()"
    )
    sample = f"SELECT 'all' AS grp, p.* FROM ({source}) AS p WHERE random() < %s"
    bounds = brackets(sample, [n, SAMPLE], [("v", "p.v")])
    assert len(bounds) == 2
    cell = order_statistics([("all", source, [n])], [("v", "p.v")], bounds)["all"]["v"]
    assert (cell.n, cell.median, cell.low, cell.high) == exact(list(range(1, n + 1)))


def test_the_raw_export_streams_every_judgment_check_items_included(judged, admin):
    response = admin.get(reverse("evaluation-judgments", args=["csv"]))
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == Judgment.objects.count()
    degraded = {str(pk) for pk in Item.objects.filter(gold="a").values_list("pk", flat=True)}
    answered = [row for row in rows if row["item"] in degraded and row["answer"] in ("a", "b")]
    assert answered and all(row["selector_chosen"] == "" for row in answered)
    undone = [row for row in rows if row["answer"] == "undo"]
    assert undone and all(row["supersedes"] for row in undone)


def test_the_raw_export_reads_a_batch_at_a_time_in_the_order_recorded(judged):
    values = Judgment.objects.order_by("pk").values_list("pk", "answer")
    with CaptureQueriesContext(connection) as captured:
        rows = list(_keyset(values, size=7))
    assert [pk for pk, _ in rows] == sorted(Judgment.objects.values_list("pk", flat=True))
    assert len(captured) == len(rows) // 7 + 1
    assert all("LIMIT 7" in q["sql"] for q in captured)
