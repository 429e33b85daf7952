"""The numbers behind the evaluation tables, aggregated by the database.

Each function runs one or two statements whatever the number of judgments and returns only what
a table shows (clusters per selector and grade, items per pair and outcome, …): no judgment and
no item travels to Python.

An item is counted once, by the number of each answer its counted judgments gave, ``c0``,
``c1``, ``c2`` (a grade item's unidentifiable, usable, excellent; an A/B item's a, b, equal).
When every live judgment counts (``judgments`` None), those are the item's own counters, which
the queue keeps with each answer (``Item.answers_0`` …), and no judgment is read; when the
filters pick among the judgments (dates, annotators), the judgments are counted per item. Its
outcome is read off the counts:

- a grade item's grade is the lower median of its grades: with n = c0 + c1 + c2, the grade at
  position ⌊(n − 1) / 2⌋ of its sorted grades, that is unidentifiable when c0 exceeds that
  position, else usable when c0 + c1 does, else excellent;
- an A/B item's outcome is the answer given strictly more often than both others, else (two tie
  at the top) equal.

The judgments and items are chosen by the ORM (so that the filters mean what they mean
everywhere else) and handed here as querysets; the SQL around them is standard (CASE, FILTER,
GROUP BY, UNION ALL) and runs on PostgreSQL and on the embedded SQLite default alike, but for
reading an item's JSON list of selectors as rows and for Table 3's order statistics, which each
database does its own way (see :func:`_credited` and :func:`order_statistics`).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from curation.evaluation.stats import median_interval_ranks
from curation.models import ANSWER_SLOT, KIND_ANSWERS, Face, Item, Judgment, Selection

GRADE = (
    "CASE WHEN {t}.c0 > ({t}.c0 + {t}.c1 + {t}.c2 - 1) / 2 THEN 0"
    " WHEN {t}.c0 + {t}.c1 > ({t}.c0 + {t}.c1 + {t}.c2 - 1) / 2 THEN 1 ELSE 2 END"
)
OUTCOME = (
    "CASE WHEN {t}.c0 > {t}.c1 AND {t}.c0 > {t}.c2 THEN 'a'"
    " WHEN {t}.c1 > {t}.c0 AND {t}.c1 > {t}.c2 THEN 'b' ELSE 'equal' END"
)


def _sql(queryset: QuerySet) -> tuple[str, list]:
    """The queryset's SQL and parameters, unordered (ordering a subquery only costs a sort)."""
    sql, params = queryset.order_by().query.sql_with_params()
    return sql, list(params)


def _with(**parts: QuerySet) -> tuple[str, list]:
    """``WITH name AS (its SQL), …`` for each queryset, and their parameters in order."""
    clauses, params = [], []
    for name, queryset in parts.items():
        sql, more = _sql(queryset)
        clauses.append(f"{name} AS ({sql})")
        params += more
    return "WITH " + ",\n".join(clauses), params


def reading() -> BaseDatabaseWrapper:
    """The database the evaluation reads, as the router says for its querysets: the replica
    when the settings name one (``curation.replicas``), else the primary."""
    return connections[router.db_for_read(Judgment)]


def _query(sql: str, params: Sequence, workers: int = 0) -> list[tuple]:
    """The rows of one statement, with at most ``workers`` parallel workers per scan."""
    database = reading()
    with transaction.atomic(using=database.alias), database.cursor() as cursor:
        if database.vendor == "postgresql":
            # Hundreds of thousands of items are grouped and sorted: in memory rather than in
            # temporary files; without compiling the plan, which costs more than it saves here;
            # in one process unless asked (parallel plans counted the items again in every
            # worker; Table 3's faces, which each worker reads its share of, ask). LOCAL: for
            # this transaction only.
            cursor.execute(
                "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; "
                f"SET LOCAL max_parallel_workers_per_gather = {int(workers)}"
            )
        cursor.execute(sql, params)
        return cursor.fetchall()


