"""The Celery app. Queues: ``gpu`` (detection, features; torch's device) and ``cpu``."""

import logging
import os
import sys
import threading
import time

from celery import Celery
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")
log = logging.getLogger(__name__)

app = Celery("curation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["curation.imports", "curation.scoring_runs"])


@worker_ready.connect
def watch_stalled_runs(**_) -> None:
    """A worker that starts sends again the work of stalled runs, then checks every
    ``SCORING_STALL_CHECK_SECONDS`` on a thread of its own (see ``scoring_runs.service``)."""
    from curation.scoring_runs.service import runs_resume

    runs_resume()
    threading.Thread(target=_stall_checks, name="stalled-runs", daemon=True).start()


def _stall_checks() -> None:
    from django.conf import settings
    from django.db import connection

    from curation.scoring_runs.service import runs_resume

    while True:
        time.sleep(settings.SCORING_STALL_CHECK_SECONDS)
        try:
            runs_resume()
        except Exception:  # the next check tries again; a database outage must not end it
            log.exception("checking for stalled scoring runs failed")
        finally:
            connection.close()


@worker_init.connect
def refuse_bad_model_settings(**_) -> None:
    """A worker whose scoring models cannot load stops at once, with one line per problem.
    (First, what a start makes: the data folder.)"""
    from curation.first_start import data_dir_prepare
    from curation.scoring_runs.extractors import model_problems

    data_dir_prepare()

    problems = model_problems()
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        os._exit(2)  # Celery would catch SystemExit and log a traceback
