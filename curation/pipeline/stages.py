"""The work of each scoring stage: load rows, call ``scoring``, save rows.

Every function here is idempotent, so a task that a killed worker leaves half done can simply run
again: features are recomputed for the faces of a chunk, quality and selections replace the old
rows in one transaction, and crops skip the selections that already have one.
"""

from __future__ import annotations

import functools
import io
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from curation.ingest.images import decode_image
from curation.models import Cluster, Face, FilterConfig, QualityModel, ScoringRun, Selection
from scoring.crop import CropParams, headshot_box, render_headshot
from scoring.features import FeatureConfig, FeatureExtractor, FeatureTable
from scoring.quality import QualityModel as TrainedQualityModel
from scoring.quality import train_quality_model
from scoring.selectors import (
    DEFAULT_STAGES,
    FilterStage,
    select_baseline,
    select_filtering,
    select_regression,
    select_sharpness,
)
from scoring.sharpness import OnnxQualitySpec

FEATURE_FIELDS = ("brightness", "resolution", "sharpness", "yaw", "pitch", "roll")


@functools.cache
def feature_extractor() -> FeatureExtractor:
    """One extractor per worker process: its models load once."""
    quality = settings.FACE_QUALITY_ONNX
    return FeatureExtractor(
        FeatureConfig(
            pose_models=tuple(settings.POSE_MODEL_PATHS),
            quality_model=OnnxQualitySpec(quality) if quality else None,
        )
    )


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
            for name in FEATURE_FIELDS:
                setattr(face, name, float(table.column(name)[row]))
            face.sharpness = min(max(face.sharpness, 0.0), 1.0)
            face.feature_version = extractor.version
            face.features_run = run
    Face.objects.bulk_update(faces, [*FEATURE_FIELDS, "feature_version", "features_run"])
    return len(faces)


def feature_table(faces: Sequence[Face]) -> FeatureTable:
    return FeatureTable(
        **{
            name: np.array([getattr(face, name) for face in faces], dtype=np.float64)
            for name in FEATURE_FIELDS
        }
    )


def quality_model_active(*, run: ScoringRun) -> tuple[QualityModel, TrainedQualityModel]:
    """The active quality model; when none exists, train one on every face with features and
    record on the run that it was done."""
    record = QualityModel.objects.filter(is_active=True).first()
    if record is None:
        record = quality_model_train()
        run.notes = [
            *run.notes,
            f"No quality model existed: trained v{record.version} on "
            f"{record.summary['faces']} faces and activated it.",
        ]
        run.save(update_fields=["notes"])
    return record, load_quality_model(record.artifact.name)


@functools.lru_cache(maxsize=4)
def load_quality_model(artifact_name: str) -> TrainedQualityModel:
    return TrainedQualityModel.load(default_storage.path(artifact_name))


class NotEnoughFaces(Exception):
    pass


def quality_model_train() -> QualityModel:
    """Train on all faces that have features, store it as the next version and activate it."""
    faces = list(Face.objects.exclude(features_run=None).select_related("title").order_by("pk"))
    if len(faces) < 10:
        raise NotEnoughFaces(
            f"need at least 10 scored faces to train a quality model, found {len(faces)}"
        )
    trained = train_quality_model(feature_table(faces))
    version = (
        QualityModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
    ) + 1
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as folder:
        path = Path(folder) / "model.joblib"
        trained.save(path)
        artifact = path.read_bytes()
    summary = trained.summary
    with transaction.atomic():
        QualityModel.objects.filter(is_active=True).update(is_active=False)
        record = QualityModel(
            version=version,
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
    quality = model.predict(feature_table(faces))
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


def quality_model_activate(*, record: QualityModel) -> None:
    with transaction.atomic():
        QualityModel.objects.exclude(pk=record.pk).filter(is_active=True).update(is_active=False)
        QualityModel.objects.filter(pk=record.pk).update(is_active=True)


def selections_replace(*, run: ScoringRun) -> int:
    """Every selector for every cluster; the title's old selections are replaced atomically."""
    filter_version, stages = filter_stages()
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
            Selection.Selector.SHARPNESS: (select_sharpness(table), "sharpness", {}),
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