def _credited(item: str) -> tuple[str, str, str]:
    """A join giving one row per selector of ``item``'s JSON list of selectors: the SQL to add
    after the FROM item ``item``, the selector's name, and its position in the list (from 1)."""
    if reading().vendor == "postgresql":
        return (
            f"CROSS JOIN jsonb_array_elements_text({item}.selectors) WITH ORDINALITY"
            " AS credited(selector, position)",
            "credited.selector",
            "credited.position",
        )
    return (
        f"CROSS JOIN json_each({item}.selectors) AS credited",
        "credited.value",
        "credited.key + 1",
    )


def every_live_judgment() -> QuerySet[Judgment]:
    """The decisive judgments not undone since: those the items' counters count."""
    undone = Judgment.objects.filter(supersedes=OuterRef("pk"))
    return Judgment.objects.filter(~Exists(undone), answer__in=list(ANSWER_SLOT))


def item_answers(judgments: QuerySet[Judgment]) -> QuerySet:
    """Per judged item (``item_id``), how many of ``judgments`` gave each answer (``c0``,
    ``c1``, ``c2``, in the order of its kind's answers)."""
    slots = [Q(answer__in=answers) for answers in zip(*KIND_ANSWERS.values(), strict=True)]
    return (
        judgments.filter(answer__in=list(ANSWER_SLOT))
        .values("item_id")
        .annotate(**{f"c{k}": Count("pk", filter=slot) for k, slot in enumerate(slots)})
    )


def _judged(judgments: QuerySet[Judgment] | None, items: QuerySet) -> tuple[str, list]:
    """``WITH judged AS (…)``: a row per judged item of ``items`` (a ``values`` queryset with
    ``id``), with its columns and the number of each answer (``c0``, ``c1``, ``c2``) among
    ``judgments`` — or, for None, among every live judgment: its own counters."""
    if judgments is None:
        counted = items.filter(judged__gt=0).annotate(
            c0=F("answers_0"), c1=F("answers_1"), c2=F("answers_2")
        )
        return _with(judged=counted)
    head, params = _with(answers=item_answers(judgments), items=items)
    joined = "SELECT i.*, a.c0, a.c1, a.c2 FROM answers a JOIN items i ON i.id = a.item_id"
    return f"{head},\njudged AS ({joined})", params


def credited_items(items: QuerySet[Item]) -> Counter:
    """Selector → how many of ``items`` credit it."""
    sql, params = _sql(items.values("selectors"))
    join, name, _ = _credited("i")
    rows = _query(f"SELECT {name}, COUNT(*) FROM ({sql}) AS i {join} GROUP BY 1", params)
    return Counter(dict(rows))


def selector_grades(
    judgments: QuerySet[Judgment] | None, items: QuerySet[Item], selectors: Sequence[str]
) -> list[tuple[tuple[int | None, ...], int]]:
    """The graded clusters counted by their grades: (grade rank of each of ``selectors``' pick
    in the cluster, None where not graded) → how many (campaign, cluster)s were graded so.
    ``judgments``: those counted, None for every live one (as in every function here).

    Every table of grades per selector, and every paired comparison of two, adds these up."""
    head, params = _judged(judgments, items.values("id", "campaign_id", "cluster_id", "selectors"))
    join, name, _ = _credited("i")
    columns = ", ".join(
        f"MAX(grade) FILTER (WHERE selector = %s) AS g{k}" for k in range(len(selectors))
    )
    grouped = ", ".join(f"g{k}" for k in range(len(selectors)))
    grade = GRADE.format(t="i")
    sql = f"""{head}
        SELECT {grouped}, COUNT(*) FROM (
            SELECT {columns} FROM (
                SELECT i.campaign_id, i.cluster_id, {name} AS selector, {grade} AS grade
                  FROM judged i {join}
            ) AS picks GROUP BY campaign_id, cluster_id
        ) AS clusters GROUP BY {grouped}"""
    rows = _query(sql, params + list(selectors))
    return [(tuple(row[:-1]), row[-1]) for row in rows]


