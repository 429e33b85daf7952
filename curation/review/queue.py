"""The annotation queue: leasing the next item, recording answers, undo, progress.

An item is served to an annotator only while it still needs judgments: its live judgments plus
the unexpired leases of other annotators stay below the campaign's overlap. Each item keeps its
live judgment count in ``Item.judged``, changed only under the item's row lock in the
transaction that records or undoes a judgment, so the check reads one column. The candidate row
is taken with ``SELECT … FOR UPDATE SKIP LOCKED`` (on PostgreSQL), and its room is counted again
once the row is locked, by a new statement that sees every lease committed before: the counts of
the query that found the row may predate a lease another annotator committed an instant before.
One annotator's requests are serialised (their user row is locked), so nobody holds two leases
in one campaign. A lease is therefore a reserved place: an answer on a held lease is taken.

Check items (gold items and A/B repeats) measure the annotators: each is served to every
annotator once, a repeat only to those who answered its original, and only to annotators who
have items of the campaign to judge or judged one; they do not count in the campaign's progress.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Mod
from django.db.models.query import QuerySet
from django.utils import timezone

from curation.models import SELECTOR_ITEMS, Campaign, Item, Judgment, Lease

GRADES = (Judgment.Answer.UNIDENTIFIABLE, Judgment.Answer.USABLE, Judgment.Answer.EXCELLENT)
AB_SIDES = ("left", "right", "equal")
DECISIVE = (*GRADES, Judgment.Answer.A, Judgment.Answer.B, Judgment.Answer.EQUAL)


class StaleAnswer(Exception):
    """The answer cannot be taken (lease gone and the item is full, or not this user's)."""


class NothingToUndo(Exception):
    pass


class TooQuick(Exception):
    """An answer given before the item could be seen (a key typed ahead): not taken."""


def _seconds_viewed(since_served: timedelta, viewed_ms: int | None) -> float:
    served = since_served.total_seconds()
    if viewed_ms is None:
        return round(served, 3)
    return round(min(max(viewed_ms, 0) / 1000, served), 3)


@dataclass(frozen=True)
class Served:
    """The item to show now, its token for the answer, and which side shows selector A."""

    item: Item
    token: str
    left_is_a: bool | None


def may_see(*, item: Item, annotator) -> bool:
    """Whether this annotator may see the item's images: they hold its lease or judged it."""
    return (
        Lease.objects.filter(item=item, annotator=annotator, expires_at__gt=timezone.now()).exists()
        or Judgment.objects.filter(item=item, annotator=annotator).exists()
    )


def left_is_a(*, campaign: Campaign, item_id: int, annotator_id: int) -> bool:
    """Which side shows selector A, drawn per item and per annotator, the same on every visit."""
    digest = hashlib.sha256(f"{campaign.seed}:{item_id}:{annotator_id}".encode()).digest()
    return digest[0] % 2 == 0


def item_left_is_a(*, campaign: Campaign, item: Item, annotator_id: int) -> bool:
    """``left_is_a`` of the item; a repeat shows the sides its original showed, swapped."""
    if item.repeat_of_id is not None:
        return not left_is_a(
            campaign=campaign, item_id=item.repeat_of_id, annotator_id=annotator_id
        )
    return left_is_a(campaign=campaign, item_id=item.pk, annotator_id=annotator_id)


def _count(queryset) -> Coalesce:
    counted = queryset.order_by().values("item").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _answered(annotator, item: str = "pk") -> Exists:
    return Exists(
        Judgment.objects.filter(
            item=OuterRef(item), annotator=annotator, superseded_by__isnull=True
        ).exclude(answer=Judgment.Answer.UNDO)
    )


def open_items(campaign: Campaign, annotator) -> QuerySet[Item]:
    """Items that still need a judgment and that this annotator has not answered, and the check
    items they have not answered yet (a repeat once they answered its original)."""
    now = timezone.now()
    others_leases = Lease.objects.filter(item=OuterRef("pk"), expires_at__gt=now).exclude(
        annotator=annotator
    )
    has_room = Q(judged__lt=campaign.overlap, free__gt=0)
    check_due = Q(repeat_of=None) | Q(original_answered=True)
    return (
        Item.objects.filter(campaign=campaign, identical=False)
        .annotate(
            held=_count(others_leases),
            answered=_answered(annotator),
            original_answered=_answered(annotator, "repeat_of"),
        )
        .filter(answered=False)
        .alias(free=Value(campaign.overlap) - F("judged") - F("held"))
        .filter((SELECTOR_ITEMS & has_room) | (~SELECTOR_ITEMS & check_due))
        .alias(turn=_shuffled(campaign, annotator))
        .order_by("turn", "pk")
    )


# A prime above any id: ``(id * a + b) mod PRIME`` is then a permutation of the ids.
PRIME = 2_147_483_647


def _shuffled(campaign: Campaign, annotator) -> Mod:
    """Each annotator's own random order of the items, the same on every request: an affine
    permutation of the ids, seeded by the campaign's seed and the annotator."""
    digest = hashlib.sha256(f"order:{campaign.seed}:{annotator.pk}".encode()).digest()
    a = int.from_bytes(digest[:4], "big") % (PRIME - 1) + 1
    b = int.from_bytes(digest[4:8], "big") % PRIME
    return Mod(F("pk") * Value(a) + Value(b), Value(PRIME))


def next_item(*, campaign: Campaign, annotator) -> Served | None:
    """The item this annotator should judge now (the one they hold, else a new lease)."""
    now = timezone.now()
    expiry = now + timedelta(seconds=campaign.lease_seconds)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=annotator.pk).first()
        held = (
            Lease.objects.select_for_update()
            .filter(item__campaign=campaign, annotator=annotator, expires_at__gt=now)
            .select_related("item")
            .order_by("served_at")
            .first()
        )
        if held is not None:
            item = held.item
            token = held.token
        else:
            candidate = _take_candidate(campaign, annotator)
            if candidate is None:
                return None
            item = candidate
            Lease.objects.filter(item=item, annotator=annotator).delete()  # an expired one
            token = secrets.token_hex(16)
            Lease.objects.create(
                item=item, annotator=annotator, token=token, served_at=now, expires_at=expiry
            )
    side = (
        item_left_is_a(campaign=campaign, item=item, annotator_id=annotator.pk)
        if campaign.kind == Campaign.Kind.AB
        else None
    )
    return Served(item=item, token=token, left_is_a=side)


