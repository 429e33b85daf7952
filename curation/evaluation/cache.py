"""The evaluation's results served from the Django cache (Redis with CACHE_URL, else per
process), so that the dashboard, its downloads and the API answer at once while nothing they
count has changed.

An entry's key holds what was asked (filters, exclusion threshold, slices) and the version of
the data it was computed from (:func:`curation.evaluation.versions.version`): a new or undone
judgment, a campaign made or a title scored give new keys, and the entries under the old ones
are left to expire. Table 3 counts no judgment and is keyed without them, so it is computed
again only when picks or items change. Entries expire after ``CACHE_SECONDS`` whatever happens,
which bounds how long anything the versions do not see (a title deleted, an annotator renamed)
can show.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TypeVar

from django.core.cache import cache

from curation.evaluation.checks import checks_table, exclude_unreliable
from curation.evaluation.slices import Slicer, slice_tables
from curation.evaluation.tables import Filters, Table, agreement, table1, table2, table3
from curation.evaluation.versions import version

CACHE_SECONDS = 15 * 60

T = TypeVar("T")


def cached(name: str, asked: object, compute: Callable[[], T], *, judgments: bool = True) -> T:
    """``compute()``'s result for ``asked`` at the current version, from the cache or made and
    kept there."""
    material = json.dumps([name, asked, version(judgments=judgments)], sort_keys=True, default=str)
    key = f"evaluation:{name}:{hashlib.sha256(material.encode()).hexdigest()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def cached_filters(filters: Filters, threshold: float | None) -> Filters:
    """The filters with the annotators below ``threshold`` on the checks excluded."""
    if threshold is None:
        return filters
    return cached(
        "excluded", [asdict(filters), threshold], lambda: exclude_unreliable(filters, threshold)
    )


def cached_tables(filters: Filters) -> list[Table]:
    """Tables 1, 1b, 2, 3 and agreement (``all_tables``)."""
    judged = cached(
        "tables",
        asdict(filters),
        lambda: [*table1(filters), table2(filters), agreement(filters)],
    )
    features = cached(
        "table3", [filters.campaigns, filters.titles], lambda: table3(filters), judgments=False
    )
    grades, tests, ab, agreed = judged
    return [grades, tests, ab, features, agreed]


def cached_slices(filters: Filters, slicers: Sequence[Slicer]) -> list[Table]:
    return cached(
        "slices",
        [asdict(filters), [s.key for s in slicers]],
        lambda: slice_tables(filters, slicers),
    )


def cached_checks(filters: Filters, threshold: float | None) -> Table:
    return cached("checks", [asdict(filters), threshold], lambda: checks_table(filters, threshold))
