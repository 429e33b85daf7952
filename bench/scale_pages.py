"""Pages and lists at 40,000 faces per title (issue 15): the title page, the cluster page at its
first and a deep page, ``selections`` (command and API) and the lists, long ones included.

    .venv/bin/python bench/scale_pages.py [--runs 7] [--titles 5] [--keep DATABASE]

It builds its catalogue in a throwaway PostgreSQL database (``curation_scale_pages`` beside
``DATABASE_URL``'s) with ``bench/catalogue.py``: ``--titles`` titles of 40,000 faces each, in
clusters of 200, every selector's pick, and a grade campaign over them, every item judged 3
times. On the first title it then makes what a long video leaves: a lead actor of 10,000 faces
(the faces of 50 clusters merged into one, which the merge leaves empty, as the app's merge
does), frame times over the video and tracks of 25 faces; and it adds 2,000 more titles, 2,000
import jobs and 500 campaigns for the lists, and vacuums the tables as autovacuum would. Deep
pages are reached by the cursor a page's *next* link carries.

Each request goes through Django's test client (middleware, session, queries, templates), a
warm-up first, then ``--runs`` timed runs; it prints the median, the queries and the response's
size, as a Markdown table, with the machine's load (``uptime``) before and after.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalogue import Spec, catalogue, record_figures  # noqa: E402

FACES_PER_TITLE = 40_000
LEAD_MERGES = 50  # clusters of 200 faces merged into the lead: 10,000 faces
TRACK_FACES = 25
SECONDS_PER_FRAME = 0.08  # a sampled frame every other frame at 25 fps
NEXT = re.compile(r'href="\?([^"]+)" rel="next"')
EXTRA_ROWS = {"titles": 2_000, "imports": 2_000, "campaigns": 500}


def video_and_lead(title_id: int) -> tuple[int, int]:
    """Turn the title into a long video's: a lead cluster, frame times and tracks. Returns the
    lead cluster and an ordinary one."""
    from django.db import connection

    from curation.models import Cluster, Selection, Title

    clusters = list(
        Cluster.objects.filter(title_id=title_id).order_by("pk").values_list("pk", flat=True)
    )
    lead, merged, ordinary = clusters[0], clusters[1 : 1 + LEAD_MERGES], clusters[-1]
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE curation_frame SET "index" = id - first, time = (id - first) * %s '
            "FROM (SELECT min(id) AS first FROM curation_frame WHERE title_id = %s) AS f "
            "WHERE title_id = %s",
            [SECONDS_PER_FRAME * 2, title_id, title_id],
        )
        cursor.execute(
            "SELECT f.id, f.cluster_id, fr.time FROM curation_face f "
            "JOIN curation_frame fr ON fr.id = f.frame_id WHERE f.title_id = %s",
            [title_id],
        )
        faces = np.array(cursor.fetchall(), dtype=np.float64)
    Selection.objects.filter(cluster_id__in=merged).delete()
    Cluster.objects.filter(pk__in=merged).update(stale=True)
    faces[np.isin(faces[:, 1], merged), 1] = lead
    faces = faces[np.lexsort((faces[:, 0], faces[:, 1]))]
    face_ids, cluster_ids, times = faces[:, 0].astype(np.int64), faces[:, 1], faces[:, 2]
    # Tracks: runs of TRACK_FACES consecutive faces of a cluster, numbered in time order.
    new_cluster = np.r_[True, np.diff(cluster_ids) != 0]
    cluster_start = np.maximum.accumulate(np.where(new_cluster, np.arange(len(faces)), 0))
    begins = new_cluster | ((np.arange(len(faces)) - cluster_start) % TRACK_FACES == 0)
    track_of = np.cumsum(begins) - 1
    firsts = np.flatnonzero(begins)
    start, end = np.minimum.reduceat(times, firsts), np.maximum.reduceat(times, firsts)
    number = np.empty(len(firsts), dtype=np.int64)
    number[np.argsort(start, kind="stable")] = np.arange(1, len(firsts) + 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM curation_track")
        first = cursor.fetchone()[0] + 1
        with cursor.copy(
            'COPY curation_track (id, title_id, number, shot, background, start, "end") FROM STDIN'
        ) as copy:
            for k in range(len(firsts)):
                row = (first + k, title_id, int(number[k]), int(number[k]), False)
                copy.write_row((*row, float(start[k]), float(end[k])))
        # The merge and the tracks in one statement: two faces of the lead may share a frame
        # only once they are in tracks.
        cursor.execute("CREATE TEMP TABLE face_move (face integer, cluster integer, track integer)")
        with cursor.copy("COPY face_move (face, cluster, track) FROM STDIN") as copy:
            clusters_to = cluster_ids.astype(np.int64).tolist()
            for face, cluster, k in zip(
                face_ids.tolist(), clusters_to, track_of.tolist(), strict=True
            ):
                copy.write_row((face, cluster, first + k))
        cursor.execute(
            "UPDATE curation_face SET cluster_id = m.cluster, track_id = m.track "
            "FROM face_move m WHERE id = m.face"
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('curation_track', 'id'), "
            "(SELECT max(id) FROM curation_track))"
        )
        cursor.execute("ANALYZE curation_face; ANALYZE curation_track; ANALYZE curation_frame")
    Title.objects.filter(pk=title_id).update(
        seconds=float(times.max()) + 1, video=f"titles/{title_id}/video.mp4"
    )
    return lead, ordinary


def more_rows() -> None:
    """Rows for the lists: titles without faces, finished imports, campaigns without items, and
    a finished scoring run per catalogue title that made its picks."""
    from curation.models import Campaign, ImportJob, ScoringRun, Selection, Title

    now = datetime.now(UTC)
    for title in Title.objects.all():
        run = ScoringRun.objects.create(title=title, status=ScoringRun.Status.DONE, finished_at=now)
        Selection.objects.filter(cluster__title=title).update(run=run)
    Selection.objects.filter(selector=Selection.Selector.FILTERING).update(
        parameters="filtering:default"
    )
    Title.objects.bulk_create(
        Title(name=f"listed-{k:05d}", source="synthetic", status=Title.Status.IMPORTED)
        for k in range(EXTRA_ROWS["titles"])
    )
    ImportJob.objects.bulk_create(
        ImportJob(name=f"listed-{k:05d}", status=ImportJob.Status.DONE, images_total=100)
        for k in range(EXTRA_ROWS["imports"])
    )
    Campaign.objects.bulk_create(
        Campaign(name=f"listed-{k:05d}", kind=Campaign.Kind.GRADE, selectors=["baseline"])
        for k in range(EXTRA_ROWS["campaigns"])
    )


def drf_cursor(position: int) -> str:
    """The cursor of DRF's keyset pages that continues after the row of id ``position``."""
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


