"""Slice reports: the grade shares and A/B wins of Tables 1 and 2, split by bins of a face's
features and by title, with Wilson 95 % intervals.

The bins are fixed and named for people, so that reports from different campaigns line up:

- pose, by |angle| (yaw, pitch, roll): 0–10°, 10–20°, 20–35°, ≥ 35° — near frontal, turned,
  well turned, profile or steep;
- size, by the side of the face box, √resolution: < 50 px, 50–100 px, 100–200 px, ≥ 200 px
  (200 px is where the baseline's Size Cost reaches zero);
- brightness (0–100, the paper's): < 30 dark, 30–50, 50–70, ≥ 70 bright;
- |exposure|: < 0.25 (within the half stop ranking ignores), 0.25–0.5, 0.5–0.75, ≥ 0.75
  (0.5 is about one stop, 1 a face lost in shadow or burnt out);
- learned quality (fiqa, LightQNet): < 0.3, 0.3–0.45, 0.45–0.55, ≥ 0.55 (clean faces score
  about 0.57–0.62);
- quality score (the quality model's, as stored now: a newer model changes it): quarters of
  [0, 1];
- title: the cluster's title.

What is binned: a grade item by its face's value; an A/B item by the mean of its two faces'
values (|yaw| of each, box side of each, …): the pair's typical condition, which is what the
judge saw, and neither selector's pick alone. A face whose feature is not measured (or the pair,
when neither is) goes to an "unmeasured" bin, shown only when there are such items. Bins with no
judged item are left out.

An item is counted once, as in Tables 1 and 2: a grade item by the lower median of its grades,
an A/B item by its majority answer (ties equal). The database bins and counts them, every slice
at once, in one statement per kind of campaign whatever the number of judgments.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, QuerySet

from curation.evaluation import aggregates
from curation.evaluation.stats import sign_test
from curation.evaluation.tables import (
    GRADE_OUTCOMES,
    Filters,
    Table,
    counted_answers,
    counted_items,
    grade_count_cells,
    share_cell,
)
from curation.models import Campaign, Selection

UNMEASURED = "unmeasured"


@dataclass(frozen=True)
class Slicer:
    """One way of slicing: ``bins`` are (label, upper edge) in order, each bin holding the
    values from the previous edge (included) to its own (excluded); ``measure`` is the SQL that
    turns a stored value ``{}`` into the binned one (|angle|, box side). ``field`` is the face
    column; None bins by title."""

    key: str
    label: str
    field: str | None
    bins: tuple[tuple[str, float], ...] = ()
    measure: str = "{}"

    def measured_sql(self, column: str) -> str:
        """SQL of the value binned from the stored ``column``: NULL when it is not measured
        (NULL, or NaN: equal to 'NaN' in PostgreSQL, stored as NULL by SQLite)."""
        return f"CASE WHEN {column} = 'NaN' THEN NULL ELSE {self.measure.format(column)} END"

    def bin_sql(self, value: str) -> tuple[str, list]:
        """SQL of the label of the bin of ``value`` (a measured value, or NULL)."""
        cases = [f"WHEN {value} IS NULL THEN %s"]
        params: list[object] = [UNMEASURED]
        for label, upper in self.bins:
            if math.isinf(upper):
                cases.append("ELSE %s")
                params.append(label)
            else:
                cases.append(f"WHEN {value} < %s THEN %s")
                params += [upper, label]
        return f"CASE {' '.join(cases)} END", params

    def order(self, labels: set[str]) -> list[str]:
        """The bins among ``labels``, in the order they are shown (titles by name)."""
        if self.field is None:
            return sorted(labels)
        known = [label for label, _ in self.bins if label in labels]
        return known + [UNMEASURED] * (UNMEASURED in labels)


_POSE = (("0–10°", 10.0), ("10–20°", 20.0), ("20–35°", 35.0), ("≥ 35°", math.inf))

SLICERS = (
    Slicer("yaw", "|Yaw|", "yaw", _POSE, "ABS({})"),
    Slicer("pitch", "|Pitch|", "pitch", _POSE, "ABS({})"),
    Slicer("roll", "|Roll|", "roll", _POSE, "ABS({})"),
    Slicer(
        "size",
        "Size (box side)",
        "resolution",
        (("< 50 px", 50.0), ("50–100 px", 100.0), ("100–200 px", 200.0), ("≥ 200 px", math.inf)),
        "SQRT({})",
    ),
    Slicer(
        "brightness",
        "Brightness",
        "brightness",
        (("< 30 (dark)", 30.0), ("30–50", 50.0), ("50–70", 70.0), ("≥ 70 (bright)", math.inf)),
    ),
    Slicer(
        "exposure",
        "|Exposure|",
        "exposure",
        (("< 0.25", 0.25), ("0.25–0.5", 0.5), ("0.5–0.75", 0.75), ("≥ 0.75", math.inf)),
        "ABS({})",
    ),
    Slicer(
        "fiqa",
        "Learned quality (fiqa)",
        "fiqa",
        (("< 0.3", 0.3), ("0.3–0.45", 0.45), ("0.45–0.55", 0.55), ("≥ 0.55", math.inf)),
    ),
    Slicer(
        "quality",
        "Quality score",
        "quality",
        (("< 0.25", 0.25), ("0.25–0.5", 0.5), ("0.5–0.75", 0.75), ("≥ 0.75", math.inf)),
    ),
    Slicer("title", "Title", None),
)
SLICER_BY_KEY = {slicer.key: slicer for slicer in SLICERS}


def _columns(slicers: Sequence[Slicer]) -> list[str]:
    return list(dict.fromkeys(s.field for s in slicers if s.field is not None))


def _bins(slicers: Sequence[Slicer], pairs: bool) -> list[aggregates.BinSql]:
    """Each slicer's bin of an item of ``i`` (see :func:`_items`); of a pair, by the mean of
    its faces' measured values, or the one measured."""
    quote = connection.ops.quote_name
    bins: list[aggregates.BinSql] = []
    for slicer in slicers:
        if slicer.field is None:
            bins.append((slicer.key, "i.title", "v", []))
            continue
        if pairs:
            a, b = (slicer.measured_sql(f"i.{quote(f'{slicer.field}_{s}')}") for s in "ab")
            value = (
                f"CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} ELSE ({a} + {b}) / 2 END"
            )
        else:
            value = slicer.measured_sql(f"i.{quote(slicer.field)}")
        label, params = slicer.bin_sql("v")
        bins.append((slicer.key, value, label, params))
    return bins


