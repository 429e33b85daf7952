"""Scoring runs: starting one, moving it from step to step, and reading its progress.

The pipeline: features on the ``gpu`` queue in chunks of faces (one task per chunk, so many
workers share a title) → identity on the ``gpu`` queue in chunks of clusters (it needs every face
of a cluster measured) → quality and every selector on the ``cpu`` queue → headshot crops on the
``cpu`` queue → the title is marked scored. Whichever chunk task finishes the last face moves the
run on; the run row is locked while it does, so a step never starts twice.

Every task that makes progress stamps the run (``progress_at``). A run quiet for longer than
``SCORING_STALL_SECONDS`` has lost its messages (a broker restarted without persistence, a
worker killed between taking a message and recording it): every worker looks for such runs when
it starts and every ``SCORING_STALL_CHECK_SECONDS``, and sends their missing work again. Passing
database and broker errors are not failures: the task is retried with backoff.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

import kombu.exceptions
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from curation.errors import first_line
from curation.models import Face, ScoringRun, Selection, Title
from curation.queueing import (
    SCORE_CROPS,
    SCORE_FEATURES,
    SCORE_IDENTITY,
    SCORE_SELECTION,
    QueueUnavailable,
    enqueue,
)
from curation.scoring_runs import learned_models, quality_models, records, steps

log = logging.getLogger(__name__)
CROPS_PER_TASK = 50
CLUSTERS_PER_TASK = 8
# Errors that pass: the task is retried with backoff instead of failing the run.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, kombu.exceptions.OperationalError)


class ScoringRefused(Exception):
    """The title cannot be scored now; the message says why."""


def scoring_start(
    *, title: Title, chunk_size: int = 64, clusters: list[int] | None = None
) -> ScoringRun:
    """Create a run and send its feature chunks to the workers. When the queue cannot be
    reached, nothing changes: the run is removed and the title keeps its status and error.

    ``clusters``: recompute only these (after a curation changed them): their faces' features
    are measured only where missing, their identity, quality and picks are computed again."""

    with transaction.atomic():
        title = Title.objects.select_for_update().get(pk=title.pk)
        active = title.scoring_runs.filter(
            status__in=[ScoringRun.Status.QUEUED, ScoringRun.Status.RUNNING]
        ).first()
        if active is not None:
            raise ScoringRefused(f"title {title.name!r} is already being scored (run {active.pk})")
        scope = title.clusters.all()
        if clusters is not None:
            scope = scope.filter(pk__in=clusters)
            if not scope.exists():
                raise ScoringRefused(f"none of these clusters is in {title.name!r}")
        elif not Face.objects.filter(title=title).exists():
            raise ScoringRefused(f"title {title.name!r} has no faces to score")
        before = {"status": title.status, "error": title.error}
        run = ScoringRun.objects.create(
            title=title,
            chunk_size=chunk_size,
            clusters=sorted(clusters or []),
            record=records.run_record(),
            clusters_total=scope.filter(faces__isnull=False).distinct().count(),
            status=ScoringRun.Status.QUEUED,
            step_started_at=timezone.now(),
            progress_at=timezone.now(),
        )
        face_ids = list(steps.faces_to_measure(run).order_by("pk").values_list("pk", flat=True))
        run.faces_total = len(face_ids)
        run.save(update_fields=["faces_total"])
        title.status = Title.Status.SCORING
        title.error = ""
        title.save(update_fields=["status", "error", "updated_at"])
    chunks = [face_ids[i : i + chunk_size] for i in range(0, len(face_ids), chunk_size)]
    try:
        for chunk in chunks:
            enqueue(SCORE_FEATURES, run.pk, chunk, retry=False)
        if not chunks:  # every face measured already: on to identity
            _advance(
                run_id=run.pk, finished=ScoringRun.Step.FEATURES, then=ScoringRun.Step.IDENTITY
            )
    except QueueUnavailable:
        with transaction.atomic():
            ScoringRun.objects.filter(pk=run.pk).delete()
            Title.objects.filter(pk=title.pk).update(**before)
        raise
    return run


def run_fail(*, run_id: int, message: str) -> None:
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().get(pk=run_id)
        run.status = ScoringRun.Status.FAILED
        run.error = message
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        Title.objects.filter(pk=run.title_id).update(status=Title.Status.FAILED, error=message)


def _fails_run(work):
    """An error in a step fails the run with a one-line message the admin sees (and Retry)."""

    @functools.wraps(work)
    def guarded(*, run_id: int, **kwargs) -> None:
        try:
            work(run_id=run_id, **kwargs)
        except ScoringRun.DoesNotExist:
            log.info("scoring run %s no longer exists: %s skipped", run_id, work.__name__)
        except TRANSIENT_ERRORS:
            raise  # the task retries it
        except Exception as error:
            log.exception("scoring run %s failed in %s", run_id, work.__name__)
            run_fail(run_id=run_id, message=f"{work.__name__}: {first_line(error)[:300]}")

    return guarded


@_fails_run
def features_chunk_run(*, run_id: int, face_ids: list[int]) -> None:
    run = ScoringRun.objects.get(pk=run_id)
    if run.step != ScoringRun.Step.FEATURES or run.status == ScoringRun.Status.FAILED:
        return  # a chunk delivered again after the run moved on
    if run.status == ScoringRun.Status.QUEUED:
        ScoringRun.objects.filter(pk=run_id, status=ScoringRun.Status.QUEUED).update(
            status=ScoringRun.Status.RUNNING
        )
    steps.features_compute(run=run, face_ids=face_ids)
    done = Face.objects.filter(title_id=run.title_id, features_run=run).count()
    ScoringRun.objects.filter(pk=run_id).update(faces_done=done, progress_at=timezone.now())
    if done >= run.faces_total:
        _advance(run_id=run_id, finished=ScoringRun.Step.FEATURES, then=ScoringRun.Step.IDENTITY)


@_fails_run
def identity_chunk_run(*, run_id: int, cluster_ids: list[int]) -> None:
    run = ScoringRun.objects.get(pk=run_id)
    if run.step != ScoringRun.Step.IDENTITY:
        return
    steps.identity_compute(run=run, cluster_ids=cluster_ids)
    pending = _identity_pending(run).count()
    ScoringRun.objects.filter(pk=run_id).update(
        clusters_done=run.clusters_total - pending, progress_at=timezone.now()
    )
    if not pending:
        _advance(run_id=run_id, finished=ScoringRun.Step.IDENTITY, then=ScoringRun.Step.QUALITY)


def _identity_pending(run: ScoringRun):
    """The run's clusters with faces whose identity this run has not measured yet."""
    return steps.run_clusters(run).filter(faces__isnull=False).exclude(identity_run=run).distinct()