def cluster_usable(
    items: QuerySet[Item], selectors: Sequence[str]
) -> list[tuple[int, bool, tuple[int | None, ...], int]]:
    """The clusters of grade ``items`` counted by their profile: (how many items, whether
    every one is judged, whether each of ``selectors``' pick is usable: 1, 0, or None when not
    judged or not picked) → how many clusters; from the items' counters."""
    counted = items.values("cluster_id", "selectors", "judged").annotate(
        item=F("id"), c0=F("answers_0"), c1=F("answers_1"), c2=F("answers_2")
    )
    head, params = _with(items=counted)
    join, name, _ = _credited("i")
    usable = f"CASE WHEN i.judged = 0 THEN NULL WHEN {GRADE.format(t='i')} >= 1 THEN 1 ELSE 0 END"
    columns = ", ".join(
        f"MAX(usable) FILTER (WHERE selector = %s) AS u{k}" for k in range(len(selectors))
    )
    grouped = ", ".join(f"u{k}" for k in range(len(selectors)))
    sql = f"""{head}
        SELECT n, every_judged, {grouped}, COUNT(*) FROM (
            SELECT COUNT(DISTINCT item) AS n,
                   MIN(CASE WHEN judged > 0 THEN 1 ELSE 0 END) AS every_judged, {columns}
              FROM (SELECT i.cluster_id, i.item, i.judged, {name} AS selector,
                           {usable} AS usable FROM items i {join}) AS credited_items
             GROUP BY cluster_id
        ) AS clusters GROUP BY n, every_judged, {grouped}"""
    return [
        (row[0], bool(row[1]), tuple(row[2:-1]), row[-1])
        for row in _query(sql, params + list(selectors))
    ]


def ab_outcomes(
    judgments: QuerySet[Judgment] | None, items: QuerySet[Item]
) -> dict[tuple[tuple[str, str], str, str], int]:
    """A/B items counted per (selector pair (A, B), title, outcome: ``a``, ``b`` or ``equal``)."""
    head, params = _judged(
        judgments, items.values("id", "selectors", title=F("cluster__title__name"))
    )
    sql = f"""{head}
        SELECT i.selectors, i.title, {OUTCOME.format(t="i")} AS outcome, COUNT(*)
          FROM judged i GROUP BY 1, 2, 3"""
    return {
        (tuple(_json(selectors)), title, outcome): count
        for selectors, title, outcome, count in _query(sql, params)
    }


def _json(value):
    """A JSON column as read by a plain cursor: text on either database."""
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Agreement:
    """``units``: per kind, the items judged two or more times counted by their (c0, c1, c2);
    ``annotators``: per (kind, annotator), (judgments compared with the majority of the other
    judgments of their item, how many agreed with it)."""

    units: dict[str, Counter]
    annotators: dict[tuple[str, str], tuple[int, int]]


