"""Celery tasks: ids in, one service call, nothing else."""

from celery import shared_task

from curation.ingest.jobs import import_job_run


@shared_task(acks_late=True)
def run_import_job(job_id: int) -> None:
    import_job_run(job_id=job_id)
