"""The selection step on PostgreSQL: its picks are the selectors' on each cluster's faces, in a
number of queries that does not grow with the clusters, and the learned picks are the same
whether the weak model's stored quality is reused or its forest runs again."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from curation.models import Cluster, Face, Frame, QualityModel, ScoringRun, Selection, Title
from curation.scoring_runs.learned_models import LearnedModel
from curation.scoring_runs.quality_models import quality_model_store
from curation.scoring_runs.steps import feature_table, selections_replace
from scoring.features import FEATURE_NAMES
from scoring.preference import Judged, train_preference_model
from scoring.quality import QualityParams, train_quality_model
from scoring.selectors import (
    DEFAULT_STAGES,
    FIQA_GUARDS,
    select_baseline,
    select_filtering,
    select_fiqa,
    select_learned,
    select_regression,
)

pytestmark = pytest.mark.django_db

VERSION = "step-test-1"


def synthetic_title(name: str, clusters: int, rng: np.random.Generator) -> Title:
    """``clusters`` actors of 1–30 faces with features that often tie or are unmeasured, some
    faces in the background, and an unassigned and a no-actor cluster that get no picks."""
    title = Title.objects.create(name=name)
    frames = Frame.objects.bulk_create(
        Frame(title=title, source_name=f"frame {k}", width=200, height=200) for k in range(30)
    )
    roles = [Cluster.Role.ACTOR] * clusters + [Cluster.Role.UNASSIGNED, Cluster.Role.NOT_ACTOR]
    faces = []
    for number, role in enumerate(roles):
        cluster = Cluster.objects.create(title=title, label=f"actor {number:03d}", role=role)
        for frame in frames[: rng.integers(1, 31)]:
            values = rng.normal(0, 1, len(FEATURE_NAMES))
            features = {
                "brightness": 50 + 20 * values[0],
                "resolution": float(rng.choice([80.0, 120.0, 160.0])) ** 2,
                "sharpness": float(np.clip(0.6 + 0.3 * values[2], 0, 1)),  # ties at 0 and 1
                "roll": round(8 * values[3]),
                "pitch": round(10 * values[4]),
                "yaw": round(20 * values[5]),
                "fiqa": float(np.clip(0.5 + 0.1 * values[6], 0.01, 0.99)),
                "exposure": float(np.clip(0.3 * values[7], -1, 1)),
                "artifacts": max(0.0, 0.2 * values[8]),  # 0 on about half the faces
                "identity": 0.6 + 0.1 * values[9] if rng.random() < 0.3 else None,
            }
            faces.append(
                Face(
                    title=title,
                    cluster=cluster,
                    frame=frame,
                    background=rng.random() < 0.1,
                    box_x=10,
                    box_y=10,
                    box_w=100,
                    box_h=120,
                    landmarks=[[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]],
                    confidence=0.99,
                    feature_version=VERSION,
                    **features,
                )
            )
    Face.objects.bulk_create(faces)
    return title


def scored(title: Title, rng: np.random.Generator) -> tuple[ScoringRun, LearnedModel]:
    """A weak model trained on the title's faces, their quality from it (as the quality step
    stores it), and a learned model on top of it from simulated judgments."""
    faces = list(Face.objects.filter(title=title).order_by("pk"))
    table = feature_table(faces)
    weak = train_quality_model(table, QualityParams(trees=10), feature_version=VERSION)
    weak_record = quality_model_store(
        record=QualityModel(feature_version=VERSION, features=list(weak.features)), trained=weak
    )
    for face, quality in zip(faces, weak.predict(table), strict=True):
        face.quality, face.quality_version = float(quality), f"v{weak_record.version}"
    Face.objects.bulk_update(faces, ["quality", "quality_version"])
    clusters = np.array([face.cluster_id for face in faces])
    truth = -np.abs(table.yaw) + 30 * table.sharpness
    pairs = []
    for cluster in np.unique(clusters):
        rows = np.flatnonzero(clusters == cluster)
        for a, b in zip(rows[:-1], rows[1:], strict=True):
            if truth[a] != truth[b]:
                pairs.append((a, b, 1) if truth[a] > truth[b] else (b, a, 1))
    learned = train_preference_model(
        table, Judged(clusters, np.full(len(faces), -1), np.array(pairs)), weak
    )
    learned_record = quality_model_store(
        record=QualityModel(
            labels=QualityModel.Labels.PEOPLE,
            feature_version=VERSION,
            params={"prior": {"version": weak_record.version}},
        ),
        trained=learned,
    )
    run = ScoringRun.objects.create(title=title, quality_model=weak_record)
    return run, LearnedModel(learned_record, learned, weak)


def picks(title: Title) -> dict[tuple[int, str], tuple[int, dict]]:
    return {
        (s.cluster_id, s.selector): (s.face_id, s.details)
        for s in Selection.objects.filter(cluster__title=title)
    }


def test_the_step_picks_what_each_selector_picks_on_the_clusters_faces(media_root):
    rng = np.random.default_rng(1)
    title = synthetic_title("synthetic", 40, rng)
    run, learned = scored(title, rng)

    count = selections_replace(run=run, learned=learned)

    stored = picks(title)
    actors = Cluster.objects.filter(title=title, role=Cluster.Role.ACTOR)
    expected = {}
    for cluster in actors:
        faces = list(cluster.faces.filter(background=False).order_by("pk"))
        if not faces:
            continue
        table = feature_table(faces)
        quality = np.array([face.quality for face in faces])
        scores = learned.model.predict(table, learned.prior)
        rows = {
            "baseline": select_baseline(table),
            "fiqa": select_fiqa(table, FIQA_GUARDS),
            "filtering": select_filtering(table, DEFAULT_STAGES).chosen,
            "regression": select_regression(table, quality),
            "learned": select_learned(table, scores),
        }
        expected |= {(cluster.pk, name): faces[row].pk for name, row in rows.items()}
    assert count == len(stored) == len(expected) >= 5 * 30
    assert {key: face for key, (face, _) in stored.items()} == expected
    run.refresh_from_db()
    assert {int(pk) for pk in run.picks} == {cluster for cluster, _ in expected}


def test_learned_picks_are_the_same_from_the_stored_quality_as_from_the_forest(media_root):
    rng = np.random.default_rng(2)
    title = synthetic_title("synthetic", 25, rng)
    run, learned = scored(title, rng)
    selections_replace(run=run, learned=learned)
    from_stored = picks(title)

    # Quality from another model: the step must run the learned model's own weak model again.
    Face.objects.filter(title=title).update(quality_version="v999")
    selections_replace(run=run, learned=learned)

    assert picks(title) == from_stored
    assert any(selector == "learned" for _, selector in from_stored)


def test_the_step_reads_and_writes_in_as_many_queries_for_many_clusters_as_for_few(media_root):
    rng = np.random.default_rng(3)
    counts = []
    for name, clusters in (("few", 3), ("many", 60)):
        title = synthetic_title(name, clusters, rng)
        run, learned = scored(title, rng)
        with CaptureQueriesContext(connection) as queries:
            selections_replace(run=run, learned=learned)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 12


def test_a_title_whose_faces_are_all_in_the_background_gets_no_picks(media_root):
    title = synthetic_title("empty", 6, np.random.default_rng(4))
    run, learned = scored(title, np.random.default_rng(4))
    Face.objects.filter(title=title).update(background=True)
    assert selections_replace(run=run, learned=learned) == 0
    assert not Selection.objects.filter(cluster__title=title).exists()