def agreement_counts(judgments: QuerySet[Judgment] | None, items: QuerySet[Item]) -> Agreement:
    """For each judgment of an item judged two or more times, the others' majority is the
    answer given strictly more often than every other by the item's other judgments; a judgment
    whose others tie at the top is not compared. Each judgment is compared with its item's
    counts less its own answer."""
    head, params = _judged(judgments, items.values("id", kind=F("campaign__kind")))
    live, more = _sql(
        (every_live_judgment() if judgments is None else judgments).values(
            "item_id", "annotator_id", "answer"
        )
    )
    category = " ".join(f"WHEN '{answer}' THEN {k}" for answer, k in ANSWER_SLOT.items())
    others = ", ".join(
        f"i.c{k} - CASE WHEN category = {k} THEN 1 ELSE 0 END AS o{k}" for k in range(3)
    )
    agrees = " ".join(
        f"WHEN o{k} > o{(k + 1) % 3} AND o{k} > o{(k + 2) % 3} "
        f"THEN CASE WHEN category = {k} THEN 1 ELSE 0 END"
        for k in range(3)
    )
    several = "i.c0 + i.c1 + i.c2 >= 2"
    users = get_user_model()._meta.db_table
    # The judgments are first counted per (kind, annotator, their answer, their item's counts):
    # a few thousand groups, on which the comparisons are made. The judgments not compared
    # (``agrees`` NULL) are left out here rather than by a WHERE, which the planner would push
    # below the grouping and evaluate on every judgment.
    sql = f"""{head},
        compared AS ({live}),
        votes AS (
            SELECT kind, annotator_id, category, {others}, n FROM (
                SELECT i.kind, j.annotator_id, CASE j.answer {category} END AS category,
                       i.c0, i.c1, i.c2, COUNT(*) AS n
                  FROM compared j JOIN judged i ON i.id = j.item_id WHERE {several}
                 GROUP BY 1, 2, 3, 4, 5, 6
            ) AS i
        )
        SELECT i.kind, NULL, i.c0, i.c1, i.c2, COUNT(*) FROM judged i
         WHERE {several} GROUP BY i.kind, i.c0, i.c1, i.c2
        UNION ALL
        SELECT v.kind, u.username, NULL, NULL, v.agrees, CAST(SUM(v.n) AS BIGINT) FROM (
            SELECT kind, annotator_id, n, CASE {agrees} END AS agrees FROM votes
        ) AS v JOIN {users} u ON u.id = v.annotator_id
         GROUP BY v.kind, u.username, v.agrees"""
    units: dict[str, Counter] = defaultdict(Counter)
    annotators: dict[tuple[str, str], tuple[int, int]] = {}
    for kind, username, c0, c1, c2_or_agrees, count in _query(sql, params + more):
        if username is None:
            units[kind][(c0, c1, c2_or_agrees)] += count
        elif c2_or_agrees is not None:
            compared, agreed = annotators.get((kind, username), (0, 0))
            annotators[(kind, username)] = (compared + count, agreed + count * c2_or_agrees)
    return Agreement(dict(units), annotators)


# A bin of a slice: (slice key, SQL of the binned value of an item of ``i``, SQL of the label
# of its bin from that value ``v``, the label's parameters).
BinSql = tuple[str, str, str, list]


def _branches(bins: Sequence[BinSql], source: str, carried: str) -> tuple[list[str], list]:
    """One SELECT per slice counting the rows of ``source`` per ``carried`` columns and bin."""
    branches, params = [], []
    for key, value, label, label_params in bins:
        branches.append(
            f"SELECT %s, {carried}, bin, COUNT(*) FROM ("
            f"SELECT {carried}, {label} AS bin FROM ("
            f"SELECT {carried}, {value} AS v FROM {source} i) AS measured) AS binned "
            f"GROUP BY {carried}, bin"
        )
        params += [key, *label_params]
    return branches, params


def grade_bins(
    judgments: QuerySet[Judgment] | None, items: QuerySet, bins: Sequence[BinSql]
) -> list[tuple[str, str, str, int, int]]:
    """Graded picks counted per (slice, selector, bin, grade rank). ``items``: values of the
    grade items with ``id``, ``selectors`` and the columns the bins read."""
    if not bins:
        return []
    head, params = _judged(judgments, items)
    join, name, _ = _credited("i")
    grade = GRADE.format(t="i")
    branches, more = _branches(bins, "credited", "selector, grade")
    sql = f"""{head},
        credited AS (
            SELECT i.*, {name} AS selector, {grade} AS grade FROM judged i {join}
        )
        """ + "\nUNION ALL\n".join(branches)
    return [
        (key, selector, label, g, n) for key, selector, g, label, n in _query(sql, params + more)
    ]


def ab_bins(
    judgments: QuerySet[Judgment] | None, items: QuerySet, bins: Sequence[BinSql]
) -> list[tuple[str, tuple[str, str], str, str, int]]:
    """A/B items counted per (slice, selector pair, bin, outcome). ``items``: values of the A/B
    items with ``id``, ``selectors`` and the columns the bins read."""
    if not bins:
        return []
    head, params = _judged(judgments, items)
    outcome = OUTCOME.format(t="i")
    branches, more = _branches(bins, "outcomes", "selectors, outcome")
    sql = f"""{head},
        outcomes AS (SELECT i.*, {outcome} AS outcome FROM judged i)
        """ + "\nUNION ALL\n".join(branches)
    return [
        (key, tuple(_json(pair)), label, result, n)
        for key, pair, result, label, n in _query(sql, params + more)
    ]


