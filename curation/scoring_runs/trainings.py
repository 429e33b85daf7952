"""Training a quality model on a worker: a ``QualityTraining`` records what it is doing and how
it ended, for either kind of model (weak labels, or people's judgments for the learned one)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from curation import queueing
from curation.errors import first_line
from curation.models import QualityModel, QualityTraining
from curation.scoring_runs.learned_models import LearnedTrainingRefused, learned_model_train
from curation.scoring_runs.quality_models import NotEnoughFaces, quality_model_train
from scoring.preference import NotEnoughJudgments

log = logging.getLogger(__name__)
# Failures that say what to do; anything else is also logged with its traceback.
EXPECTED_FAILURES = (NotEnoughFaces, NotEnoughJudgments, LearnedTrainingRefused)


def training_start(
    *,
    requested_by=None,
    labels: str = QualityModel.Labels.WEAK,
    campaigns: list[int] | None = None,
) -> QualityTraining:
    """Queue a training of a new version on a worker; the broker down leaves it failed.
    ``labels="people"`` trains the learned model on ``campaigns`` (default: every campaign)."""
    training = QualityTraining.objects.create(
        requested_by=requested_by, labels=labels, campaigns=sorted(campaigns or [])
    )
    try:
        queueing.enqueue(queueing.TRAIN_QUALITY_MODEL, training.pk, retry=False)
    except queueing.QueueUnavailable as error:
        QualityTraining.objects.filter(pk=training.pk).update(
            status=QualityTraining.Status.FAILED, error=str(error), finished_at=timezone.now()
        )
        raise
    return training


def training_run(*, training_id: int) -> None:
    """Run a queued training to its end; a training that already ended is left alone."""
    with transaction.atomic():
        training = QualityTraining.objects.select_for_update().get(pk=training_id)
        if training.status in (QualityTraining.Status.DONE, QualityTraining.Status.FAILED):
            return
        training.status = QualityTraining.Status.RUNNING
        training.save(update_fields=["status"])

    def progress(step: str) -> None:
        QualityTraining.objects.filter(pk=training_id).update(step=step)

    try:
        if training.labels == QualityModel.Labels.PEOPLE:
            record = learned_model_train(campaigns=training.campaigns, progress=progress)
        else:
            record = quality_model_train(progress=progress)
    except Exception as error:
        if not isinstance(error, EXPECTED_FAILURES):
            log.exception("quality model training %s failed", training_id)
        QualityTraining.objects.filter(pk=training_id).update(
            status=QualityTraining.Status.FAILED,
            error=first_line(error)[:500],
            finished_at=timezone.now(),
        )
        return
    QualityTraining.objects.filter(pk=training_id).update(
        status=QualityTraining.Status.DONE,
        model=record,
        step=f"{training_outcome(record)} and activated it",
        finished_at=timezone.now(),
    )


def training_outcome(record: QualityModel) -> str:
    """One line: what a model was trained on and how it does on what it did not see."""
    summary = record.summary
    if record.labels == QualityModel.Labels.PEOPLE:
        return (
            f"trained v{record.version} on {summary['pairs']} judged pairs of "
            f"{len(record.campaigns)} campaign(s): held-out pairwise accuracy "
            f"{summary['accuracy_held_out']:.2f} against the weak model's "
            f"{summary['weak_accuracy_held_out']:.2f} on {summary['held_out_pairs']} pairs"
        )
    return (
        f"trained v{record.version} on {summary['faces']} faces "
        f"(held-out R² {summary['r2_held_out']:.3f})"
    )
