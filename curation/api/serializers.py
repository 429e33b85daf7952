from collections import defaultdict

from rest_framework import serializers

from curation.models import (
    Campaign,
    Cluster,
    Face,
    ImportJob,
    Judgment,
    Participant,
    ScoringRun,
    Title,
)
from curation.review.queue import campaign_progress
from scoring.features import FEATURE_NAMES


class TitleSerializer(serializers.ModelSerializer):
    clusters = serializers.IntegerField(source="cluster_count", read_only=True)
    faces = serializers.IntegerField(source="face_count", read_only=True)

    class Meta:
        model = Title
        fields = [
            "id",
            "name",
            "source",
            "status",
            "error",
            "clusters",
            "faces",
            "import_summary",
            "created_at",
            "updated_at",
        ]


class ClusterSerializer(serializers.ModelSerializer):
    faces = serializers.IntegerField(source="face_count", read_only=True)

    class Meta:
        model = Cluster
        fields = ["id", "label", "role", "stale", "faces"]


class FaceSerializer(serializers.ModelSerializer):
    box = serializers.SerializerMethodField()
    frame = serializers.CharField(source="frame.source_name", read_only=True)
    frame_index = serializers.IntegerField(source="frame.index", read_only=True, allow_null=True)
    frame_time = serializers.FloatField(source="frame.time", read_only=True, allow_null=True)
    track = serializers.IntegerField(source="track.number", read_only=True, allow_null=True)

    class Meta:
        model = Face
        fields = [
            "id",
            "cluster",
            "frame",
            "frame_index",
            "frame_time",
            "track",
            "background",
            "box",
            "landmarks",
            "confidence",
            *FEATURE_NAMES,
            "quality",
            "feature_version",
            "quality_version",
        ]

    def get_box(self, face: Face) -> list[float]:
        return list(face.box)


class ScoringRunSerializer(serializers.ModelSerializer):
    # The API's names, kept from before the run's steps were called steps.
    stage = serializers.CharField(source="step", read_only=True)
    stage_seconds = serializers.JSONField(source="step_seconds", read_only=True)

    class Meta:
        model = ScoringRun
        fields = [
            "id",
            "title",
            "status",
            "stage",
            "faces_done",
            "faces_total",
            "clusters_done",
            "clusters_total",
            "crops_done",
            "crops_total",
            "stage_seconds",
            "clusters",
            "record",
            "notes",
            "error",
            "created_at",
            "finished_at",
        ]


class ImportJobSerializer(serializers.ModelSerializer):
    upload = serializers.FileField(write_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "name",
            "upload",
            "status",
            "images_done",
            "images_total",
            "faces_found",
            "started_at",
            "title",
            "error",
            "summary",
            "created_at",
        ]
        read_only_fields = [f for f in fields if f not in ("name", "upload")]


class CampaignSerializer(serializers.ModelSerializer):
    """``selectors``: any for a grade campaign; for A/B, selector A then selector B."""

    progress = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "titles",
            "selectors",
            "overlap",
            "sample_size",
            "seed",
            "lease_seconds",
            "min_view_ms",
            "is_open",
            "created_at",
            "progress",
        ]
        read_only_fields = ["is_open", "created_at", "progress"]

    def get_progress(self, campaign: Campaign) -> dict:
        listed = self.context.get("progress")
        return listed[campaign.pk] if listed is not None else campaign_progress(campaign)


def listed_progress(campaigns: list[Campaign]) -> dict[int, dict]:
    """``campaign_progress`` of a page of campaigns in one query: their counters as the page
    read them, and their annotators' counts together."""
    annotators = defaultdict(list)
    for campaign_id, username, judged in (
        Participant.objects.filter(campaign__in=campaigns, judged__gt=0)
        .order_by("campaign", "-judged", "annotator__username")
        .values_list("campaign", "annotator__username", "judged")
    ):
        annotators[campaign_id].append((username, judged))
    return {
        campaign.pk: {
            "items": campaign.items_asked,
            "identical": campaign.items_identical,
            "checks": campaign.items_check,
            "total": campaign.items_asked * campaign.overlap,
            "done": campaign.judged,
            "annotators": annotators[campaign.pk],
        }
        for campaign in campaigns
    }


class JudgmentSerializer(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="item.campaign_id", read_only=True)
    annotator = serializers.CharField(source="annotator.username", read_only=True)

    class Meta:
        model = Judgment
        fields = [
            "id",
            "campaign",
            "item",
            "annotator",
            "answer",
            "left_is_a",
            "seconds",
            "created_at",
            "supersedes",
        ]


class TableSerializer(serializers.Serializer):
    """One evaluation table: its rows as shown, and ``raw`` with the numbers behind them."""

    key = serializers.CharField()
    caption = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    raw = serializers.ListField(child=serializers.DictField())
    empty = serializers.CharField()
