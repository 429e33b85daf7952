"""The work of each step of a scoring run: load rows, call ``scoring``, save rows.

Every function here is idempotent, so a task that a killed worker leaves half done can simply
run again: features are recomputed for the faces of a chunk, identity for whole clusters,
selections replace the old rows in one transaction, and crops skip the selections that already
have one. (Quality comes from ``quality_models``, the learned model from
``learned_models``.)
"""

from __future__ import annotations

import io
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from curation.catalog.frames import frame_pixels, title_folder
from curation.imports.rows import rows_update
from curation.models import Cluster, Face, ScoringRun, Selection
from curation.scoring_runs.extractors import face_embedder, feature_extractor, feature_version
from curation.scoring_runs.filter_configs import filter_stages, fiqa_guards
from curation.scoring_runs.records import learned_model_record
from scoring.crop import CropParams, HeadshotCrop, headshot_box, render_headshot
from scoring.features import FEATURE_NAMES, FeatureTable
from scoring.identity import embedding_bytes, embedding_rows, identity_scores
from scoring.selectors import (
    candidate_priority,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_learned,
    select_regression,
)

if TYPE_CHECKING:
    from curation.scoring_runs.learned_models import LearnedModel

# What the features step writes; identity is written per cluster by ``identity_compute``.
MEASURED_FIELDS = tuple(name for name in FEATURE_NAMES if name != "identity")


def features_compute(*, run: ScoringRun, face_ids: Sequence[int]) -> int:
    """Compute and store the features of these faces, one decode per frame; returns the count.

    Faces measured at import (a video's, while its frame was decoded) by the same extractors
    and by no run yet are taken as they are: the video is not decoded again for them."""
    extractor = feature_extractor()
    chosen = Face.objects.filter(pk__in=face_ids)
    measured = chosen.filter(features_run=None, feature_version=extractor.version)
    taken = measured.update(identity=None, embedding=None, features_run=run)
    faces = list(chosen.exclude(features_run=run).select_related("frame__title").order_by("frame"))
    by_frame: dict[int, list[Face]] = defaultdict(list)
    for face in faces:
        by_frame[face.frame_id].append(face)
    for group in by_frame.values():
        image = frame_pixels(group[0].frame)
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
    rows_update(
        faces, [*MEASURED_FIELDS, "identity", "embedding", "feature_version", "features_run"]
    )
    return taken + len(faces)


def identity_compute(*, run: ScoringRun, cluster_ids: Sequence[int]) -> int:
    """Embed each cluster's candidate faces and store their ``identity`` and embedding; the
    other faces keep none. Marks each cluster done for ``run``; returns the faces embedded."""
    embedder = face_embedder()
    embedded = 0
    for cluster in Cluster.objects.filter(pk__in=cluster_ids, title=run.title):
        faces = list(cluster.faces.select_related("frame__title").order_by("pk"))
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
            chips.append(embedder.chips(frame_pixels(group[0].frame), boxes))
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
            rows_update(faces, ["identity", "embedding"])
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


def run_clusters(run: ScoringRun):
    """The clusters a run scores: the title's, or those it recomputes after a curation."""
    clusters = Cluster.objects.filter(title_id=run.title_id)
    return clusters.filter(pk__in=run.clusters) if run.clusters else clusters


def faces_to_measure(run: ScoringRun):
    """The faces whose features a run computes: every face of the title, or, when it recomputes
    curated clusters, only their faces not measured by the current extractors."""
    faces = Face.objects.filter(cluster__in=run_clusters(run))
    return faces.exclude(feature_version=feature_version()) if run.clusters else faces