@dataclass(frozen=True)
class MedianCell:
    """The median of ``n`` values and the distribution-free 95 % interval around it (NaN when
    there are no values)."""

    median: float
    low: float
    high: float
    n: int


# The order statistics the database returns around the middle of n values: the middle ± this
# many √n (+ 2). The interval's bounds are ± 0.98 √n (+ 1) away: always inside.
SPREAD = 1.3

# Sorting every value of every feature of a million faces takes seconds, yet the order
# statistics wanted lie within a few √n ranks of the middle. So a first statement sorts a
# sample of SAMPLE of the rows and takes from it, per group and feature, values that bracket
# those ranks with MARGINS standard deviations of a sample rank to spare (:func:`brackets`); a
# second counts the values below the narrow bracket and sorts only those within it
# (:func:`_windowed`), which is most of its time. A bracket that misses is seen: at 4 standard
# deviations one end in 30,000 does, so about one Table 3 in 250 counts a source again through
# the wide brackets (8 standard deviations: one end in 10¹⁵), and should those miss too (or
# the rows have changed in between) sorts all its values. The result is exact either way.
# Parallel workers sharing Table 3's scans of the faces (each reads its share of the rows).
WORKERS = 2
SAMPLE_EVERY = 50
SAMPLE = 1 / SAMPLE_EVERY
MARGINS = (4.0, 8.0)
DATASET = "Dataset"

# Per group, per feature, the values (low, high) a bracket spans; None: unbounded on that side.
Brackets = dict[str, dict[str, tuple[float | None, float | None]]]


def _middle_ranks(n: str) -> tuple[str, str]:
    """SQL of the first and last rank (from 1) of the values returned around the middle of
    ``n`` values (:data:`SPREAD`)."""
    spread = f"(CAST(CEIL({SPREAD} * SQRT({n})) AS INTEGER) + 2)"
    return f"GREATEST(1, ({n} + 1) / 2 - {spread})", f"LEAST({n}, ({n} + 2) / 2 + {spread})"


def _sorted(v: str) -> str:
    """SQL of the array of the column ``v``'s values in order, NULLs left out."""
    return f"(ARRAY_AGG({v} ORDER BY {v}) FILTER (WHERE {v} IS NOT NULL))"


def _values(features: Sequence[tuple[str, str]]) -> str:
    quote = reading().ops.quote_name
    return ", ".join(f"{sql} AS {quote(name)}" for name, sql in features)


def _middles(source: str, params: list, features: Sequence[tuple[str, str]], group: str | None):
    """Per group of ``source`` (rows of ``grp`` and the features' columns; ``group``: the one
    group it holds, None to group by ``grp``), the number of rows, and per feature its number of
    values, the rank of the first value returned, and the sorted values around the middle
    (:data:`SPREAD`). One pass, one sort per group and feature; PostgreSQL."""
    quote = reading().ops.quote_name
    columns = []
    for name, _ in features:
        v, n = quote(name), f"COUNT({quote(name)})"
        first, last = _middle_ranks(n)
        columns += [
            n,
            first,
            f"{_sorted(v)}[{first}:{last}]",
        ]
    if group is None:
        rows = f"(SELECT p.grp, {_values(features)} FROM ({source}) AS p) AS v"
        return _query(
            f"SELECT grp, COUNT(*), {', '.join(columns)} FROM {rows} GROUP BY grp", params
        )
    rows = f"(SELECT {_values(features)} FROM ({source}) AS p) AS v"
    return _query(f"SELECT %s, COUNT(*), {', '.join(columns)} FROM {rows}", [group, *params])


