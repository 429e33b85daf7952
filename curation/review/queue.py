"""The annotation queue: leasing the next item, recording answers, undo, progress.

An item is served to an annotator only while it still needs judgments: its live judgments plus
the unexpired leases of other annotators stay below the campaign's overlap. Each item keeps its
live judgment count in ``Item.judged``, and an asked item is marked ``complete`` once it has them
all, changed only under the item's row lock in the transaction that records or undoes a
judgment, so the check reads columns. The candidate row is taken with ``SELECT … FOR UPDATE SKIP
LOCKED`` (on PostgreSQL), and its room is counted again once the row is locked, by a new
statement that sees every lease committed before: the counts of the query that found the row may
predate a lease another annotator committed an instant before. One annotator's requests are
serialised (their user row is locked), so nobody holds two leases in one campaign. A lease is
therefore a reserved place: an answer on a held lease is taken.

Finding the next item reads a few rows, however large the campaign and however many judgments it
has: the items still to serve (not identical, not complete) are indexed in the campaign's order,
and an annotator walks that index from the item they answered last (kept on their
``Participant`` row). The order is in groups of about ``GROUP`` items (``Item.rank``, drawn with
the campaign's seed): each annotator starts at a group of their own and takes each group's items
in their own shuffled order (an affine permutation of the ids), so two annotators' orders differ
and each one's stays the same. Complete items are not in the index; the items an annotator
answered lie behind their place, and those they passed (leased by others) come round again when
their walk wraps.

Check items (gold items and A/B repeats) measure the annotators: each is served to every
annotator once, a repeat only to those who answered its original, and only to annotators who
have items of the campaign to judge or judged one; they do not count in the campaign's progress.

Progress reads counters kept in the same transactions: the campaign's live judgments of its asked
items (``Campaign.judged``, its row updated last so that its lock is held for an instant) and
each annotator's (``Participant.judged``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Count, F, IntegerField, OuterRef, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.db.models.query import QuerySet
from django.utils import timezone

from curation.evaluation.versions import judgments_changed
from curation.models import (
    ANSWER_SLOT,
    KIND_ANSWERS,
    SELECTOR_ITEMS,
    Campaign,
    Item,
    Judgment,
    Lease,
    Participant,
)

GRADES = (Judgment.Answer.UNIDENTIFIABLE, Judgment.Answer.USABLE, Judgment.Answer.EXCELLENT)
AB_SIDES = ("left", "right", "equal")
DECISIVE = (*GRADES, Judgment.Answer.A, Judgment.Answer.B, Judgment.Answer.EQUAL)
# Items to a group of the campaign's order, on average: a group is what an annotator's walk
# sorts in their own order, so it stays small.
GROUP = 16
# A prime above any id: ``(id * a + b) mod PRIME`` is then a permutation of the ids.
PRIME = 2_147_483_647


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


def rank_groups(items: int) -> int:
    """The groups of the order of a campaign that serves ``items`` items (``Item.rank``)."""
    return max(1, math.ceil(items / GROUP))


@dataclass(frozen=True)
class Order:
    """An annotator's order of a campaign's items: the groups from ``start`` on, round to the
    first, and in each group the items by their turn, ``(id * a + b) mod PRIME``."""

    start: int
    a: int
    b: int

    @classmethod
    def of(cls, campaign: Campaign, annotator) -> Order:
        """Drawn from the campaign's seed and the annotator: the same on every request."""
        digest = hashlib.sha256(f"order:{campaign.seed}:{annotator.pk}".encode()).digest()
        groups = rank_groups(campaign.items_asked + campaign.items_check)
        return cls(
            start=int.from_bytes(digest[8:12], "big") % groups,
            a=int.from_bytes(digest[:4], "big") % (PRIME - 1) + 1,
            b=int.from_bytes(digest[4:8], "big") % PRIME,
        )

    def turn_of(self, item_id: int) -> int:
        return (item_id * self.a + self.b) % PRIME

    def turn_sql(self) -> tuple[str, list[int]]:
        return f"({ITEM}.id * %s + %s) %% {PRIME}", [self.a, self.b]


