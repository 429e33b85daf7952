"""Scoring: runs, their picks, the quality models and filter configs they used."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models.catalog import Cluster, Face, Title


class QualityModel(models.Model):
    """A trained weak-label quality regressor: the artifact, what it was trained on, and whether
    it is the one that scoring uses. Older versions stay and can be activated again."""

    version = models.PositiveIntegerField(unique=True)
    artifact = models.FileField(upload_to="quality-models/", max_length=500)
    features = models.JSONField(default=list, help_text="The features it learned from.")
    feature_version = models.CharField(
        max_length=300, blank=True, help_text="The extractors of its training faces."
    )
    params = models.JSONField(default=dict)
    summary = models.JSONField(default=dict)
    titles = models.JSONField(default=list, help_text="Names of the titles trained on.")

    class Labels(models.TextChoices):
        WEAK = "weak", "Weak labels"
        PEOPLE = "people", "People's judgments"

    labels = models.CharField(
        max_length=8,
        choices=Labels.choices,
        default=Labels.WEAK,
        help_text="Weak: the regression selector's model; people: the learned selector's.",
    )
    campaigns = models.JSONField(
        default=list, blank=True, help_text="The campaigns whose judgments it learned from."
    )
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["labels"],
                condition=Q(is_active=True),
                name="one_active_quality_model_per_labels",
            ),
        ]

    def __str__(self) -> str:
        return f"quality model v{self.version}"


class QualityTraining(models.Model):
    """A request to train a new quality model, run on a worker: what it is doing, its outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    labels = models.CharField(
        max_length=8,
        choices=QualityModel.Labels.choices,
        default=QualityModel.Labels.WEAK,
        help_text="Which model it trains: the weak-label one, or the learned one on people's "
        "judgments.",
    )
    campaigns = models.JSONField(
        default=list,
        blank=True,
        help_text="A learned model's campaigns to learn from; empty for every campaign.",
    )
    step = models.CharField(max_length=200, blank=True, help_text="What it is doing now.")
    model = models.ForeignKey(
        QualityModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"quality model training {self.pk} ({self.status})"


class FilterConfig(models.Model):
    """Stages of the filtering selector, as a list of {feature, threshold, top, percentile}."""

    name = models.CharField(max_length=100)
    stages = models.JSONField()
    tuning = models.JSONField(
        default=dict,
        blank=True,
        help_text="For a config the tuner made: its search, its held-out score, what it beat.",
    )
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_filter_config"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScoringRun(models.Model):
    """One pass of the scoring pipeline over a title, with its progress per step."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Step(models.TextChoices):
        FEATURES = "features"
        IDENTITY = "identity"
        QUALITY = "quality"
        SELECTION = "selection"
        CROPS = "crops"
        DONE = "done"

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="scoring_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    step = models.CharField(max_length=16, choices=Step.choices, default=Step.FEATURES)
    chunk_size = models.PositiveIntegerField(default=64)
    clusters = models.JSONField(
        default=list,
        blank=True,
        help_text="The clusters it recomputes (ids), after a curation; empty: the whole title.",
    )
    record = models.JSONField(
        default=dict,
        blank=True,
        help_text="What it used, frozen: code, model files' sha256, feature version, selector "
        "parameters, filter config, quality model, seeds.",
    )
    picks = models.JSONField(
        default=dict,
        blank=True,
        help_text="What it picked: {cluster id: {label, selector: {face, details}}}.",
    )
    faces_total = models.PositiveIntegerField(default=0)
    faces_done = models.PositiveIntegerField(default=0)
    clusters_total = models.PositiveIntegerField(default=0)
    clusters_done = models.PositiveIntegerField(default=0)
    crops_total = models.PositiveIntegerField(default=0)
    crops_done = models.PositiveIntegerField(default=0)
    step_started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the run last made progress; a run quiet for longer than "
        "SCORING_STALL_SECONDS has its missing work sent again.",
    )
    step_seconds = models.JSONField(default=dict, blank=True)
    quality_model = models.ForeignKey(
        QualityModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    notes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["title", "-created_at"], name="run_title_recent")]

    def __str__(self) -> str:
        return f"scoring of {self.title} ({self.status})"


class Selection(models.Model):
    """The face a selector picked for a cluster, and its headshot crop."""

    class Selector(models.TextChoices):
        BASELINE = "baseline"
        FIQA = "fiqa", "FaceQNet (fiqa)"
        FILTERING = "filtering"
        REGRESSION = "regression"
        LEARNED = "learned"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="selections")
    selector = models.CharField(max_length=16, choices=Selector.choices)
    parameters = models.CharField(
        max_length=200, help_text="Which parameters or model version picked it."
    )
    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="selections")
    run = models.ForeignKey(
        ScoringRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="selections"
    )
    details = models.JSONField(default=dict, blank=True)
    crop = models.CharField(max_length=500, blank=True, help_text="Headshot file in the media.")
    crop_box = models.JSONField(null=True, blank=True)
    crop_fits = models.BooleanField(null=True)
    crop_reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["cluster", "selector"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "selector"], name="one_pick_per_selector"),
        ]

    def __str__(self) -> str:
        return f"{self.selector} pick for {self.cluster_id}"
