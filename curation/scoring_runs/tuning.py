"""The filter tuner: a random search over the filtering selector's stages, scored against
people's judgments on a worker; the admin looks at the candidates' picks side by side and
activates one as a new filter config (``scoring.tuning`` has the method).

A search is kept as one JSON file in the media, ``tuning/<id>.json``: what was asked, its
progress, and its result. The web process and the workers share the media (headshots and
thumbnails already live there), whereas the default cache is each process's own memory, and a
search is a report to read, not rows to query. Only the worker writes a running search's file,
each time whole (``media.replace``), so the page never reads half a file.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import numpy as np
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from curation import media, queueing
from curation.errors import first_line
from curation.evaluation.labels import FaceLabels, face_labels
from curation.evaluation.tables import GRADE_RANK, Filters, counted_judgments
from curation.models import Cluster, Face, FilterConfig
from curation.scoring_runs.filter_configs import parse_filter_stages
from scoring.features import FEATURE_NAMES, SMALLER_BETTER, FeatureTable
from scoring.selectors import DEFAULT_STAGES, FilterStage
from scoring.tuning import TOP_K, ClusterLabels, Score, random_configs, tune

log = logging.getLogger(__name__)

FOLDER = "tuning"
SAMPLE_CLUSTERS = 8
MAX_CONFIGS = 500
GRADE_NAMES = {rank: name for name, rank in GRADE_RANK.items()}
_ID = re.compile(r"[0-9a-f]{32}")


class TuningRefused(Exception):
    """The search cannot start or the candidate cannot be activated; the message says why."""


def _name(search_id: str) -> str:
    if not _ID.fullmatch(search_id):
        raise TuningRefused(f"no search {search_id!r}")
    return f"{FOLDER}/{search_id}.json"


def tuning_read(search_id: str) -> dict | None:
    """The search's record, or None when there is no such search."""
    try:
        with default_storage.open(_name(search_id), "rb") as stored:
            return json.loads(stored.read())
    except (TuningRefused, FileNotFoundError):
        return None


def _write(record: dict) -> None:
    media.replace(_name(record["id"]), json.dumps(record).encode())


def _update(search_id: str, **fields: object) -> dict:
    record = tuning_read(search_id)
    if record is None:
        raise TuningRefused(f"no search {search_id!r}")
    record.update(fields)
    _write(record)
    return record


def tuning_list(limit: int = 10) -> list[dict]:
    """The latest searches, newest first."""
    try:
        _, files = default_storage.listdir(FOLDER)
    except FileNotFoundError:  # a file system before the first search; a bucket lists nothing
        files = []
    ids = [file.removesuffix(".json") for file in files if file.endswith(".json")]
    records = [record for search_id in ids if (record := tuning_read(search_id)) is not None]
    return sorted(records, key=lambda record: record["created_at"], reverse=True)[:limit]


def judgments_exist() -> bool:
    return counted_judgments(Filters()).exists()


def tuning_start(*, configs: int, seed: int, campaigns: list[int], requested_by: str = "") -> dict:
    """Record a search and send it to a worker; the broker down leaves it failed and raises
    QueueUnavailable."""
    if not 2 <= configs <= MAX_CONFIGS:
        raise TuningRefused(f"draw between 2 and {MAX_CONFIGS} configs")
    if not judgments_exist():
        raise TuningRefused("no judgments yet: run a grade or A/B campaign first")
    search_id = uuid.uuid4().hex
    record = {
        "id": search_id,
        "status": "queued",
        "params": {"configs": configs, "seed": seed, "campaigns": sorted(campaigns)},
        "requested_by": requested_by,
        "created_at": timezone.now().isoformat(),
        "progress": {"done": 0, "total": 0},
    }
    _write(record)
    try:
        queueing.enqueue(queueing.TUNE_FILTER, search_id, retry=False)
    except queueing.QueueUnavailable as error:
        _update(search_id, status="failed", error=str(error))
        raise
    return record