def brackets(sample: str, params: list, features: Sequence[tuple[str, str]]) -> list[Brackets]:
    """Per margin of :data:`MARGINS`, per group of ``sample`` (rows of ``grp`` and the features'
    columns: a sample of :data:`SAMPLE` of a source's rows, each row in or out on its own) and
    feature, two of its values that bracket the ranks :func:`_middles` would return from the
    whole source. Of the m values sampled, the number below the middle of the whole varies by
    √m / 2 (one standard deviation: each half of the source is sampled on its own); the bracket
    reaches the margin's number of those beyond the middle ranks on each side. None where the
    sample is too small to tell; PostgreSQL. The values are sorted once for every margin (the
    same aggregate, written again, is computed once)."""
    quote = reading().ops.quote_name
    columns = []
    for margin in MARGINS:
        for name, _ in features:
            v, m = quote(name), f"COUNT({quote(name)})"
            reach = (
                f"CAST(CEIL({margin} * SQRT({m}) / 2 + {SPREAD} * SQRT({m} * {SAMPLE}) + 3)"
                " AS INTEGER)"
            )
            # Out of the array's bounds, a subscript gives NULL: unbounded on that side.
            columns += [f"{_sorted(v)}[{m} / 2 - {reach}]", f"{_sorted(v)}[{m} / 2 + 1 + {reach}]"]
    rows = f"(SELECT p.grp, {_values(features)} FROM ({sample}) AS p) AS v"
    found = _query(
        f"SELECT grp, {', '.join(columns)} FROM {rows} GROUP BY grp", params, workers=WORKERS
    )
    width = 2 * len(features)  # each margin's (low, high) per feature, in turn
    result: list[Brackets] = [{} for _ in MARGINS]
    for grp, *ends in found:
        for i, bracketed in enumerate(result):
            own = ends[i * width : (i + 1) * width]
            bracketed[grp] = {
                name: (own[2 * k], own[2 * k + 1]) for k, (name, _) in enumerate(features)
            }
    return result


def _windowed(
    source: str,
    params: list,
    features: Sequence[tuple[str, str]],
    group: str | None,
    bounds: Brackets,
):
    """What :func:`_middles` returns, from the values within ``bounds`` only: per group and
    feature, the values below the bracket are counted and those within it collected, in
    parallel workers, then sorted. None when a bracket does not hold the ranks wanted."""
    quote = reading().ops.quote_name
    inner, outer = [], []
    for k, (name, _) in enumerate(features):
        v, n, below, kept = quote(name), f"n{k}", f"below{k}", f"kept{k}"
        inner += [
            f"COUNT({v}) AS {n}",
            f"COUNT(*) FILTER (WHERE {v} < b.low{k}) AS {below}",
            f"float_values({v}) FILTER (WHERE {v} >= COALESCE(b.low{k}, {v})"
            f" AND {v} <= COALESCE(b.high{k}, {v})) AS {kept}",
        ]
        first, last = _middle_ranks(n)
        outer += [
            n,
            first,
            last,
            below,
            f"COALESCE(CARDINALITY({kept}), 0)",
            f"(SELECT ARRAY_AGG(x ORDER BY x) FROM UNNEST({kept}) AS x)"
            f"[{first} - {below}:{last} - {below}]",
        ]
    ends = ", ".join(f"low{k}, high{k}" for k in range(len(features)))
    typed = ", ".join(["CAST(%s AS DOUBLE PRECISION)"] * (2 * len(features)))
    grouping = "p.grp, " if group is None else ""
    rows = f"(SELECT {grouping}{_values(features)} FROM ({source}) AS p) AS v"
    if group is None:
        # Groups the sample missed join no bracket: all their values are kept.
        listed = [[grp, *_ends(bounds[grp], features)] for grp in sorted(bounds)]
        listed = listed or [[None] * (1 + 2 * len(features))]
        values = ", ".join([f"(%s, {typed})"] * len(listed))
        sql = (
            f"SELECT grp, size, {', '.join(outer)} FROM (SELECT v.grp, COUNT(*) AS size,"
            f" {', '.join(inner)} FROM {rows} LEFT JOIN (VALUES {values}) AS b(grp, {ends})"
            " ON b.grp = v.grp GROUP BY v.grp) AS g"
        )
        params = params + [end for row in listed for end in row]
    else:
        sql = (
            f"SELECT %s, size, {', '.join(outer)} FROM (SELECT COUNT(*) AS size,"
            f" {', '.join(inner)} FROM {rows} CROSS JOIN (SELECT {typed}) AS b({ends})) AS g"
        )
        params = [group, *params, *_ends(bounds.get(group, {}), features)]
    found = _query(sql, params, workers=WORKERS)
    result = []
    for grp, size, *cells in found:
        row: list = [grp, size]
        for k in range(len(features)):
            n, first, last, below, kept, middle = cells[6 * k : 6 * k + 6]
            if n and not below < first <= last <= below + kept:
                return None
            row += [n, first, middle]
        result.append(row)
    return result


