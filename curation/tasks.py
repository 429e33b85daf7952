"""Celery tasks: ids in, one service call, nothing else. Routes are in settings.

Scoring tasks retry passing database and broker errors with exponential backoff (up to about
ten minutes apart); a run that still makes no progress is sent again by the stall check.
"""

from celery import shared_task

from curation.ingest.jobs import import_job_run
from curation.pipeline import runs

scoring_task = shared_task(
    acks_late=True,
    autoretry_for=runs.TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=12,
)


@shared_task(acks_late=True)
def run_import_job(job_id: int) -> None:
    import_job_run(job_id=job_id)


@scoring_task
def score_features(run_id: int, face_ids: list[int]) -> None:
    runs.features_chunk_run(run_id=run_id, face_ids=face_ids)


@scoring_task
def score_identity(run_id: int, cluster_ids: list[int]) -> None:
    runs.identity_chunk_run(run_id=run_id, cluster_ids=cluster_ids)


@scoring_task
def score_selection(run_id: int) -> None:
    runs.selection_run(run_id=run_id)


@scoring_task
def score_crops(run_id: int) -> None:
    runs.crops_run(run_id=run_id)
