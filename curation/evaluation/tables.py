"""The evaluation tables, computed from the judgments and features in the database.

Every table is a :class:`Table`: column names, rows of display cells, and ``raw`` — the counts
and numbers behind every cell — which the JSON export writes out whole. The database does the
counting (:mod:`curation.evaluation.aggregates`): what reaches Python is a few hundred numbers
whatever the number of judgments, which it tests and formats.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q, QuerySet

from curation.evaluation import aggregates
from curation.evaluation.stats import (
    holm,
    krippendorff_alpha_ordinal,
    mcnemar_exact,
    sign_test,
    wilson_interval,
)
from curation.models import Campaign, Face, Item, Judgment, Selection, Title
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


def _judgment_conditions(filters: Filters) -> Q:
    """The filters' dates and annotators, on judgments."""
    conditions = Q()
    if filters.since:
        conditions &= Q(created_at__date__gte=filters.since)
    if filters.until:
        conditions &= Q(created_at__date__lte=filters.until)
    if filters.excluded:
        conditions &= ~Q(annotator__username__in=list(filters.excluded))
    return conditions


def _item_conditions(filters: Filters, prefix: str = "") -> Q:
    """The filters' campaigns and titles, on items (``prefix`` reaches them from elsewhere)."""
    conditions = Q()
    if filters.campaigns:
        conditions &= Q(**{f"{prefix}campaign__in": filters.campaigns})
    if filters.titles:
        conditions &= Q(**{f"{prefix}cluster__title__in": filters.titles})
    return conditions


def filtered(judgments: QuerySet[Judgment], filters: Filters) -> QuerySet[Judgment]:
    """The judgments of the filters' campaigns, titles, dates and annotators."""
    return judgments.filter(_item_conditions(filters, "item__"), _judgment_conditions(filters))


def live_judgments(filters: Filters) -> QuerySet[Judgment]:
    """The decisive judgments not undone since, within the filters' dates and annotators, on
    any item: :func:`counted_items` holds the items' side of the filters."""
    return aggregates.every_live_judgment().filter(_judgment_conditions(filters))


def counted_answers(filters: Filters) -> QuerySet[Judgment] | None:
    """What the aggregates count on the filters' items: the live judgments within the filters'
    dates and annotators, or None when those are every live judgment, which the items' own
    counters hold, so that no judgment is read."""
    if filters.since or filters.until or filters.excluded:
        return live_judgments(filters)
    return None


def counted_items(filters: Filters, kind: str | None = None) -> QuerySet[Item]:
    """The items that judge the selectors (not the gold and repeated items that check the
    annotators), of ``kind``, within the filters' campaigns and titles."""
    items = Item.objects.filter(_item_conditions(filters), gold="", repeat_of=None)
    return items if kind is None else items.filter(campaign__kind=kind)


def counted_judgments(filters: Filters, kind: str | None = None) -> QuerySet[Judgment]:
    """The judgments the tables count: live, decisive, on items that judge the selectors,
    within the filters."""
    judgments = live_judgments(filters).filter(
        _item_conditions(filters, "item__"), item__gold="", item__repeat_of=None
    )
    return judgments if kind is None else judgments.filter(item__campaign__kind=kind)


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
    return grade_count_cells(Counter(grades))


def grade_count_cells(counts: Mapping[int, int]) -> dict[str, tuple[str, dict]]:
    """Each of :data:`GRADE_OUTCOMES` as a share of the grades counted per rank."""
    n = sum(counts.values())
    unidentifiable, usable, excellent = (counts.get(rank, 0) for rank in range(3))
    return {
        "unidentifiable": share_cell(unidentifiable, n),
        "usable": share_cell(usable + excellent, n),
        "excellent": share_cell(excellent, n),
    }


