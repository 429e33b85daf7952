"""Imports started from the app: the uploaded archive, progress and report."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from curation.models.catalog import Title


class ImportJob(models.Model):
    """An import started from the app: the uploaded video or zip, its progress and its report.

    The job outlives a failed import, so the admin can read why it failed, while the import
    itself leaves no title behind.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    name = models.CharField(max_length=200, help_text="Name of the title to create.")
    upload = models.FileField(
        upload_to="imports/",
        max_length=500,
        blank=True,
        help_text="A .zip of cluster folders; removed once imported.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    images_done = models.PositiveIntegerField(
        default=0, help_text="Images read, or for a video the sampled frames."
    )
    images_total = models.PositiveIntegerField(default=0)
    faces_found = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    title = models.ForeignKey(
        Title, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import of {self.name} ({self.status})"
