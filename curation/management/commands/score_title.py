"""``manage.py score_title NAME [--wait]``: run the scoring pipeline over a title."""

import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from curation.management.database import database_ready
from curation.management.titles import title_named
from curation.models import ScoringRun
from curation.queueing import QueueUnavailable
from curation.scoring_runs.service import ScoringRefused, scoring_start
from curation.workers import worker_argv

UNCLAIMED_SECONDS = 5


class Command(BaseCommand):
    help = (
        "Score a title on the workers: features, quality, every selector, headshot crops. "
        "With --wait, follow the progress until it ends (a worker must be running: "
        "'manage.py runapp', or 'celery -A curation worker --queues gpu,cpu')."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the title's name")
        parser.add_argument("--wait", action="store_true", help="wait until the run ends")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=settings.SCORING_CHUNK_SIZE,
            help="faces per feature task (default %(default)s)",
        )

    def handle(self, *args, name, wait, chunk_size, **options):
        database_ready()
        title = title_named(name)
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        try:
            run = scoring_start(title=title, chunk_size=chunk_size)
        except (ScoringRefused, QueueUnavailable) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"scoring run {run.pk} queued for {title.name!r} ({run.faces_total} faces)"
        )
        if not wait:
            return
        started = time.monotonic()
        shown = ""
        helper = None
        try:
            while True:
                run.refresh_from_db()
                if helper is None and _unclaimed(run, started):
                    helper = self._start_helper_worker()
                line = _progress_line(run, time.monotonic() - started)
                if line != shown:
                    self.stderr.write(line)
                    shown = line
                if run.status == ScoringRun.Status.DONE:
                    self.stdout.write(
                        f"scored {title.name!r}: "
                        + ", ".join(
                            f"{step} {seconds} s" for step, seconds in run.step_seconds.items()
                        )
                    )
                    for note in run.notes:
                        self.stdout.write(note)
                    return
                if run.status == ScoringRun.Status.FAILED:
                    raise CommandError(f"scoring failed: {run.error}")
                time.sleep(0.5)
        finally:
            if helper:
                helper.terminate()
                helper.wait(timeout=30)

    def _start_helper_worker(self):
        """Nothing took the run: with the embedded broker, run a worker for this command; with
        a real broker, say how to start one (the run stays queued, nothing is lost)."""
        if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
            self.stderr.write(
                "no worker has taken the run yet; start one with "
                "'celery -A curation worker --queues gpu,cpu'"
            )
            return False
        self.stderr.write(
            f"no worker took the run within {UNCLAIMED_SECONDS} s: starting one "
            "for this command (it stops when the run ends)"
        )
        return subprocess.Popen(
            worker_argv(hostname="score-title@%h", loglevel="WARNING", quiet=True),
            cwd=settings.BASE_DIR,
            stdout=sys.stderr,  # stdout stays the command's own
        )


def _unclaimed(run: ScoringRun, started: float) -> bool:
    return run.status == ScoringRun.Status.QUEUED and time.monotonic() - started > UNCLAIMED_SECONDS


def _progress_line(run: ScoringRun, elapsed: float) -> str:
    if run.status == ScoringRun.Status.QUEUED:
        return "waiting for a worker…"
    if run.step == ScoringRun.Step.FEATURES:
        return f"features {run.faces_done}/{run.faces_total} faces ({elapsed:.0f} s)"
    if run.step == ScoringRun.Step.IDENTITY:
        return f"identity {run.clusters_done}/{run.clusters_total} clusters ({elapsed:.0f} s)"
    if run.step == ScoringRun.Step.CROPS:
        return f"crops {run.crops_done}/{run.crops_total} ({elapsed:.0f} s)"
    return f"{run.step} ({elapsed:.0f} s)"