def _ends(
    bounds: dict[str, tuple[float | None, float | None]], features: Sequence[tuple[str, str]]
) -> list:
    """The bracket's ends in the order of ``features``: (None, None) for one it lacks."""
    return [end for name, _ in features for end in bounds.get(name, (None, None))]


def order_statistics(
    groups: Sequence[tuple[str | None, str, list]],
    features: Sequence[tuple[str, str]],
    bounds: Sequence[Brackets] = (),
) -> dict[str, dict[str, MedianCell]]:
    """Per group and feature, the median and its interval (:func:`median_interval_ranks`).
    ``groups``: (the one group a source holds, or None for a column ``grp``; the source's SQL,
    with one column per feature; its parameters). ``features``: (name, SQL of its value from
    the row ``p``, e.g. ``ABS(p.yaw)``). ``bounds``: :func:`brackets` of the sources, narrowest
    first, to sort only the values within the first that holds the ranks wanted. Groups with no
    row are left out.

    PostgreSQL sorts each group's values of each feature (or of its bracket) and returns the
    few around the middle (:func:`_middles`), one statement per source; SQLite, which serves
    small catalogues, sends the values and Python sorts them."""
    if reading().vendor != "postgresql":
        return _order_statistics_here(groups, features)
    result: dict[str, dict[str, MedianCell]] = {}
    for group, source, params in groups:
        found = None
        for bracketed in bounds:
            found = _windowed(source, params, features, group, bracketed)
            if found is not None:
                break
        if found is None:
            found = _middles(source, params, features, group)
        for grp, rows, *cells in found:
            if not rows:
                continue
            result[grp] = {}
            for k, (name, _) in enumerate(features):
                n, first, middle = cells[3 * k : 3 * k + 3]
                ranks = _ranks(n)
                if ranks and not first <= ranks[0] <= ranks[-1] < first + len(middle):
                    raise ValueError(f"ranks {ranks} outside the {len(middle)} from {first}")
                result[grp][name] = _cell([middle[r - first] for r in ranks], n)
    return result