ITEM = Item._meta.db_table
JUDGMENT = Judgment._meta.db_table
LEASE = Lease._meta.db_table
PARTICIPANT = Participant._meta.db_table


def _open_sql(campaign: Campaign, annotator, now) -> tuple[str, list]:
    """The SQL condition on an item row that it is open for this annotator now (see
    ``open_items``). Its subqueries read one item's rows through their indexes; ``LIMIT 1
    OFFSET 0`` keeps PostgreSQL from hashing all the annotator's judgments instead, which would
    cost what they have judged on every request."""
    answered = (
        f"EXISTS (SELECT 1 FROM {JUDGMENT} j WHERE j.item_id = {ITEM}.{{item}} "
        "AND j.annotator_id = %s AND j.answer <> %s AND NOT EXISTS "
        f"(SELECT 1 FROM {JUDGMENT} s WHERE s.supersedes_id = j.id) LIMIT 1 OFFSET 0)"
    )
    others_leases = (
        f"(SELECT count(*) FROM {LEASE} l WHERE l.item_id = {ITEM}.id "
        "AND l.expires_at > %s AND l.annotator_id <> %s)"
    )
    undo = Judgment.Answer.UNDO
    sql = (
        f"NOT {answered.format(item='id')} AND CASE "
        f"WHEN {ITEM}.gold = '' AND {ITEM}.repeat_of_id IS NULL "
        f"THEN {ITEM}.judged + {others_leases} < %s "
        f"ELSE {ITEM}.repeat_of_id IS NULL OR {answered.format(item='repeat_of_id')} END"
    )
    params = [annotator.pk, undo, now, annotator.pk, campaign.overlap, annotator.pk, undo]
    return sql, params


def open_items(campaign: Campaign, annotator) -> QuerySet[Item]:
    """Items that still need a judgment and that this annotator has not answered, and the check
    items they have not answered yet (a repeat once they answered its original), in their
    order."""
    sql, params = _open_sql(campaign, annotator, timezone.now())
    turn, turn_params = Order.of(campaign, annotator).turn_sql()
    return (
        Item.objects.filter(campaign=campaign, identical=False, complete=False)
        .filter(RawSQL(sql, params, output_field=BooleanField()))
        .alias(turn=RawSQL(turn, turn_params))
        .order_by("rank", "turn")
    )


def next_item(*, campaign: Campaign, annotator) -> Served | None:
    """The item this annotator should judge now (the one they hold, else a new lease)."""
    now = timezone.now()
    expiry = now + timedelta(seconds=campaign.lease_seconds)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=annotator.pk).values("pk").get()
        held = _held(campaign, annotator, now)
        if held is not None:
            item_id, token = held
            item = Item.objects.get(pk=item_id)
        else:
            candidate = _take_candidate(campaign, annotator, now)
            if candidate is None:
                return None
            item = candidate
            token = secrets.token_hex(16)
            with connection.cursor() as cursor:  # an expired lease of theirs gives way
                cursor.execute(
                    f"INSERT INTO {LEASE} (item_id, annotator_id, token, served_at, expires_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (item_id, annotator_id) DO UPDATE "
                    "SET token = excluded.token, served_at = excluded.served_at, "
                    "expires_at = excluded.expires_at",
                    [item.pk, annotator.pk, token, now, expiry],
                )
    side = (
        item_left_is_a(campaign=campaign, item=item, annotator_id=annotator.pk)
        if campaign.kind == Campaign.Kind.AB
        else None
    )
    return Served(item=item, token=token, left_is_a=side)


def _held(campaign: Campaign, annotator, now: datetime) -> tuple[int, str] | None:
    """The item and token of the lease the annotator holds in the campaign, locked. In SQL: the
    hot path's lookups cost a tenth of their ORM form's time to build."""
    lock = f" FOR UPDATE OF {LEASE}" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {LEASE}.item_id, {LEASE}.token FROM {LEASE} "
            f"JOIN {ITEM} ON {ITEM}.id = {LEASE}.item_id WHERE {ITEM}.campaign_id = %s "
            f"AND {LEASE}.annotator_id = %s AND {LEASE}.expires_at > %s "
            f"ORDER BY {LEASE}.served_at LIMIT 1{lock}",
            [campaign.pk, annotator.pk, now],
        )
        return cursor.fetchone()


