"""Django admin: browse the catalog with thumbnails, and import a title from a zip upload."""

import zipfile

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from curation.ingest.jobs import QueueUnavailable, import_job_enqueue
from curation.ingest.service import ImportFailed, validate_title_name
from curation.models import (
    Campaign,
    Cluster,
    Face,
    FilterConfig,
    Frame,
    ImportJob,
    QualityModel,
    ScoringRun,
    Selection,
    Title,
)
from curation.pipeline.extractors import feature_version
from curation.pipeline.stages import (
    NotEnoughFaces,
    parse_filter_stages,
    quality_model_activate,
    quality_model_train,
)
from curation.review.campaigns import CampaignInvalid, campaign_check, campaign_create


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

    @admin.display(ordering="cluster_count", description="clusters")
    def cluster_count(self, title):
        return title.cluster_count

    @admin.display(ordering="face_count", description="faces")
    def face_count(self, title):
        return title.face_count


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "source_name", "title", "width", "height"]
    list_filter = ["title"]
    search_fields = ["source_name"]
    list_select_related = ["title"]
    readonly_fields = ["thumbnail"]

    @admin.display(description="image")
    def thumbnail(self, frame):
        return format_html('<img src="{}" alt="" style="height:64px">', frame.image.url)


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["label", "title", "face_count", "sample"]
    list_filter = ["title"]
    search_fields = ["label", "title__name"]
    list_select_related = ["title"]

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
    list_display = [
        "thumbnail",
        "cluster",
        "confidence",
        "brightness",
        "sharpness",
        "yaw",
        "pitch",
        "roll",
        "fiqa",
        "exposure",
        "artifacts",
        "identity",
        "quality",
    ]
    list_filter = ["title", ("quality", admin.EmptyFieldListFilter)]
    search_fields = ["cluster__label", "frame__source_name"]
    list_select_related = ["cluster", "cluster__title"]
    readonly_fields = ["thumbnail"]
    raw_id_fields = ["frame", "cluster"]

    @admin.display(description="face")
    def thumbnail(self, face):
        return face_thumbnail(face)


class ImportJobForm(forms.ModelForm):
    class Meta:
        model = ImportJob
        fields = ["name", "upload"]

    def clean_name(self):
        try:
            return validate_title_name(self.cleaned_data["name"])
        except ImportFailed as error:
            raise forms.ValidationError(str(error)) from None

    def clean_upload(self):
        upload = self.cleaned_data["upload"]
        if not upload:
            raise forms.ValidationError("choose a .zip of cluster folders")
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"the file is {upload.size} bytes, over the limit of {settings.MAX_UPLOAD_BYTES}"
            )
        if not zipfile.is_zipfile(upload):
            raise forms.ValidationError("not a zip file")
        upload.seek(0)
        return upload


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    form = ImportJobForm
    list_display = ["name", "status", "progress", "title_link", "created_at"]
    list_filter = ["status"]
    readonly_fields = [
        "status",
        "progress",
        "title_link",
        "error",
        "report",
        "created_by",
        "created_at",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "upload"]
        return [
            "name",
            "status",
            "progress",
            "title_link",
            "error",
            "report",
            "created_by",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["name"] if obj else [])

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="images")
    def progress(self, job):
        return f"{job.images_done}/{job.images_total}" if job.images_total else "—"

    @admin.display(description="title")
    def title_link(self, job):
        if job.title_id is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("title-detail", args=[job.title_id]), job.name
        )

    @admin.display(description="report")
    def report(self, job):
        summary = job.summary
        if not summary:
            return "—"
        rows = format_html_join(
            "",
            "<li><code>{}</code>: {}</li>",
            ((item["file"], item["reason"]) for item in summary.get("rejected", [])),
        )
        return format_html(
            "{} images, {} faces in {} clusters, {} s; {} ambiguous images; "
            "{} rejected files<ul>{}</ul>",
            summary["images"],
            summary["faces"],
            summary["clusters"],
            summary["seconds"],
            len(summary.get("ambiguous", [])),
            len(summary.get("rejected", [])),
            rows,
        )

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        super().save_model(request, obj, form, change)

        def enqueue():
            try:
                import_job_enqueue(job_id=obj.pk)
            except QueueUnavailable as error:
                messages.error(request, str(error))

        transaction.on_commit(enqueue)