def _ranks(n: int) -> list[int]:
    """The ranks of the low bound, the one or two middle values, and the high bound."""
    if n == 0:
        return []
    low, high = median_interval_ranks(n)
    return [low, (n + 1) // 2, (n + 2) // 2, high]


def _cell(values: Sequence[float] | None, n: int) -> MedianCell:
    """The cell from the order statistics at :func:`_ranks`."""
    if not n or values is None:
        return MedianCell(math.nan, math.nan, math.nan, 0)
    low, middle, upper_middle, high = values
    return MedianCell((middle + upper_middle) / 2, low, high, n)


def _order_statistics_here(
    groups: Sequence[tuple[str | None, str, list]], features: Sequence[tuple[str, str]]
) -> dict[str, dict[str, MedianCell]]:
    quote = reading().ops.quote_name
    values = ", ".join(f"{sql} AS {quote(name)}" for name, sql in features)
    columns: dict[str, list[list[float]]] = {}
    for group, source, params in groups:
        head = "p.grp" if group is None else "%s"
        rows = _query(
            f"SELECT {head}, {values} FROM ({source}) AS p",
            ([] if group is None else [group]) + params,
        )
        for grp, *row in rows:
            by_feature = columns.setdefault(grp, [[] for _ in features])
            for column, value in zip(by_feature, row, strict=True):
                if value is not None:
                    column.append(value)
    result: dict[str, dict[str, MedianCell]] = {}
    for grp, by_feature in columns.items():
        result[grp] = {}
        for (name, _), column in zip(features, by_feature, strict=True):
            column.sort()
            result[grp][name] = _cell([column[r - 1] for r in _ranks(len(column))], len(column))
    return result


@dataclass(frozen=True)
class Picks:
    """SQL of rows (``grp``: a selector, ``face_id``: a face it picked), and its parameters."""

    sql: str
    params: list


def current_picks(selections: QuerySet[Selection]) -> Picks:
    sql, params = _sql(selections.values("selector", "face_id"))
    return Picks(f"SELECT s.selector AS grp, s.face_id FROM ({sql}) AS s", params)


def judged_picks(items: QuerySet[Item]) -> Picks:
    """The faces the items show, each credited to its selectors: a grade item's face to every
    selector it lists; an A/B item's face to the first and ``face_b`` to the second."""
    sql, params = _sql(
        items.values("face_id", "face_b_id", "selectors", campaign_kind=F("campaign__kind"))
    )
    join, name, position = _credited("i")
    face = (
        f"CASE WHEN i.campaign_kind = 'ab' AND {position} = 2 THEN i.face_b_id ELSE i.face_id END"
    )
    return Picks(f"SELECT {name} AS grp, {face} AS face_id FROM ({sql}) AS i {join}", params)


def feature_medians(
    faces: QuerySet[Face], picks: Picks, features: Sequence[tuple[str, bool]]
) -> dict[str, dict[str, MedianCell]]:
    """Per group (``Dataset``: ``faces``; each selector: the faces of ``picks``) and feature,
    its median and interval. ``features``: (name, whether its absolute value is what counts).
    On PostgreSQL, three statements: the :func:`brackets` of a sample of the faces and of their
    picks, then the values within them of each source."""
    quote = reading().ops.quote_name
    names = [name for name, _ in features]
    faces_sql, params = _sql(faces.values("id", *names))
    columns = ", ".join(f"f.{quote(name)}" for name in names)
    picked = (
        f"SELECT p.grp, {columns} FROM ({picks.sql}) AS p "
        f"JOIN {Face._meta.db_table} f ON f.id = p.face_id"
    )
    measured = [
        (name, f"ABS(p.{quote(name)})" if absolute else f"p.{quote(name)}")
        for name, absolute in features
    ]
    sources = [(DATASET, faces_sql, params), (None, picked, picks.params)]
    if reading().vendor != "postgresql":
        return order_statistics(sources, measured)
    # One face in SAMPLE_EVERY by a hash of its id (each in or out on its own, as in a
    # Bernoulli sample; unlike random(), parallel workers may share the scan), and its picks,
    # each looking its face up by its key (fenced by OFFSET 0: the planner cannot tell how few
    # picks the hash keeps, and would join every face otherwise).
    sampled = "hashint8({}) %% " + str(SAMPLE_EVERY) + " = 0"
    sample = (
        f"SELECT %s AS grp, {columns} FROM ({faces_sql}) AS f WHERE {sampled.format('f.id')}"
        f" UNION ALL SELECT p.grp, {columns} FROM ({picks.sql}) AS p CROSS JOIN LATERAL"
        f" (SELECT * FROM {Face._meta.db_table} AS f WHERE f.id = p.face_id OFFSET 0) AS f"
        f" WHERE {sampled.format('p.face_id')}"
    )
    bounds = brackets(sample, [DATASET, *params, *picks.params], measured)
    return order_statistics(sources, measured, bounds)
