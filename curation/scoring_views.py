"""Scoring pages: start a run, watch its progress, and look at what each selector picked."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.models import Cluster, Face, ScoringRun, Selection, Title
from curation.pipeline.queries import scoring_notes
from curation.pipeline.runs import QueueUnavailable, ScoringRefused, run_latest, scoring_start
from curation.roles import admin_required

RANKING_SAMPLES = 8


@admin_required
@require_POST
def title_score(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)
    try:
        scoring_start(title=title)
    except (ScoringRefused, QueueUnavailable) as error:
        messages.error(request, str(error))
    return redirect("title-detail", title_id=title.pk)


@admin_required
def title_progress(request: HttpRequest, title_id: int) -> HttpResponse:
    """The progress fragment, polled by htmx while a run is active."""
    title = get_object_or_404(Title, pk=title_id)
    run = run_latest(title)
    response = render(request, "catalog/_progress.html", progress_context(title, run))
    active = run is not None and run.status in (ScoringRun.Status.QUEUED, ScoringRun.Status.RUNNING)
    if request.GET.get("watching") and not active:
        response["HX-Refresh"] = "true"  # the run ended: reload to show its picks
    return response


def progress_context(title: Title, run: ScoringRun | None) -> dict:
    if run is None:
        return {"title": title, "run": None}
    stages = []
    for stage in ScoringRun.Stage.values[:-1]:
        row = {"name": stage, "seconds": run.stage_seconds.get(stage), "done": None, "total": None}
        if stage == ScoringRun.Stage.FEATURES:
            row |= {"done": run.faces_done, "total": run.faces_total}
        elif stage == ScoringRun.Stage.IDENTITY:
            row |= {"done": run.clusters_done, "total": run.clusters_total}
        elif stage == ScoringRun.Stage.CROPS:
            row |= {"done": run.crops_done, "total": run.crops_total}
        row["state"] = (
            "done" if stage in run.stage_seconds else "running" if stage == run.stage else "waiting"
        )
        if row["total"]:
            row["percent"] = round(100 * row["done"] / row["total"])
        if row["seconds"] and row["done"]:
            row["rate"] = round(row["done"] / row["seconds"], 1)
        stages.append(row)
    active = run.status in (ScoringRun.Status.QUEUED, ScoringRun.Status.RUNNING)
    return {"title": title, "run": run, "stages": stages, "active": active}


@admin_required
def cluster_detail(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.select_related("title"), pk=cluster_id)
    ranked = list(cluster.faces.order_by("-quality", "pk"))
    step = max(1, len(ranked) // RANKING_SAMPLES)
    sampled = [
        (f"rank {rank + 1} of {len(ranked)}", ranked[rank]) for rank in range(0, len(ranked), step)
    ][:RANKING_SAMPLES]
    selections = {s.selector: s for s in cluster.selections.select_related("face")}
    filtering = selections.get(Selection.Selector.FILTERING)
    stage_faces = {}
    if filtering:
        ids = [stage["best_face"] for stage in filtering.details.get("stages", [])]
        stage_faces = Face.objects.in_bulk(ids)
    figure2 = [
        {
            "label": f"{number}. {stage['feature']} · {stage['survivors']} left",
            "face": stage_faces.get(stage["best_face"]),
        }
        for number, stage in enumerate(
            filtering.details.get("stages", []) if filtering else [], start=1
        )
    ]
    picked_by: dict[int, list[str]] = {}
    for selector, selection in selections.items():
        picked_by.setdefault(selection.face_id, []).append(selector)
    return render(
        request,
        "catalog/cluster_detail.html",
        {
            "cluster": cluster,
            "title": cluster.title,
            "ranked": [
                (f"#{rank + 1}", face, picked_by.get(face.pk, []))
                for rank, face in enumerate(ranked)
            ],
            "sampled": sampled,
            "figure2": figure2,
            "notes": scoring_notes(cluster.title),
            "identity_measured": sum(face.identity is not None for face in ranked),
        },
    )