@admin.register(QualityModel)
class QualityModelAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "is_active",
        "faces",
        "r2",
        "titles_trained_on",
        "features_learned",
        "current",
        "created_at",
    ]
    list_filter = ["is_active"]
    readonly_fields = [
        "version",
        "artifact",
        "features",
        "feature_version",
        "params",
        "summary",
        "titles",
        "is_active",
        "created_at",
    ]
    actions = ["activate", "train_new_version"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="faces")
    def faces(self, record):
        return record.summary.get("faces")

    @admin.display(description="held-out R²")
    def r2(self, record):
        value = record.summary.get("r2_held_out")
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description="titles")
    def titles_trained_on(self, record):
        return ", ".join(record.titles)

    @admin.display(description="features")
    def features_learned(self, record):
        return ", ".join(record.features) or "—"

    @admin.display(description="current features", boolean=True)
    def current(self, record):
        """False: trained on faces measured by other extractors; scoring trains a new one."""
        return record.feature_version == feature_version()

    @admin.action(description="Activate the selected version (scoring uses it from now on)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "select exactly one version", messages.ERROR)
            return
        record = queryset.get()
        quality_model_activate(record=record)
        self.message_user(request, f"quality model v{record.version} is now active")

    @admin.action(description="Train a new version on all scored faces and activate it")
    def train_new_version(self, request, queryset):
        try:
            record = quality_model_train()
        except NotEnoughFaces as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            f"trained quality model v{record.version} on {record.summary['faces']} faces "
            f"(held-out R² {record.summary['r2_held_out']:.3f}) and activated it",
        )


class FilterConfigForm(forms.ModelForm):
    class Meta:
        model = FilterConfig
        fields = ["name", "stages", "is_active"]

    def clean_stages(self):
        stages = self.cleaned_data["stages"]
        try:
            parse_filter_stages(stages)
        except ValueError as error:
            raise forms.ValidationError(f"invalid stages: {error}") from None
        return stages


@admin.register(FilterConfig)
class FilterConfigAdmin(admin.ModelAdmin):
    form = FilterConfigForm
    list_display = ["name", "is_active", "created_at"]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if obj.is_active:
                FilterConfig.objects.exclude(pk=obj.pk).update(is_active=False)
            super().save_model(request, obj, form, change)


@admin.register(ScoringRun)
class ScoringRunAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "stage", "faces_done", "faces_total", "created_at"]
    list_filter = ["status", "stage"]
    list_select_related = ["title"]
    readonly_fields = [field.name for field in ScoringRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Selection)
class SelectionAdmin(admin.ModelAdmin):
    list_display = ["cluster", "selector", "thumbnail", "parameters", "crop_fits"]
    list_filter = ["selector", "cluster__title"]
    search_fields = ["cluster__label"]
    list_select_related = ["cluster", "cluster__title", "face"]
    raw_id_fields = ["cluster", "face", "run"]

    @admin.display(description="face")
    def thumbnail(self, selection):
        return face_thumbnail(selection.face)


class CampaignForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            campaign_check(
                kind=data["kind"],
                titles=list(data["titles"]),
                selectors=list(data["selectors"]),
                overlap=data["overlap"],
            )
        except CampaignInvalid as error:
            raise forms.ValidationError(str(error)) from None
        return data

    selectors = forms.MultipleChoiceField(
        choices=Selection.Selector.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Any for a grade campaign; exactly two for A/B (the first is A).",
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "titles",
            "selectors",
            "overlap",
            "sample_size",
            "seed",
            "lease_seconds",
        ]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ["name", "kind", "overlap", "is_open", "created_at"]
    list_filter = ["kind", "is_open"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = campaign_create(
            name=data["name"],
            kind=data["kind"],
            titles=list(data["titles"]),
            selectors=list(data["selectors"]),
            overlap=data["overlap"],
            sample_size=data["sample_size"],
            seed=data["seed"],
            lease_seconds=data["lease_seconds"],
            created_by=request.user,
        )
        obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        pass  # campaign_create set the titles

    def response_add(self, request, obj, post_url_continue=None):
        return redirect("campaign-detail", campaign_id=obj.pk)