def _take_candidate(campaign: Campaign, annotator) -> Item | None:
    """Lock the next item with room for this annotator, in their order, preferring another
    cluster than their last answer's (two picks of one person never come back to back unless
    nothing else is left). Rows another annotator is leasing this instant are skipped; only when
    every candidate was skipped do we wait for those locks, then count again, since the lease
    just made may have filled the item."""
    candidates = open_items(campaign, annotator)
    last = (
        Judgment.objects.filter(item__campaign=campaign, annotator=annotator)
        .order_by("-created_at", "-pk")
        .values_list("item__cluster_id", flat=True)
        .first()
    )
    choices = [candidates.exclude(cluster_id=last), candidates] if last else [candidates]
    for queryset in choices:
        if (item := _lock_first(queryset, campaign, annotator)) is not None:
            if is_check(item) and not _works_here(campaign, annotator, candidates):
                return None  # nothing here for them to judge: no checks either
            return item
    return None


def _works_here(campaign: Campaign, annotator, candidates: QuerySet[Item]) -> bool:
    """Whether the annotator has items of the campaign to judge, or judged one: check items are
    for them (an annotator arriving after the work is done gets none)."""
    return (
        candidates.filter(SELECTOR_ITEMS).exists()
        or Judgment.objects.filter(item__campaign=campaign, annotator=annotator)
        .filter(item__gold="", item__repeat_of=None)
        .exists()
    )


def is_check(item: Item) -> bool:
    """A gold item or a repeat: it measures the annotator, not the selectors."""
    return bool(item.gold) or item.repeat_of_id is not None


def _lock_first(candidates: QuerySet[Item], campaign: Campaign, annotator) -> Item | None:
    if not connection.features.has_select_for_update_skip_locked:
        return candidates.first()
    full: list[int] = []
    for skip_locked in (True, False):
        while len(full) < 50:
            item = (
                candidates.exclude(pk__in=full)
                .select_for_update(skip_locked=skip_locked, of=("self",))
                .first()
            )
            if item is None:
                break
            if open_items(campaign, annotator).filter(pk=item.pk).exists():  # counted anew
                return item
            full.append(item.pk)
    return None


