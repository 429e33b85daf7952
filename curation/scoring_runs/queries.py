"""Reads for the scoring pages and commands."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from curation.models import Cluster, Face, FilterConfig, ScoringRun, Selection, Title
from curation.scoring_runs.extractors import feature_version
from scoring.features import FEATURE_NAMES


def face_record(face: Face) -> dict:
    return {
        "face": face.pk,
        "cluster": face.cluster.label,
        "source": face.frame.source_name,
        "frame": face.frame.image.name,
        "frame_index": face.frame.index,
        "frame_time": face.frame.time,
        "track": face.track.number if face.track else None,
        "background": face.background,
        "box": [round(v, 2) for v in face.box],
        "landmarks": face.landmarks,
        "confidence": face.confidence,
        **{name: getattr(face, name) for name in FEATURE_NAMES},
        "quality": face.quality,
        "feature_version": face.feature_version,
        "quality_version": face.quality_version,
    }


def scoring_notes(title: Title) -> list[str]:
    """What a reader of the title's scores should know: faces measured by older extractors, a
    quality model older than the features or trained without this title."""
    notes = []
    current = feature_version()
    stale = title.faces.exclude(feature_version=current).exclude(feature_version="").count()
    if stale:
        notes.append(
            f"{stale} face{'s were' if stale > 1 else ' was'} measured by older extractors: "
            "score the title again to measure every face with the current ones."
        )
    run = (
        title.scoring_runs.filter(status=ScoringRun.Status.DONE)
        .select_related("quality_model")
        .first()
    )
    model = run.quality_model if run else None
    if model is not None:
        if model.feature_version != current:
            notes.append(
                f"Quality model v{model.version} was trained on older features than the current "
                "ones: score the title again to train and use a current model."
            )
        elif title.name not in model.titles:
            notes.append(
                f"Quality model v{model.version} was trained on {model.summary.get('faces', '?')}"
                f" faces of {len(model.titles)} other title(s), not on this one: train a new "
                "model (train_quality_model) to learn from it too."
            )
    return notes


def title_selections(title: Title) -> dict:
    """{cluster label: {selector: {face, features, quality, crop, ...}}}, clusters sorted."""
    result: dict[str, dict] = defaultdict(dict)
    selections = (
        Selection.objects.filter(cluster__title=title)
        .select_related("cluster", "face__frame", "face__cluster", "face__track")
        .order_by("cluster__label", "selector")
    )
    for selection in selections:
        result[selection.cluster.label][selection.selector] = face_record(selection.face) | {
            "parameters": selection.parameters,
            "crop": selection.crop,
            "crop_fits": selection.crop_fits,
            "crop_reasons": selection.crop_reasons,
        }
    return dict(result)


def cluster_rows(clusters: Sequence[Cluster]) -> list[dict]:
    """One row per cluster with each selector's pick, for the title page."""
    picks: dict[int, dict[str, Selection]] = defaultdict(dict)
    for selection in Selection.objects.filter(cluster__in=clusters).select_related("face"):
        picks[selection.cluster_id][selection.selector] = selection
    return [
        {"cluster": cluster, "picks": [picks[cluster.pk].get(s) for s in Selection.Selector]}
        for cluster in clusters
    ]


def run_progress(title: Title, run: ScoringRun | None) -> dict:
    """The run's steps with their state, counts, seconds and rate, for the progress fragment."""
    # Scoring again changes the picks; campaigns keep the faces they froze, but say so first.
    campaigns = list(title.campaigns.filter(is_open=True).values_list("name", flat=True))
    if run is None:
        return {"title": title, "run": None, "campaigns_using": campaigns}
    steps = []
    for step in ScoringRun.Step.values[:-1]:
        row = {"name": step, "seconds": run.step_seconds.get(step), "done": None, "total": None}
        if step == ScoringRun.Step.FEATURES:
            row |= {"done": run.faces_done, "total": run.faces_total}
        elif step == ScoringRun.Step.IDENTITY:
            row |= {"done": run.clusters_done, "total": run.clusters_total}
        elif step == ScoringRun.Step.CROPS:
            row |= {"done": run.crops_done, "total": run.crops_total}
        row["state"] = (
            "done"
            if step in run.step_seconds
            else "running"
            if step == run.step and run.status == ScoringRun.Status.RUNNING
            else "waiting"
        )
        if row["total"]:
            row["percent"] = round(100 * row["done"] / row["total"])
        if row["seconds"] and row["done"]:
            row["rate"] = round(row["done"] / row["seconds"], 1)
        steps.append(row)
    active = run.status in (ScoringRun.Status.QUEUED, ScoringRun.Status.RUNNING)
    return {
        "title": title,
        "run": run,
        "steps": steps,
        "active": active,
        "campaigns_using": campaigns,
    }


def picks_source(title: Title) -> dict | None:
    """What produced the title's current picks: the run, when it ended, its quality model and
    the filter config of the filtering selector."""
    pick = (
        Selection.objects.filter(cluster__title=title, selector=Selection.Selector.FILTERING)
        .select_related("run__quality_model")
        .first()
    )
    if pick is None or pick.run is None:
        return None
    config_id = pick.parameters.removeprefix("filtering:")
    config = (
        "the default stages"
        if config_id == "default"
        else FilterConfig.objects.filter(pk=config_id).values_list("name", flat=True).first()
        or f"filter config {config_id} (deleted)"
    )
    model = pick.run.quality_model
    return {
        "run": pick.run,
        "quality_model": f"v{model.version}" if model else "none",
        "filter_config": config,
        "previous": ScoringRun.objects.filter(title=title, pk__lt=pick.run.pk)
        .exclude(picks={})
        .order_by("-pk")
        .first(),
    }
