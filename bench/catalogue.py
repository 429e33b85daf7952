"""A synthetic catalogue at scale, in a throwaway PostgreSQL database, for the scale benchmarks.

    from bench.catalogue import Spec, catalogue

    with catalogue("curation_scale_queue", Spec(faces=1_000_000, campaigns=("grade",))) as built:
        ...  # Django is set up and its default connection points at built.database

``catalogue(database, spec, keep=False)`` creates ``database`` on the server of ``DATABASE_URL``
(``postgres://postgres@127.0.0.1:5432`` by default; its own database name is not touched),
migrates it, fills it by COPY and switches Django's default connection to it; on leaving, it
switches back and drops the database unless ``keep``. ``built.url`` is the database's URL, for
processes the benchmark starts (runserver, a worker). ``build(spec)`` fills the database Django
is connected to now (a test database, say) and returns the same summary.

What it makes, all drawn from ``spec.seed``:

- ``titles`` titles (default one per 20,000 faces), status scored, each with its clusters of
  ``faces_per_cluster`` faces (actors) and its frames (1280×720, ``faces_per_frame`` faces of
  different clusters on each).
- Faces with every feature a scored face has: box inside its frame, five landmarks, detection
  confidence, brightness, resolution (box area), sharpness, pose, fiqa, exposure, artifacts,
  identity, quality, versions; a ``known_grades`` share of them graded by an admin; embeddings
  (256 bytes) only with ``embeddings=True``.
- A pick of each of the five selectors (``Selection``) per cluster: the face of the best noisy
  quality, so selectors agree as they do on real clusters (about 3.4 distinct faces of 10).
- ``annotators`` users of the annotator role (password ``ANNOTATOR_PASSWORD``).
- One campaign per entry of ``campaigns`` (``"grade"`` over ``grade_selectors``, ``"ab"`` between
  ``ab_selectors``), made by the app's own ``campaign_create`` (items, references, check items
  with ``gold_share``), overlap ``overlap``. A ``judged`` share of its items, drawn at random,
  has all its ``overlap`` judgments, from distinct annotators, answers that follow the faces'
  quality; each gold item is answered by each annotator with probability ``judged`` (repeats
  are left unjudged). An ``undone`` share of those judgments was first given, undone (an
  ``undo`` judgment superseding it) and given again. The queue's counters (``Item.judged`` and
  ``complete``, ``Campaign.judged``, ``Participant``) are then set from the judgments, as the
  queue would have kept them.

Rows go in by COPY with triggers off for the session (``session_replication_role = replica``:
the rows are consistent by construction, and the foreign-key and box checks would triple the
time); the tables are analysed at the end. On 2 shared cores 1M faces take about a minute, and a
grade campaign of 340k items half judged about 40 s more.

A benchmark run by ``bench/scale.py`` hands it its figures with ``record_figures(part, figures)``.

Run alone, it builds a catalogue, prints what it made and how long each step took, and keeps
the database if asked:

    .venv/bin/python bench/catalogue.py --faces 100000 --campaigns grade ab --judged 0.5 --keep
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SELECTORS = ("baseline", "fiqa", "filtering", "regression", "learned")
ANNOTATOR_PASSWORD = "pw-scale-1"
FRAME_WIDTH, FRAME_HEIGHT = 1280, 720
FEATURE_VERSION = "synthetic-catalogue-1"


@dataclass(frozen=True)
class Spec:
    """What to build. Faces are rounded up to whole clusters."""

    faces: int = 10_000
    faces_per_cluster: int = 10
    faces_per_frame: int = 2
    titles: int | None = None  # default: one per 20,000 faces
    campaigns: tuple[str, ...] = ()  # "grade" and/or "ab", one campaign each
    grade_selectors: tuple[str, ...] = SELECTORS
    ab_selectors: tuple[str, str] = ("filtering", "regression")
    overlap: int = 1
    judged: float = 0.0
    undone: float = 0.0
    gold_share: float = 0.0
    known_grades: float = 0.0
    annotators: int = 20
    embeddings: bool = False
    seed: int = 0


@dataclass
class Catalogue:
    """What was built: ids to work with, and the seconds each step took."""

    database: str
    url: str
    titles: list[int]
    clusters: int
    faces: int
    campaigns: dict[str, int] = field(default_factory=dict)
    annotators: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def server_url() -> str:
    """``DATABASE_URL`` without its database name."""
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/curation")
    if not url.startswith("postgres"):
        sys.exit("the scale benchmarks need PostgreSQL: set DATABASE_URL")
    return url.rsplit("/", 1)[0]


def setup_django() -> None:
    """Set Django up on ``DATABASE_URL`` (its database is never written by ``catalogue``)."""
    os.environ.setdefault("DATABASE_URL", f"{server_url()}/curation")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url()}/postgres", autocommit=True) as server:
        server.execute(statement)


@contextmanager
def catalogue(database: str, spec: Spec, *, keep: bool = False) -> Iterator[Catalogue]:
    """Create and migrate ``database``, build ``spec`` into it with Django connected to it, and
    drop it afterwards unless ``keep``."""
    setup_django()
    from django.core.management import call_command
    from django.db import connections

    default = connections["default"]
    before = default.settings_dict["NAME"]
    _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{database}"')
    started = time.perf_counter()
    _switch(database)
    try:
        call_command("migrate", verbosity=0)
        migrated = time.perf_counter() - started
        built = build(spec)
        built.seconds = {"migrate": round(migrated, 1), **built.seconds}
        yield built
    finally:
        connections.close_all()
        _switch(before)
        if not keep:
            _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _switch(database: str) -> None:
    from django.conf import settings
    from django.db import connections

    connections["default"].close()
    settings.DATABASES["default"]["NAME"] = database
    connections["default"].settings_dict["NAME"] = database


def build(spec: Spec) -> Catalogue:
    """Fill the database Django is connected to (empty of catalogue rows) with ``spec``."""
    from django.db import connection

    rng = np.random.default_rng(spec.seed)
    clusters = math.ceil(spec.faces / spec.faces_per_cluster)
    titles = spec.titles or math.ceil(clusters * spec.faces_per_cluster / 20_000)
    seconds: dict[str, float] = {}
    step = time.perf_counter()

    def done(name: str) -> None:
        nonlocal step
        now = time.perf_counter()
        seconds[name] = round(now - step, 1)
        step = now

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            catalog = _catalog(cursor, rng, spec, titles, clusters)
            done("catalog")
            quality = catalog.pop("quality")
            _selections(cursor, rng, spec, quality)
            done("selections")
            annotators = _annotators(cursor, spec)
            done("annotators")
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
        _reset_sequences(cursor)
    built = Catalogue(
        database=connection.settings_dict["NAME"],
        url=f"{server_url()}/{connection.settings_dict['NAME']}",
        titles=catalog["titles"],
        clusters=clusters,
        faces=clusters * spec.faces_per_cluster,
        annotators=annotators,
    )
    for kind in spec.campaigns:
        built.campaigns[kind] = _campaign(kind, spec, catalog["titles"])
        done(f"{kind} campaign")
        _judgments(rng, spec, built.campaigns[kind], annotators, quality)
        done(f"{kind} judgments")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    done("analyse")
    built.seconds = seconds
    return built


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _catalog(cursor, rng: np.random.Generator, spec: Spec, titles: int, clusters: int) -> dict:
    now = datetime.now(UTC)
    n = spec.faces_per_cluster
    faces = clusters * n
    # Clusters split as evenly as possible between the titles, in id order.
    cluster_title = np.arange(clusters) * titles // clusters + 1
    first_cluster = np.searchsorted(cluster_title, np.arange(1, titles + 1))
    _copy(
        cursor,
        "curation_title",
        ["id", "name", "source", "video", "status", "error", "import_summary"]
        + ["created_at", "updated_at"],
        (
            (t, f"synthetic-{t:04d}", "synthetic", "", "scored", "", "{}", now, now)
            for t in range(1, titles + 1)
        ),
    )
    _copy(
        cursor,
        "curation_cluster",
        ["id", "title_id", "label", "role", "stale"],
        (
            (c + 1, int(cluster_title[c]), f"actor-{c - first_cluster[cluster_title[c] - 1]:05d}")
            + ("actor", False)
            for c in range(clusters)
        ),
    )
    # Frames: per title, each group of ``faces_per_frame`` clusters shares n frames (a face's
    # position in its cluster names its frame), so no cluster shows twice on one frame.
    per_title = np.bincount(cluster_title, minlength=titles + 1)[1:]
    frames_per_title = -(-per_title // spec.faces_per_frame) * n
    frame_offset = np.concatenate([[0], np.cumsum(frames_per_title)])
    _copy(
        cursor,
        "curation_frame",
        ["id", "title_id", "source_name", "image", "width", "height"],
        (
            (f + 1, t + 1, f"frame-{f:08d}.jpg", f"titles/{t + 1}/frames/frame-{f:08d}.jpg")
            + (FRAME_WIDTH, FRAME_HEIGHT)
            for t in range(titles)
            for f in range(int(frame_offset[t]), int(frame_offset[t + 1]))
        ),
    )
    cluster = np.repeat(np.arange(clusters), n)
    title = cluster_title[cluster]
    local = cluster - first_cluster[title - 1]
    frame = (
        frame_offset[title - 1]
        + (local // spec.faces_per_frame) * n
        + np.tile(np.arange(n), clusters)
        + 1
    )

    width = rng.uniform(40, 320, faces)
    height = width * rng.uniform(1.1, 1.35, faces)
    x = rng.uniform(0, FRAME_WIDTH - width)
    y = rng.uniform(0, FRAME_HEIGHT - height)
    quality = rng.beta(4, 3, faces)
    noise = rng.normal(0, 0.1, (9, faces))
    columns = {
        "confidence": np.clip(0.9 + 0.1 * quality + noise[0] / 10, 0.5, 1),
        "brightness": np.clip(60 + 120 * quality + 40 * noise[1], 5, 250),
        "resolution": width * height,
        "sharpness": np.clip(quality + noise[2], 0, 1),
        "yaw": rng.normal(0, 25, faces) * (1.2 - quality),
        "pitch": rng.normal(0, 12, faces),
        "roll": rng.normal(0, 8, faces),
        "fiqa": np.clip(quality + noise[3], 0.01, 0.99),
        "exposure": np.clip(noise[4] * 3, -1, 1),
        "artifacts": np.clip((1 - quality) * 0.5 + noise[5], 0, 1),
        "identity": np.clip(0.55 + 0.4 * quality + noise[6], 0, 1),
    }
    grades = np.array(["", "unidentifiable", "usable", "excellent"])
    known = np.where(
        rng.random(faces) < spec.known_grades, np.digitize(quality + noise[7], [0.4, 0.7]) + 1, 0
    )
    rounded = {name: np.round(values, 4).tolist() for name, values in columns.items()}
    box = [np.round(values, 2).tolist() for values in (x, y, width, height)]
    landmarks = [
        np.round(values, 1).tolist()
        for values in (x + 0.3 * width, y + 0.4 * height, x + 0.7 * width, y + 0.65 * height)
    ]
    embedding = rng.normal(0, 0.1, (faces, 128)).astype(np.float16) if spec.embeddings else None
    names = list(columns)
    face_columns = (
        ["id", "title_id", "cluster_id", "frame_id", "background", "thumbnail"]
        + ["box_x", "box_y", "box_w", "box_h", "landmarks", *names, "quality", "known_grade"]
        + ["feature_version", "quality_version", "embedding"]
    )
    quality_list = np.round(quality, 4).tolist()
    title_list, cluster_list, frame_list = title.tolist(), (cluster + 1).tolist(), frame.tolist()
    known_list = grades[known].tolist()

    def rows():
        for i in range(faces):
            left, top, right, bottom = (values[i] for values in landmarks)
            middle = round((left + right) / 2, 1)
            points = (
                f"[[{left}, {top}], [{right}, {top}], [{middle}, {round((top + bottom) / 2, 1)}],"
                f" [{left}, {bottom}], [{right}, {bottom}]]"
            )
            yield (
                i + 1,
                title_list[i],
                cluster_list[i],
                frame_list[i],
                False,
                "",
                box[0][i],
                box[1][i],
                box[2][i],
                box[3][i],
                points,
                *(rounded[name][i] for name in names),
                quality_list[i],
                known_list[i],
                FEATURE_VERSION,
                "synthetic",
                None if embedding is None else embedding[i].tobytes(),
            )

    _copy(cursor, "curation_face", face_columns, rows())
    return {"titles": list(range(1, titles + 1)), "quality": quality}


def _selections(cursor, rng: np.random.Generator, spec: Spec, quality: np.ndarray) -> None:
    """Each selector picks the face of the best noisy quality in each cluster."""
    n = spec.faces_per_cluster
    by_cluster = quality.reshape(-1, n)
    clusters = len(by_cluster)
    picks = {}
    for selector in SELECTORS:
        noisy = by_cluster + rng.normal(0, 0.22, by_cluster.shape)
        picks[selector] = (np.argmax(noisy, axis=1) + np.arange(clusters) * n + 1).tolist()
    _copy(
        cursor,
        "curation_selection",
        ["cluster_id", "selector", "parameters", "face_id", "details", "crop", "crop_reasons"],
        (
            (c + 1, selector, "synthetic", picks[selector][c], "{}")
            + (f"crops/{c + 1}/{selector}.jpg", "[]")
            for c in range(clusters)
            for selector in SELECTORS
        ),
    )


def _annotators(cursor, spec: Spec) -> list[int]:
    from django.contrib.auth.hashers import make_password

    from curation.accounts.roles import ANNOTATOR_GROUP

    cursor.execute(
        "INSERT INTO auth_group (name) VALUES (%s) ON CONFLICT DO NOTHING", [ANNOTATOR_GROUP]
    )
    cursor.execute("SELECT id FROM auth_group WHERE name = %s", [ANNOTATOR_GROUP])
    group = cursor.fetchone()[0]
    cursor.execute("SELECT coalesce(max(id), 0) FROM auth_user")
    first = cursor.fetchone()[0] + 1
    password = make_password(ANNOTATOR_PASSWORD)
    now = datetime.now(UTC)
    ids = list(range(first, first + spec.annotators))
    _copy(
        cursor,
        "auth_user",
        ["id", "password", "is_superuser", "username", "first_name", "last_name", "email"]
        + ["is_staff", "is_active", "date_joined"],
        (
            (pk, password, False, f"annotator{k:03d}", "", "", "", False, True, now)
            for k, pk in enumerate(ids)
        ),
    )
    _copy(cursor, "auth_user_groups", ["user_id", "group_id"], ((pk, group) for pk in ids))
    return ids


def _reset_sequences(cursor) -> None:
    for table in (
        "auth_user",
        "curation_title",
        "curation_cluster",
        "curation_frame",
        "curation_face",
    ):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((SELECT max(id) FROM {table}), 1))"
        )


def _campaign(kind: str, spec: Spec, titles: list[int]) -> int:
    from curation.models import Title
    from curation.review.campaigns import campaign_create

    selectors = spec.grade_selectors if kind == "grade" else spec.ab_selectors
    campaign = campaign_create(
        name=f"synthetic {kind}",
        kind=kind,
        titles=list(Title.objects.filter(pk__in=titles)),
        selectors=list(selectors),
        overlap=spec.overlap,
        seed=spec.seed,
        gold_share=spec.gold_share,
    )
    return campaign.pk


def _judgments(
    rng: np.random.Generator,
    spec: Spec,
    campaign_id: int,
    annotators: list[int],
    quality: np.ndarray,
) -> None:
    """The judgments of a ``judged`` share of the campaign's items, then the items' counters."""
    from django.db import connection

    from curation.models import Campaign
    from curation.review.queue import campaign_recount

    campaign = Campaign.objects.get(pk=campaign_id)
    ab = campaign.kind == Campaign.Kind.AB
    if spec.overlap > len(annotators):
        raise ValueError("an item's judgments come from distinct annotators: too few of them")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, face_id, coalesce(face_b_id, face_id), gold <> '' FROM curation_item "
            "WHERE campaign_id = %s AND NOT identical AND repeat_of_id IS NULL ORDER BY id",
            [campaign_id],
        )
        found = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 4)
        cursor.execute("SELECT coalesce(max(id), 0) FROM curation_judgment")
        next_id = cursor.fetchone()[0] + 1
    items, face, face_b, gold = found.T
    selector_items = np.flatnonzero(gold == 0)
    chosen = rng.permutation(selector_items)[: round(spec.judged * len(selector_items))]
    # Item and annotator of each judgment: the chosen items, each by ``overlap`` consecutive
    # annotators from a random one; every annotator on each gold item with chance ``judged``.
    first = rng.integers(0, len(annotators), len(chosen))
    item_index = np.repeat(chosen, spec.overlap)
    who = (np.repeat(first, spec.overlap) + np.tile(np.arange(spec.overlap), len(chosen))) % len(
        annotators
    )
    gold_items = np.flatnonzero(gold == 1)
    on_gold = rng.random((len(gold_items), len(annotators))) < spec.judged
    gold_index, gold_who = np.nonzero(on_gold)
    item_index = np.concatenate([item_index, gold_items[gold_index]])
    who = np.concatenate([who, gold_who])
    count = len(item_index)
    order = rng.permutation(count)  # the order they were given in
    item_index, who = item_index[order], who[order]

    margin = quality[face[item_index] - 1] - quality[face_b[item_index] - 1]
    noise = rng.normal(0, 0.15, count)
    if ab:
        answer = np.where(
            np.abs(margin + noise) < 0.05, "equal", np.where(margin + noise > 0, "a", "b")
        )
        left_is_a = rng.random(count) < 0.5
    else:
        answer = np.array(["unidentifiable", "usable", "excellent"])[
            np.digitize(quality[face[item_index] - 1] + noise, [0.35, 0.7])
        ]
        left_is_a = None
    seconds = np.round(rng.lognormal(0.7, 0.5, count), 3)
    redone = rng.random(count) < spec.undone
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=29) / max(count, 1)
    annotator_ids = np.array(annotators)[who].tolist()
    item_ids = items[item_index].tolist()
    answers, second_list, redone_list = answer.tolist(), seconds.tolist(), redone.tolist()
    sides = None if left_is_a is None else left_is_a.tolist()
    undone_answer = "usable" if not ab else "equal"

    def rows():
        pk = next_id
        for k in range(count):
            at = start + step * k
            side = None if sides is None else sides[k]
            given = (item_ids[k], annotator_ids[k])
            if redone_list[k]:  # given, undone, given again
                yield (pk, *given, undone_answer, side, second_list[k], _token(pk), None, at)
                yield (pk + 1, *given, "undo", None, 0.0, _token(pk + 1), pk, at)
                pk += 2
            yield (pk, *given, answers[k], side, second_list[k], _token(pk), None, at)
            pk += 1

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            _copy(
                cursor,
                "curation_judgment",
                ["id", "item_id", "annotator_id", "answer", "left_is_a", "seconds", "token"]
                + ["supersedes_id", "created_at"],
                rows(),
            )
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('curation_judgment', 'id'), "
            "coalesce((SELECT max(id) FROM curation_judgment), 1))"
        )
    campaign_recount(campaign)


def _token(pk: int) -> str:
    """A judgment token that no answer's random hex token can equal."""
    return f"bench{pk:027d}"


