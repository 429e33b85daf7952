"""The quality models: training a version, activating one, and the one scoring uses.

Training is not idempotent: each call stores a new version. From the app it runs as a
``QualityTraining`` on a worker (``trainings``). Versions are numbered across both kinds of
model, weak-label and learned, and each kind has its own active one.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction

from curation.imports.rows import rows_update
from curation.media import file_stamp, local_path
from curation.models import Face, QualityModel, ScoringRun, Title
from curation.scoring_runs.extractors import feature_version
from curation.scoring_runs.steps import feature_table, run_clusters
from scoring.features import FEATURE_NAMES, FeatureTable
from scoring.preference import PreferenceModel
from scoring.quality import QualityModel as TrainedQualityModel
from scoring.quality import QualityParams, train_quality_model


def quality_model_active(*, run: ScoringRun) -> tuple[QualityModel, TrainedQualityModel]:
    """The active quality model. When there is none, or it was trained on features of another
    version, train one on every face measured by the current extractors and say so on the run.

    Runs that need a model at the same time wait for each other: the first trains it, the
    others use it."""
    current = feature_version()
    with transaction.atomic():
        _training_locked()
        record = QualityModel.objects.filter(
            labels=QualityModel.Labels.WEAK, is_active=True
        ).first()
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


def load_quality_model(artifact_name: str) -> TrainedQualityModel:
    """The stored model, loaded once per file: a file written again under the same name (a
    database restored, a version number reused) is loaded again."""
    return _load_quality_model(artifact_name, *file_stamp(artifact_name))


@functools.lru_cache(maxsize=4)
def _load_quality_model(name: str, size: int, modified: datetime) -> TrainedQualityModel:
    with local_path(name) as path:
        return TrainedQualityModel.load(path)


class NotEnoughFaces(Exception):
    pass


def quality_model_train(
    *, params: QualityParams | None = None, progress: Callable[[str], None] = lambda step: None
) -> QualityModel:
    """Train on the faces of every title measured by the current extractors: weak labels over
    all of them, the forest on at most ``QUALITY_TRAIN_MAX_FACES`` (a sample stratified by
    label); store it as the next version, activate it. ``progress`` hears what it is doing,
    step by step."""
    current = feature_version()
    progress("reading the faces' features")
    table, title_ids = _training_faces(
        Face.objects.filter(feature_version=current).exclude(features_run=None)
    )
    if len(table) < 10:
        raise NotEnoughFaces(
            f"need at least 10 faces measured by the current extractors to train a quality "
            f"model, found {len(table)}"
        )
    limit = settings.QUALITY_TRAIN_MAX_FACES
    progress(f"labelling {len(table)} faces, fitting the forest on at most {limit}")
    trained = train_quality_model(
        table, params or QualityParams(), feature_version=current, fit_at_most=limit
    )
    progress("storing the model")
    return quality_model_store(
        record=QualityModel(
            labels=QualityModel.Labels.WEAK,
            features=list(trained.features),
            feature_version=current,
            params=_jsonable(trained.params),
            summary=_jsonable(trained.summary) | {"titles": len(title_ids)},
            titles=sorted(Title.objects.filter(pk__in=title_ids).values_list("name", flat=True)),
        ),
        trained=trained,
    )


# Faces read per round trip when training: a few MB of rows at a time, never millions of
# model instances.
_TRAINING_CHUNK = 50_000


def _training_faces(faces) -> tuple[FeatureTable, list[int]]:
    """The features of ``faces``, in id order, read in chunks straight into arrays, and the
    ids of their titles."""
    rows = faces.order_by("pk").values_list("title", *FEATURE_NAMES).iterator(_TRAINING_CHUNK)
    chunks = [np.empty((0, 1 + len(FEATURE_NAMES)))]
    while chunk := list(itertools.islice(rows, _TRAINING_CHUNK)):
        chunks.append(np.array(chunk, dtype=np.float64))  # NULL becomes NaN
    values = np.concatenate(chunks)
    return FeatureTable.from_matrix(values[:, 1:]), np.unique(values[:, 0]).astype(int).tolist()


def quality_model_store(
    *, record: QualityModel, trained: TrainedQualityModel | PreferenceModel
) -> QualityModel:
    """Number ``record`` as the next version, store ``trained`` as its artifact and make it the
    active model of its labels."""
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as folder:
        path = Path(folder) / "model.joblib"
        trained.save(path)
        artifact = path.read_bytes()
    prefix = "quality-model" if record.labels == QualityModel.Labels.WEAK else "learned-model"
    with transaction.atomic():
        _quality_models_locked()
        record.version = (
            QualityModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
        ) + 1
        QualityModel.objects.filter(labels=record.labels, is_active=True).update(is_active=False)
        record.is_active = True
        record.artifact.save(
            f"{prefix}-v{record.version}.joblib", ContentFile(artifact), save=False
        )
        record.save()
    return record


def quality_model_activate(*, record: QualityModel) -> None:
    with transaction.atomic():
        _quality_models_locked()
        QualityModel.objects.exclude(pk=record.pk).filter(
            labels=record.labels, is_active=True
        ).update(is_active=False)
        QualityModel.objects.filter(pk=record.pk).update(is_active=True)


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


def quality_assign(*, run: ScoringRun) -> None:
    record, model = quality_model_active(run=run)
    faces = list(Face.objects.filter(cluster__in=run_clusters(run)).order_by("pk"))
    versions = {face.feature_version for face in faces}
    if len(versions) > 1:
        raise ValueError(f"the title's faces carry {len(versions)} feature versions: rescore it")
    quality = model.predict(feature_table(faces), feature_version=versions.pop() if faces else None)
    for face, value in zip(faces, quality, strict=True):
        face.quality = float(value)
        face.quality_version = f"v{record.version}"
    rows_update(faces, ["quality", "quality_version"])
    run.quality_model = record
    run.save(update_fields=["quality_model"])
