"""The import task: an id in, one service call."""

from celery import shared_task

from curation import queueing
from curation.imports.jobs import import_job_run


@shared_task(name=queueing.IMPORT_JOB, acks_late=True)
def run_import_job(job_id: int) -> None:
    import_job_run(job_id=job_id)
