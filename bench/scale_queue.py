"""The review queue and campaign creation at scale (issue 15), on synthetic catalogues.

    .venv/bin/python bench/scale_queue.py [--sizes 10000 100000 1000000] [--seconds 15]

For each size it builds a catalogue with ``bench/catalogue.py`` in a throwaway PostgreSQL
database (``curation_scale_queue`` beside ``DATABASE_URL``'s): faces in clusters of 10, every
selector's pick, and a grade campaign over four selectors (about 3 items per cluster: 300k items
at 1M faces), half its items judged by 20 annotators. It then creates the same campaign again,
empty, and measures ``next_item`` as the server runs it (the function, not the HTTP round trip),
each call followed by its answer, after a few rounds that warm the process and its connection:

- one annotator, on the empty campaign and on the half-judged one (200 calls);
- 20 annotators at once on the half-judged one, each in its own process as web workers are:
  paced (each looks at an item for ``THINK`` seconds before answering, as in
  ``bench/test_review_latency.py``) and flat out (no pause: the 2 cores are then the limit);
  each run answers at most a tenth of the open items, so the campaign stays about half judged;

and the creation of a grade campaign over the five selectors (3.4k / 34k / 100k items, from
10k / 100k / 300k faces), committed, median of three. Besides wall times it gives the CPU each
call used, in this process and in its PostgreSQL backend, which other work on the machine does
not inflate; it prints Markdown tables and the load (``uptime``) before and after each size.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalogue import SELECTORS, Spec, catalogue, record_figures  # noqa: E402

QUEUE_SELECTORS = ("baseline", "fiqa", "filtering", "regression")
ANNOTATORS = 20
THINK = 0.4
WARM_UP = 3
SINGLE_CALLS = 200
CREATION_RUNS = 3
# Titles of 20,000 faces a creation asks about: 300k faces give 100k items.
CREATION_TITLES = {10_000: 1, 100_000: 5, 1_000_000: 15}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Cpu:
    """Milliseconds of CPU this process and its PostgreSQL backend have used (the backend's from
    Linux's ``schedstat``; the database runs on this machine): what a call costs, whatever else
    the machine runs at the time."""

    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = Path(f"/proc/{cursor.fetchone()[0]}/schedstat")

    def now(self) -> float:
        return (time.process_time_ns() + int(self.backend.read_text().split()[0])) / 1e6


def timed_calls(
    campaign_id: int, annotator_id: int, calls: int, think: float, start: float, until: float
) -> list[tuple[float, float]]:
    """Milliseconds and CPU milliseconds of each ``next_item``, each followed by an answer
    ``think`` seconds later, from ``start`` to ``until`` (``time.time()``s) or ``calls`` calls.
    ``WARM_UP`` rounds before ``start`` warm the process and its connection, as a web worker's
    are."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from curation.models import Campaign
    from curation.review.queue import answer_record, next_item

    campaign = Campaign.objects.get(pk=campaign_id)
    annotator = get_user_model().objects.get(pk=annotator_id)
    cpu = Cpu()

    def answered() -> tuple[float, float] | None:
        """The next item's cost, once answered; None when nothing is left."""
        started, used = time.perf_counter(), cpu.now()
        served = next_item(campaign=campaign, annotator=annotator)
        took = ((time.perf_counter() - started) * 1000, cpu.now() - used)
        if served is None:
            return None
        time.sleep(think)
        answer_record(campaign=campaign, annotator=annotator, token=served.token, answer="usable")
        return took

    for _ in range(WARM_UP):
        answered()
    time.sleep(max(0.0, start - time.time()))
    times: list[tuple[float, float]] = []
    while len(times) < calls and time.time() < until and (took := answered()) is not None:
        times.append(took)
    connection.close()
    return times


def at_once(
    campaign_id: int, annotators: list[int], calls: int, seconds: float, think: float
) -> list[tuple[float, float]]:
    """``timed_calls`` in one process per annotator, all at once."""
    from django.db import connections

    connections.close_all()  # each process opens its own
    start = time.time() + 10  # time for all to start and warm up
    jobs = [(campaign_id, pk, calls, think, start, start + seconds) for pk in annotators]
    with multiprocessing.get_context("fork").Pool(len(annotators)) as pool:
        return [t for times in pool.starmap(timed_calls, jobs) for t in times]


def summary(times: list[tuple[float, float]]) -> dict:
    wall = [ms for ms, _ in times]
    return {
        "p50": round(statistics.median(wall), 1),
        "p95": round(percentile(wall, 0.95), 1),
        "cpu": round(statistics.median(cpu for _, cpu in times), 1),
        "calls": len(times),
    }


def created(titles: list[int], runs: int) -> dict:
    """Median seconds (and CPU seconds) to create and commit a grade campaign over the five
    selectors, and its items; each one is deleted again."""
    from django.db import connection

    from curation.models import Title
    from curation.review.campaigns import campaign_create

    chosen = list(Title.objects.filter(pk__in=titles))
    cpu = Cpu()
    seconds, used, items = [], [], 0
    for run in range(runs):
        started, before = time.perf_counter(), cpu.now()
        campaign = campaign_create(
            name=f"creation {run}", kind="grade", titles=chosen, selectors=list(SELECTORS)
        )
        seconds.append(time.perf_counter() - started)
        used.append((cpu.now() - before) / 1000)
        items = campaign.items_asked
        with connection.cursor() as cursor:
            for table in ("curation_item", "curation_campaign_titles"):
                cursor.execute(f"DELETE FROM {table} WHERE campaign_id = %s", [campaign.pk])
            cursor.execute("DELETE FROM curation_campaign WHERE id = %s", [campaign.pk])
            cursor.execute("VACUUM curation_item")
    return {
        "faces": sum(Title.objects.get(pk=pk).faces.count() for pk in titles),
        "items": items,
        "seconds": round(statistics.median(seconds), 2),
        "cpu": round(statistics.median(used), 2),
    }


def measure(size: int, seconds: float) -> dict:
    spec = Spec(
        faces=size,
        campaigns=("grade",),
        grade_selectors=QUEUE_SELECTORS,
        judged=0.5,
        annotators=ANNOTATORS + 1,
    )
    with catalogue("curation_scale_queue", spec) as built:
        from django.db import connection

        from curation.models import Campaign, Title
        from curation.review.campaigns import campaign_create

        half = Campaign.objects.get(pk=built.campaigns["grade"])
        empty = campaign_create(
            name="empty",
            kind="grade",
            titles=list(Title.objects.filter(pk__in=built.titles)),
            selectors=list(QUEUE_SELECTORS),
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves the tables
        single, *crowd = built.annotators
        row: dict = {"faces": built.faces, "items": half.items_asked, "build": built.seconds}
        for name, campaign in (("empty", empty), ("half judged", half)):
            now = time.time()
            times = timed_calls(campaign.pk, single, SINGLE_CALLS, 0, now, now + 600)
            row[f"1 annotator, {name}"] = summary(times)
        # Each run answers at most a tenth of the items still open: the campaign stays about
        # half judged.
        calls = (half.items_asked - half.judged) // (10 * len(crowd))
        for name, think in (("paced", THINK), ("flat out", 0.0)):
            row[f"20 annotators, {name}"] = summary(at_once(half.pk, crowd, calls, seconds, think))
        half.refresh_from_db()
        row["judged after"] = half.judged
        titles = built.titles[: CREATION_TITLES.get(size, len(built.titles))]
        row["creation"] = created(titles, CREATION_RUNS)
    return row


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seconds", type=float, default=15, help="of each run of 20 at once")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        before = uptime()
        rows.append(measure(size, args.seconds) | {"load before": before, "load after": uptime()})
        print(f"{size} faces done: {rows[-1]}", flush=True)
    print("\nnext item, server side: p50 / p95 ms (median CPU ms, this process and PostgreSQL)\n")
    columns = ["1 annotator, empty", "1 annotator, half judged"]
    crowds = ["20 annotators, paced", "20 annotators, flat out"]
    print(f"| faces | items | {' | '.join(columns + crowds)} |")
    print("|---:|---:|" + "---:|" * 4)
    for row in rows:
        cells = [f"{row[c]['p50']} / {row[c]['p95']} ({row[c]['cpu']})" for c in columns] + [
            f"{row[c]['p50']} / {row[c]['p95']} ({row[c]['cpu']}; {row[c]['calls']} calls)"
            for c in crowds
        ]
        print(f"| {row['faces']:,} | {row['items']:,} | {' | '.join(cells)} |")
    print("\ngrade campaign over the five selectors, created and committed, median of 3:\n")
    print("| faces asked about | items | seconds | CPU seconds |\n|---:|---:|---:|---:|")
    for row in rows:
        made = row["creation"]
        print(f"| {made['faces']:,} | {made['items']:,} | {made['seconds']} | {made['cpu']} |")
    print()
    for row in rows:
        print(f"{row['faces']:,} faces: {row['load before']}  ->  {row['load after']}")
    record_figures("queue", {f"{row['faces']} faces": row for row in rows})


if __name__ == "__main__":
    main()