def _items(filters: Filters, kind: str, slicers: Sequence[Slicer]) -> QuerySet:
    """The counted items of ``kind``, with their title and the face columns the slicers read
    (an A/B item's two faces' as ``<column>_a`` and ``<column>_b``)."""
    columns = _columns(slicers)
    if kind == Campaign.Kind.AB:
        faces = {
            f"{name}_{s}": F(f"{face}__{name}")
            for name in columns
            for s, face in (("a", "face"), ("b", "face_b"))
        }
    else:
        faces = {name: F(f"face__{name}") for name in columns}
    return counted_items(filters, kind).values(
        "id", "selectors", title=F("cluster__title__name"), **faces
    )


def grade_slices(filters: Filters, slicers: Sequence[Slicer] = SLICERS) -> Table:
    """Per slice, selector and bin: the share of graded picks unidentifiable, usable (excellent
    included) and excellent, each with n and its Wilson interval."""
    grades: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for key, selector, label, grade, count in aggregates.grade_bins(
        counted_answers(filters),
        _items(filters, Campaign.Kind.GRADE, slicers),
        _bins(slicers, pairs=False),
    ):
        grades[(key, selector, label)][grade] += count
    rows, raw = [], []
    for slicer in slicers:
        for selector in Selection.Selector.values:
            labels = {label for key, s, label in grades if key == slicer.key and s == selector}
            for label in slicer.order(labels):
                counts = grades[(slicer.key, selector, label)]
                n = sum(counts.values())
                cells = grade_count_cells(counts)
                rows.append(
                    [slicer.label, label, selector, str(n)] + [cell for cell, _ in cells.values()]
                )
                raw.append(
                    {"slice": slicer.key, "bin": label, "selector": selector, "n": n}
                    | {outcome: numbers for outcome, (_, numbers) in cells.items()}
                )
    return Table(
        "slices_grades",
        "Grades by slice — each selector's graded picks per bin of a feature and per title "
        "(Wilson 95 % intervals)",
        ["Slice", "Bin", "Selector", "Graded", *GRADE_OUTCOMES.values()],
        rows,
        raw,
        empty="" if rows else "No grade judgments match these filters yet.",
    )