@dataclass
class LabelledClusters:
    """The clusters with labels on their candidate faces: per cluster its id, its faces' ids
    (the rows of its table), its feature table and its labels by row."""

    ids: list[int]
    faces: list[list[int]]
    tables: list[FeatureTable]
    labels: list[ClusterLabels]


def labelled_clusters(labels: FaceLabels) -> LabelledClusters:
    """The current actor clusters of the labelled faces, with the faces the filtering selector
    chooses from (not in the background), read in one query. Clusters where it has one face to
    choose from tell configs apart in nothing and are left out."""
    labelled = set(labels.grades) | {f for p in labels.preferences for f in (p.better, p.worse)}
    rows = (
        Face.objects.filter(
            cluster__in=Face.objects.filter(pk__in=labelled).values("cluster_id"),
            cluster__role=Cluster.Role.ACTOR,
            background=False,
        )
        .order_by("cluster_id", "pk")
        .values_list("cluster_id", "pk", *FEATURE_NAMES)
    )
    by_cluster: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_cluster[row[0]].append(row[1:])
    place = {
        face[0]: (cluster, row)
        for cluster, faces in by_cluster.items()
        for row, face in enumerate(faces)
    }
    grades: dict[int, dict[int, int]] = defaultdict(dict)
    preferences: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for face, rank in labels.grades.items():
        if face in place:
            cluster, row = place[face]
            grades[cluster][row] = rank
    for preference in labels.preferences:
        sides = (place.get(preference.better), place.get(preference.worse))
        for cluster in {side[0] for side in sides if side}:
            better, worse = (side[1] if side and side[0] == cluster else -1 for side in sides)
            preferences[cluster].append((better, worse))
    result = LabelledClusters([], [], [], [])
    for cluster, faces in sorted(by_cluster.items()):
        if len(faces) < 2 or not (grades[cluster] or preferences[cluster]):
            continue
        result.ids.append(cluster)
        result.faces.append([face[0] for face in faces])
        result.tables.append(
            FeatureTable.from_matrix(np.array([face[1:] for face in faces], dtype=np.float64))
        )
        result.labels.append(ClusterLabels(grades[cluster], tuple(preferences[cluster])))
    return result


def _active() -> tuple[str, tuple[FilterStage, ...], int | None]:
    config = FilterConfig.objects.filter(is_active=True).first()
    if config is None:
        return "default stages", DEFAULT_STAGES, None
    return config.name, parse_filter_stages(config.stages), config.pk


def _score(score: Score) -> dict:
    return {
        "score": score.score,
        "mean": score.mean,
        "low": score.low,
        "high": score.high,
        "covered": score.covered,
        "clusters": score.clusters,
    }


def tuning_run(*, search_id: str) -> None:
    """Run a recorded search to its end (again from the start after a lost worker); a search
    that already ended is left alone."""
    record = tuning_read(search_id)
    if record is None or record["status"] in ("done", "failed"):
        return
    _update(search_id, status="running", started_at=timezone.now().isoformat())
    try:
        result = _search(record)
    except Exception as error:
        if not isinstance(error, TuningRefused):
            log.exception("filter tuning %s failed", search_id)
        _update(search_id, status="failed", error=first_line(error)[:500])
        return
    _update(search_id, status="done", result=result, finished_at=timezone.now().isoformat())


