"""Admin pages of scoring: quality models and their trainings, filter configs, runs, picks."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from curation.catalog.admin import face_thumbnail
from curation.models import FilterConfig, QualityModel, QualityTraining, ScoringRun, Selection
from curation.queueing import QueueUnavailable
from curation.scoring_runs.extractors import feature_version
from curation.scoring_runs.filter_configs import parse_filter_stages
from curation.scoring_runs.quality_models import quality_model_activate, training_start


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
            training = training_start(requested_by=request.user)
        except QueueUnavailable as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            f"training {training.pk} queued: a worker trains the new version and activates it; "
            "follow it under Quality model trainings",
        )


@admin.register(QualityTraining)
class QualityTrainingAdmin(admin.ModelAdmin):
    list_display = ["pk", "status", "step", "model", "error", "requested_by", "created_at"]
    list_filter = ["status"]
    readonly_fields = [field.name for field in QualityTraining._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
    list_display = ["title", "status", "step", "faces_done", "faces_total", "created_at"]
    list_filter = ["status", "step"]
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
