"""Every judgment as it was recorded, one row each, for admins: streamed, never held whole.

Undo rows and superseded judgments are included (``supersedes`` links them), so the export is
the full, append-only record; the tables use only the live ones. The rows are read in
the order they were recorded (their ids), 10,000 at a time by keyset pagination, and leave as text
1,000 lines at a time, so that memory stays flat whatever the number of judgments, in the
database as here.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from curation.evaluation.tables import Filters, filtered
from curation.models import Judgment

FIELDS = (
    "judgment",
    "campaign",
    "kind",
    "title",
    "cluster",
    "item",
    "annotator",
    "face_a",
    "face_b",
    "selectors",
    "answer",
    "selector_chosen",
    "left_is_a",
    "seconds",
    "created_at",
    "supersedes",
)


def judgment_rows(filters: Filters) -> Iterator[dict]:
    """The judgments the filters select, in the order they were recorded. ``face_a`` is the
    face graded, or shown for selector A; ``selectors`` the ones credited (grade) or A then B;
    ``selector_chosen`` the selector an A/B answer chose."""
    judgments = filtered(Judgment.objects.all(), filters)
    values = judgments.order_by("pk").values_list(
        "pk",
        "item__campaign_id",
        "item__campaign__kind",
        "item__cluster__title__name",
        "item__cluster__label",
        "item_id",
        "annotator__username",
        "item__face_id",
        "item__face_b_id",
        "item__selectors",
        "answer",
        "left_is_a",
        "seconds",
        "created_at",
        "supersedes_id",
    )
    for row in _keyset(values):
        (pk, campaign, kind, title, cluster, item, annotator, face_a, face_b, selectors) = row[:10]
        answer, left_is_a, seconds, created_at, supersedes = row[10:]
        chosen = ""
        # A check item's pair against its own degraded copy credits no selector.
        if kind == "ab" and answer in (Judgment.Answer.A, Judgment.Answer.B) and selectors:
            chosen = selectors[0 if answer == Judgment.Answer.A else 1]
        yield {
            "judgment": pk,
            "campaign": campaign,
            "kind": kind,
            "title": title,
            "cluster": cluster,
            "item": item,
            "annotator": annotator,
            "face_a": face_a,
            "face_b": face_b,
            "selectors": "+".join(selectors),
            "answer": answer,
            "selector_chosen": chosen,
            "left_is_a": left_is_a,
            "seconds": seconds,
            "created_at": created_at.isoformat(),
            "supersedes": supersedes,
        }


def _keyset(values: QuerySet, size: int = 10_000) -> Iterator[tuple]:
    """The rows of ``values`` (ordered by id, the id first), ``size`` at a time: each batch a
    query that starts after the last id seen and walks the primary key, so the database never
    holds the whole result, and no transaction stays open while the rows are sent."""
    last = 0
    while True:
        batch = list(values.filter(pk__gt=last)[:size])
        yield from batch
        if len(batch) < size:
            return
        last = batch[-1][0]


class _Line:
    """A file-like object whose ``write`` returns what it was given, for csv.writer."""

    def write(self, text: str) -> str:
        return text


# Lines sent at a time: one write per 1,000 rows rather than per row.
BATCH = 1000


def _batched(lines: Iterator[str]) -> Iterator[str]:
    while batch := "".join(itertools.islice(lines, BATCH)):
        yield batch


def csv_lines(rows: Iterator[dict]) -> Iterator[str]:
    writer = csv.DictWriter(_Line(), fieldnames=FIELDS)
    yield writer.writeheader()
    yield from _batched(writer.writerow(row) for row in rows)


def jsonl_lines(rows: Iterator[dict]) -> Iterator[str]:
    yield from _batched(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
