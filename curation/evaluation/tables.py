"""The evaluation tables, computed from the judgments and features in the database.

Every table is a :class:`Table`: column names, rows of display cells, and ``raw`` — the counts
and numbers behind every cell — which the JSON export writes out whole.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db.models import QuerySet

from curation.evaluation.stats import (
    bootstrap_median_interval,
    holm,
    krippendorff_alpha_ordinal,
    mcnemar_exact,
    sign_test,
    wilson_interval,
)
from curation.models import Campaign, Face, Item, Judgment, Selection, Title
from curation.review.queue import DECISIVE
from scoring.features import FEATURE_LABELS, FEATURE_NAMES, SMALLER_BETTER

GRADE_RANK = {"unidentifiable": 0, "usable": 1, "excellent": 2}
# Table 3's rows: every feature, with the direction that is better.
FEATURES = tuple(
    (name, f"{FEATURE_LABELS[name]} {'↓' if name in SMALLER_BETTER else '↑'}")
    for name in FEATURE_NAMES
)


@dataclass
class Filters:
    """Which judgments the tables count. ``excluded``: annotators left out, with why (see
    ``curation.evaluation.checks.exclude_unreliable``)."""

    campaigns: list[int] = field(default_factory=list)
    titles: list[int] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    excluded: dict[str, str] = field(default_factory=dict)


@dataclass
class Table:
    key: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    raw: list[dict]
    empty: str = ""


def counted_judgments(filters: Filters, kind: str | None = None) -> QuerySet[Judgment]:
    """The judgments the tables count: live, decisive, on items that judge the selectors (not
    the gold and repeated items that check the annotators), within the filters."""
    judgments = Judgment.objects.filter(
        answer__in=DECISIVE, superseded_by__isnull=True, item__gold="", item__repeat_of=None
    )
    if kind is not None:
        judgments = judgments.filter(item__campaign__kind=kind)
    return filtered(judgments, filters)


def _judgments(filters: Filters, kind: str):
    return counted_judgments(filters, kind).select_related(
        "item", "item__campaign", "item__cluster__title", "annotator"
    )


def filtered(judgments: QuerySet[Judgment], filters: Filters) -> QuerySet[Judgment]:
    """The judgments of the filters' campaigns, titles and dates."""
    if filters.campaigns:
        judgments = judgments.filter(item__campaign__in=filters.campaigns)
    if filters.titles:
        judgments = judgments.filter(item__cluster__title__in=filters.titles)
    if filters.since:
        judgments = judgments.filter(created_at__date__gte=filters.since)
    if filters.until:
        judgments = judgments.filter(created_at__date__lte=filters.until)
    if filters.excluded:
        judgments = judgments.exclude(annotator__username__in=list(filters.excluded))
    return judgments


def share_cell(count: int, n: int) -> tuple[str, dict]:
    """A share shown as "12.5% [5.1, 27.0] (3/24)" (Wilson 95 %), and its numbers."""
    low, high = wilson_interval(count, n)
    share = count / n if n else 0.0
    cell = f"{100 * share:.1f}% [{100 * low:.1f}, {100 * high:.1f}] ({count}/{n})" if n else "—"
    return cell, {"count": count, "n": n, "share": share, "wilson_low": low, "wilson_high": high}


# Table 1's outcomes: each is a share of the graded picks.
GRADE_OUTCOMES = {
    "unidentifiable": "Unidentifiable ↓",
    "usable": "Usable (incl. excellent) ↑",
    "excellent": "Excellent ↑",
}


def grade_cells(grades: Sequence[int]) -> dict[str, tuple[str, dict]]:
    """Each of :data:`GRADE_OUTCOMES` as a share of ``grades`` (ranks), cell and numbers."""
    n = len(grades)
    return {
        "unidentifiable": share_cell(sum(v == 0 for v in grades), n),
        "usable": share_cell(sum(v >= 1 for v in grades), n),
        "excellent": share_cell(sum(v == 2 for v in grades), n),
    }


@dataclass(frozen=True)
class GradedItem:
    """A grade item, counted once: ``grade`` is the lower median of its grade ranks;
    ``values`` are the extra ``fields`` asked of :func:`graded_items`, in that order."""

    campaign: int
    cluster: int
    title: str
    selectors: list[str]
    grade: int
    values: tuple = ()


def graded_items(filters: Filters, fields: Sequence[str] = ()) -> list[GradedItem]:
    """Every grade item the filters' judgments judged. ``fields`` are paths from the item
    (e.g. ``face__yaw``), read in the same single query."""
    ranks: dict[int, list[int]] = defaultdict(list)
    about: dict[int, tuple] = {}
    rows = counted_judgments(filters, Campaign.Kind.GRADE).values_list(
        "item_id",
        "answer",
        "item__campaign_id",
        "item__cluster_id",
        "item__cluster__title__name",
        "item__selectors",
        *(f"item__{name}" for name in fields),
    )
    for item_id, answer, *rest in rows.iterator(chunk_size=5000):
        ranks[item_id].append(GRADE_RANK[answer])
        about[item_id] = tuple(rest)
    items = []
    for item_id, values in ranks.items():
        campaign, cluster, title, selectors, *extra = about[item_id]
        grade = statistics.median_low(values)
        items.append(GradedItem(campaign, cluster, title, selectors, grade, tuple(extra)))
    return items


def grades_by_selector(filters: Filters) -> dict[str, dict[tuple[int, int], int]]:
    """{selector: {(campaign, cluster): grade rank}}; an item judged several times takes the
    lower median of its grades."""
    result: dict[str, dict[tuple[int, int], int]] = defaultdict(dict)
    for item in graded_items(filters):
        for selector in item.selectors:
            result[selector][(item.campaign, item.cluster)] = item.grade
    return result


def table1(filters: Filters) -> tuple[Table, Table]:
    grades = grades_by_selector(filters)
    selectors = [s for s in Selection.Selector.values if s in grades]
    rows, raw = [], []
    for selector in selectors:
        values = list(grades[selector].values())
        n = len(values)
        cells = grade_cells(values)
        rows.append([selector, str(n), *(cell for cell, _ in cells.values())])
        raw.append({"selector": selector, "n": n} | {k: v for k, (_, v) in cells.items()})
    grades_table = Table(
        "table1",
        "Table 1 — grades of each selector's picks (Wilson 95 % intervals)",
        ["Selector", "Clusters", *GRADE_OUTCOMES.values()],
        rows,
        raw,
        empty="" if rows else "No grade judgments match these filters yet.",
    )

    tests, test_raw = [], []
    for first, second in itertools.combinations(selectors, 2):
        shared = grades[first].keys() & grades[second].keys()
        for outcome, hit in (("unidentifiable", lambda v: v == 0), ("excellent", lambda v: v == 2)):
            only_first = sum(hit(grades[first][k]) and not hit(grades[second][k]) for k in shared)
            only_second = sum(hit(grades[second][k]) and not hit(grades[first][k]) for k in shared)
            test_raw.append(
                {
                    "first": first,
                    "second": second,
                    "outcome": outcome,
                    "paired": len(shared),
                    "only_first": only_first,
                    "only_second": only_second,
                    "p_exact": mcnemar_exact(only_first, only_second),
                }
            )
    for row, adjusted in zip(test_raw, holm([r["p_exact"] for r in test_raw]), strict=True):
        row["p_holm"] = adjusted
        tests.append(
            [
                f"{row['first']} vs {row['second']}",
                row["outcome"],
                str(row["paired"]),
                str(row["only_first"]),
                str(row["only_second"]),
                f"{row['p_exact']:.2g}",
                f"{row['p_holm']:.2g}",
            ]
        )
    comparisons = Table(
        "table1_tests",
        "Table 1b — paired comparisons (exact McNemar, Holm-corrected)",
        ["Pair", "Outcome", "Paired clusters", "Only first", "Only second", "p", "p (Holm)"],
        tests,
        test_raw,
        empty="" if tests else "Paired comparisons need two selectors graded on the same clusters.",
    )
    return grades_table, comparisons


def majority_answer(votes: Counter) -> str:
    """The answer most judgments gave; a tie between the most given counts as equal."""
    ranked = votes.most_common()
    return ranked[0][0] if len(ranked) == 1 or ranked[0][1] > ranked[1][1] else "equal"


@dataclass(frozen=True)
class ComparedItem:
    """An A/B item, counted once: ``outcome`` is the majority of its answers (``a``, ``b`` or
    ``equal``); ``values`` are the extra ``fields`` asked of :func:`compared_items`."""

    campaign: int
    cluster: int
    title: str
    selectors: list[str]
    outcome: str
    values: tuple = ()