def answer_record(
    *, campaign: Campaign, annotator, token: str, answer: str, viewed_ms: int | None = None
) -> Judgment:
    """Record the answer given to the leased item; a second submit of the same token returns the
    judgment already recorded. ``answer``: a grade, ``skip``, or for A/B ``left``/``right``/
    ``equal``, mapped here to the selectors. ``viewed_ms``: how long the page showed the item
    (its pictures loaded) before the answer; an answer sooner than the campaign's minimum is
    refused with ``TooQuick`` and the item stays leased. The time stored is the time viewed,
    never more than the time since the item was served."""
    existing = Judgment.objects.filter(token=token, annotator=annotator).first()
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            lease = (
                Lease.objects.select_for_update()
                .filter(token=token, annotator=annotator, item__campaign=campaign)
                .first()
            )
            if lease is None:
                # The same answer sent twice at once: the first took the lease and recorded it.
                recorded = Judgment.objects.filter(token=token, annotator=annotator).first()
                if recorded is not None:
                    return recorded
                raise StaleAnswer("this item is no longer held for you; here is the next one")
            item = Item.objects.select_for_update().get(pk=lease.item_id)
            side = None
            if answer != Judgment.Answer.SKIP:
                value, side = _answer_value(campaign, item, annotator, answer)
            else:
                value = Judgment.Answer.SKIP
            decisive = value != Judgment.Answer.SKIP
            if decisive and viewed_ms is not None and viewed_ms < campaign.min_view_ms:
                raise TooQuick(f"answered {viewed_ms} ms after it appeared: look at it first")
            full = decisive and not is_check(item) and item.judged >= campaign.overlap
            judgment = None
            if not full:
                judgment = Judgment.objects.create(
                    item=item,
                    annotator=annotator,
                    answer=value,
                    left_is_a=side,
                    seconds=_seconds_viewed(now - lease.served_at, viewed_ms),
                    token=token,
                )
                if decisive:
                    Item.objects.filter(pk=item.pk).update(judged=F("judged") + 1)
            lease.delete()
    except IntegrityError:  # the same token raced in twice: the first one won
        return Judgment.objects.get(token=token)
    if judgment is None:  # refused after the commit, so that the lease stays deleted
        raise StaleAnswer("this item already has all its judgments; here is the next one")
    return judgment


def _answer_value(campaign: Campaign, item: Item, annotator, answer: str):
    if campaign.kind == Campaign.Kind.GRADE:
        if answer not in GRADES:
            raise ValueError(f"unknown grade {answer!r}")
        return answer, None
    if answer not in AB_SIDES:
        raise ValueError(f"unknown A/B answer {answer!r}")
    side = item_left_is_a(campaign=campaign, item=item, annotator_id=annotator.pk)
    if answer == "equal":
        return Judgment.Answer.EQUAL, side
    picked_a = (answer == "left") == side
    return (Judgment.Answer.A if picked_a else Judgment.Answer.B), side


def undo_last(*, campaign: Campaign, annotator) -> Judgment:
    """Supersede the annotator's latest judgment in this campaign and hand its item back."""
    now = timezone.now()
    with transaction.atomic():
        last = (
            Judgment.objects.select_for_update(of=("self",))
            .filter(item__campaign=campaign, annotator=annotator, superseded_by__isnull=True)
            .exclude(answer=Judgment.Answer.UNDO)
            .order_by("-created_at", "-pk")
            .first()
        )
        if last is None:
            raise NothingToUndo("nothing to undo")
        undo = Judgment.objects.create(
            item=last.item,
            annotator=annotator,
            answer=Judgment.Answer.UNDO,
            seconds=0,
            token=secrets.token_hex(16),
            supersedes=last,
        )
        if last.answer in DECISIVE:
            Item.objects.filter(pk=last.item_id).update(judged=F("judged") - 1)
        Lease.objects.filter(annotator=annotator, item__campaign=campaign).delete()
        Lease.objects.create(
            item=last.item,
            annotator=annotator,
            token=secrets.token_hex(16),
            served_at=now,
            expires_at=now + timedelta(seconds=campaign.lease_seconds),
        )
    return undo


def live_judgments(campaign: Campaign):
    return Judgment.objects.filter(
        item__campaign=campaign, answer__in=DECISIVE, superseded_by__isnull=True
    )


def annotator_count(*, campaign: Campaign, annotator) -> int:
    return live_judgments(campaign).filter(annotator=annotator).count()


def with_progress(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """The campaigns with their ``done`` live judgments and the ``total`` they want, from the
    items' counters, in the same query (for lists; ``campaign_progress`` has the details)."""
    counted = Q(items__identical=False, items__gold="", items__repeat_of=None)
    asked = Count("items", filter=counted)
    return campaigns.annotate(
        done=Coalesce(Sum("items__judged", filter=counted), 0), total=F("overlap") * asked
    )


def judgments_left(campaign: Campaign) -> dict[str, int]:
    """The judgments the campaign still needs and all it needs ("17 left of 60")."""
    totals = campaign.items.filter(SELECTOR_ITEMS, identical=False).aggregate(
        items=Count("pk"), done=Coalesce(Sum("judged"), 0)
    )
    total = totals["items"] * campaign.overlap
    return {"left": total - totals["done"], "total": total}


def campaign_progress(campaign: Campaign) -> dict:
    """Done / total (judgments needed) and live judgments per annotator."""
    asked = campaign.items.filter(SELECTOR_ITEMS, identical=False)
    items = asked.count()
    per_annotator = (
        live_judgments(campaign)
        .values("annotator__username")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    done = asked.aggregate(done=Coalesce(Sum("judged"), 0))["done"]
    return {
        "items": items,
        "identical": campaign.items.filter(identical=True).count(),
        "checks": campaign.items.exclude(SELECTOR_ITEMS).count(),
        "total": items * campaign.overlap,
        "done": done,
        "annotators": [(row["annotator__username"], row["n"]) for row in per_annotator],
    }