@dataclass
class _Walk:
    """The SQL of an annotator's walk through the items still to serve, from their place."""

    campaign: Campaign
    annotator: Any
    now: datetime

    def first(self, conditions: list[tuple[str, list]], *, lock: str = "") -> Item | None:
        """The first open item in the annotator's order that meets ``conditions``, locked with
        ``lock`` (``FOR UPDATE …``)."""
        open_sql, open_params = _open_sql(self.campaign, self.annotator, self.now)
        turn, turn_params = Order.of(self.campaign, self.annotator).turn_sql()
        where = [f"{ITEM}.campaign_id = %s AND NOT {ITEM}.identical AND NOT {ITEM}.complete"]
        params: list = [self.campaign.pk]
        for sql, values in conditions:
            where.append(sql)
            params += values
        found = Item.objects.raw(
            f"SELECT * FROM {ITEM} WHERE {' AND '.join(where)} AND {open_sql} "
            f"ORDER BY {ITEM}.rank, {turn} LIMIT 1 {lock}",
            [*params, *open_params, *turn_params],
        )
        return next(iter(found), None)

    def is_open(self, item_id: int) -> bool:
        """Counted anew, by a statement that sees every lease committed before it."""
        open_sql, params = _open_sql(self.campaign, self.annotator, self.now)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {ITEM} WHERE id = %s AND {open_sql}", [item_id, *params])
            return cursor.fetchone() is not None


def _take_candidate(campaign: Campaign, annotator, now: datetime) -> Item | None:
    """Lock the next item with room for this annotator, in their order from the item they
    answered last, preferring another cluster than that one's (two picks of one person never
    come back to back unless nothing else is left). Rows another annotator is leasing this
    instant are skipped; only when every candidate was skipped do we wait for those locks, then
    count again, since the lease just made may have filled the item."""
    walk = _Walk(campaign, annotator, now)
    order = Order.of(campaign, annotator)
    with connection.cursor() as cursor:  # where their walk goes on from
        cursor.execute(
            f"SELECT i.id, i.cluster_id, i.rank FROM {PARTICIPANT} p "
            f"JOIN {ITEM} i ON i.id = p.last_item_id WHERE p.campaign_id = %s "
            "AND p.annotator_id = %s",
            [campaign.pk, annotator.pk],
        )
        last = cursor.fetchone()
    if last is None:
        rank, turn = order.start, -1
    else:
        rank, turn = last[2], order.turn_of(last[0])
    turn_sql, turn_params = order.turn_sql()
    ahead = (
        f"{ITEM}.rank >= %s AND ({ITEM}.rank > %s OR {turn_sql} > %s)",
        [rank, rank, *turn_params, turn],
    )
    walks = [[ahead], []]  # then round from the first group
    if last is not None:
        other_cluster = (f"{ITEM}.cluster_id <> %s", [last[1]])
        walks = [[*walk, other_cluster] for walk in walks] + walks
    for conditions in walks:
        if (item := _lock_first(walk, conditions)) is not None:
            if is_check(item) and not _works_here(walk):
                return None  # nothing here for them to judge: no checks either
            return item
    return None


def _lock_first(walk: _Walk, conditions: list[tuple[str, list]]) -> Item | None:
    if not connection.features.has_select_for_update_skip_locked:
        return walk.first(conditions)
    full: list[int] = []
    for lock in (f"FOR UPDATE OF {ITEM} SKIP LOCKED", f"FOR UPDATE OF {ITEM}"):
        while len(full) < 50:
            passed = [(f"{ITEM}.id <> %s", [pk]) for pk in full]
            item = walk.first([*conditions, *passed], lock=lock)
            if item is None:
                break
            if walk.is_open(item.pk):
                return item
            full.append(item.pk)
    return None


