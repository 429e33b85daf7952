"""The learned selector's model: trained on people's judgments, on top of the weak-label model.

A learned model is a ``QualityModel`` with ``labels="people"``; it records the campaigns whose
judgments it learned from and the weak model version it builds on (``params["prior"]``), whose
scores it refines. Scoring uses the active one, with that weak model, whatever weak model is
active now: a retrained weak model never changes the learned selector's picks silently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np

from curation.evaluation.labels import face_labels
from curation.evaluation.tables import Filters
from curation.media import file_stamp, local_path
from curation.models import Campaign, Face, QualityModel, ScoringRun
from curation.scoring_runs.extractors import feature_version
from curation.scoring_runs.quality_models import load_quality_model, quality_model_store
from scoring.features import FEATURE_NAMES, FeatureTable
from scoring.preference import Judged, PreferenceModel, PreferenceParams, train_preference_model
from scoring.quality import QualityModel as TrainedQualityModel


class LearnedTrainingRefused(Exception):
    """The learned model cannot be trained now; the message says why."""


def learned_model_train(
    *,
    campaigns: list[int] | None = None,
    params: PreferenceParams | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> QualityModel:
    """Train on the live judgments of ``campaigns`` (default: every campaign), on top of the
    active weak model, store it as the next version and activate it. Faces measured by other
    extractors than the current ones are left out. Raises ``LearnedTrainingRefused``, or
    ``scoring.preference.NotEnoughJudgments`` when the judgments order too few pairs."""
    campaigns = sorted(set(campaigns or []))
    if missing := sorted(set(campaigns) - set(Campaign.objects.values_list("pk", flat=True))):
        raise LearnedTrainingRefused(f"no campaign {', '.join(map(str, missing))}")
    current = feature_version()
    prior = QualityModel.objects.filter(labels=QualityModel.Labels.WEAK, is_active=True).first()
    if prior is None or prior.feature_version != current:
        raise LearnedTrainingRefused(
            "the learned model refines the active weak-label quality model, and there is none "
            "for the current features: score a title or run train_quality_model first"
        )
    progress("reading the judgments")
    labels = face_labels(Filters(campaigns=campaigns))
    faces = list(
        Face.objects.filter(pk__in=list(labels.clusters), feature_version=current)
        .exclude(features_run=None)
        .select_related("title")
        .order_by("pk")
    )
    row = {face.pk: index for index, face in enumerate(faces)}
    judged = Judged(
        clusters=np.array([labels.clusters[face.pk] for face in faces], dtype=np.int64),
        grades=np.array([labels.grades.get(face.pk, -1) for face in faces], dtype=np.int64),
        preferences=np.array(
            [
                (row[p.better], row[p.worse], p.votes)
                for p in labels.preferences
                if p.better in row and p.worse in row
            ],
            dtype=np.int64,
        ).reshape(-1, 3),
    )
    progress(f"fitting on the judgments of {len(faces)} faces")
    trained = train_preference_model(
        _features(faces),
        judged,
        load_quality_model(prior.artifact.name),
        params or PreferenceParams(),
    )
    progress("storing the model")
    return quality_model_store(
        record=QualityModel(
            labels=QualityModel.Labels.PEOPLE,
            features=list(trained.features),
            feature_version=current,
            params=asdict(trained.params) | {"prior": {"version": prior.version}},
            summary=asdict(trained.summary) | {"faces_left_out": len(labels.clusters) - len(faces)},
            titles=sorted({face.title.name for face in faces}),
            campaigns=labels.campaigns,
        ),
        trained=trained,
    )


def _features(faces: list[Face]) -> FeatureTable:
    values = [[getattr(face, name) for name in FEATURE_NAMES] for face in faces]
    return FeatureTable.from_matrix(
        np.array(values, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
    )


@dataclass(frozen=True)
class LearnedModel:
    """The active learned model, loaded, with the weak model it refines."""

    record: QualityModel
    model: PreferenceModel
    prior: TrainedQualityModel


def learned_model_active(*, run: ScoringRun) -> LearnedModel | None:
    """The active learned model when scoring can use it; None when there is none, or (said on
    the run) when it was trained on older features or its weak model is gone."""
    record = QualityModel.objects.filter(labels=QualityModel.Labels.PEOPLE, is_active=True).first()
    if record is None:
        return None
    prior_version = record.params.get("prior", {}).get("version")
    prior = QualityModel.objects.filter(
        labels=QualityModel.Labels.WEAK, version=prior_version
    ).first()
    if record.feature_version != feature_version():
        _note(
            run,
            f"Learned model v{record.version} was trained on older features: train it "
            "again from the campaigns; no learned picks.",
        )
        return None
    if prior is None:
        _note(
            run,
            f"Learned model v{record.version} refines weak quality model "
            f"v{prior_version}, which is gone: train it again; no learned picks.",
        )
        return None
    return LearnedModel(
        record, load_learned_model(record.artifact.name), load_quality_model(prior.artifact.name)
    )


def _note(run: ScoringRun, note: str) -> None:
    if note not in run.notes:
        run.notes = [*run.notes, note]
        ScoringRun.objects.filter(pk=run.pk).update(notes=run.notes)


def load_learned_model(artifact_name: str) -> PreferenceModel:
    """The stored learned model, loaded once per file (see ``load_quality_model``)."""
    return _load_learned_model(artifact_name, *file_stamp(artifact_name))


@functools.lru_cache(maxsize=4)
def _load_learned_model(name: str, size: int, modified: datetime) -> PreferenceModel:
    with local_path(name) as path:
        return PreferenceModel.load(path)