def _search(record: dict) -> dict:
    params = record["params"]
    last_write = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_write
        if done == total or time.monotonic() - last_write > 0.5:
            _update(record["id"], progress={"done": done, "total": total})
            last_write = time.monotonic()

    started = time.monotonic()
    labels = face_labels(Filters(campaigns=params["campaigns"]))
    clusters = labelled_clusters(labels)
    if len(clusters.ids) < 2:
        raise TuningRefused(
            f"judgments label faces of {len(clusters.ids)} cluster(s) with a choice to make: "
            "tuning needs at least 2, one to search on and one to check on"
        )
    measured = [
        name
        for name in FEATURE_NAMES
        if any(np.isfinite(table.column(name)).any() for table in clusters.tables)
    ]
    active_name, active_stages, active_id = _active()
    configs = random_configs(
        params["configs"], params["seed"], first=active_stages, features=measured
    )
    found = tune(configs, clusters.tables, clusters.labels, seed=params["seed"], progress=progress)
    held_faces = [clusters.faces[i] for i in found.held_out_clusters]
    candidates = []
    for rank, index in enumerate(found.ranking, start=1):
        candidate = found.candidates[index]
        candidates.append(
            {
                "index": index,
                "rank": rank,
                "stages": [asdict(stage) for stage in candidate.stages],
                "search": _score(candidate.search),
                "held_out": _score(candidate.held_out) if candidate.held_out else None,
            }
        )
    picks = {
        index: [
            faces[row]
            for faces, row in zip(
                held_faces, found.candidates[index].held_out_picks or (), strict=True
            )
        ]
        for index in found.compared
    }
    return {
        "seconds": round(time.monotonic() - started, 1),
        "campaigns": labels.campaigns,
        "clusters": {
            "search": len(found.search_clusters),
            "held_out": len(found.held_out_clusters),
        },
        "features": measured,
        "active": {"name": active_name, "id": active_id},
        "top_k": TOP_K,
        "compared": list(found.compared),
        "chosen": found.chosen,
        "candidates": candidates,
        "sample": _sample(
            [clusters.ids[i] for i in found.held_out_clusters], picks, labels, params["seed"]
        ),
    }


