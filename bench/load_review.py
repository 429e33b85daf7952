"""Review under load: 20 annotators at once against gunicorn, PostgreSQL and a worker.

    .venv/bin/python bench/load_review.py [--annotators 20] [--clusters 24] [--overlap 5]

It builds everything itself in a throwaway PostgreSQL database (``curation_load_bench`` beside
``DATABASE_URL``'s, default ``postgres://postgres@127.0.0.1:5432``) and data folder: imports real
LFW clusters, scores them on a worker over Redis, makes a grade campaign over every selector,
creates the annotators, and serves the app with gunicorn. Each annotator logs in through the real
form and answers as fast as it can, like htmx does, with double submits (10 %, sent at once from
two threads), refreshes (5 %) and undos (5 %). Reports answers/s and the p50/p95/p99 of "answer +
next item" as the client sees it, then checks the database: answers lost, judgments duplicated,
items over their overlap, items served again to someone who had judged them, and answers refused
although their lease was held.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data"))
PYTHON = str(REPO / ".venv" / "bin" / "python")
PORT = 8765
TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')
ITEM = re.compile(r'data-item="(\d+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REFUSED = ("no longer held", "already has all its judgments")


def environment(folder: Path) -> dict[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x").rsplit("/", 1)[0]
    return os.environ | {
        "DATABASE_URL": f"{base}/curation_load_bench",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "FACE_CURATION_DATA_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "curation.settings",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }


def recreate_database(env: dict[str, str]) -> None:
    import psycopg

    server = env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS curation_load_bench WITH (FORCE)")
        connection.execute("CREATE DATABASE curation_load_bench")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=env, check=True)


class Annotator(threading.Thread):
    """One person at the keyboard: log in, then answer until nothing is left."""

    def __init__(self, name: str, campaign: int, seed: int) -> None:
        super().__init__(name=name)
        self.campaign, self.rng = campaign, random.Random(seed)
        self.http = requests.Session()
        self.latencies: list[float] = []
        self.answers = 0
        self.refused = 0
        self.served_again = 0
        self.sent_tokens: list[str] = []
        self.error: Exception | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{PORT}{path}"

    def run(self) -> None:
        try:
            self.log_in()
            self.judge()
        except Exception as error:  # reported by the main thread
            self.error = error

    def log_in(self) -> None:
        page = self.http.get(self.url("/login/")).text
        response = self.http.post(
            self.url("/login/"),
            data={
                "username": self.name,
                "password": "pw-load-1",
                "csrfmiddlewaretoken": CSRF.search(page).group(1),
            },
            headers={"Referer": self.url("/login/")},
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"{self.name} could not log in")

    def judge(self) -> None:
        queue = f"/review/{self.campaign}/"
        page = self.http.get(self.url(queue)).text
        csrf = CSRF.search(page).group(1)
        headers = {"HX-Request": "true", "X-CSRFToken": csrf, "Referer": self.url(queue)}
        judged: set[int] = set()
        while (token := TOKEN.search(page)) is not None:
            item = int(ITEM.search(page).group(1))
            if item in judged:
                self.served_again += 1
            if self.rng.random() < 0.05:  # a refresh serves the same item
                page = self.http.get(self.url(queue)).text
                continue
            data = {"token": token.group(1), "answer": self.rng.choice(["usable", "excellent"])}
            answer_url = self.url(f"/review/{self.campaign}/answer/")
            started = time.perf_counter()
            if self.rng.random() < 0.10:  # a double submit: both at once, two connections
                twin = requests.Session()
                twin.cookies.update(self.http.cookies)
                second = threading.Thread(
                    target=twin.post, args=(answer_url,), kwargs={"data": data, "headers": headers}
                )
                second.start()
                page = self.http.post(answer_url, data=data, headers=headers).text
                second.join()
            else:
                page = self.http.post(answer_url, data=data, headers=headers).text
            self.latencies.append(time.perf_counter() - started)
            self.sent_tokens.append(token.group(1))
            if any(reason in page for reason in REFUSED):
                self.refused += 1
                continue
            self.answers += 1
            judged.add(item)
            if self.rng.random() < 0.05:  # undo: the item comes back, to be judged again
                page = self.http.post(
                    self.url(f"/review/{self.campaign}/undo/"), headers=headers
                ).text
                judged.discard(item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--clusters", type=int, default=24)
    parser.add_argument("--overlap", type=int, default=5)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    args = parser.parse_args()
    if not (DATA / "lfw").is_dir():
        sys.exit(f"real face data not found at {DATA} (set FACE_DATA_DIR)")

    folder = Path(tempfile.mkdtemp(prefix="load-review-"))
    env = environment(folder)
    processes: list[subprocess.Popen] = []
    try:
        recreate_database(env)
        manage(env, "migrate", "-v0")
        clusters = folder / "clusters"
        for person in sorted((DATA / "lfw").iterdir())[: args.clusters]:
            shutil.copytree(person, clusters / person.name)
        manage(env, "import_title", str(clusters), "--name", "load", "--quiet")
        sys.path.insert(0, str(REPO))
        from curation.workers import worker_argv

        processes.append(
            subprocess.Popen(worker_argv(hostname="load@%h", loglevel="WARNING"), cwd=REPO, env=env)
        )
        manage(env, "score_title", "load", "--wait")

        os.environ.update(env)
        import django

        django.setup()
        from curation.accounts.users import user_create
        from curation.models import Selection, Title
        from curation.review.campaigns import campaign_create

        campaign = campaign_create(
            name="load",
            kind="grade",
            titles=[Title.objects.get(name="load")],
            selectors=list(Selection.Selector.values),
            overlap=args.overlap,
        )
        names = [f"ann{i:02d}" for i in range(args.annotators)]
        for name in names:
            user_create(username=name, role="annotator", password="pw-load-1")
        processes.append(
            subprocess.Popen(
                [
                    str(REPO / ".venv" / "bin" / "gunicorn"),
                    "curation.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{PORT}",
                    "--workers",
                    str(args.gunicorn_workers),
                    "--log-level",
                    "warning",
                    "--access-logfile",
                    str(folder / "access.log"),
                    "--access-logformat",
                    "%(m)s %(U)s %(s)s %(D)s",
                ],
                cwd=REPO,
                env=env,
            )
        )
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{PORT}/login/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)

        annotators = [Annotator(name, campaign.pk, i) for i, name in enumerate(names)]
        started = time.perf_counter()
        for annotator in annotators:
            annotator.start()
        for annotator in annotators:
            annotator.join()
        seconds = time.perf_counter() - started
        errors = [a.error for a in annotators if a.error]
        if errors:
            raise errors[0]
        gunicorn = processes.pop()
        gunicorn.terminate()  # its access log is complete once it has stopped
        gunicorn.wait(timeout=60)
        report(campaign, annotators, seconds, server_times(folder / "access.log", campaign.pk))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def server_times(log: Path, campaign: int) -> list[float]:
    """Milliseconds gunicorn spent on each answer request (it logs microseconds)."""
    answer = f"/review/{campaign}/answer/"
    return sorted(
        int(fields[3]) / 1000
        for fields in (line.split() for line in log.read_text().splitlines())
        if len(fields) == 4 and fields[0] == "POST" and fields[1] == answer
    )


def percentiles(values: list[float]) -> str:
    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return f"p50 {at(0.5):.0f} ms, p95 {at(0.95):.0f} ms, p99 {at(0.99):.0f} ms"


def report(campaign, annotators: list[Annotator], seconds: float, server: list[float]) -> None:
    from curation.models import Judgment
    from curation.review.queue import live_judgments

    latencies = sorted(t * 1000 for a in annotators for t in a.latencies)
    answers = sum(a.answers for a in annotators)
    live = live_judgments(campaign)
    recorded = set(Judgment.objects.filter(item__campaign=campaign).values_list("token", flat=True))
    sent = {token for a in annotators for token in a.sent_tokens}
    per_pair = Counter(live.values_list("item", "annotator"))
    per_item = Counter(live.values_list("item", flat=True))
    items = campaign.items.filter(identical=False).count()

    print(f"{len(annotators)} annotators, {items} items, overlap {campaign.overlap}")
    print(f"answers: {answers} in {seconds:.1f} s = {answers / seconds:.1f} answers/s")
    print(f'"answer + next item" in the server (gunicorn): {percentiles(server)}')
    print(f'"answer + next item" as the clients saw it: {percentiles(latencies)}')
    print(f"lost: {len(sent - recorded)}")
    print(f"duplicated: {sum(1 for n in per_pair.values() if n > 1)}")
    print(f"over overlap: {sum(1 for n in per_item.values() if n > campaign.overlap)}")
    print(f"served again after judging: {sum(a.served_again for a in annotators)}")
    print(f"refused although leased: {sum(a.refused for a in annotators)}")
    counters = dict(campaign.items.filter(identical=False).values_list("pk", "judged"))
    print(f"live counters off: {sum(1 for pk, n in counters.items() if n != per_item[pk])}")
    complete = sum(1 for n in per_item.values() if n == campaign.overlap)
    print(f"complete: {complete} of {items} items at overlap {campaign.overlap}")


if __name__ == "__main__":
    main()
