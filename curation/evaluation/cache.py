"""The evaluation's results served from the Django cache (Redis with CACHE_URL, else per
process), so that the dashboard, its downloads and the API answer at once while nothing they
count has changed.

Each result is kept under what was asked (filters, exclusion threshold, slices) with the
version of the data it was computed from (:func:`curation.evaluation.versions.version`): a new
or undone judgment, a campaign made or a title scored make it stale. Table 3 counts no judgment
and is versioned without them, so it is computed again only when picks or items change.

A stale result is computed again before it is returned, except on the dashboard: over a million
judgments the tables take seconds, and while annotators work every load would find them stale.
The dashboard shows the last result at once, says how old it is, and computes the fresh one
after its response has gone out (:class:`Refresh`); the page then offers to reload. Downloads
and the API always count everything up to now. A result older than ``FRESH_SECONDS`` is stale
whatever the versions say, which bounds how long anything they do not see (a title deleted, an
annotator renamed) can show; it is kept ``KEEP_SECONDS``, so that a dashboard nobody looked at
for a while still opens at once.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.utils import timezone

from curation.evaluation.checks import checks_table, exclude_unreliable
from curation.evaluation.slices import Slicer, slice_tables
from curation.evaluation.tables import Filters, Table, agreement, table1, table2, table3
from curation.evaluation.versions import version
from curation.replicas import replica_reads

FRESH_SECONDS = 15 * 60
KEEP_SECONDS = 7 * 24 * 3600
# How long one refresh may hold its key before another process may start the same one.
REFRESH_SECONDS = 10 * 60

T = TypeVar("T")


@dataclass(frozen=True)
class Kept:
    """A result, the version of the data it counts, and when it was computed."""

    value: Any
    version: tuple
    computed_at: datetime


@dataclass
class Refresh:
    """What one dashboard load showed stale: the oldest result's time, at most how many
    judgments were recorded since it, and the computations to run once the response is out."""

    oldest: datetime | None = None
    answers_since: int = 0
    pending: list[tuple[str, tuple, Callable[[], Any]]] = field(default_factory=list)

    def stale(
        self, key: str, kept: Kept, now: tuple, compute: Callable[[], Any], *, judgments: bool
    ) -> None:
        if self.oldest is None or kept.computed_at < self.oldest:
            self.oldest = kept.computed_at
        if judgments:  # the versions end with the newest judgment's id: gaps make this a bound
            self.answers_since = max(self.answers_since, (now[-1] or 0) - (kept.version[-1] or 0))
        self.pending.append((key, now, compute))


# The refresh of the request being served (the dashboard's), run when its response is closed.
_refresh: contextvars.ContextVar[Refresh | None] = contextvars.ContextVar(
    "evaluation_refresh", default=None
)


def result_key(name: str, asked: object) -> str:
    """Where the result ``name`` for ``asked`` is kept, whatever its version."""
    material = json.dumps([name, asked], sort_keys=True, default=str)
    return f"evaluation:{name}:{hashlib.sha256(material.encode()).hexdigest()}"


def _compute(key: str, now: tuple, compute: Callable[[], T]) -> T:
    value = compute()
    cache.set(key, Kept(value, now, timezone.now()), KEEP_SECONDS)
    return value


def _expired(kept: Kept) -> bool:
    return (timezone.now() - kept.computed_at).total_seconds() > FRESH_SECONDS


def cached(name: str, asked: object, compute: Callable[[], T], *, judgments: bool = True) -> T:
    """``compute()``'s result for ``asked`` at the current version: from the cache, or made and
    kept there; on the dashboard (:func:`showing_stale`), the last result even if stale."""
    key, now = result_key(name, asked), version(judgments=judgments)
    kept = cache.get(key)
    if kept is not None and kept.version == now and not _expired(kept):
        return kept.value
    refresh = _refresh.get()
    if kept is not None and refresh is not None:
        refresh.stale(key, kept, now, compute, judgments=judgments)
        return kept.value
    return _compute(key, now, compute)


def showing_stale() -> Refresh:
    """Let this request's :func:`cached` calls return stale results, and compute fresh ones
    after its response has gone out. Returns what was stale, once the results are read."""
    refresh = Refresh()
    _refresh.set(refresh)
    return refresh


def refresh_after_response(**_) -> None:
    """Compute the results the response showed stale, one process at a time per result. Runs
    when the response is closed: the page has been sent."""
    refresh = _refresh.get()
    if refresh is None:
        return
    _refresh.set(None)
    for key, now, compute in refresh.pending:
        if cache.add(f"{key}:refreshing", True, REFRESH_SECONDS):
            try:
                with replica_reads():  # where the dashboard reads, when there is a replica
                    _compute(key, now, compute)
            finally:
                cache.delete(f"{key}:refreshing")


def _forget(**_) -> None:
    """A request starts with nothing to refresh, whatever an unclosed one left."""
    _refresh.set(None)


request_started.connect(_forget, dispatch_uid="evaluation-refresh-reset")
request_finished.connect(refresh_after_response, dispatch_uid="evaluation-refresh")


def computed_since(names: Sequence[tuple[str, object]], shown: datetime) -> bool:
    """Whether any of the results (name, what was asked) was computed after ``shown``."""
    for name, asked in names:
        kept = cache.get(result_key(name, asked))
        if kept is not None and kept.computed_at > shown:
            return True
    return False


def cached_filters(filters: Filters, threshold: float | None) -> Filters:
    """The filters with the annotators below ``threshold`` on the checks excluded."""
    if threshold is None:
        return filters
    return cached(
        "excluded", [asdict(filters), threshold], lambda: exclude_unreliable(filters, threshold)
    )


def tables_asked(filters: Filters) -> tuple[str, object]:
    """The name and question of the judgments' tables: what the dashboard waits on."""
    return "tables", asdict(filters)


def cached_tables(filters: Filters) -> list[Table]:
    """Tables 1, 1b, 2, 3 and agreement (``all_tables``)."""
    judged = cached(
        *tables_asked(filters), lambda: [*table1(filters), table2(filters), agreement(filters)]
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