def compared_items(filters: Filters, fields: Sequence[str] = ()) -> list[ComparedItem]:
    """Every A/B item the filters' judgments judged. ``fields`` are paths from the item (e.g.
    ``face_b__yaw``), read in the same single query."""
    votes: dict[int, Counter] = defaultdict(Counter)
    about: dict[int, tuple] = {}
    rows = counted_judgments(filters, Campaign.Kind.AB).values_list(
        "item_id",
        "answer",
        "item__campaign_id",
        "item__cluster_id",
        "item__cluster__title__name",
        "item__selectors",
        *(f"item__{name}" for name in fields),
    )
    for item_id, answer, *rest in rows.iterator(chunk_size=5000):
        votes[item_id][answer] += 1
        about[item_id] = tuple(rest)
    items = []
    for item_id, counter in votes.items():
        campaign, cluster, title, selectors, *extra = about[item_id]
        outcome = majority_answer(counter)
        items.append(ComparedItem(campaign, cluster, title, selectors, outcome, tuple(extra)))
    return items


def table2(filters: Filters) -> Table:
    """A/B outcomes per selector pair, overall and per title."""
    campaigns = Campaign.objects.filter(kind=Campaign.Kind.AB)
    if filters.campaigns:
        campaigns = campaigns.filter(pk__in=filters.campaigns)
    identical: Counter = Counter()
    for campaign in campaigns:
        ties = campaign.items.filter(identical=True)
        if filters.titles:
            ties = ties.filter(cluster__title__in=filters.titles)
        for tie in ties.select_related("cluster__title"):
            pair = tuple(campaign.selectors)
            identical[(pair, "all titles")] += 1
            identical[(pair, tie.cluster.title.name)] += 1
    outcomes: dict[tuple, Counter] = defaultdict(Counter)
    for item in compared_items(filters):
        pair = tuple(item.selectors)
        outcomes[(pair, "all titles")][item.outcome] += 1
        outcomes[(pair, item.title)][item.outcome] += 1
    rows, raw = [], []
    keys = sorted(set(outcomes) | set(identical), key=lambda k: (k[0], k[1] != "all titles", k[1]))
    for pair, scope in keys:
        counts = outcomes[(pair, scope)]
        wins_a, wins_b, equal = counts["a"], counts["b"], counts["equal"]
        judged = wins_a + wins_b + equal
        p = sign_test(wins_a, wins_b)

        def share(count: int, judged: int = judged) -> str:
            return f"{count} ({100 * count / judged:.1f}%)" if judged else str(count)

        rows.append(
            [
                f"{pair[0]} vs {pair[1]}",
                scope,
                share(wins_a),
                share(wins_b),
                share(equal),
                str(identical[(pair, scope)]),
                str(judged),
                f"{p:.2g}" if wins_a + wins_b else "—",
            ]
        )
        raw.append(
            {
                "a": pair[0],
                "b": pair[1],
                "scope": scope,
                "wins_a": wins_a,
                "wins_b": wins_b,
                "equal": equal,
                "identical": identical[(pair, scope)],
                "judged": judged,
                "sign_test_p": p,
            }
        )
    return Table(
        "table2",
        "Table 2 — A/B: clusters where each selector's pick was judged better "
        "(exact sign test on the decisive ones)",
        [
            "Pair (A vs B)",
            "Titles",
            "A better",
            "B better",
            "Equal",
            "Identical picks",
            "Clusters judged",
            "Sign test p",
        ],
        rows,
        raw,
        empty="" if rows else "No A/B judgments match these filters yet.",
    )


def table3(filters: Filters) -> Table:
    """Median features of the faces each selector picked, and of every face, with bootstrap
    95 % intervals. Filtered by campaigns, the picks are the faces their items froze when they
    were made (what was judged), not what scoring has picked since."""
    titles = Title.objects.all()
    if filters.titles:
        titles = titles.filter(pk__in=filters.titles)
    elif filters.campaigns:
        titles = titles.filter(campaigns__in=filters.campaigns).distinct()
    names = [name for name, _ in FEATURES]
    faces = Face.objects.filter(title__in=titles).exclude(sharpness=None)
    groups = {"Dataset": list(faces.values(*names))}
    picked_ids = _judged_picks(filters.campaigns) if filters.campaigns else _current_picks(titles)
    features_of = {
        row["pk"]: row
        for row in Face.objects.filter(
            pk__in={face for ids in picked_ids.values() for face in ids}
        ).values("pk", *names)
    }
    for selector in Selection.Selector.values:
        groups[selector] = [features_of[face] for face in picked_ids.get(selector, [])]
    groups = {name: rows for name, rows in groups.items() if rows}
    rows, raw = [], []
    for feature, label in FEATURES:
        row = [label]
        cells: dict[str, object] = {"feature": feature}
        for name, faces_of in groups.items():
            values = [
                abs(f[feature]) if feature in SMALLER_BETTER else f[feature]
                for f in faces_of
                if f[feature] is not None
            ]
            median = statistics.median(values) if values else float("nan")
            low, high = bootstrap_median_interval(values)
            digits = 0 if feature == "resolution" else 2
            row.append(f"{median:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]")
            cells[name] = {"median": median, "low": low, "high": high, "n": len(values)}
        rows.append(row)
        raw.append(cells)
    return Table(
        "table3",
        "Table 3 — median features of the picked faces (bootstrap 95 % intervals)",
        ["Feature", *groups],
        rows if groups else [],
        raw if groups else [],
        empty="" if groups else "No scored title matches these filters yet.",
    )


