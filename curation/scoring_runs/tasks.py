"""Scoring tasks: ids in, one service call, nothing else.

Scoring tasks retry passing database and broker errors with exponential backoff (up to about
ten minutes apart); a run that still makes no progress is sent again by the stall check.
"""

from celery import shared_task

from curation import queueing
from curation.scoring_runs import service, trainings, tuning


def scoring_task(name: str):
    return shared_task(
        name=name,
        acks_late=True,
        autoretry_for=service.TRANSIENT_ERRORS,
        retry_backoff=True,
        retry_backoff_max=600,
        retry_jitter=True,
        max_retries=12,
    )


@scoring_task(queueing.SCORE_FEATURES)
def score_features(run_id: int, face_ids: list[int]) -> None:
    service.features_chunk_run(run_id=run_id, face_ids=face_ids)


@scoring_task(queueing.SCORE_IDENTITY)
def score_identity(run_id: int, cluster_ids: list[int]) -> None:
    service.identity_chunk_run(run_id=run_id, cluster_ids=cluster_ids)


@scoring_task(queueing.SCORE_SELECTION)
def score_selection(run_id: int) -> None:
    service.selection_run(run_id=run_id)


@scoring_task(queueing.SCORE_CROPS)
def score_crops(run_id: int) -> None:
    service.crops_run(run_id=run_id)


@shared_task(name=queueing.TRAIN_QUALITY_MODEL, acks_late=True)
def train_quality_model(training_id: int) -> None:
    trainings.training_run(training_id=training_id)


@shared_task(name=queueing.TUNE_FILTER, acks_late=True)
def tune_filter(search_id: str) -> None:
    tuning.tuning_run(search_id=search_id)
