"""Imports started from the admin: a zip upload becomes an ImportJob, run on a worker."""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from curation.imports.service import ImportFailed, title_import
from curation.media import local_path
from curation.models import ImportJob
from curation.queueing import IMPORT_JOB, QueueUnavailable, enqueue

log = logging.getLogger(__name__)


def import_job_create(*, name: str, upload, created_by) -> ImportJob:
    """Keep the uploaded archive as a job and send it to a worker once the job is committed. A
    broker outage leaves the job failed, with the reason on its page."""
    job = ImportJob.objects.create(name=name, upload=upload, created_by=created_by)

    def send() -> None:
        try:
            import_job_enqueue(job_id=job.pk)
        except QueueUnavailable:
            log.warning("import job %s not sent: the task queue is unavailable", job.pk)

    transaction.on_commit(send)
    return job


def import_job_enqueue(*, job_id: int) -> None:
    """Send the job to a worker; a broker outage marks the job failed and raises."""
    try:
        enqueue(IMPORT_JOB, job_id, retry=False)
    except QueueUnavailable as error:
        ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.FAILED, error=str(error))
        raise


def import_job_run(*, job_id: int) -> None:
    """Run one job to its end. A job that already ended is left alone, so a re-delivered
    task does nothing twice."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            return
        job.status = ImportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at", "updated_at"])

    def progress(done: int, total: int, faces: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            images_done=done, images_total=total, faces_found=faces
        )

    try:
        with local_path(job.upload.name) as source:
            summary = title_import(
                source=source,
                name=job.name,
                progress=progress,
                source_label=f"upload {Path(job.upload.name).name}",
            )
    except ImportFailed as error:
        _finish(job, status=ImportJob.Status.FAILED, error=str(error))
        return
    except Exception as error:
        log.exception("import job %s crashed", job_id)
        _finish(job, status=ImportJob.Status.FAILED, error=f"unexpected error: {error}")
        return
    job.title_id = summary.title_id
    _finish(job, status=ImportJob.Status.DONE, summary=summary.as_dict())


def _finish(job: ImportJob, *, status: str, error: str = "", summary: dict | None = None) -> None:
    job.status = status
    job.error = error
    job.summary = summary or {}
    job.save(update_fields=["status", "error", "summary", "title", "updated_at"])
    # The report stays on the job; the uploaded archive is no longer needed.
    job.upload.delete(save=False)
    ImportJob.objects.filter(pk=job.pk).update(upload="")


def job_is_video(job: ImportJob) -> bool:
    if job.summary:
        return bool(job.summary.get("video"))
    name = job.upload.name or ""
    return bool(name) and not name.lower().endswith(".zip")


def job_speed(job: ImportJob) -> dict[str, float] | None:
    """Work done per second and the seconds left at that pace, once there is a pace."""
    if job.started_at is None or not job.images_done or job.status != ImportJob.Status.RUNNING:
        return None
    seconds = (timezone.now() - job.started_at).total_seconds()
    if seconds <= 0:
        return None
    rate = job.images_done / seconds
    return {"rate": round(rate, 1), "left": round((job.images_total - job.images_done) / rate)}