def _identity_send(run: ScoringRun) -> None:
    """Send the identity chunks; a run with no cluster to measure (its clusters were emptied by
    a curation) goes straight on to quality."""
    pending = list(_identity_pending(run).order_by("pk").values_list("pk", flat=True))
    if not pending:
        _advance(run_id=run.pk, finished=ScoringRun.Step.IDENTITY, then=ScoringRun.Step.QUALITY)
    for start in range(0, len(pending), CLUSTERS_PER_TASK):
        enqueue(SCORE_IDENTITY, run.pk, pending[start : start + CLUSTERS_PER_TASK])


@_fails_run
def selection_run(*, run_id: int) -> None:
    """Quality from the active model, then every selector for every cluster (the learned one
    when a learned model is active)."""
    run = ScoringRun.objects.get(pk=run_id)
    if run.step not in (ScoringRun.Step.QUALITY, ScoringRun.Step.SELECTION):
        return
    quality_models.quality_assign(run=run)
    run.refresh_from_db(fields=["quality_model", "record"])
    if run.quality_model is not None:
        run.record = run.record | {"quality_model": records.quality_model_record(run.quality_model)}
        run.save(update_fields=["record"])
    _advance(run_id=run_id, finished=ScoringRun.Step.QUALITY, then=ScoringRun.Step.SELECTION)
    picks = steps.selections_replace(run=run, learned=learned_models.learned_model_active(run=run))
    ScoringRun.objects.filter(pk=run_id).update(crops_total=picks, crops_done=0)
    _advance(run_id=run_id, finished=ScoringRun.Step.SELECTION, then=ScoringRun.Step.CROPS)


