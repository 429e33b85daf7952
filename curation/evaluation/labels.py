"""People's judgments as labels on faces: what the tuner scores configs against and what the
learned selector trains on.

A grade judgment labels its item's face; an A/B judgment says which of two faces of one cluster
is better (or that they are equal). Check items (gold and repeats) judge the annotators, not the
faces, and are left out, as are judgments the filters exclude.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, Min, Q

from curation.evaluation.tables import GRADE_RANK, Filters, counted_judgments
from curation.models import Campaign, Judgment


@dataclass(frozen=True)
class Preference:
    """In ``cluster``, ``better`` was judged better than ``worse`` by ``votes`` more answers than
    the other way round (ties are not preferences)."""

    cluster: int
    better: int
    worse: int
    votes: int


@dataclass
class FaceLabels:
    """``grades``: face → the lower median of its grade ranks (0 unidentifiable, 1 usable,
    2 excellent); ``clusters``: face → its cluster, for every face labelled; ``preferences``:
    the A/B items' majority answers; ``campaigns``: the campaigns the labels came from."""

    grades: dict[int, int] = field(default_factory=dict)
    clusters: dict[int, int] = field(default_factory=dict)
    preferences: list[Preference] = field(default_factory=list)
    campaigns: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.grades) + len(self.preferences)


def lower_median(counts: Sequence[int]) -> int:
    """The lower median of ranks counted per rank (``counts[r]`` ranks equal to r)."""
    position, seen = (sum(counts) - 1) // 2, 0
    for rank, count in enumerate(counts):
        seen += count
        if seen > position:
            return rank
    raise ValueError("no ranks")


def face_labels(filters: Filters | None = None) -> FaceLabels:
    """The labels of every live judgment the filters select, counted by the database per face
    (grades) and per pair of faces (A/B); both in the order of their first judgment."""
    filters = filters or Filters()
    labels = FaceLabels()
    first = {"at": Min("created_at"), "first": Min("pk")}
    judged = counted_judgments(filters)
    grades = (
        judged.filter(item__campaign__kind=Campaign.Kind.GRADE)
        .values("item__face_id", "item__cluster_id")
        .annotate(
            **{
                f"c{rank}": Count("pk", filter=Q(answer=answer))
                for answer, rank in GRADE_RANK.items()
            },
            **first,
        )
        .order_by("at", "first")
    )
    for row in grades:
        face = row["item__face_id"]
        labels.clusters[face] = row["item__cluster_id"]
        labels.grades[face] = lower_median([row[f"c{rank}"] for rank in range(3)])
    votes = (
        judged.filter(item__campaign__kind=Campaign.Kind.AB)
        .values("item__cluster_id", "item__face_id", "item__face_b_id")
        .annotate(
            a=Count("pk", filter=Q(answer=Judgment.Answer.A)),
            b=Count("pk", filter=Q(answer=Judgment.Answer.B)),
            **first,
        )
        .order_by("at", "first")
    )
    for row in votes:
        cluster, face_a, face_b = (
            row["item__cluster_id"],
            row["item__face_id"],
            row["item__face_b_id"],
        )
        labels.clusters[face_a] = labels.clusters[face_b] = cluster
        if margin := row["a"] - row["b"]:
            better, worse = (face_a, face_b) if margin > 0 else (face_b, face_a)
            labels.preferences.append(Preference(cluster, better, worse, abs(margin)))
    labels.campaigns = sorted(
        judged.order_by().values_list("item__campaign_id", flat=True).distinct()
    )
    return labels
