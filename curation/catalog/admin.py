"""Admin pages of the catalog: titles, frames, clusters and faces, with thumbnails."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from curation.catalog.queries import campaigns_using
from curation.models import Cluster, Face, Frame, Title
from scoring.features import FEATURE_NAMES


def face_thumbnail(face: Face | None, size: int = 64) -> str:
    if face is None:
        return "—"
    return format_html(
        '<img src="{}" alt="face {}" style="height:{}px;border-radius:4px">',
        reverse("face-crop", args=[face.pk]),
        face.pk,
        size,
    )


@admin.register(Title)
class TitleAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "cluster_count", "face_count", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "source"]
    readonly_fields = ["created_at", "updated_at", "import_summary"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                cluster_count=Count("clusters", distinct=True),
                face_count=Count("faces", distinct=True),
            )
        )

    def get_deleted_objects(self, objs, request):
        """A title that a campaign asks about is not deleted: the page names each campaign and
        its judgments instead of listing items (their foreign keys protect them)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        uses = campaigns_using(titles=list(objs))
        return deleted, counts, perms_needed, uses or protected

    @admin.display(ordering="cluster_count", description="clusters")
    def cluster_count(self, title):
        return title.cluster_count

    @admin.display(ordering="face_count", description="faces")
    def face_count(self, title):
        return title.face_count


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "source_name", "title", "index", "time", "width", "height"]
    list_filter = ["title"]
    search_fields = ["source_name"]
    list_select_related = ["title"]
    readonly_fields = ["thumbnail"]

    @admin.display(description="image")
    def thumbnail(self, frame):
        if not frame.image:
            return "in the video"
        return format_html('<img src="{}" alt="" style="height:64px">', frame.image.url)


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["label", "title", "role", "face_count", "sample"]
    list_filter = ["title", "role"]
    search_fields = ["label", "title__name"]
    list_select_related = ["title"]
    # Curation goes through the cluster page, where every change is logged and undoable.
    readonly_fields = ["role", "stale"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(face_count=Count("faces"))

    @admin.display(ordering="face_count", description="faces")
    def face_count(self, cluster):
        return cluster.face_count

    @admin.display(description="a face")
    def sample(self, cluster):
        return face_thumbnail(cluster.faces.order_by("-confidence").first())


@admin.register(Face)
class FaceAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "cluster", "known_grade", "confidence", *FEATURE_NAMES, "quality"]
    list_editable = ["known_grade"]
    list_filter = ["title", "known_grade", ("quality", admin.EmptyFieldListFilter)]
    search_fields = ["cluster__label", "frame__source_name"]
    list_select_related = ["cluster", "cluster__title"]
    readonly_fields = ["thumbnail"]
    raw_id_fields = ["frame", "cluster", "track"]

    @admin.display(description="face")
    def thumbnail(self, face):
        return face_thumbnail(face)
