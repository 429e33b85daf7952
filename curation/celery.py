"""The Celery app. Queues: ``gpu`` (detection, features; torch's device) and ``cpu``."""

import os
import sys

from celery import Celery
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")

app = Celery("curation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["curation"])


@worker_ready.connect
def resume_unfinished_runs(**_) -> None:
    """A worker that starts picks up scoring runs that a killed worker left behind."""
    from curation.pipeline.runs import runs_resume

    runs_resume()


@worker_init.connect
def refuse_bad_model_settings(**_) -> None:
    """A worker whose scoring models cannot load stops at once, with one line per problem."""
    from curation.pipeline.extractors import model_problems

    problems = model_problems()
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        os._exit(2)  # Celery would catch SystemExit and log a traceback
