"""Reads for the scoring pages and commands."""

from __future__ import annotations

from collections import defaultdict

from curation.models import Face, Selection, Title
from scoring.features import FEATURE_NAMES


def face_record(face: Face) -> dict:
    return {
        "face": face.pk,
        "cluster": face.cluster.label,
        "source": face.frame.source_name,
        "frame": face.frame.image.name,
        "box": [round(v, 2) for v in face.box],
        "landmarks": face.landmarks,
        "confidence": face.confidence,
        **{name: getattr(face, name) for name in FEATURE_NAMES},
        "quality": face.quality,
        "feature_version": face.feature_version,
        "quality_version": face.quality_version,
    }


def title_selections(title: Title) -> dict:
    """{cluster label: {selector: {face, features, quality, crop, ...}}}, clusters sorted."""
    result: dict[str, dict] = defaultdict(dict)
    selections = (
        Selection.objects.filter(cluster__title=title)
        .select_related("cluster", "face__frame", "face__cluster")
        .order_by("cluster__label", "selector")
    )
    for selection in selections:
        result[selection.cluster.label][selection.selector] = face_record(selection.face) | {
            "parameters": selection.parameters,
            "crop": selection.crop,
            "crop_fits": selection.crop_fits,
            "crop_reasons": selection.crop_reasons,
        }
    return dict(result)


def cluster_rows(title: Title) -> list[dict]:
    """One row per cluster with each selector's pick, for the title page."""
    picks: dict[int, dict[str, Selection]] = defaultdict(dict)
    for selection in Selection.objects.filter(cluster__title=title).select_related("face"):
        picks[selection.cluster_id][selection.selector] = selection
    return [
        {"cluster": cluster, "picks": [picks[cluster.pk].get(s) for s in Selection.Selector]}
        for cluster in title.clusters.all()
    ]
