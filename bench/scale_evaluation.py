"""The evaluation at scale (issue 15): the tables, the dashboard and the exports over 10k, 100k
and 1M judgments, on synthetic catalogues.

    .venv/bin/python bench/scale_evaluation.py [--judgments 10000 100000 1000000] [--runs 3]

For each size it builds a catalogue with ``bench/catalogue.py`` in a throwaway PostgreSQL
database (``curation_scale_evaluation`` beside ``DATABASE_URL``'s): faces in clusters of 10
(one face per judgment: 1M faces for 1M judgments), every selector's pick, a grade campaign
over the five selectors and an A/B campaign (filtering vs regression), both with overlap 3 and
1 % check items, three quarters of their items judged by 20 annotators, 2 % of the answers
given, undone and given again. Then, each the median of ``--runs``:

- each table as its function computes it (no cache): Table 1 with 1b, Table 2, Table 3,
  agreement, the slices of one slicer (|yaw|), the annotators on the check items;
- the dashboard (an admin's GET through Django's test client, the page rendered), cold (the
  cache emptied first) and warm, and after an answer through the queue: the page as it goes
  out (the last tables, with their note) and, timed apart, the fresh tables it computes once
  sent;
- the JSON export (the download of every table, slices of every slicer included), cold;
- the raw judgments streamed as CSV through their download: seconds, and how far the process's
  resident memory grew above what it held before; then the peak of Python's own allocations
  (tracemalloc, which slows Python down, so apart) over the first 300,000 rows.

Prints Markdown tables with the machine's load (``uptime``) before and after each size.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalogue import Spec, catalogue, record_figures  # noqa: E402

DATABASE = "curation_scale_evaluation"
# Judgments per cluster of 10 faces: 3.4 grade items and 0.6 A/B items, three quarters judged
# three times, the check items' answers and the answers given twice: about 10.
JUDGMENTS_PER_FACE = 1.0
PEAK_ROWS = 300_000


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def rss() -> int:
    """The process's resident memory now, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def median_seconds(run: Callable[[], object], runs: int, before: Callable[[], object] = list):
    times = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(judgments: int, runs: int) -> dict:
    spec = Spec(
        faces=round(judgments / JUDGMENTS_PER_FACE),
        campaigns=("grade", "ab"),
        overlap=3,
        judged=0.75,
        undone=0.02,
        gold_share=0.01,
    )
    with catalogue(DATABASE, spec) as built:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.cache import cache
        from django.core.signals import request_finished
        from django.db import connection
        from django.test import Client

        from curation.accounts.users import user_create
        from curation.evaluation.cache import refresh_after_response
        from curation.evaluation.checks import annotator_checks
        from curation.evaluation.judgments import csv_lines, judgment_rows
        from curation.evaluation.slices import SLICER_BY_KEY, slice_tables
        from curation.evaluation.tables import Filters, agreement, table1, table2, table3
        from curation.models import Campaign, Item, Judgment
        from curation.review.queue import DECISIVE, answer_record, next_item

        settings.ALLOWED_HOSTS = ["testserver"]
        load = uptime()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a table after a bulk load
            # The build's pages written out now, not by the checkpointer while timing.
            cursor.execute("CHECKPOINT")
        row: dict = {
            "judgments": Judgment.objects.count(),
            "live": Judgment.objects.filter(
                answer__in=DECISIVE, superseded_by__isnull=True
            ).count(),
            "faces": built.faces,
            "items": Item.objects.count(),
        }
        everything = Filters()
        tables = {
            "Table 1 + 1b": lambda: table1(everything),
            "Table 2": lambda: table2(everything),
            "Table 3": lambda: table3(everything),
            "agreement": lambda: agreement(everything),
            "slices (|yaw|)": lambda: slice_tables(everything, [SLICER_BY_KEY["yaw"]]),
            "checks": lambda: annotator_checks(everything),
        }
        for name, compute in tables.items():
            row[name] = median_seconds(compute, runs)

        user_create(username="bench-admin", role="admin", password="pw-bench-1")
        admin = get_user_model().objects.get(username="bench-admin")
        client = Client()
        client.force_login(admin)

        def page():
            assert client.get("/evaluation/").status_code == 200

        row["dashboard, cold"] = median_seconds(page, runs, before=cache.clear)
        row["dashboard, warm"] = median_seconds(page, runs)

        grade = Campaign.objects.get(pk=built.campaigns["grade"])

        def judged():
            """An answer through the queue, and its commit's version step."""
            served = next_item(campaign=grade, annotator=admin)
            answer_record(campaign=grade, annotator=admin, token=served.token, answer="usable")

        # The page as it goes out (the last tables, stale), then the fresh tables computed once
        # it is sent, timed apart: the test client would run both in its get().
        pages, refreshes = [], []
        for _ in range(runs):
            judged()
            request_finished.disconnect(dispatch_uid="evaluation-refresh")
            try:
                pages.append(median_seconds(page, 1))
            finally:
                request_finished.connect(refresh_after_response, dispatch_uid="evaluation-refresh")
            refreshes.append(median_seconds(refresh_after_response, 1))
        row["dashboard, after a judgment"] = statistics.median(pages)
        row["fresh tables, computed after that page"] = statistics.median(refreshes)

        def export():
            response = client.get("/evaluation/export/json/")
            assert response.status_code == 200 and len(response.content) > 1000

        row["JSON export, cold"] = median_seconds(export, runs, before=cache.clear)

        held = rss()
        peak_rss, size, started = held, 0, time.perf_counter()
        response = client.get("/evaluation/judgments.csv")
        for count, chunk in enumerate(response):
            size += len(chunk)
            if count % 20 == 0:  # every 20,000 rows
                peak_rss = max(peak_rss, rss())
        row["raw CSV export"] = time.perf_counter() - started
        row["raw CSV export, MB"] = size / 2**20
        row["raw CSV export, RSS growth MB"] = (max(peak_rss, rss()) - held) / 2**20
        # Python's own allocations at their peak, over the first PEAK_ROWS rows (tracemalloc
        # slows Python down: not over the timed pass).
        tracemalloc.start()
        for _ in csv_lines(itertools.islice(judgment_rows(everything), PEAK_ROWS)):
            pass
        row["raw CSV export, Python peak MB"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        row["load"] = (load, uptime())
    return row


TIMED = (
    "Table 1 + 1b",
    "Table 2",
    "Table 3",
    "agreement",
    "slices (|yaw|)",
    "checks",
    "dashboard, cold",
    "dashboard, warm",
    "dashboard, after a judgment",
    "fresh tables, computed after that page",
    "JSON export, cold",
    "raw CSV export",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for judgments in args.judgments:
        rows.append(measure(judgments, args.runs))
        print(f"{judgments} judgments done: {rows[-1]}", flush=True)
    print()
    for row in rows:
        print(f"{row['judgments']:,} judgments, load before: {row['load'][0]}")
        print(f"{row['judgments']:,} judgments, load after:  {row['load'][1]}")
    header = " | ".join(f"{row['judgments']:,} judgments" for row in rows)
    print(f"\n| seconds (median of {args.runs}) | {header} |")
    print("|---|" + "---:|" * len(rows))
    print(
        "| catalogue | "
        + " | ".join(
            f"{row['faces']:,} faces, {row['items']:,} items, {row['live']:,} live" for row in rows
        )
        + " |"
    )
    for name in TIMED:
        print(f"| {name} | " + " | ".join(f"{row[name]:.3f}" for row in rows) + " |")
    print(
        "| raw CSV export: MB sent / process growth (RSS) / Python's peak over the first "
        f"{PEAK_ROWS:,} rows (MB) | "
        + " | ".join(
            f"{row['raw CSV export, MB']:.0f} / {row['raw CSV export, RSS growth MB']:.1f} / "
            f"{row['raw CSV export, Python peak MB']:.1f}"
            for row in rows
        )
        + " |"
    )
    record_figures(
        "evaluation",
        {
            f"{row['judgments']} judgments": {
                key: round(value, 3) if isinstance(value, float) else value
                for key, value in row.items()
            }
            for row in rows
        },
    )


if __name__ == "__main__":
    main()