def _works_here(walk: _Walk) -> bool:
    """Whether the annotator judged an item of the campaign, or has items of it to judge: check
    items are for them (an annotator arriving after the work is done gets none)."""
    return (
        Judgment.objects.filter(item__campaign=walk.campaign, annotator=walk.annotator)
        .filter(item__gold="", item__repeat_of=None)
        .exists()
        or walk.first([(f"{ITEM}.gold = '' AND {ITEM}.repeat_of_id IS NULL", [])]) is not None
    )


def is_check(item: Item) -> bool:
    """A gold item or a repeat: it measures the annotator, not the selectors."""
    return bool(item.gold) or item.repeat_of_id is not None


def answer_record(
    *, campaign: Campaign, annotator, token: str, answer: str, viewed_ms: int | None = None
) -> Judgment:
    """Record the answer given to the leased item; a second submit of the same token returns the
    judgment already recorded. ``answer``: a grade, ``skip``, or for A/B ``left``/``right``/
    ``equal``, mapped here to the selectors. ``viewed_ms``: how long the page showed the item
    (its pictures loaded) before the answer; an answer sooner than the campaign's minimum is
    refused with ``TooQuick`` and the item stays leased. The time stored is the time viewed,
    never more than the time since the item was served."""
    now = timezone.now()
    try:
        with transaction.atomic():
            lease = (
                Lease.objects.select_for_update()  # the item's row too: its counts are ours
                .select_related("item")
                .filter(token=token, annotator=annotator, item__campaign=campaign)
                .first()
            )
            if lease is None:
                # The same answer sent again (or twice at once): the first took the lease and
                # recorded it.
                recorded = Judgment.objects.filter(token=token, annotator=annotator).first()
                if recorded is not None:
                    return recorded
                raise StaleAnswer("this item is no longer held for you; here is the next one")
            item = lease.item
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
            lease.delete()
            if judgment is not None:
                _placed(campaign, item, annotator, 1 if decisive else 0)
                if decisive:
                    _counted(campaign, item, value, 1)
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
            Judgment.objects.select_for_update(of=("self", "item"))
            .select_related("item")
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
        Lease.objects.filter(annotator=annotator, item__campaign=campaign).delete()
        Lease.objects.create(
            item=last.item,
            annotator=annotator,
            token=secrets.token_hex(16),
            served_at=now,
            expires_at=now + timedelta(seconds=campaign.lease_seconds),
        )
        decisive = last.answer in DECISIVE
        _placed(campaign, last.item, annotator, -1 if decisive else 0)
        if decisive:
            _counted(campaign, last.item, last.answer, -1)
    return undo


def _placed(campaign: Campaign, item: Item, annotator, step: int) -> None:
    """Record the annotator's place (the item of their latest answer or undo: their walk goes on
    from it) and their live decisive judgments, moved by ``step``."""
    if step < 0:
        Participant.objects.filter(campaign=campaign, annotator=annotator).update(
            judged=F("judged") + step, last_item=item
        )
        return
    with connection.cursor() as cursor:  # their first answer here makes their row
        cursor.execute(
            f"INSERT INTO {PARTICIPANT} (campaign_id, annotator_id, judged, last_item_id) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (campaign_id, annotator_id) DO UPDATE SET "
            f"judged = {PARTICIPANT}.judged + excluded.judged, "
            "last_item_id = excluded.last_item_id",
            [campaign.pk, annotator.pk, step, item.pk],
        )


def _counted(campaign: Campaign, item: Item, answer: str, step: int) -> None:
    """Count a live decisive ``answer`` given (``step`` 1) or undone (-1) on the item, whose row
    the caller has locked; the campaign's row last, so that its lock is held for an instant."""
    judgments_changed()  # the evaluation's cached tables are stale once this commits
    judged = item.judged + step
    Item.objects.filter(pk=item.pk).update(
        judged=judged,
        complete=not is_check(item) and judged >= campaign.overlap,
        **{f"answers_{ANSWER_SLOT[answer]}": F(f"answers_{ANSWER_SLOT[answer]}") + step},
    )
    if not is_check(item):
        Campaign.objects.filter(pk=campaign.pk).update(judged=F("judged") + step)


