"""Human review: campaigns, the items they serve, leases and judgments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models.catalog import Cluster, Face, Title


class Campaign(models.Model):
    """A round of human judgments: grading picks, or A/B between two selectors' picks."""

    class Kind(models.TextChoices):
        GRADE = "grade", "Grade"
        AB = "ab", "A/B"

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
    min_view_ms = models.PositiveIntegerField(
        default=250,
        help_text="An answer given sooner after the item appeared is not taken (keys typed ahead).",
    )

    class Order(models.TextChoices):
        RANDOM = "random", "Random"
        DISAGREEMENT = "disagreement", "Disagreement first"

    order = models.CharField(
        max_length=16,
        choices=Order.choices,
        default=Order.RANDOM,
        help_text="Disagreement first: the clusters where the selectors' picks differ most come "
        "first, and clusters where every selector picked the same face are not asked.",
    )
    target_width = models.FloatField(
        default=0.2,
        help_text="Width of the 95 % intervals (as a share, 0.2 = 20 points) at which the "
        "campaign has judged enough.",
    )
    alpha = models.FloatField(
        default=0.05, help_text="Significance level at which an A/B sign test is decided."
    )
    gold_share = models.FloatField(
        default=0.0,
        help_text="Check items added, as a share of the items: faces whose grade is known, or "
        "A/B pairs shown again with the sides swapped.",
    )
    is_open = models.BooleanField(default=True)
    # Counters for progress without counting the items or the judgments.
    items_asked = models.PositiveIntegerField(
        default=0, help_text="Items served to judge the selectors (not identical, not checks)."
    )
    items_identical = models.PositiveIntegerField(
        default=0, help_text="Items whose picks are one face: recorded as agreement, never asked."
    )
    items_check = models.PositiveIntegerField(default=0, help_text="Gold items and repeats.")
    judged = models.PositiveIntegerField(
        default=0,
        help_text="Live decisive judgments of the asked items, kept by the queue in the "
        "answer's transaction.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="campaign_overlap_positive"),
            models.CheckConstraint(
                condition=Q(target_width__gt=0, target_width__lte=1),
                name="campaign_target_width_share",
            ),
            models.CheckConstraint(condition=Q(alpha__gt=0, alpha__lt=1), name="campaign_alpha"),
            models.CheckConstraint(
                condition=Q(gold_share__gte=0, gold_share__lte=1), name="campaign_gold_share"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Item(models.Model):
    """One thing to judge. Grade: a face, credited to every selector that picked it. A/B: the
    picks of the campaign's two selectors for a cluster (``face_a`` is the first selector's);
    when both picked the same face the item is an ``identical`` tie and is never served. In a
    disagreement-first grade campaign, a face every selector picked is ``identical`` too:
    recorded as agreement, never served.

    Check items judge the annotators, never the selectors: a ``gold`` item's answer is known
    (a face an admin graded, or a pick shown with a strong degradation); a ``repeat_of`` item
    shows an A/B pair again, sides swapped, to the annotators who judged it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    # PROTECT: a title, cluster or face that a campaign asks about cannot be deleted with it.
    # The database holds the cluster's key; the faces' keys (face, face_b, reference) it does
    # not, as checking three keys of each of 100k new items doubled a campaign's COMMIT
    # (bench/README.md, "Queue and campaign creation"). A face goes only with its cluster or
    # title (its own constraint ties the three), which the cluster's key protects, and Django
    # refuses to delete one an item names (PROTECT).
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="+")
    face = models.ForeignKey(
        Face,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    face_b = models.ForeignKey(
        Face,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    selectors = models.JSONField(help_text="Grade: the selectors credited; A/B: [A, B].")
    identical = models.BooleanField(default=False)
    reference = models.ForeignKey(
        Face,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
        help_text="Another face of the person, no selector's pick, shown on request.",
    )
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
    # Its live decisive judgments per answer, in the order of its kind's answers (grade:
    # unidentifiable, usable, excellent; A/B: a, b, equal), kept with ``judged``: the
    # evaluation counts items, never reading the judgments unless it filters them.
    answers_0 = models.PositiveIntegerField(default=0)
    answers_1 = models.PositiveIntegerField(default=0)
    answers_2 = models.PositiveIntegerField(default=0)
    complete = models.BooleanField(
        default=False,
        help_text="An asked item with all its judgments: out of the queue's index until an undo.",
    )
    rank = models.PositiveIntegerField(
        default=0,
        help_text="Its place in the campaign's order, drawn with the campaign's seed; each "
        "annotator walks the order from a place of their own.",
    )

    class GoldSource(models.TextChoices):
        ADMIN = "admin", "graded by an admin"
        DEGRADED = "degraded", "shown with a strong degradation"

    gold = models.CharField(
        max_length=16,
        blank=True,
        help_text="The known answer of a gold item: a grade, or ``a`` for an A/B pair whose B "
        "side is degraded.",
    )
    gold_source = models.CharField(
        max_length=16, choices=GoldSource.choices, blank=True, help_text="Why the answer is known."
    )
    repeat_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="repeats",
        db_index=False,
        help_text="The A/B item this one shows again with the sides swapped.",
    )

    class Meta:
        ordering = ["campaign", "id"]
        indexes = [
            # The items the queue may still serve, in the order it walks them.
            models.Index(
                fields=["campaign", "rank", "id"],
                condition=Q(identical=False, complete=False),
                name="item_walk",
            ),
            # The B faces and repeated items, indexed only where set: most items have neither.
            models.Index(fields=["face_b"], condition=Q(face_b__isnull=False), name="item_face_b"),
            models.Index(
                fields=["repeat_of"], condition=Q(repeat_of__isnull=False), name="item_repeat_of"
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} of {self.campaign_id}"


# The items that judge the selectors, as against the check items that judge the annotators.
SELECTOR_ITEMS = Q(gold="", repeat_of=None)


class Participant(models.Model):
    """An annotator's part in a campaign, kept by the queue with each answer: their live decisive
    judgments, and their place in the campaign's order."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="participants")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    judged = models.PositiveIntegerField(default=0)
    last_item = models.ForeignKey(
        Item,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The item of their latest answer or undo: their walk through the order goes on "
        "from it.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "annotator"], name="one_participant"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} in {self.campaign_id}: {self.judged}"


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

    # PROTECT: judgments are never deleted with their item or campaign. Indexed with the
    # annotator (below): the queue asks whether this annotator answered this item.
    item = models.ForeignKey(
        Item, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
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
        indexes = [
            models.Index(fields=["annotator", "-created_at"], name="judgment_recent"),
            models.Index(fields=["item", "annotator"], name="judgment_item_annotator"),
        ]

    def __str__(self) -> str:
        return f"{self.answer} on {self.item_id}"


# Each kind's answers in the order of an item's ``answers_0``, ``answers_1`` and ``answers_2``.
KIND_ANSWERS: dict[str, tuple[str, str, str]] = {
    Campaign.Kind.GRADE: (
        Judgment.Answer.UNIDENTIFIABLE,
        Judgment.Answer.USABLE,
        Judgment.Answer.EXCELLENT,
    ),
    Campaign.Kind.AB: (Judgment.Answer.A, Judgment.Answer.B, Judgment.Answer.EQUAL),
}
# The item counter of each decisive answer: ``answers_<slot>``.
ANSWER_SLOT = {answer: k for answers in KIND_ANSWERS.values() for k, answer in enumerate(answers)}
