"""Admin pages of scoring: quality models and their trainings, filter configs, runs, picks."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from curation.catalog.admin import face_thumbnail
from curation.models import FilterConfig, QualityModel, QualityTraining, ScoringRun, Selection
from curation.queueing import QueueUnavailable
from curation.scoring_runs.extractors import feature_version
from curation.scoring_runs.filter_configs import parse_filter_stages
from curation.scoring_runs.quality_models import quality_model_activate
from curation.scoring_runs.trainings import training_start


@admin.register(QualityModel)
class QualityModelAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "labels",
        "is_active",
        "faces",
        "held_out",
        "learned_from",
        "features_learned",
        "current",
        "created_at",
    ]
    list_filter = ["labels", "is_active"]
    readonly_fields = [
        "version",
        "labels",
        "artifact",
        "features",
        "feature_version",
        "params",
        "summary",
        "titles",
        "campaigns",
        "is_active",
        "created_at",
    ]
    actions = ["activate", "train_new_version", "train_learned"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="faces")
    def faces(self, record):
        return record.summary.get("faces")

    @admin.display(description="held out")
    def held_out(self, record):
        """Weak labels: R² on held-out faces; people: how often held-out pairs are ordered as
        people ordered them, by this model and by the weak model it refines."""
        summary = record.summary
        if record.labels == QualityModel.Labels.PEOPLE:
            return (
                f"{summary['accuracy_held_out']:.2f} vs weak "
                f"{summary['weak_accuracy_held_out']:.2f} ({summary['held_out_pairs']} pairs)"
            )
        value = summary.get("r2_held_out")
        return "—" if value is None else f"R² {value:.3f}"

    @admin.display(description="learned from")
    def learned_from(self, record):
        if record.labels == QualityModel.Labels.PEOPLE:
            return "campaigns " + ", ".join(map(str, record.campaigns))
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
        self.message_user(
            request, f"quality model v{record.version} is now the active {record.labels} model"
        )

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

    @admin.action(description="Train the learned selector's model on every campaign's judgments")
    def train_learned(self, request, queryset):
        training_start_reported(self, request, labels=QualityModel.Labels.PEOPLE)


def training_start_reported(model_admin, request, **options) -> None:
    """Queue a learned model's training and tell the admin where to follow it."""
    try:
        training = training_start(requested_by=request.user, **options)
    except QueueUnavailable as error:
        model_admin.message_user(request, str(error), messages.ERROR)
        return
    model_admin.message_user(
        request,
        f"training {training.pk} queued: a worker trains the learned model on people's "
        "judgments and activates it; follow it under Quality model trainings",
    )


@admin.register(QualityTraining)
class QualityTrainingAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "labels",
        "status",
        "step",
        "model",
        "error",
        "requested_by",
        "created_at",
    ]
    list_filter = ["labels", "status"]
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
