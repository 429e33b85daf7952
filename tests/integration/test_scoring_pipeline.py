"""The scoring pipeline on real faces, run by real worker processes over Redis, on PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from curation.imports.service import title_import
from curation.models import Cluster, Face, QualityModel, ScoringRun, Selection, Title
from curation.scoring_runs.service import scoring_start
from tests.conftest import REPO


def wait_for_run(run: ScoringRun, seconds: float = 240) -> ScoringRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (ScoringRun.Status.DONE, ScoringRun.Status.FAILED):
            return run
        time.sleep(0.2)
    pytest.fail(f"run still {run.status}/{run.step} after {seconds} s")


def picks(title: Title) -> dict[tuple[str, str], int]:
    return {
        (s.cluster.label, s.selector): s.face_id
        for s in Selection.objects.filter(cluster__title=title).select_related("cluster")
    }


@pytest.fixture
def small_title(lfw_small, media_root, transactional_db):
    title_import(source=lfw_small, name="small")
    return Title.objects.get(name="small")


def test_a_title_is_scored_end_to_end_on_a_worker(small_title, celery_worker_process, media_root):
    run = wait_for_run(scoring_start(title=small_title, chunk_size=16))

    assert run.status == ScoringRun.Status.DONE, run.error
    small_title.refresh_from_db()
    assert small_title.status == Title.Status.SCORED
    assert set(run.step_seconds) == {"features", "identity", "quality", "selection", "crops"}
    assert run.faces_done == run.faces_total == Face.objects.filter(title=small_title).count()
    assert run.clusters_done == run.clusters_total == small_title.clusters.count()
    faces = Face.objects.filter(title=small_title)
    for name in ("sharpness", "fiqa", "exposure", "artifacts"):
        assert not faces.filter(**{name: None}).exists(), name
    # Small clusters: every face is embedded and has an identity.
    assert not faces.filter(identity=None).exists()
    assert all(len(bytes(face.embedding)) == 256 for face in faces)
    assert not faces.filter(quality=None).exists()
    # No model existed, so one was trained on these faces, activated, and the run says so.
    model = QualityModel.objects.get()
    assert model.is_active and run.quality_model == model
    assert "trained v1" in run.notes[0]
    clusters = Cluster.objects.filter(title=small_title)
    selections = Selection.objects.filter(cluster__title=small_title)
    assert selections.count() == 4 * clusters.count()
    for selection in selections:
        assert selection.face.cluster_id == selection.cluster_id
        assert (media_root / selection.crop).is_file()

    out = io.StringIO()
    call_command("selections", "small", stdout=out)
    listed = json.loads(out.getvalue())
    assert set(listed) == set(clusters.values_list("label", flat=True))
    for by_selector in listed.values():
        assert set(by_selector) == {"baseline", "fiqa", "filtering", "regression"}
        assert all(pick["crop"] and pick["quality"] is not None for pick in by_selector.values())

    out = io.StringIO()
    call_command("export_faces", "small", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == faces.count()
    assert {"source", "box", "landmarks", "brightness", "yaw", "quality"} <= set(lines[0])
    assert {"fiqa", "exposure", "artifacts", "identity", "feature_version"} <= set(lines[0])
    assert all(line["feature_version"] == model.feature_version for line in lines)


def test_rescoring_replaces_rows_without_duplicates(small_title, celery_worker_process):
    first = wait_for_run(scoring_start(title=small_title, chunk_size=16))
    before = picks(small_title)
    faces = Face.objects.count()

    second = wait_for_run(scoring_start(title=small_title, chunk_size=16))

    assert (first.status, second.status) == (ScoringRun.Status.DONE, ScoringRun.Status.DONE)
    assert Face.objects.count() == faces
    assert Selection.objects.count() == len(before) == 4 * Cluster.objects.count()
    assert picks(small_title) == before
    assert set(Selection.objects.values_list("run", flat=True)) == {second.pk}


def test_a_worker_killed_mid_run_is_replaced_and_the_title_ends_the_same(small_title, start_worker):
    quick_restore = {
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "SCORING_STALL_SECONDS": "5",
        "SCORING_STALL_CHECK_SECONDS": "1",
    }
    worker = start_worker(**quick_restore)
    reference = wait_for_run(scoring_start(title=small_title, chunk_size=16))
    expected = picks(small_title)

    run = scoring_start(title=small_title, chunk_size=2)
    deadline = time.monotonic() + 120
    while run.faces_done < 6:
        assert time.monotonic() < deadline, "features never started"
        time.sleep(0.05)
        run.refresh_from_db()
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    run.refresh_from_db()
    assert run.step == ScoringRun.Step.FEATURES and run.faces_done < run.faces_total

    start_worker(**quick_restore)
    run = wait_for_run(run, seconds=300)

    assert reference.status == run.status == ScoringRun.Status.DONE, run.error
    assert run.faces_done == run.faces_total
    assert picks(small_title) == expected
    assert Selection.objects.count() == len(expected)


def test_a_broker_that_loses_its_messages_mid_run_does_not_stall_the_run(small_title, start_worker):
    from curation.celery import app

    start_worker(SCORING_STALL_SECONDS="4", SCORING_STALL_CHECK_SECONDS="1")
    reference = wait_for_run(scoring_start(title=small_title, chunk_size=16))
    expected = picks(small_title)

    run = scoring_start(title=small_title, chunk_size=2)
    deadline = time.monotonic() + 120
    while run.faces_done < 4:
        assert time.monotonic() < deadline, "features never started"
        time.sleep(0.05)
        run.refresh_from_db()
    # What a broker restarted without persistence leaves: no queued or unacknowledged message.
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    run = wait_for_run(run, seconds=300)

    assert reference.status == run.status == ScoringRun.Status.DONE, run.error
    assert run.faces_done == run.faces_total
    assert picks(small_title) == expected


def test_a_passing_database_error_is_retried_with_backoff_and_the_run_completes(
    small_title, start_worker
):
    import psycopg
    from django.db import connection

    worker = start_worker(PGOPTIONS="-c lock_timeout=300")  # its lock waits give up quickly
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(url) as blocker:
        blocker.execute("LOCK TABLE curation_face IN EXCLUSIVE MODE")  # reads pass, writes wait
        run = scoring_start(title=small_title, chunk_size=16)
        deadline = time.monotonic() + 60
        while "Retry in" not in worker.log.read_text():
            assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
            time.sleep(0.2)
        run.refresh_from_db()
        assert run.status != ScoringRun.Status.FAILED
        blocker.rollback()
    run = wait_for_run(run)

    assert run.status == ScoringRun.Status.DONE, run.error
    assert run.faces_done == run.faces_total
    assert "LockNotAvailable" in worker.log.read_text() or "lock timeout" in worker.log.read_text()


def test_with_the_broker_down_score_title_says_so_and_changes_nothing(small_title, start_worker):
    from django.db import connection

    worker = start_worker()
    first = wait_for_run(scoring_start(title=small_title, chunk_size=32))
    assert first.status == ScoringRun.Status.DONE, first.error
    before = picks(small_title)
    worker.terminate()
    worker.wait()

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env = os.environ | {
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "score_title", "small"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "task queue unavailable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    small_title.refresh_from_db()
    assert (small_title.status, small_title.error) == (Title.Status.SCORED, "")
    assert list(ScoringRun.objects.all()) == [first]
    assert picks(small_title) == before
    # With the broker there, the same title scores normally.
    start_worker()
    run = wait_for_run(scoring_start(title=small_title, chunk_size=32))
    assert run.status == ScoringRun.Status.DONE, run.error


def test_an_unknown_title_is_a_one_line_error(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no title named 'nope'"):
        call_command("score_title", "nope")