def table1(filters: Filters) -> tuple[Table, Table]:
    """Per selector, the grades of its graded picks, one per (campaign, cluster): an item judged
    several times takes the lower median of its grades; and each pair of selectors compared on
    the clusters graded for both."""
    known = list(Selection.Selector.values)
    clusters = aggregates.selector_grades(
        counted_answers(filters), counted_items(filters, Campaign.Kind.GRADE), known
    )
    grades: dict[str, Counter] = {selector: Counter() for selector in known}
    # (first, second) selector → Counter of (first's grade, second's grade) on shared clusters.
    paired: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for ranks, count in clusters:
        graded = [(known[k], rank) for k, rank in enumerate(ranks) if rank is not None]
        for selector, rank in graded:
            grades[selector][rank] += count
        for (first, a), (second, b) in itertools.combinations(graded, 2):
            paired[(first, second)][(a, b)] += count
    selectors = [s for s in known if grades[s]]
    rows, raw = [], []
    for selector in selectors:
        n = sum(grades[selector].values())
        cells = grade_count_cells(grades[selector])
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

    tests: list[list[str]] = []
    test_raw: list[dict] = []
    for first, second in itertools.combinations(selectors, 2):
        both = paired[(first, second)]
        for outcome, hit in (("unidentifiable", 0), ("excellent", 2)):
            only_first = sum(n for (a, b), n in both.items() if a == hit and b != hit)
            only_second = sum(n for (a, b), n in both.items() if b == hit and a != hit)
            test_raw.append(
                {
                    "first": first,
                    "second": second,
                    "outcome": outcome,
                    "paired": sum(both.values()),
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


def table2(filters: Filters) -> Table:
    """A/B outcomes per selector pair, overall and per title: an item counts once, by the
    majority of its answers (a tie at the top counts as equal)."""
    ties = Item.objects.filter(
        _item_conditions(filters), identical=True, campaign__kind=Campaign.Kind.AB
    )
    identical: Counter = Counter()
    for row in (
        ties.values("campaign__selectors", "cluster__title__name")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        pair = tuple(row["campaign__selectors"])
        identical[(pair, "all titles")] += row["n"]
        identical[(pair, row["cluster__title__name"])] += row["n"]
    found = aggregates.ab_outcomes(
        counted_answers(filters), counted_items(filters, Campaign.Kind.AB)
    )
    outcomes: dict[tuple, Counter] = defaultdict(Counter)
    for (pair, title, outcome), n in found.items():
        outcomes[(pair, "all titles")][outcome] += n
        outcomes[(pair, title)][outcome] += n
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
    """Median features of the faces each selector picked, and of every face, with
    distribution-free 95 % intervals (:func:`curation.evaluation.stats.median_interval_ranks`).
    Filtered by campaigns, the picks are the faces their items froze when they were made (what
    was judged), not what scoring has picked since: one per cluster and campaign."""
    faces = Face.objects.exclude(sharpness=None)
    selections = Selection.objects.all()
    if filters.titles or filters.campaigns:
        titles = Title.objects.all()
        if filters.titles:
            titles = titles.filter(pk__in=filters.titles)
        else:
            titles = titles.filter(campaigns__in=filters.campaigns).distinct()
        faces = faces.filter(title__in=titles)
        selections = selections.filter(cluster__title__in=titles)
    if filters.campaigns:
        picks = aggregates.judged_picks(Item.objects.filter(campaign__in=filters.campaigns))
    else:
        picks = aggregates.current_picks(selections)
    found = aggregates.feature_medians(
        faces, picks, [(name, name in SMALLER_BETTER) for name, _ in FEATURES]
    )
    groups = [name for name in (aggregates.DATASET, *Selection.Selector.values) if name in found]
    rows, raw = [], []
    for feature, label in FEATURES:
        row = [label]
        cells: dict[str, object] = {"feature": feature}
        for name in groups:
            cell = found[name][feature]
            digits = 0 if feature == "resolution" else 2
            row.append(f"{cell.median:.{digits}f} [{cell.low:.{digits}f}, {cell.high:.{digits}f}]")
            cells[name] = {"median": cell.median, "low": cell.low, "high": cell.high, "n": cell.n}
        rows.append(row)
        raw.append(cells)
    return Table(
        "table3",
        "Table 3 — median features of the picked faces (95 % intervals from the order statistics)",
        ["Feature", *groups],
        rows if groups else [],
        raw if groups else [],
        empty="" if groups else "No scored title matches these filters yet.",
    )


def agreement(filters: Filters) -> Table:
    """On the items judged two or more times: Krippendorff's α of the grades, the share of
    agreeing pairs of A/B answers, and each annotator against the majority of the others."""
    counts = aggregates.agreement_counts(counted_answers(filters), counted_items(filters))
    rows, raw = [], []
    for kind in (Campaign.Kind.GRADE, Campaign.Kind.AB):
        units = counts.units.get(kind, Counter())
        shared = sum(units.values())
        if kind == Campaign.Kind.GRADE:
            value: float | None = krippendorff_alpha_ordinal(units)
            measure = "Krippendorff's α (ordinal)"
            shown = f"{value:.3f}" if shared else "—"
        else:
            pairs = sum(n * math.comb(sum(c), 2) for c, n in units.items())
            same = sum(n * sum(math.comb(k, 2) for k in c) for c, n in units.items())
            value = same / pairs if pairs else None
            measure = "% agreement"
            shown = f"{100 * value:.1f}%" if value is not None else "—"
        rows.append([kind, measure, shown, str(shared), ""])
        raw.append({"kind": kind, "measure": measure, "value": value, "items": shared})
        # Each judgment against the majority of the *other* judgments of its item (left out
        # when the others are split evenly), so an annotator is never compared with themself.
        for (of_kind, name), (compared, agreed) in sorted(counts.annotators.items()):
            if of_kind != kind:
                continue
            share = agreed / compared
            rows.append(
                [
                    kind,
                    f"{name}: agreement with the majority",
                    f"{100 * share:.1f}%",
                    str(compared),
                    name,
                ]
            )
            raw.append(
                {
                    "kind": kind,
                    "annotator": name,
                    "agreement_with_majority": share,
                    "judgments": compared,
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
