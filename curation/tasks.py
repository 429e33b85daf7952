"""Celery tasks: ids in, one service call, nothing else. Routes are in settings."""

from celery import shared_task

from curation.ingest.jobs import import_job_run
from curation.pipeline import runs


@shared_task(acks_late=True)
def run_import_job(job_id: int) -> None:
    import_job_run(job_id=job_id)


@shared_task(acks_late=True)
def score_features(run_id: int, face_ids: list[int]) -> None:
    runs.features_chunk_run(run_id=run_id, face_ids=face_ids)


@shared_task(acks_late=True)
def score_identity(run_id: int, cluster_ids: list[int]) -> None:
    runs.identity_chunk_run(run_id=run_id, cluster_ids=cluster_ids)


@shared_task(acks_late=True)
def score_selection(run_id: int) -> None:
    runs.selection_run(run_id=run_id)


@shared_task(acks_late=True)
def score_crops(run_id: int) -> None:
    runs.crops_run(run_id=run_id)