def selections_replace(*, run: ScoringRun, learned: LearnedModel | None = None) -> int:
    """Every selector for each of the run's actor clusters, from its faces that are not in the
    background; the old selections of the run's clusters are replaced atomically. Unassigned
    faces and clusters marked as no actor get none. ``learned``: the learned model to pick with
    (the worker passes ``learned_models.learned_model_active``); without one, no learned picks."""
    filter_version, stages = filter_stages()
    guards = fiqa_guards()
    fiqa_version = "fiqa:guards=" + ("+".join(stage.feature for stage in guards) or "none")
    if run.quality_model is None:
        raise ValueError("the run has no quality model: the quality step assigns one first")
    quality_version = f"regression:v{run.quality_model.version}"
    clusters = run_clusters(run)
    candidates = Face.objects.filter(
        cluster__in=clusters.filter(role=Cluster.Role.ACTOR), background=False
    )
    faces = _candidate_faces(candidates)
    learned_scores = _learned_scores(learned, candidates, faces)
    picks: list[Selection] = []
    frozen: dict[str, dict] = {}
    for cluster_id, label in clusters.values_list("pk", "label"):
        start, stop = faces.rows.get(cluster_id, (0, 0))
        if start == stop:
            continue
        ids = faces.ids[start:stop]
        table = FeatureTable.from_matrix(faces.features[start:stop])
        filtering = select_filtering(table, stages)
        chosen: dict[str, tuple[int, str, dict[str, object]]] = {
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
                            "best_face": int(ids[outcome.best]),
                        }
                        for outcome in filtering.stages
                    ]
                },
            ),
            Selection.Selector.REGRESSION: (
                select_regression(table, faces.quality[start:stop]),
                quality_version,
                {},
            ),
        }
        if learned is not None:
            scores = learned_scores[start:stop]
            row = select_learned(table, scores)
            chosen[Selection.Selector.LEARNED] = (
                row,
                f"learned:v{learned.record.version}",
                {"score": round(float(scores[row]), 4)},
            )
        entry = frozen.setdefault(str(cluster_id), {"label": label})
        for selector, (row, parameters, details) in chosen.items():
            face_id = int(ids[row])
            picks.append(
                Selection(
                    cluster_id=cluster_id,
                    selector=selector,
                    parameters=parameters,
                    face_id=face_id,
                    run=run,
                    details=details,
                )
            )
            entry[selector] = {"face": face_id, "details": details}
    record = {key: value for key, value in run.record.items() if key != "learned_model"}
    if learned is not None:
        record["learned_model"] = learned_model_record(learned.record)
    with transaction.atomic():
        Selection.objects.filter(cluster__in=clusters).delete()
        clusters.update(stale=False)
        ScoringRun.objects.filter(pk=run.pk).update(picks=frozen, record=record)
        Selection.objects.bulk_create(picks, batch_size=1000)
    return len(picks)


@dataclass(frozen=True)
class _Candidates:
    """The candidate faces of a run as arrays, grouped by cluster, in id order within one:
    ``ids`` (N,), ``features`` (N, F) in ``FEATURE_NAMES`` order (NaN where NULL), ``quality``
    (N,), and ``rows``: each cluster's (start, stop) in them."""

    ids: np.ndarray
    features: np.ndarray
    quality: np.ndarray
    rows: dict[int, tuple[int, int]]


def _candidate_faces(candidates) -> _Candidates:
    """One query for every candidate's features, straight into arrays: model instances of a
    284,000-face title would take most of the step's time."""
    values = np.array(
        candidates.order_by("cluster_id", "pk").values_list(
            "pk", "cluster_id", "quality", *FEATURE_NAMES
        ),
        dtype=np.float64,  # NULL becomes NaN; ids stay exact below 2**53
    ).reshape(-1, 3 + len(FEATURE_NAMES))
    clusters = values[:, 1].astype(np.int64)
    bounds = np.r_[np.flatnonzero(np.diff(clusters, prepend=-1)), len(values)].tolist()
    return _Candidates(
        ids=values[:, 0].astype(np.int64),
        features=values[:, 3:],
        quality=values[:, 2],
        rows={int(clusters[start]): (start, stop) for start, stop in itertools.pairwise(bounds)},
    )


def _learned_scores(learned: LearnedModel | None, candidates, faces: _Candidates) -> np.ndarray:
    """The learned model's score of every candidate face (aligned with ``faces``), in one pass.
    Where the faces' stored quality comes from the learned model's own weak model, it is used
    as is rather than running that model's forest again."""
    if learned is None or not len(faces.ids):
        return np.empty(0)
    prior_version = f"v{learned.record.params.get('prior', {}).get('version')}"
    stored = not candidates.exclude(quality_version=prior_version).exists()
    return learned.model.predict(
        FeatureTable.from_matrix(faces.features),
        learned.prior,
        feature_version=candidates.order_by("pk").values_list("feature_version", flat=True)[0],
        prior_quality=faces.quality if stored else None,
    )


def crops_make(*, run: ScoringRun, limit: int | None = None) -> int:
    """Headshot crops for the title's selections that have none yet (one file per face, shared
    by the selectors that picked it); returns how many selections got one."""
    pending = list(
        Selection.objects.filter(cluster__title=run.title, crop="")
        .select_related("face__frame__title", "face__title", "cluster")
        .order_by("face_id")[:limit]
    )
    params = CropParams()
    done: dict[int, tuple[str, HeadshotCrop]] = {}
    for selection in pending:
        face = selection.face
        if face.pk not in done:
            image = frame_pixels(face.frame)
            crop = headshot_box(
                face.box, np.asarray(face.landmarks), (face.frame.width, face.frame.height), params
            )
            pixels = render_headshot(image, crop, params)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=92)
            folder = title_folder(face)
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
