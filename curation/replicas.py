"""Reads from a database replica, for the pages that only read much: the evaluation.

With ``DATABASE_REPLICA_URL`` set, the settings add a ``replica`` database, ``ReplicaRouter``
and the ``replica_reads`` middleware: a GET or HEAD under one of ``REPLICA_READ_PATHS`` (the
evaluation's dashboard, downloads and judgment exports, and the tables API by default) reads
from the replica, streamed downloads included. Every write, and every other read, goes to the
primary: an annotator's next item, a judgment and a lease must see what was just written, and a
replica lags its primary by a moment. The evaluation's cache is keyed by versions read the same
way, so a result computed on the replica is never filed under newer data than it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

REPLICA = "replica"
_reading_replica: ContextVar[bool] = ContextVar("reading_replica", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Within, reads go to the replica (writes still go to the primary)."""
    token = _reading_replica.set(True)
    try:
        yield
    finally:
        _reading_replica.reset(token)


class ReplicaRouter:
    """Reads inside ``replica_reads`` from the replica; everything else from the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        return REPLICA if _reading_replica.get() else "default"

    def db_for_write(self, model, **hints) -> str:
        # Explicit: a row read from the replica and saved again must go to the primary.
        return "default"

    def allow_relation(self, first, second, **hints) -> bool:
        return True  # the same rows, whichever copy they were read from

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db != REPLICA


def replica_reads_middleware(get_response: Callable[[HttpRequest], HttpResponseBase]):
    """GETs under ``REPLICA_READ_PATHS`` read from the replica, while the view runs and while a
    streamed response is sent."""
    prefixes = tuple(settings.REPLICA_READ_PATHS)

    def middleware(request: HttpRequest) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD") or not request.path.startswith(prefixes):
            return get_response(request)
        with replica_reads():
            response = get_response(request)
        if isinstance(response, StreamingHttpResponse) and isinstance(
            response.streaming_content, Iterator
        ):  # a WSGI stream (an ASGI one is an async iterator)
            response.streaming_content = _on_replica(response.streaming_content)
        return response

    return middleware


def _on_replica(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, each one made while reading from the replica (a generator runs in its
    consumer's context, so the setting is made and undone around each step)."""
    while True:
        with replica_reads():
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk
