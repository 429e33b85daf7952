"""The work of each step of a scoring run: load rows, call ``scoring``, save rows.

Every function here is idempotent, so a task that a killed worker leaves half done can simply
run again: features are recomputed for the faces of a chunk, identity for whole clusters,
selections replace the old rows in one transaction, and crops skip the selections that already
have one. (Quality comes from ``quality_models``.)
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from curation.imports.images import decode_image
from curation.models import Cluster, Face, ScoringRun, Selection
from curation.scoring_runs.extractors import face_embedder, feature_extractor
from curation.scoring_runs.filter_configs import filter_stages, fiqa_guards
from scoring.crop import CropParams, HeadshotCrop, headshot_box, render_headshot
from scoring.features import FEATURE_NAMES, FeatureTable
from scoring.identity import embedding_bytes, embedding_rows, identity_scores
from scoring.selectors import (
    candidate_priority,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_regression,
)

# What the features step writes; identity is written per cluster by ``identity_compute``.
MEASURED_FIELDS = tuple(name for name in FEATURE_NAMES if name != "identity")


def frame_pixels(face: Face) -> np.ndarray:
    with face.frame.image.open("rb") as handle:
        data = handle.read()
    return decode_image(data, max_pixels=settings.IMPORT_MAX_IMAGE_PIXELS).pixels


def features_compute(*, run: ScoringRun, face_ids: Sequence[int]) -> int:
    """Compute and store the features of these faces, one decode per frame; returns the count."""
    extractor = feature_extractor()
    faces = list(Face.objects.filter(pk__in=face_ids).select_related("frame").order_by("frame"))
    by_frame: dict[int, list[Face]] = defaultdict(list)
    for face in faces:
        by_frame[face.frame_id].append(face)
    for group in by_frame.values():
        image = frame_pixels(group[0])
        boxes = np.array([face.box for face in group], dtype=np.float64)
        landmarks = np.array([face.landmarks for face in group], dtype=np.float64)
        table = extractor.extract(image, boxes, landmarks)
        for row, face in enumerate(group):
            for name in MEASURED_FIELDS:
                value = float(table.column(name)[row])
                setattr(face, name, value if math.isfinite(value) else None)
            if face.sharpness is not None:
                face.sharpness = min(max(face.sharpness, 0.0), 1.0)
            face.identity = None  # measured per cluster once every face has its features
            face.embedding = None
            face.feature_version = extractor.version
            face.features_run = run
    Face.objects.bulk_update(
        faces, [*MEASURED_FIELDS, "identity", "embedding", "feature_version", "features_run"]
    )
    return len(faces)


def identity_compute(*, run: ScoringRun, cluster_ids: Sequence[int]) -> int:
    """Embed each cluster's candidate faces and store their ``identity`` and embedding; the
    other faces keep none. Marks each cluster done for ``run``; returns the faces embedded."""
    embedder = face_embedder()
    embedded = 0
    for cluster in Cluster.objects.filter(pk__in=cluster_ids, title=run.title):
        faces = list(cluster.faces.select_related("frame").order_by("pk"))
        rows: np.ndarray | list[int] = (
            embedding_rows(candidate_priority(feature_table(faces))) if faces else []
        )
        chosen = [faces[row] for row in rows]
        by_frame: dict[int, list[Face]] = defaultdict(list)
        for face in chosen:
            by_frame[face.frame_id].append(face)
        chips, order = [], []  # aligned chips from each frame, embedded in batches after
        for group in by_frame.values():
            boxes = np.array([face.box for face in group], dtype=np.float64)
            chips.append(embedder.chips(frame_pixels(group[0]), boxes))
            order += [face.pk for face in group]
        embedded_chips = embedder.embed_chips(np.concatenate(chips)) if chips else []
        vectors = dict(zip(order, embedded_chips, strict=True))
        scores = identity_scores(np.array([vectors[face.pk] for face in chosen]).reshape(-1, 128))
        chosen_ids = {face.pk for face in chosen}
        for face in faces:
            face.identity, face.embedding = None, None
        for face, score in zip(chosen, scores, strict=True):
            face.identity = float(score) if math.isfinite(score) else None
            face.embedding = embedding_bytes(vectors[face.pk])
        with transaction.atomic():
            Face.objects.bulk_update(faces, ["identity", "embedding"], batch_size=500)
            Cluster.objects.filter(pk=cluster.pk).update(identity_run=run)
        embedded += len(chosen_ids)
    return embedded


def feature_table(faces: Sequence[Face]) -> FeatureTable:
    """The faces' stored features; an unmeasured one (NULL) is NaN."""
    return FeatureTable(
        **{
            name: np.array([getattr(face, name) for face in faces], dtype=np.float64)
            for name in FEATURE_NAMES
        }
    )


def selections_replace(*, run: ScoringRun) -> int:
    """Every selector for every cluster; the title's old selections are replaced atomically."""
    filter_version, stages = filter_stages()
    guards = fiqa_guards()
    fiqa_version = "fiqa:guards=" + ("+".join(stage.feature for stage in guards) or "none")
    if run.quality_model is None:
        raise ValueError("the run has no quality model: the quality step assigns one first")
    quality_version = f"regression:v{run.quality_model.version}"
    picks: list[Selection] = []
    faces_by_cluster: dict[int, list[Face]] = defaultdict(list)
    for face in Face.objects.filter(title=run.title).order_by("pk"):
        faces_by_cluster[face.cluster_id].append(face)
    for cluster in Cluster.objects.filter(title=run.title):
        faces = faces_by_cluster.get(cluster.pk)
        if not faces:
            continue
        table = feature_table(faces)
        quality = np.array([face.quality for face in faces], dtype=np.float64)
        filtering = select_filtering(table, stages)
        chosen = {
            Selection.Selector.BASELINE: (select_baseline(table), "baseline:paper", {}),
            Selection.Selector.FIQA: (select_fiqa(table, guards), fiqa_version, {}),
            Selection.Selector.FILTERING: (
                filtering.chosen,
                filter_version,
                {
                    "stages": [
                        {
                            "feature": outcome.stage.feature,
                            "survivors": len(outcome.survivors),
                            "best_face": faces[outcome.best].pk,
                        }
                        for outcome in filtering.stages
                    ]
                },
            ),
            Selection.Selector.REGRESSION: (select_regression(table, quality), quality_version, {}),
        }
        for selector, (row, parameters, details) in chosen.items():
            picks.append(
                Selection(
                    cluster=cluster,
                    selector=selector,
                    parameters=parameters,
                    face=faces[row],
                    run=run,
                    details=details,
                )
            )
    with transaction.atomic():
        Selection.objects.filter(cluster__title=run.title).delete()
        Selection.objects.bulk_create(picks)
    return len(picks)


def crops_make(*, run: ScoringRun, limit: int | None = None) -> int:
    """Headshot crops for the title's selections that have none yet (one file per face, shared
    by the selectors that picked it); returns how many selections got one."""
    pending = list(
        Selection.objects.filter(cluster__title=run.title, crop="")
        .select_related("face__frame", "cluster")
        .order_by("face_id")[:limit]
    )
    params = CropParams()
    done: dict[int, tuple[str, HeadshotCrop]] = {}
    for selection in pending:
        face = selection.face
        if face.pk not in done:
            image = frame_pixels(face)
            crop = headshot_box(
                face.box, np.asarray(face.landmarks), (face.frame.width, face.frame.height), params
            )
            pixels = render_headshot(image, crop, params)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=92)
            folder = Path(face.frame.image.name).parent.parent
            name = default_storage.save(
                f"{folder}/headshots/face-{face.pk}-run-{run.pk}.jpg",
                ContentFile(buffer.getvalue()),
            )
            done[face.pk] = (name, crop)
        name, crop = done[face.pk]
        selection.crop = name
        selection.crop_box = [round(float(v), 1) for v in crop.box]
        selection.crop_fits = bool(crop.fits)
        selection.crop_reasons = list(crop.reasons)
    Selection.objects.bulk_update(pending, ["crop", "crop_box", "crop_fits", "crop_reasons"])
    return len(pending)
