"""Cluster curation: the log of what people changed in a title's clusters, so it can be undone."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from curation.models.catalog import Title


class ClusterEdit(models.Model):
    """One curation action on a title's clusters, with what it changed.

    ``changes`` holds what undoing needs: ``moves`` ([face, from cluster, to cluster], …),
    ``labels`` ({cluster: [before, after]}), ``roles`` ({cluster: [before, after]}) and
    ``created`` (clusters it made). An undo applies them backwards and is itself logged.
    """

    class Action(models.TextChoices):
        MERGE = "merge"
        SPLIT = "split"
        RENAME = "rename"
        ROLE = "role", "mark"
        UNDO = "undo"

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="cluster_edits")
    action = models.CharField(max_length=16, choices=Action.choices)
    summary = models.CharField(max_length=500, help_text="What was done, in words.")
    changes = models.JSONField(default=dict)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="undoes"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} on {self.title_id}: {self.summary}"