def live_judgments(campaign: Campaign):
    return Judgment.objects.filter(
        item__campaign=campaign, answer__in=DECISIVE, superseded_by__isnull=True
    )


def annotator_count(*, campaign: Campaign, annotator) -> int:
    """The annotator's live decisive judgments in the campaign."""
    counted = Participant.objects.filter(campaign=campaign, annotator=annotator)
    return counted.values_list("judged", flat=True).first() or 0


def with_progress(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """The campaigns with their ``done`` live judgments and the ``total`` they want, from their
    counters (for lists; ``campaign_progress`` has the details)."""
    return campaigns.annotate(done=F("judged"), total=F("overlap") * F("items_asked"))


def judgments_left(campaign: Campaign) -> dict[str, int]:
    """The judgments the campaign still needs and all it needs ("17 left of 60"), as counted
    now."""
    overlap, asked, done = Campaign.objects.values_list("overlap", "items_asked", "judged").get(
        pk=campaign.pk
    )
    total = overlap * asked
    return {"left": total - done, "total": total}


def campaign_progress(campaign: Campaign) -> dict:
    """Done / total (judgments needed) and live judgments per annotator."""
    counts = Campaign.objects.values("items_asked", "items_identical", "items_check", "judged")
    counted = counts.get(pk=campaign.pk)
    per_annotator = (
        Participant.objects.filter(campaign=campaign, judged__gt=0)
        .order_by("-judged", "annotator__username")
        .values_list("annotator__username", "judged")
    )
    return {
        "items": counted["items_asked"],
        "identical": counted["items_identical"],
        "checks": counted["items_check"],
        "total": counted["items_asked"] * campaign.overlap,
        "done": counted["judged"],
        "annotators": list(per_annotator),
    }


def campaign_recount(campaign: Campaign) -> None:
    """Set the campaign's counters from its items and judgments: for judgments written by other
    means than the queue (a bulk load, a repair)."""
    live = live_judgments(campaign)
    per_item = live.filter(item=OuterRef("pk")).order_by().values("item")
    answers = KIND_ANSWERS[campaign.kind]
    counts = {
        name: Coalesce(
            Subquery(per_item.filter(**of).annotate(n=Count("pk")).values("n")),
            0,
            output_field=IntegerField(),
        )
        for name, of in [
            ("judged", {}),
            *((f"answers_{k}", {"answer": answer}) for k, answer in enumerate(answers)),
        ]
    }
    items = campaign.items.all()
    asked = items.filter(SELECTOR_ITEMS, identical=False)
    with transaction.atomic():
        items.update(**counts, complete=False)
        asked.filter(judged__gte=campaign.overlap).update(complete=True)
        Campaign.objects.filter(pk=campaign.pk).update(
            items_asked=asked.count(),
            items_identical=items.filter(identical=True).count(),
            items_check=items.exclude(SELECTOR_ITEMS).count(),
            judged=asked.aggregate(n=Coalesce(Sum("judged"), 0))["n"],
        )
        Participant.objects.filter(campaign=campaign).delete()
        judged = dict(
            live.order_by()
            .values("annotator")
            .annotate(n=Count("pk"))
            .values_list("annotator", "n")
        )
        latest = Judgment.objects.filter(item__campaign=campaign, annotator=OuterRef("pk"))
        places = (
            get_user_model()
            .objects.filter(
                pk__in=Judgment.objects.filter(item__campaign=campaign).values("annotator")
            )
            .annotate(last=Subquery(latest.order_by("-created_at", "-pk").values("item")[:1]))
            .values_list("pk", "last")
        )
        Participant.objects.bulk_create(
            Participant(
                campaign=campaign,
                annotator_id=annotator,
                judged=judged.get(annotator, 0),
                last_item_id=last,
            )
            for annotator, last in places
        )
