"""Every judgment as it was recorded, one row each, for admins: streamed, never held whole.

Undo rows and superseded judgments are included (``supersedes`` links them), so the export is
the full, append-only record; the tables use only the live ones.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

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
    """The judgments the filters select, oldest first. ``face_a`` is the face graded, or shown
    for selector A; ``selectors`` the ones credited (grade) or A then B; ``selector_chosen`` the
    selector an A/B answer chose."""
    judgments = filtered(Judgment.objects.all(), filters)
    values = judgments.order_by("created_at", "pk").values_list(
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
    for row in values.iterator(chunk_size=2000):
        (pk, campaign, kind, title, cluster, item, annotator, face_a, face_b, selectors) = row[:10]
        answer, left_is_a, seconds, created_at, supersedes = row[10:]
        chosen = ""
        if kind == "ab" and answer in (Judgment.Answer.A, Judgment.Answer.B):
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


class _Line:
    """A file-like object whose ``write`` returns what it was given, for csv.writer."""

    def write(self, text: str) -> str:
        return text


def csv_lines(rows: Iterator[dict]) -> Iterator[str]:
    writer = csv.DictWriter(_Line(), fieldnames=FIELDS)
    yield writer.writeheader()
    for row in rows:
        yield writer.writerow(row)


def jsonl_lines(rows: Iterator[dict]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"
