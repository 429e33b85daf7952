"""The app's tables, one module per feature; everything is importable from here."""

from curation.models.catalog import Cluster, Face, Frame, Title, frame_upload_to
from curation.models.imports import ImportJob
from curation.models.review import Campaign, Item, Judgment, Lease
from curation.models.scoring import (
    FilterConfig,
    QualityModel,
    QualityTraining,
    ScoringRun,
    Selection,
)

__all__ = [
    "Campaign",
    "Cluster",
    "Face",
    "FilterConfig",
    "Frame",
    "ImportJob",
    "Item",
    "Judgment",
    "Lease",
    "QualityModel",
    "QualityTraining",
    "ScoringRun",
    "Selection",
    "Title",
    "frame_upload_to",  # migrations name it here
]
