"""Catalog pages: the titles, one title's clusters, face crops and stored media."""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control

from curation.accounts.roles import admin_required, is_curation_admin
from curation.catalog.thumbnails import face_crop_response
from curation.clusters.queries import cluster_curation
from curation.clusters.service import stale_clusters, undoable_edit
from curation.listing import listing
from curation.models import Cluster, Face, Selection, Title
from curation.scoring_runs.queries import cluster_rows, picks_source, run_progress, scoring_notes
from curation.scoring_runs.service import run_latest

FACES_PER_CLUSTER = 8
FACES_PER_PAGE = 120
MEDIA_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}
RANKING_SAMPLES = 8
EDITS_SHOWN = 20


def home(request: HttpRequest) -> HttpResponse:
    if is_curation_admin(request.user):
        return redirect("title-list")
    return redirect("review-home")


@admin_required
def title_list(request: HttpRequest) -> HttpResponse:
    titles = Title.objects.annotate(
        cluster_count=Count("clusters", distinct=True),
        face_count=Count("faces", distinct=True),
    )
    found = listing(
        request,
        titles,
        search=("name", "source"),
        columns={
            "name": "name",
            "created_at": "imported",
            "cluster_count": "clusters",
            "face_count": "faces",
        },
        default="-created_at",
    )
    return render(
        request,
        "catalog/title_list.html",
        {"listing": found, "titles": found.page, "any": Title.objects.exists()},
    )


@admin_required
def title_detail(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)
    found = listing(
        request,
        title.clusters.annotate(face_count=Count("faces")),
        search=("label",),
        columns={"label": "name", "face_count": "faces"},
        default="label",
    )
    clusters = list(found.page)
    shown = defaultdict(list)  # the first faces of each cluster, picked in the database
    for face in (
        Face.objects.filter(cluster__in=clusters)
        .annotate(rank=Window(RowNumber(), partition_by="cluster", order_by="pk"))
        .filter(rank__lte=FACES_PER_CLUSTER)
        .only("pk", "cluster_id")
        .order_by("cluster", "pk")
    ):
        shown[face.cluster_id].append(face)
    rows = [
        {
            "cluster": cluster,
            "faces": shown[cluster.pk],
            "hidden": max(0, cluster.face_count - FACES_PER_CLUSTER),
        }
        for cluster in clusters
    ]
    return render(
        request,
        "catalog/title_detail.html",
        {
            "title": title,
            "rows": rows,
            "listing": found,
            "cluster_count": title.clusters.count(),
            "summary": title.import_summary,
            "picks": cluster_rows(clusters),
            "selectors": Selection.Selector.labels,
            "notes": scoring_notes(title),
            "source": picks_source(title),
            "edits": title.cluster_edits.select_related("made_by")[:EDITS_SHOWN],
            "undoable": undoable_edit(title),
            "stale": len(stale_clusters(title)),
            **run_progress(title, run_latest(title)),
        },
    )


@admin_required
@cache_control(private=True, max_age=3600)
def face_crop(request: HttpRequest, face_id: int) -> HttpResponseBase:
    """The face with a margin around its box, as a small JPEG (thumbnails in lists)."""
    face = get_object_or_404(Face.objects.select_related("frame__title", "title"), pk=face_id)
    return face_crop_response(face)


@admin_required
@cache_control(private=True, max_age=3600)
def media(request: HttpRequest, path: str) -> FileResponse:
    """A title's stored images (frames, headshots, thumbnails), for signed-in admins. Nothing
    else in the media is served: not the uploaded archives, not the model artifacts."""
    parts = PurePosixPath(path).parts
    if (
        len(parts) < 3
        or parts[0] != "titles"
        or ".." in parts
        or PurePosixPath(path).suffix.lower() not in MEDIA_IMAGE_TYPES
    ):
        raise Http404("no such image")
    try:
        handle = default_storage.open(path, "rb")
    except (FileNotFoundError, SuspiciousFileOperation):
        raise Http404("no such image") from None
    return FileResponse(handle, content_type=MEDIA_IMAGE_TYPES[PurePosixPath(path).suffix.lower()])


@admin_required
def cluster_detail(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.select_related("title"), pk=cluster_id)
    ordered = cluster.faces.select_related("frame").order_by(
        F("quality").desc(nulls_last=True), "pk"
    )
    ranked = list(ordered.values_list("pk", flat=True))
    page = Paginator(ordered, FACES_PER_PAGE).get_page(request.GET.get("page"))
    steps = _equal_steps(len(ranked))
    sampled_faces = Face.objects.select_related("frame").in_bulk([ranked[r] for r in steps])
    sampled = [(f"rank {rank + 1} of {len(ranked)}", sampled_faces[ranked[rank]]) for rank in steps]
    selections = {s.selector: s for s in cluster.selections.select_related("face")}
    filtering = selections.get(Selection.Selector.FILTERING)
    stage_faces = {}
    if filtering:
        ids = [stage["best_face"] for stage in filtering.details.get("stages", [])]
        stage_faces = Face.objects.select_related("frame").in_bulk(ids)
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
            "face_count": len(ranked),
            "ranked": [
                (f"#{rank}", face, picked_by.get(face.pk, []))
                for rank, face in enumerate(page, start=page.start_index())
            ],
            "page": page,
            "sampled": sampled,
            **cluster_curation(cluster),
            "figure2": figure2,
            "notes": scoring_notes(cluster.title),
            "identity_measured": cluster.faces.exclude(identity=None).count(),
        },
    )


def _equal_steps(count: int, samples: int = RANKING_SAMPLES) -> list[int]:
    """Ranks at equal steps from the best to the worst, both included."""
    if count <= samples:
        return list(range(count))
    return [round(i * (count - 1) / (samples - 1)) for i in range(samples)]