@_fails_run
def crops_run(*, run_id: int) -> None:
    """Crops in batches; a batch re-sends this task until no selection lacks a crop."""
    run = ScoringRun.objects.get(pk=run_id)
    if run.step != ScoringRun.Step.CROPS:
        return
    steps.crops_make(run=run, limit=CROPS_PER_TASK)
    missing = Selection.objects.filter(cluster__title=run.title, crop="").count()
    ScoringRun.objects.filter(pk=run_id).update(
        crops_done=run.crops_total - missing, progress_at=timezone.now()
    )
    if missing:
        enqueue(SCORE_CROPS, run_id)
    else:
        _advance(run_id=run_id, finished=ScoringRun.Step.CROPS, then=ScoringRun.Step.DONE)


def _advance(*, run_id: int, finished: str, then: str) -> None:
    """Record ``finished``'s time and start ``then``, once, whoever calls it first."""

    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().get(pk=run_id)
        if run.step != finished:
            return
        now = timezone.now()
        started = run.step_started_at or now
        run.step_seconds = run.step_seconds | {finished: round((now - started).total_seconds(), 2)}
        run.step = then
        run.step_started_at = now
        run.progress_at = now
        fields = ["step", "step_seconds", "step_started_at", "progress_at"]
        if then == ScoringRun.Step.DONE:
            run.status = ScoringRun.Status.DONE
            run.finished_at = now
            fields += ["status", "finished_at"]
            Title.objects.filter(pk=run.title_id).update(status=Title.Status.SCORED)
        run.save(update_fields=fields)
        if then == ScoringRun.Step.IDENTITY:
            transaction.on_commit(lambda: _identity_send(run))
        elif then == ScoringRun.Step.QUALITY:
            transaction.on_commit(lambda: enqueue(SCORE_SELECTION, run_id))
        elif then == ScoringRun.Step.CROPS:
            transaction.on_commit(lambda: enqueue(SCORE_CROPS, run_id))


def runs_resume() -> int:
    """Send again the missing work of every stalled run; returns how many were resumed.

    A run is stalled when it is unfinished and made no progress for ``SCORING_STALL_SECONDS``:
    runs whose work is merely queued or running are left alone. Each stalled run is claimed
    under its row lock and stamped, so workers checking at once send its work once. Every step
    is idempotent and a step advances once, so work sent twice would still do no harm.
    """
    quiet_since = timezone.now() - timedelta(seconds=settings.SCORING_STALL_SECONDS)
    resumed = 0
    while True:
        with transaction.atomic():
            run = (
                ScoringRun.objects.select_for_update(skip_locked=True)
                .filter(
                    Q(progress_at__lt=quiet_since) | Q(progress_at=None),
                    status__in=[ScoringRun.Status.QUEUED, ScoringRun.Status.RUNNING],
                )
                .order_by("pk")
                .first()
            )
            if run is None:
                return resumed
            ScoringRun.objects.filter(pk=run.pk).update(progress_at=timezone.now())
        log.warning(
            "scoring run %s made no progress in %s: sending its work again", run.pk, run.step
        )
        _missing_work_send(run)
        resumed += 1


def _missing_work_send(run: ScoringRun) -> None:

    if run.step == ScoringRun.Step.FEATURES:
        missing = list(
            steps.faces_to_measure(run)
            .exclude(features_run=run)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(missing), run.chunk_size):
            enqueue(SCORE_FEATURES, run.pk, missing[start : start + run.chunk_size])
        if not missing:
            _advance(
                run_id=run.pk,
                finished=ScoringRun.Step.FEATURES,
                then=ScoringRun.Step.IDENTITY,
            )
    elif run.step == ScoringRun.Step.IDENTITY:
        if _identity_pending(run).exists():
            _identity_send(run)
        else:
            _advance(run_id=run.pk, finished=ScoringRun.Step.IDENTITY, then=ScoringRun.Step.QUALITY)
    elif run.step in (ScoringRun.Step.QUALITY, ScoringRun.Step.SELECTION):
        enqueue(SCORE_SELECTION, run.pk)
    elif run.step == ScoringRun.Step.CROPS:
        enqueue(SCORE_CROPS, run.pk)


def run_latest(title: Title) -> ScoringRun | None:
    return title.scoring_runs.first()
