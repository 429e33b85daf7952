"""Catalog pages: the titles, one title's clusters, face crops and stored media."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control

from curation.accounts.roles import admin_required, is_curation_admin
from curation.catalog.queries import QUALITY_RANK, best_faces, counted
from curation.catalog.thumbnails import face_crop_response
from curation.clusters.queries import cluster_curation
from curation.clusters.service import stale_clusters, undoable_edit
from curation.listing import Keyset, keyset_page, listing
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
        cluster_count=counted(Cluster, "title"), face_count=counted(Face, "title")
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
        title.clusters.annotate(face_count=counted(Face, "cluster")),
        search=("label",),
        columns={"label": "name", "face_count": "faces"},
        default="label",
    )
    clusters = found.page.rows
    shown = best_faces(clusters, FACES_PER_CLUSTER)
    rows = [
        {
            "cluster": cluster,
            "faces": shown.get(cluster.pk, []),
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
    counts = cluster.faces.aggregate(faces=Count("pk"), identity_measured=Count("identity"))
    ranked = cluster.faces.annotate(rank=QUALITY_RANK)
    page = keyset_page(
        request,
        ranked.select_related("frame"),
        Keyset("rank", descending=True),
        count=counts["faces"],
        per_page=FACES_PER_PAGE,
    )
    at_steps = list(
        ranked.annotate(place=Window(RowNumber(), order_by=[F("rank").desc(), "pk"]))
        .filter(place__in=[step + 1 for step in _equal_steps(counts["faces"])])
        .order_by("place")
        .values_list("place", "pk")
    )
    selections = {s.selector: s for s in cluster.selections.select_related("face")}
    filtering = selections.get(Selection.Selector.FILTERING)
    stages = filtering.details.get("stages", []) if filtering else []
    shown = (
        Face.objects.select_related("frame")
        .order_by()
        .in_bulk([pk for _, pk in at_steps] + [stage["best_face"] for stage in stages])
    )
    sampled = [
        (f"rank {place} of {counts['faces']}", shown[pk]) for place, pk in at_steps if pk in shown
    ]
    figure2 = [
        {
            "label": f"{number}. {stage['feature']} · {stage['survivors']} left",
            "face": shown.get(stage["best_face"]),
        }
        for number, stage in enumerate(stages, start=1)
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
            "face_count": counts["faces"],
            "ranked": [
                (f"#{rank}", face, picked_by.get(face.pk, []))
                for rank, face in enumerate(page, start=page.start_index)
            ],
            "page": page,
            "sampled": sampled,
            **cluster_curation(cluster),
            "figure2": figure2,
            "notes": scoring_notes(cluster.title),
            "identity_measured": counts["identity_measured"],
        },
    )


def _equal_steps(count: int, samples: int = RANKING_SAMPLES) -> list[int]:
    """Ranks at equal steps from the best to the worst, both included."""
    if count <= samples:
        return list(range(count))
    return [round(i * (count - 1) / (samples - 1)) for i in range(samples)]
