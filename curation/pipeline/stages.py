"""The work of each scoring stage: load rows, call ``scoring``, save rows.

Every stage function here is idempotent, so a task that a killed worker leaves half done can
simply run again: features are recomputed for the faces of a chunk, identity for whole clusters,
quality and selections replace the old rows in one transaction, and crops skip the selections
that already have one. (Training a quality model is not a stage: each call makes a new version.)
"""

from __future__ import annotations

import functools
import io
import math
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from PIL import Image

from curation.ingest.images import decode_image
from curation.models import Cluster, Face, FilterConfig, QualityModel, ScoringRun, Selection
from curation.pipeline.extractors import face_embedder, feature_extractor, feature_version
from scoring.crop import CropParams, headshot_box, render_headshot
from scoring.features import FEATURE_NAMES, FeatureTable
from scoring.identity import embedding_bytes, embedding_rows, identity_scores
from scoring.quality import QualityModel as TrainedQualityModel
from scoring.quality import QualityParams, train_quality_model
from scoring.selectors import (
    DEFAULT_STAGES,
    FIQA_GUARDS,
    FilterStage,
    candidate_priority,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_regression,
)

# What the feature stage writes; identity is written per cluster by ``identity_compute``.
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
        rows = embedding_rows(candidate_priority(feature_table(faces))) if faces else []
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


def quality_model_active(*, run: ScoringRun) -> tuple[QualityModel, TrainedQualityModel]:
    """The active quality model. When there is none, or it was trained on features of another
    version, train one on every face measured by the current extractors and say so on the run.

    Runs that need a model at the same time wait for each other: the first trains it, the
    others use it."""
    current = feature_version()
    with transaction.atomic():
        _training_locked()
        record = QualityModel.objects.filter(is_active=True).first()
        if record is not None and record.feature_version == current:
            return record, load_quality_model(record.artifact.name)
        why = (
            "No quality model existed"
            if record is None
            else f"Quality model v{record.version} was trained on older features"
        )
        record = quality_model_train()
        run.notes = [
            *run.notes,
            f"{why}: trained v{record.version} on {record.summary['faces']} faces of "
            f"{len(record.titles)} title(s) and activated it.",
        ]
        run.save(update_fields=["notes"])
    return record, load_quality_model(record.artifact.name)


# Any number that no other advisory lock of this database uses.
_QUALITY_MODEL_LOCK = 0x51A117


def _training_locked() -> None:
    """Until the current transaction ends, no other run decides to train a model. PostgreSQL:
    an advisory lock. The embedded SQLite default runs one task at a time, and holding its write
    lock through a training would stall every other write, so it takes none."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_QUALITY_MODEL_LOCK])


def _quality_models_locked() -> None:
    """Until the current transaction ends, nobody else numbers or activates a model (SQLite: a
    write takes the database's write lock until the transaction ends)."""
    if connection.vendor == "postgresql":
        _training_locked()
    else:
        QualityModel.objects.filter(pk__lt=0).update(is_active=False)


@functools.lru_cache(maxsize=4)
def load_quality_model(artifact_name: str) -> TrainedQualityModel:
    return TrainedQualityModel.load(default_storage.path(artifact_name))


class NotEnoughFaces(Exception):
    pass


def quality_model_train(*, params: QualityParams | None = None) -> QualityModel:
    """Train on the faces of every title measured by the current extractors (at most
    ``QUALITY_TRAIN_MAX_FACES``, drawn at random), store it as the next version, activate it."""
    current = feature_version()
    ids = list(
        Face.objects.filter(feature_version=current)
        .exclude(features_run=None)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if len(ids) < 10:
        raise NotEnoughFaces(
            f"need at least 10 faces measured by the current extractors to train a quality "
            f"model, found {len(ids)}"
        )
    limit = settings.QUALITY_TRAIN_MAX_FACES
    if len(ids) > limit:
        ids = sorted(np.random.default_rng(0).choice(ids, size=limit, replace=False).tolist())
    faces = list(Face.objects.filter(pk__in=ids).select_related("title").order_by("pk"))
    trained = train_quality_model(
        feature_table(faces), params or QualityParams(), feature_version=current
    )
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as folder:
        path = Path(folder) / "model.joblib"
        trained.save(path)
        artifact = path.read_bytes()
    summary = trained.summary
    with transaction.atomic():
        _quality_models_locked()
        version = (
            QualityModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
        ) + 1
        QualityModel.objects.filter(is_active=True).update(is_active=False)
        record = QualityModel(
            version=version,
            features=list(trained.features),
            feature_version=current,
            params=_jsonable(trained.params),
            summary=_jsonable(summary) | {"titles": len({face.title_id for face in faces})},
            titles=sorted({face.title.name for face in faces}),
            is_active=True,
        )
        record.artifact.save(f"quality-model-v{version}.joblib", ContentFile(artifact), save=False)
        record.save()
    return record


def quality_assign(*, run: ScoringRun) -> None:
    record, model = quality_model_active(run=run)
    faces = list(Face.objects.filter(title=run.title).order_by("pk"))
    versions = {face.feature_version for face in faces}
    if len(versions) > 1:
        raise ValueError(f"the title's faces carry {len(versions)} feature versions: rescore it")
    quality = model.predict(feature_table(faces), feature_version=versions.pop() if faces else None)
    for face, value in zip(faces, quality, strict=True):
        face.quality = float(value)
        face.quality_version = f"v{record.version}"
    Face.objects.bulk_update(faces, ["quality", "quality_version"], batch_size=1000)
    run.quality_model = record
    run.save(update_fields=["quality_model"])


def parse_filter_stages(stages: object) -> tuple[FilterStage, ...]:
    """Stages stored as a list of {feature, threshold, top, percentile}; raises ValueError."""
    if not isinstance(stages, list) or not stages:
        raise ValueError("expected a non-empty list of stages")
    try:
        return tuple(FilterStage(**stage) for stage in stages)
    except TypeError as error:
        raise ValueError(
            f"each stage is {{feature, threshold, top, percentile}}: {error}"
        ) from None


def filter_stages() -> tuple[str, tuple[FilterStage, ...]]:
    config = FilterConfig.objects.filter(is_active=True).first()
    if config is None:
        return "filtering:default", DEFAULT_STAGES
    return f"filtering:{config.pk}", parse_filter_stages(config.stages)


def fiqa_guards() -> tuple[FilterStage, ...]:
    """The FaceQNet selector's guard stages that ``FIQA_SELECTOR_GUARDS`` names."""
    return tuple(stage for stage in FIQA_GUARDS if stage.feature in settings.FIQA_SELECTOR_GUARDS)


def quality_model_activate(*, record: QualityModel) -> None:
    with transaction.atomic():
        _quality_models_locked()
        QualityModel.objects.exclude(pk=record.pk).filter(is_active=True).update(is_active=False)
        QualityModel.objects.filter(pk=record.pk).update(is_active=True)


def selections_replace(*, run: ScoringRun) -> int:
    """Every selector for every cluster; the title's old selections are replaced atomically."""
    filter_version, stages = filter_stages()
    guards = fiqa_guards()
    fiqa_version = "fiqa:guards=" + ("+".join(stage.feature for stage in guards) or "none")
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
    done: dict[int, tuple[str, object]] = {}
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


def _jsonable(value) -> dict:
    def convert(item):
        if isinstance(item, dict):
            return {str(key): convert(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [convert(inner) for inner in item]
        if isinstance(item, np.generic):
            return item.item()
        return item

    return convert(asdict(value))