def timed(client, url: str, runs: int) -> dict:
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)  # the warm-up, counted
    assert response.status_code == 200, (url, response.status_code)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - started)
    return {
        "ms": round(1000 * statistics.median(seconds)),
        "queries": len(queries),
        "kb": round(len(response.content) / 1024),
    }


def timed_command(name: str, runs: int) -> dict:
    from django.core.management import call_command

    seconds = []
    for _ in range(runs + 1):
        out = io.StringIO()
        started = time.perf_counter()
        call_command("selections", name, stdout=out)
        seconds.append(time.perf_counter() - started)
    return {"ms": round(1000 * statistics.median(seconds[1:])), "queries": "", "kb": ""}


def measure(built, lead: int, ordinary: int, runs: int) -> list[tuple[str, dict]]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from curation.accounts.users import user_create
    from curation.models import Face, ImportJob, Judgment, Title

    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    user_create(username="bench", role="admin", password="pw-bench-1")
    client.force_login(get_user_model().objects.get(username="bench"))
    title = Title.objects.get(pk=built.titles[0])
    faces = Face.objects.filter(title=title).order_by("pk").values_list("pk", flat=True)
    judgments = Judgment.objects.order_by("pk").values_list("pk", flat=True)
    judged = judgments.count()

    def next_page(url: str, page: int) -> str:
        """The URL that page ``page``'s *next* link names."""
        content = client.get(f"{url}{'&' if '?' in url else '?'}page={page}").content.decode()
        link = NEXT.search(content)
        assert link, f"no next link on page {page} of {url}"
        return f"{url.split('?')[0]}?{html.unescape(link.group(1))}"

    lead_faces = Face.objects.filter(cluster_id=lead).count()
    imports = ImportJob.objects.count()
    deep = lead_faces // 120 - 2
    pages = [
        ("title page, 40,000 faces, 200 clusters", f"/titles/{title.pk}/"),
        ("title page sorted by faces", f"/titles/{title.pk}/?sort=-face_count"),
        ("title page, clusters page 3", next_page(f"/titles/{title.pk}/", 2)),
        (f"cluster page, lead of {lead_faces:,} faces", f"/clusters/{lead}/"),
        (f"cluster page, lead, page {deep + 1}", next_page(f"/clusters/{lead}/", deep)),
        ("cluster page, 200 faces", f"/clusters/{ordinary}/"),
        ("selections API, one title", f"/api/titles/{title.pk}/selections/"),
        (f"title list, {Title.objects.count():,} titles", "/titles/"),
        ("title list sorted by faces", "/titles/?sort=-face_count"),
        ("title list, page 30", next_page("/titles/?sort=name", 29)),
        (f"import list, {imports:,} jobs, page 30", next_page("/imports/", 29)),
        ("campaign list, page 9", next_page("/campaigns/", 8)),
        ("API titles", "/api/titles/"),
        ("API faces of a title, first page", f"/api/titles/{title.pk}/faces/"),
        (
            "API faces of a title, page 350",
            f"/api/titles/{title.pk}/faces/?cursor={drf_cursor(faces[34_900])}",
        ),
        (f"API judgments ({judged:,}), first page", "/api/judgments/"),
        (
            "API judgments, last page",
            f"/api/judgments/?cursor={drf_cursor(judgments[max(judged - 101, 0)])}",
        ),
        ("API campaigns", "/api/campaigns/"),
        ("API imports", "/api/imports/"),
        ("API runs", "/api/runs/"),
    ]
    figures = [(label, timed(client, url, runs)) for label, url in pages]
    figures.insert(7, ("`selections` command, one title", timed_command(title.name, runs)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--titles", type=int, default=5)
    parser.add_argument("--keep", metavar="DATABASE", help="keep the database under this name")
    args = parser.parse_args()
    spec = Spec(
        faces=FACES_PER_TITLE * args.titles,
        faces_per_cluster=200,
        titles=args.titles,
        campaigns=("grade",),
        overlap=3,
        judged=1.0,
    )
    load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    started = time.perf_counter()
    database = args.keep or "curation_scale_pages"
    with catalogue(database, spec, keep=bool(args.keep)) as built:
        from django.db import connection

        lead, ordinary = video_and_lead(built.titles[0])
        more_rows()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a table: visibility map set
        build_seconds = time.perf_counter() - started
        figures = measure(built, lead, ordinary, args.runs)
    load_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"built in {build_seconds:.0f} s ({built.seconds}); median of {args.runs} runs")
    print(f"load before: {load_before}\nload after:  {load_after}\n")
    print("| request | median ms | queries | KiB |\n|---|---:|---:|---:|")
    for label, row in figures:
        print(f"| {label} | {row['ms']} | {row['queries']} | {row['kb']} |")
    record_figures(
        "pages",
        {"runs": args.runs, "load before": load_before, "load after": load_after}
        | {label: row for label, row in figures},
    )


if __name__ == "__main__":
    main()
