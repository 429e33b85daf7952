"""Catalog pages: the titles, one title's clusters, face crops and stored media."""

from __future__ import annotations

import io

from django.conf import settings
from django.db.models import Count
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.static import serve
from PIL import Image

from curation.models import Face, Selection, Title
from curation.pipeline.queries import cluster_rows, scoring_notes
from curation.pipeline.runs import run_latest
from curation.roles import admin_required, is_curation_admin
from curation.scoring_views import progress_context

FACE_CROP_MARGIN = 0.25
FACE_CROP_SIZE = 160
FACES_PER_CLUSTER = 8


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
    return render(request, "catalog/title_list.html", {"titles": titles})


@admin_required
def title_detail(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)
    clusters = title.clusters.annotate(face_count=Count("faces")).prefetch_related("faces")
    rows = [
        {
            "cluster": cluster,
            "faces": list(cluster.faces.all()[:FACES_PER_CLUSTER]),
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
            "summary": title.import_summary,
            "picks": cluster_rows(title),
            "selectors": Selection.Selector.labels,
            "notes": scoring_notes(title),
            **progress_context(title, run_latest(title)),
        },
    )


@admin_required
@cache_control(private=True, max_age=3600)
def face_crop(request: HttpRequest, face_id: int) -> HttpResponse:
    """The face with a margin around its box, as a small JPEG (thumbnails in lists)."""
    face = get_object_or_404(Face.objects.select_related("frame"), pk=face_id)
    return face_crop_response(face)


def face_crop_response(face: Face, size: int = FACE_CROP_SIZE) -> HttpResponse:
    with face.frame.image.open("rb") as handle, Image.open(handle) as image:
        image = image.convert("RGB")
        margin_w, margin_h = face.box_w * FACE_CROP_MARGIN, face.box_h * FACE_CROP_MARGIN
        crop = image.crop(
            (
                max(0, int(face.box_x - margin_w)),
                max(0, int(face.box_y - margin_h)),
                min(image.width, int(face.box_x + face.box_w + margin_w)),
                min(image.height, int(face.box_y + face.box_h + margin_h)),
            )
        )
    crop.thumbnail((size, size))
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=90)
    buffer.seek(0)
    return FileResponse(buffer, content_type="image/jpeg")


@admin_required
def media(request: HttpRequest, path: str) -> HttpResponse:
    """Stored frames, for signed-in admins only."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