def ab_slices(filters: Filters, slicers: Sequence[Slicer] = SLICERS) -> Table:
    """Per slice, selector pair and bin: A/B outcomes, A's share of the decisive ones with its
    Wilson interval, and the exact sign test."""
    outcomes: dict[tuple[str, tuple[str, str], str], Counter] = defaultdict(Counter)
    for key, pair, label, outcome, count in aggregates.ab_bins(
        counted_answers(filters),
        _items(filters, Campaign.Kind.AB, slicers),
        _bins(slicers, pairs=True),
    ):
        outcomes[(key, pair, label)][outcome] += count
    rows, raw = [], []
    for slicer in slicers:
        for pair in sorted({p for key, p, _ in outcomes if key == slicer.key}):
            labels = {label for key, p, label in outcomes if key == slicer.key and p == pair}
            for label in slicer.order(labels):
                counts = outcomes[(slicer.key, pair, label)]
                wins_a, wins_b, equal = counts["a"], counts["b"], counts["equal"]
                cell, share = share_cell(wins_a, wins_a + wins_b)
                p = sign_test(wins_a, wins_b)
                rows.append(
                    [
                        slicer.label,
                        label,
                        f"{pair[0]} vs {pair[1]}",
                        str(wins_a),
                        str(wins_b),
                        str(equal),
                        cell,
                        f"{p:.2g}" if wins_a + wins_b else "—",
                    ]
                )
                raw.append(
                    {
                        "slice": slicer.key,
                        "bin": label,
                        "a": pair[0],
                        "b": pair[1],
                        "wins_a": wins_a,
                        "wins_b": wins_b,
                        "equal": equal,
                        "judged": wins_a + wins_b + equal,
                        "a_share_of_decisive": share,
                        "sign_test_p": p,
                    }
                )
    return Table(
        "slices_ab",
        "A/B by slice — outcomes per bin of the pair's mean feature value and per title "
        "(A's share of the decisive answers with its Wilson 95 % interval; exact sign test)",
        [
            "Slice",
            "Bin",
            "Pair (A vs B)",
            "A better",
            "B better",
            "Equal",
            "A's share of decisive",
            "Sign test p",
        ],
        rows,
        raw,
        empty="" if rows else "No A/B judgments match these filters yet.",
    )


def slice_tables(filters: Filters, slicers: Sequence[Slicer] = SLICERS) -> list[Table]:
    return [grade_slices(filters, slicers), ab_slices(filters, slicers)]


def slice_charts(grades: Table, ab: Table) -> dict[str, list[dict]]:
    """The two slice tables regrouped for the dashboard's bars: per selector (or pair), one
    entry per bin, shares in percent."""
    by_selector: dict[str, list[dict]] = defaultdict(list)
    for row in grades.raw:
        by_selector[row["selector"]].append(
            {
                "label": row["bin"],
                "n": row["n"],
                "bars": [_bar(outcome, row[outcome]) for outcome in GRADE_OUTCOMES],
            }
        )
    by_pair: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in ab.raw:
        judged = row["judged"]
        by_pair[(row["a"], row["b"])].append(
            row
            | {
                "label": row["bin"],
                "share_a": 100 * row["wins_a"] / judged,
                "share_equal": 100 * row["equal"] / judged,
                "share_b": 100 * row["wins_b"] / judged,
                "decisive": _bar("a", row["a_share_of_decisive"]),
            }
        )
    return {
        "grades": [{"selector": s, "bins": bins} for s, bins in by_selector.items()],
        "ab": [{"a": a, "b": b, "bins": bins} for (a, b), bins in by_pair.items()],
    }


def _bar(name: str, numbers: dict) -> dict:
    return {
        "label": name,
        "count": numbers["count"],
        "n": numbers["n"],
        "share": 100 * numbers["share"],
        "low": 100 * numbers["wilson_low"],
        "high": 100 * numbers["wilson_high"],
    }
