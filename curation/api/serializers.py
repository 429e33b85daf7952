from rest_framework import serializers

from curation.models import Cluster, Face, ScoringRun, Title
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
        fields = ["id", "label", "faces"]


class FaceSerializer(serializers.ModelSerializer):
    box = serializers.SerializerMethodField()
    frame = serializers.CharField(source="frame.source_name", read_only=True)

    class Meta:
        model = Face
        fields = [
            "id",
            "cluster",
            "frame",
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
            "notes",
            "error",
            "created_at",
            "finished_at",
        ]
