"""People's judgments as labels on faces: what the tuner scores configs against and what the
learned selector trains on.

A grade judgment labels its item's face; an A/B judgment says which of two faces of one cluster
is better (or that they are equal). Check items (gold and repeats) judge the annotators, not the
faces, and are left out, as are judgments the filters exclude.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

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


def face_labels(filters: Filters | None = None) -> FaceLabels:
    """The labels of every live judgment the filters select."""
    filters = filters or Filters()
    ranks: dict[int, list[int]] = defaultdict(list)
    votes: dict[tuple[int, int, int], Counter] = defaultdict(Counter)
    labels = FaceLabels()
    campaigns: set[int] = set()
    rows = counted_judgments(filters).values_list(
        "item__campaign_id",
        "item__campaign__kind",
        "item__cluster_id",
        "item__face_id",
        "item__face_b_id",
        "answer",
    )
    for campaign, kind, cluster, face, face_b, answer in rows.iterator(chunk_size=5000):
        campaigns.add(campaign)
        labels.clusters[face] = cluster
        if kind == Campaign.Kind.GRADE:
            ranks[face].append(GRADE_RANK[answer])
            continue
        labels.clusters[face_b] = cluster
        votes[(cluster, face, face_b)][answer] += 1
    labels.grades = {face: statistics.median_low(values) for face, values in ranks.items()}
    for (cluster, face_a, face_b), counter in votes.items():
        margin = counter[Judgment.Answer.A] - counter[Judgment.Answer.B]
        if margin:
            better, worse = (face_a, face_b) if margin > 0 else (face_b, face_a)
            labels.preferences.append(Preference(cluster, better, worse, abs(margin)))
    labels.campaigns = sorted(campaigns)
    return labels