def _sample(cluster_ids: list[int], picks: dict[int, list[int]], labels: FaceLabels, seed: int):
    """Up to ``SAMPLE_CLUSTERS`` held-out clusters to look at, drawn with ``seed`` among those
    where the compared candidates disagree first (where they agree there is nothing to see);
    each with the compared candidates' picks (in ``picks``' order) and what people said of
    those faces."""
    order = list(range(len(cluster_ids)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: len({faces[i] for faces in picks.values()}) == 1)
    wins, losses = Counter[int](), Counter[int]()
    for preference in labels.preferences:
        wins[preference.better] += 1
        losses[preference.worse] += 1
    sample = []
    for i in sorted(order[:SAMPLE_CLUSTERS]):
        chosen = [faces[i] for faces in picks.values()]
        said = {}
        for face in chosen:
            words = [GRADE_NAMES[labels.grades[face]]] if face in labels.grades else []
            if wins[face] or losses[face]:
                words.append(f"A/B won {wins[face]}, lost {losses[face]}")
            said[str(face)] = "; ".join(words) or "not judged"
        sample.append({"cluster": cluster_ids[i], "picks": chosen, "labels": said})
    return sample


# Any number that no other advisory lock of this database uses.
_FILTER_CONFIG_LOCK = 0xF117E2


def _filter_configs_locked() -> None:
    """Until the current transaction ends, nobody else activates a tuned config. PostgreSQL:
    an advisory lock; SQLite: its transactions take the write lock as they begin."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FILTER_CONFIG_LOCK])


def tuning_activate(*, search_id: str, candidate: int) -> tuple[FilterConfig, bool]:
    """Store a compared candidate of a finished search as a new filter config and make it the
    active one; returns it and whether it was made now. Activating the same candidate again (a
    double submit) returns the config made the first time and changes nothing."""
    record = tuning_read(search_id)
    if record is None or record["status"] != "done":
        raise TuningRefused("that search has not finished")
    result = record["result"]
    if candidate not in result["compared"]:
        raise TuningRefused(
            f"candidate {candidate} was not checked on the held-out clusters: activate one of "
            f"{', '.join(map(str, result['compared']))}"
        )
    entry = next(c for c in result["candidates"] if c["index"] == candidate)
    in_use = next(c for c in result["candidates"] if c["index"] == 0)
    searched = record["created_at"][:10]
    tuning = {
        "search": search_id,
        "candidate": candidate,
        "recommended": candidate == result["chosen"],
        "seed": record["params"]["seed"],
        "configs": record["params"]["configs"],
        "campaigns": result["campaigns"],
        "searched_at": record["created_at"],
        "clusters": result["clusters"],
        "search_score": entry["search"],
        "held_out_score": entry["held_out"],
        "coverage": entry["held_out"]["covered"] / max(entry["held_out"]["clusters"], 1),
        "compared_with": {"name": result["active"]["name"], "held_out_score": in_use["held_out"]},
    }
    with transaction.atomic():
        _filter_configs_locked()
        made = FilterConfig.objects.filter(
            tuning__search=search_id, tuning__candidate=candidate
        ).first()
        if made is not None:
            return made, False
        FilterConfig.objects.filter(is_active=True).update(is_active=False)
        config = FilterConfig.objects.create(
            name=f"tuned {searched} #{candidate}",
            stages=entry["stages"],
            tuning=tuning,
            is_active=True,
        )
    return config, True


def stages_summary(stages: list[dict]) -> str:
    """Stages in one line: ``identity >0.45 or top 3 or ≥p25 → roll |x|<10 …``."""
    parts = []
    for stage in stages:
        feature = stage["feature"]
        criteria = []
        if stage["threshold"] is not None:
            threshold = stage["threshold"]
            if feature == "resolution":
                criteria.append(f">{threshold**0.5:.0f}²")
            else:
                criteria.append(f"{'|x|<' if feature in SMALLER_BETTER else '>'}{threshold:g}")
        if stage["top"] is not None:
            criteria.append(f"top {stage['top']}")
        if stage["percentile"] is not None:
            criteria.append(f"≥p{stage['percentile']:g}")
        parts.append(f"{feature} {' or '.join(criteria)}")
    return " → ".join(parts)


def search_view(record: dict) -> dict:
    """What the search page shows of a finished search: the candidates ranked, the compared
    ones as columns, and the sample clusters as rows of their picks (three queries)."""
    result = record["result"]
    compared = result["compared"]
    _, active_stages, _ = _active()
    in_use = [asdict(stage) for stage in active_stages]
    made = dict(
        FilterConfig.objects.filter(tuning__search=record["id"]).values_list(
            "tuning__candidate", "name"
        )
    )
    candidates = [
        candidate
        | {
            "summary": stages_summary(candidate["stages"]),
            "compared": candidate["index"] in compared,
            "chosen": candidate["index"] == result["chosen"],
            "in_use": candidate["stages"] == in_use,
            "made": made.get(candidate["index"]),
        }
        for candidate in result["candidates"]
    ]
    by_index = {candidate["index"]: candidate for candidate in candidates}
    clusters = {
        cluster.pk: cluster
        for cluster in Cluster.objects.filter(
            pk__in=[row["cluster"] for row in result["sample"]]
        ).select_related("title")
    }
    faces = set(
        Face.objects.filter(
            pk__in=[face for row in result["sample"] for face in row["picks"]]
        ).values_list("pk", flat=True)
    )
    sample = [
        {
            "cluster": clusters.get(row["cluster"]),
            "cells": [
                {
                    "face": face if face in faces else None,
                    "label": row["labels"][str(face)],
                    "same_as_first": face == row["picks"][0],
                }
                for face in row["picks"]
            ],
        }
        for row in result["sample"]
    ]
    chosen, first = by_index[result["chosen"]], by_index[0]
    return {
        "candidates": candidates,
        "columns": [by_index[index] for index in compared],
        "sample": sample,
        "chosen": chosen,
        "first": first,
        # Whether the held-out clusters tell the recommended one from the config in use.
        "clear": chosen["held_out"]["low"] > first["held_out"]["high"],
    }