def record_figures(part: str, figures: dict) -> None:
    """Hand a benchmark's figures to ``bench/scale.py``: written as JSON to the file that
    ``SCALE_FIGURES`` names when it runs the benchmark, nothing otherwise."""
    if path := os.environ.get("SCALE_FIGURES"):
        Path(path).write_text(json.dumps({"part": part, "figures": figures}, indent=2, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="curation_catalogue")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--faces", type=int, default=10_000)
    parser.add_argument("--faces-per-cluster", type=int, default=10)
    parser.add_argument("--titles", type=int)
    parser.add_argument("--campaigns", nargs="*", default=[], choices=["grade", "ab"])
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--judged", type=float, default=0.0)
    parser.add_argument("--undone", type=float, default=0.0)
    parser.add_argument("--gold-share", type=float, default=0.0)
    parser.add_argument("--known-grades", type=float, default=0.0)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--embeddings", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    spec = Spec(
        faces=args.faces,
        faces_per_cluster=args.faces_per_cluster,
        titles=args.titles,
        campaigns=tuple(args.campaigns),
        overlap=args.overlap,
        judged=args.judged,
        undone=args.undone,
        gold_share=args.gold_share,
        known_grades=args.known_grades,
        annotators=args.annotators,
        embeddings=args.embeddings,
        seed=args.seed,
    )
    started = time.perf_counter()
    with catalogue(args.database, spec, keep=args.keep) as built:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM curation_item), "
                "(SELECT count(*) FROM curation_judgment)"
            )
            items, judgments = cursor.fetchone()
        print(
            f"{built.database}: {len(built.titles)} titles, {built.clusters} clusters, "
            f"{built.faces} faces, {items} items, {judgments} judgments, "
            f"{len(built.annotators)} annotators"
        )
        print("seconds:", built.seconds, f"total {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
