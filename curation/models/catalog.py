"""The catalog: titles, their frames, actor clusters and faces.

Rows that span tables (a title's frames, clusters and faces) are written by the import service;
models here own the invariants of a single row. Two cross-table rules are enforced by the
database itself (see migration 0002): a face's frame and cluster belong to the same title, and a
face's box lies inside its frame.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce


class Title(models.Model):
    class Status(models.TextChoices):
        IMPORTED = "imported"
        SCORING = "scoring"
        SCORED = "scored"
        FAILED = "failed"

    name = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=1000, blank=True, help_text="Where it was imported from.")
    video = models.FileField(
        upload_to="titles/",
        max_length=500,
        blank=True,
        help_text="The video file, for a title imported from one: its frames are read from it.",
    )
    seconds = models.FloatField(null=True, blank=True, help_text="The video's length.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IMPORTED)
    error = models.TextField(blank=True)
    import_summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


def frame_upload_to(frame: Frame, filename: str) -> str:
    return f"titles/{frame.title_id}/frames/{filename}"


class Frame(models.Model):
    """A source image: a photo of a cluster folder (``image``), or a still of the title's video
    (``index`` and ``time``), read again from the video when its pixels are needed."""

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="frames")
    index = models.IntegerField(null=True, blank=True, help_text="Frame number in the video.")
    time = models.FloatField(null=True, blank=True, help_text="Seconds from the video's start.")
    source_name = models.CharField(max_length=1000, help_text="Path inside the imported source.")
    image = models.ImageField(
        upload_to=frame_upload_to,
        width_field="width",
        height_field="height",
        max_length=500,
        blank=True,
    )
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        ordering = ["title", "index", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(width__gt=0) & Q(height__gt=0), name="frame_has_pixels"
            ),
            models.UniqueConstraint(
                fields=["title", "source_name"], name="frame_source_unique_in_title"
            ),
            # Lets faces reference (frame, title) as one pair; see Face.
            models.UniqueConstraint(fields=["id", "title"], name="frame_id_title"),
        ]

    def __str__(self) -> str:
        return self.source_name


class Cluster(models.Model):
    """The faces of one actor in a title, or the faces that fit no actor (``UNASSIGNED``), or a
    group a person marked as no actor (``NOT_ACTOR``). Only actors get picks."""

    class Role(models.TextChoices):
        ACTOR = "actor"
        UNASSIGNED = "unassigned"
        NOT_ACTOR = "not_actor", "not an actor"

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="clusters")
    label = models.CharField(max_length=200)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ACTOR)
    stale = models.BooleanField(
        default=False, help_text="Its faces changed since its picks were computed."
    )
    identity_run = models.ForeignKey(
        "ScoringRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The scoring run that last measured its faces' identity.",
    )

    class Meta:
        ordering = ["title", "label"]
        constraints = [
            models.UniqueConstraint(fields=["title", "label"], name="cluster_label_unique"),
            models.UniqueConstraint(fields=["id", "title"], name="cluster_id_title"),
        ]

    def __str__(self) -> str:
        return f"{self.title.name}/{self.label}"


class Track(models.Model):
    """The faces of one person followed across the sampled frames of one shot of a video.

    ``background`` marks a small or brief track (a crowd, a passer-by): its faces are kept, and
    not offered as picks."""

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="tracks")
    number = models.PositiveIntegerField(help_text="In the order the tracks start.")
    shot = models.PositiveIntegerField()
    background = models.BooleanField(default=False)
    start = models.FloatField(help_text="Seconds from the video's start.")
    end = models.FloatField()

    class Meta:
        ordering = ["title", "number"]
        constraints = [
            models.UniqueConstraint(fields=["title", "number"], name="track_number_unique"),
        ]

    def __str__(self) -> str:
        return f"track {self.number} of {self.title_id}"


class Face(models.Model):
    """One detected face, with its features once they are computed.

    ``title`` repeats the title of the frame and the cluster so that the database can check
    that all three agree.
    """

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="faces")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="faces")
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="faces")
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.CASCADE, related_name="faces"
    )
    background = models.BooleanField(
        default=False, help_text="Small or brief in the video: kept, not offered as a pick."
    )
    thumbnail = models.CharField(
        max_length=300,
        blank=True,
        help_text="Where its small thumbnail lies in a pack file: 'name:offset:length'.",
    )
    box_x = models.FloatField()
    box_y = models.FloatField()
    box_w = models.FloatField()
    box_h = models.FloatField()
    landmarks = models.JSONField(help_text="Five (x, y) points: eyes, nose, mouth corners.")
    confidence = models.FloatField()

    brightness = models.FloatField(null=True, blank=True)
    resolution = models.FloatField(null=True, blank=True)
    sharpness = models.FloatField(null=True, blank=True)
    yaw = models.FloatField(null=True, blank=True)
    pitch = models.FloatField(null=True, blank=True)
    roll = models.FloatField(null=True, blank=True)
    fiqa = models.FloatField(
        null=True, blank=True, help_text="Learned face quality (LightQNet), in (0, 1)."
    )
    exposure = models.FloatField(
        null=True, blank=True, help_text="0 well exposed, -1 lost in shadow, +1 burnt out."
    )
    artifacts = models.FloatField(
        null=True, blank=True, help_text="Visible noise or compression blocks: 0 none, 1 heavy."
    )
    identity = models.FloatField(
        null=True,
        blank=True,
        help_text="Likeness to the cluster's person, in [0, 1]; empty when not embedded.",
    )
    embedding = models.BinaryField(
        null=True, blank=True, help_text="dlib face descriptor, 128 float16 (256 bytes)."
    )
    quality = models.FloatField(null=True, blank=True)

    class Grade(models.TextChoices):
        UNIDENTIFIABLE = "unidentifiable"
        USABLE = "usable"
        EXCELLENT = "excellent"

    known_grade = models.CharField(
        max_length=16,
        blank=True,
        choices=Grade.choices,
        help_text="The grade an admin gave this face; campaigns use it as a gold item.",
    )
    feature_version = models.CharField(
        max_length=300, blank=True, help_text="Which extractors produced the features."
    )
    quality_version = models.CharField(
        max_length=100, blank=True, help_text="Which quality model produced the quality."
    )
    features_run = models.ForeignKey(
        "ScoringRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The scoring run that last computed the features.",
    )

    class Meta:
        ordering = ["cluster", "id"]
        indexes = [
            models.Index(fields=["cluster", "-quality"], name="face_cluster_quality"),
            models.Index(fields=["title", "cluster"], name="face_title_cluster"),
            # A cluster's faces best quality first, unscored last: the cluster page's order
            # and the title page's few faces per cluster, read without sorting.
            models.Index(
                F("cluster"),
                Coalesce("quality", Value(-1.0)).desc(),
                F("id"),
                name="face_cluster_rank",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(box_x__gte=0) & Q(box_y__gte=0) & Q(box_w__gt=0) & Q(box_h__gt=0),
                name="face_box_positive",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="face_confidence_unit",
            ),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | (Q(quality__gte=0) & Q(quality__lte=1)),
                name="face_quality_unit",
            ),
            models.CheckConstraint(
                condition=Q(sharpness__isnull=True) | (Q(sharpness__gte=0) & Q(sharpness__lte=1)),
                name="face_sharpness_unit",
            ),
            # A photo shows its cluster's person once; a video frame may show anyone twice until
            # its clusters are curated.
            models.UniqueConstraint(
                fields=["cluster", "frame"],
                condition=Q(track__isnull=True),
                name="face_once_per_frame",
            ),
        ]

    def __str__(self) -> str:
        return f"face {self.pk} of {self.cluster_id}"

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.box_x, self.box_y, self.box_w, self.box_h)
