"""Workers per queue, as on several machines: each real worker process takes only the work sent
to the queues it consumes, and together they score a title."""

from __future__ import annotations

import time

import pytest

from curation.imports.service import title_import
from curation.models import ScoringRun, Title
from curation.scoring_runs.service import scoring_start

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_step(run: ScoringRun, steps: set[str], seconds: float = 240) -> ScoringRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        assert run.status != ScoringRun.Status.FAILED, run.error
        if run.step in steps:
            return run
        time.sleep(0.2)
    pytest.fail(f"run still at {run.step} after {seconds} s")


def test_a_worker_on_the_cpu_queue_takes_the_work_the_gpu_worker_leaves(lfw_small, start_worker):
    title = Title.objects.get(pk=title_import(source=lfw_small, name="small").title_id)
    gpu = start_worker(queues="gpu")

    run = scoring_start(title=title, chunk_size=16)
    # Features and identity run on the gpu queue; quality and the picks wait on the cpu queue,
    # which nobody consumes yet.
    run = wait_for_step(run, {ScoringRun.Step.QUALITY, ScoringRun.Step.SELECTION})
    time.sleep(3)
    run.refresh_from_db()
    assert run.step == ScoringRun.Step.QUALITY and run.status == ScoringRun.Status.RUNNING

    cpu = start_worker(queues="cpu")
    run = wait_for_step(run, {ScoringRun.Step.DONE})

    assert run.status == ScoringRun.Status.DONE
    assert title.clusters.filter(selections__isnull=False).distinct().count() == 3
    gpu_log, cpu_log = gpu.log.read_text(), cpu.log.read_text()
    for task in ("scoring.features", "scoring.identity"):
        assert f"{task}[" in gpu_log and f"{task}[" not in cpu_log
    for task in ("scoring.selection", "scoring.crops"):
        assert f"{task}[" in cpu_log and f"{task}[" not in gpu_log
