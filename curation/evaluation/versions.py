"""Which judgments a cached evaluation counted: a counter in the cache that every recorded or
undone judgment moves on, and stamps read from the database for what the queue does not see.

Kept apart from the tables so that the review queue can call :func:`judgments_changed` without
importing them.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import connections, router, transaction

from curation.models import Item, Judgment, Selection

COUNTER = "evaluation:judgments-version"


def judgments_changed() -> None:
    """Called in the transaction that records or undoes a judgment: once it commits, every
    cached result that counts judgments is stale. After the commit, so that a dashboard read
    in between cannot cache the tables without it under the new version; a cache that is down
    costs the answer nothing (``robust``)."""
    transaction.on_commit(_advance, robust=True)


def _advance() -> None:
    cache.add(COUNTER, 0, timeout=None)
    try:
        cache.incr(COUNTER)
    except ValueError:  # evicted between the two calls
        cache.set(COUNTER, 1, timeout=None)


def version(*, judgments: bool) -> tuple:
    """What a cached result depends on: the newest item and pick (a campaign made, a title
    scored), and with ``judgments`` the counter and the newest judgment (one written other than
    through the queue, a restore, a script). One query of indexed lookups."""
    tables = [Item, Selection, *([Judgment] if judgments else [])]
    maxima = ", ".join(f"(SELECT MAX(id) FROM {model._meta.db_table})" for model in tables)
    with connections[router.db_for_read(Judgment)].cursor() as cursor:  # where it is read
        cursor.execute(f"SELECT {maxima}")
        stamp = cursor.fetchone()
    return (cache.get(COUNTER, 0), *stamp) if judgments else tuple(stamp)
