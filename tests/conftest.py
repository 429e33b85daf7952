"""Shared fixtures: the real face data, small real titles built from it, and a real worker."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FACE_DATA_DIR = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data"))
SMALL_CLUSTERS = ("Abdullah_Gul", "Bill_Gates", "Halle_Berry")


def pytest_sessionfinish(session, exitstatus):
    """Remove the data folder that tests/settings.py made for this run (workers are gone)."""
    from django.conf import settings

    data = Path(settings.DATA_DIR)
    if data.name.startswith("face-curation-tests-"):
        shutil.rmtree(data, ignore_errors=True)


def face_data(*parts: str) -> Path:
    """A path in the real face data, or a skip saying where the data was looked for."""
    path = FACE_DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real face data not found at {path} (set FACE_DATA_DIR)")
    return path


def broken_off_stream(folder: Path) -> tuple[Path, Path]:
    """A real clip remuxed as MPEG-TS (a stream with no index), whole and cut in half, as a
    copy or a broadcast that stopped."""
    import av

    whole = folder / "whole.ts"
    with av.open(str(face_data("video", "hamilton_short.mp4"))) as source:
        video = source.streams.video[0]
        with av.open(str(whole), "w", format="mpegts") as out:
            copy = out.add_stream_from_template(video)
            for packet in source.demux(video):
                if packet.dts is not None:
                    packet.stream = copy
                    out.mux(packet)
    half = folder / "half.ts"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return whole, half


@pytest.fixture
def lfw_small(tmp_path: Path) -> Path:
    """A folder of three real LFW clusters (52 photos), copied so tests may add files to it."""
    root = tmp_path / "clusters"
    for name in SMALL_CLUSTERS:
        shutil.copytree(face_data("lfw", name), root / name)
    return root


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache (the process's own, by default): nothing one test
    kept, a dashboard's last tables above all, shows in another."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.fixture
def start_worker(transactional_db, media_root, tmp_path):
    """Start real Celery worker processes over the real broker, on the test database.

    ``start_worker(**env)`` returns the process once it is ready; extra variables go into its
    environment; ``queues="cpu"`` has it consume only those queues (default: all of them). The
    queues are emptied first so that nothing left by an earlier run is taken.
    """
    import subprocess
    import time

    from django.db import connection

    from curation.celery import app
    from curation.workers import QUEUES, worker_argv

    with app.connection_for_write() as conn:
        for queue in ("gpu", "cpu"):
            conn.default_channel.queue_purge(queue)
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    started = []

    def start(queues: str = QUEUES, **extra: str) -> subprocess.Popen:
        env = (
            os.environ
            | {
                "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
                "MEDIA_ROOT": str(media_root),
                "DJANGO_SETTINGS_MODULE": "tests.settings",
            }
            | extra
        )
        log = tmp_path / f"worker-{len(started)}.log"
        with open(log, "w") as out:
            worker = subprocess.Popen(
                worker_argv(hostname=f"test-{os.getpid()}-{len(started)}@%h", queues=queues),
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(worker)
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                worker.kill()
                pytest.fail(f"worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        worker.log = log
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


@pytest.fixture
def celery_worker_process(start_worker):
    """One real worker, started before the test."""
    return start_worker()


REVIEW_CLUSTERS = (
    "Bill_McBride",
    "Jacques_Rogge",
    "Jason_Kidd",
    "Jean-David_Levitte",
    "Mohammad_Khatami",
    "Paradorn_Srichaphan",
)


@pytest.fixture
def scored_title(tmp_path, media_root, transactional_db):
    """A real title of six LFW clusters, scored in this process by the scoring run's own steps."""
    from curation.imports.service import title_import
    from curation.models import ScoringRun, Title
    from curation.scoring_runs import quality_models, steps

    root = tmp_path / "review-clusters"
    for name in REVIEW_CLUSTERS:
        shutil.copytree(face_data("lfw", name), root / name)
    summary = title_import(source=root, name="review")
    title = Title.objects.get(pk=summary.title_id)
    run = ScoringRun.objects.create(title=title, faces_total=title.faces.count())
    steps.features_compute(run=run, face_ids=list(title.faces.values_list("pk", flat=True)))
    quality_models.quality_assign(run=run)
    steps.selections_replace(run=run)
    steps.crops_make(run=run)
    ScoringRun.objects.filter(pk=run.pk).update(
        status=ScoringRun.Status.DONE, step=ScoringRun.Step.DONE
    )
    Title.objects.filter(pk=title.pk).update(status=Title.Status.SCORED)
    title.refresh_from_db()
    return title
