"""Sending work to the workers, by task name.

The rule between tasks and services: a task module imports its feature's services and calls
one; services never import task modules, they send the next piece of work here by name. Each
task's name and queue are defined once, below; the task modules register under these names.
"""

from __future__ import annotations

from celery import current_app

from curation.errors import first_line

IMPORT_JOB = "imports.run_job"
SCORE_FEATURES = "scoring.features"
SCORE_IDENTITY = "scoring.identity"
SCORE_SELECTION = "scoring.selection"
SCORE_CROPS = "scoring.crops"
TRAIN_QUALITY_MODEL = "scoring.train_quality_model"
TUNE_FILTER = "scoring.tune_filter"

# ``gpu``: work that runs torch models (detection, features, embeddings); ``cpu``: the rest.
QUEUES = {
    IMPORT_JOB: "gpu",
    SCORE_FEATURES: "gpu",
    SCORE_IDENTITY: "gpu",
    SCORE_SELECTION: "cpu",
    SCORE_CROPS: "cpu",
    TRAIN_QUALITY_MODEL: "cpu",
    TUNE_FILTER: "cpu",
}


class QueueUnavailable(Exception):
    """The task queue could not be reached; the work was not sent."""


def enqueue(name: str, *args: object, retry: bool = True) -> None:
    """Send the task ``name`` with ``args`` to its queue. ``retry=False`` (a person waiting on
    a page) fails at once when the broker is down; inside a worker the send is retried and a
    broker still down raises, so that the task itself is retried."""
    try:
        # The project's app (``curation.celery``, current once the package is imported).
        current_app.send_task(name, args=list(args), queue=QUEUES[name], retry=retry)
    except Exception as error:  # kombu raises OperationalError and socket errors alike
        if retry:
            raise
        raise QueueUnavailable(
            f"task queue unavailable, nothing was started: {first_line(error)}"
        ) from None