def _current_picks(titles) -> dict[str, list[int]]:
    picks: dict[str, list[int]] = defaultdict(list)
    for selector, face in Selection.objects.filter(cluster__title__in=titles).values_list(
        "selector", "face_id"
    ):
        picks[selector].append(face)
    return picks


def _judged_picks(campaigns: list[int]) -> dict[str, list[int]]:
    """Per selector, the faces the campaigns' items hold for it (one per cluster and campaign)."""
    picks: dict[str, list[int]] = defaultdict(list)
    for kind, selectors, face, face_b in Item.objects.filter(campaign__in=campaigns).values_list(
        "campaign__kind", "selectors", "face_id", "face_b_id"
    ):
        if kind == Campaign.Kind.AB:
            picks[selectors[0]].append(face)
            picks[selectors[1]].append(face_b)
        else:
            for selector in selectors:
                picks[selector].append(face)
    return picks


def agreement(filters: Filters) -> Table:
    rows, raw = [], []
    for kind in (Campaign.Kind.GRADE, Campaign.Kind.AB):
        by_item: dict[int, list[Judgment]] = defaultdict(list)
        for judgment in _judgments(filters, kind):
            by_item[judgment.item_id].append(judgment)
        shared = {i: js for i, js in by_item.items() if len(js) >= 2}
        if kind == Campaign.Kind.GRADE:
            value: float | None = krippendorff_alpha_ordinal(
                [[GRADE_RANK[j.answer] for j in js] for js in shared.values()]
            )
            measure = "Krippendorff's α (ordinal)"
            shown = f"{value:.3f}" if shared else "—"
        else:
            pairs = [
                (a.answer == b.answer)
                for js in shared.values()
                for a, b in itertools.combinations(js, 2)
            ]
            value = sum(pairs) / len(pairs) if pairs else None
            measure = "% agreement"
            shown = f"{100 * value:.1f}%" if value is not None else "—"
        rows.append([kind, measure, shown, str(len(shared)), ""])
        raw.append({"kind": kind, "measure": measure, "value": value, "items": len(shared)})
        # Each judgment against the majority of the *other* judgments of its item (left out
        # when the others are split evenly), so an annotator is never compared with themself.
        per_annotator: dict[str, list[bool]] = defaultdict(list)
        for js in shared.values():
            for j in js:
                others = Counter(o.answer for o in js if o is not j).most_common()
                if len(others) > 1 and others[0][1] == others[1][1]:
                    continue
                per_annotator[j.annotator.username].append(j.answer == others[0][0])
        for name, agrees in sorted(per_annotator.items()):
            share = sum(agrees) / len(agrees)
            rows.append(
                [
                    kind,
                    f"{name}: agreement with the majority",
                    f"{100 * share:.1f}%",
                    str(len(agrees)),
                    name,
                ]
            )
            raw.append(
                {
                    "kind": kind,
                    "annotator": name,
                    "agreement_with_majority": share,
                    "judgments": len(agrees),
                }
            )
    has_data = any(r.get("items") for r in raw)
    return Table(
        "agreement",
        "Agreement on items with two or more judgments",
        ["Kind", "Measure", "Value", "Items / judgments", "Annotator"],
        rows,
        raw,
        empty=""
        if has_data
        else "Agreement needs items judged by two or more annotators "
        "(a campaign with overlap ≥ 2).",
    )


def all_tables(filters: Filters) -> list[Table]:
    grades, tests = table1(filters)
    return [grades, tests, table2(filters), table3(filters), agreement(filters)]
