"""The catalog: titles, their frames, actor clusters and faces, and admin import jobs.

Rows that span tables (a title's frames, clusters and faces) are written by the services in
``curation.ingest``; models here own the invariants of a single row. Two cross-table rules are
enforced by the database itself (see migration 0002): a face's frame and cluster belong to the
same title, and a face's box lies inside its frame.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Title(models.Model):
    class Status(models.TextChoices):
        IMPORTED = "imported"
        SCORING = "scoring"
        SCORED = "scored"
        FAILED = "failed"

    name = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=1000, blank=True, help_text="Where it was imported from.")
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
    """A source image: a still from the video, or one photo of a cluster folder."""

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="frames")
    index = models.IntegerField(null=True, blank=True, help_text="Frame number in the video.")
    source_name = models.CharField(max_length=1000, help_text="Path inside the imported source.")
    image = models.ImageField(
        upload_to=frame_upload_to, width_field="width", height_field="height", max_length=500
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
    """The faces of one actor in a title."""

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="clusters")
    label = models.CharField(max_length=200)
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


class Face(models.Model):
    """One detected face, with its features once they are computed.

    ``title`` repeats the title of the frame and the cluster so that the database can check
    that all three agree.
    """

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="faces")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="faces")
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="faces")
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
            models.UniqueConstraint(fields=["cluster", "frame"], name="face_once_per_frame"),
        ]

    def __str__(self) -> str:
        return f"face {self.pk} of {self.cluster_id}"

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.box_x, self.box_y, self.box_w, self.box_h)


class ImportJob(models.Model):
    """An import started from the admin: the uploaded zip, its progress and its report.

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
    images_done = models.PositiveIntegerField(default=0)
    images_total = models.PositiveIntegerField(default=0)
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
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_quality_model"
            ),
        ]

    def __str__(self) -> str:
        return f"quality model v{self.version}"


class FilterConfig(models.Model):
    """Stages of the filtering selector, as a list of {feature, threshold, top, percentile}."""

    name = models.CharField(max_length=100)
    stages = models.JSONField()
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
    """One pass of the scoring pipeline over a title, with its progress per stage."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Stage(models.TextChoices):
        FEATURES = "features"
        IDENTITY = "identity"
        QUALITY = "quality"
        SELECTION = "selection"
        CROPS = "crops"
        DONE = "done"

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="scoring_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.FEATURES)
    chunk_size = models.PositiveIntegerField(default=64)
    faces_total = models.PositiveIntegerField(default=0)
    faces_done = models.PositiveIntegerField(default=0)
    clusters_total = models.PositiveIntegerField(default=0)
    clusters_done = models.PositiveIntegerField(default=0)
    crops_total = models.PositiveIntegerField(default=0)
    crops_done = models.PositiveIntegerField(default=0)
    stage_started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the run last made progress; a run quiet for longer than "
        "SCORING_STALL_SECONDS has its missing work sent again.",
    )
    stage_seconds = models.JSONField(default=dict, blank=True)
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


class Campaign(models.Model):
    """A round of human judgments: grading picks, or A/B between two selectors' picks."""

    class Kind(models.TextChoices):
        GRADE = "grade"
        AB = "ab"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    titles = models.ManyToManyField(Title, related_name="campaigns")
    selectors = models.JSONField(help_text="Selector names: any for grade, exactly two for ab.")
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Judgments per item.")
    sample_size = models.PositiveIntegerField(
        null=True, blank=True, help_text="Clusters drawn at random; empty for all."
    )
    seed = models.IntegerField(default=0, help_text="Seed of the sample and of A/B sides.")
    lease_seconds = models.PositiveIntegerField(
        default=300, help_text="How long an item shown to an annotator is kept for them."
    )
    is_open = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="campaign_overlap_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Item(models.Model):
    """One thing to judge. Grade: a face, credited to every selector that picked it. A/B: the
    picks of the campaign's two selectors for a cluster (``face_a`` is the first selector's);
    when both picked the same face the item is an ``identical`` tie and is never served."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    face = models.ForeignKey(
        Face, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    face_b = models.ForeignKey(
        Face, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    selectors = models.JSONField(help_text="Grade: the selectors credited; A/B: [A, B].")
    identical = models.BooleanField(default=False)
    crop = models.CharField(
        max_length=500, blank=True, help_text="Headshot of ``face`` shown, frozen at creation."
    )
    crop_b = models.CharField(
        max_length=500, blank=True, help_text="Headshot of ``face_b`` shown, frozen at creation."
    )
    judged = models.PositiveIntegerField(
        default=0,
        help_text="Live decisive judgments, kept by the queue in the answer's transaction.",
    )

    class Meta:
        ordering = ["campaign", "id"]
        indexes = [models.Index(fields=["campaign", "identical", "id"], name="item_queue")]

    def __str__(self) -> str:
        return f"item {self.pk} of {self.campaign_id}"


class Lease(models.Model):
    """An item held for one annotator while they judge it."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    token = models.CharField(
        max_length=32, unique=True, help_text="Sent with the answer: a second submit finds it used."
    )
    served_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="one_lease_per_annotator"),
        ]

    def __str__(self) -> str:
        return f"lease of {self.item_id} until {self.expires_at:%H:%M:%S}"


class Judgment(models.Model):
    """Append-only. An undo is a newer judgment (answer ``undo``) that supersedes the old one."""

    class Answer(models.TextChoices):
        UNIDENTIFIABLE = "unidentifiable"
        USABLE = "usable"
        EXCELLENT = "excellent"
        A = "a"
        B = "b"
        EQUAL = "equal"
        SKIP = "skip"
        UNDO = "undo"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="judgments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgments"
    )
    answer = models.CharField(max_length=16, choices=Answer.choices)
    left_is_a = models.BooleanField(null=True, help_text="A/B: which side A was shown on.")
    seconds = models.FloatField(help_text="Time from the item shown to the answer.")
    token = models.CharField(max_length=32, unique=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["annotator", "-created_at"], name="judgment_recent")]

    def __str__(self) -> str:
        return f"{self.answer} on {self.item_id}"
