"""The app's tables, one module per feature; everything is importable from here."""

from curation.models.catalog import Cluster, Face, Frame, Title, Track, frame_upload_to
from curation.models.clusters import ClusterEdit
from curation.models.imports import ImportJob
from curation.models.review import (
    ANSWER_SLOT,
    KIND_ANSWERS,
    SELECTOR_ITEMS,
    Campaign,
    Item,
    Judgment,
    Lease,
    Participant,
)
from curation.models.scoring import (
    FilterConfig,
    QualityModel,
    QualityTraining,
    ScoringRun,
    Selection,
)

__all__ = [
    "ANSWER_SLOT",
    "KIND_ANSWERS",
    "SELECTOR_ITEMS",
    "Campaign",
    "Cluster",
    "ClusterEdit",
    "Face",
    "FilterConfig",
    "Frame",
    "ImportJob",
    "Item",
    "Judgment",
    "Lease",
    "Participant",
    "QualityModel",
    "QualityTraining",
    "ScoringRun",
    "Selection",
    "Title",
    "Track",
    "frame_upload_to",  # migrations name it here
]
