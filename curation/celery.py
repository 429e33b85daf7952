"""The Celery app. Queues: ``gpu`` (detection, features; torch's device) and ``cpu``."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")

app = Celery("curation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["curation"])


@worker_ready.connect
def resume_unfinished_runs(**_) -> None:
    """A worker that starts picks up scoring runs that a killed worker left behind."""
    from curation.pipeline.runs import runs_resume

    runs_resume()
