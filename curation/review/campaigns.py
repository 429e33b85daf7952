"""Creating a campaign and its items from the selectors' picks."""

from __future__ import annotations

import functools
import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Window
from django.db.models.functions import RowNumber

from curation.models import Campaign, Face, Item, Judgment, Selection, Title
from curation.review.queue import rank_groups


class CampaignInvalid(Exception):
    pass


def campaign_create(
    *,
    name: str,
    kind: str,
    titles: list[Title],
    selectors: list[str],
    overlap: int = 1,
    sample_size: int | None = None,
    seed: int = 0,
    order: str = Campaign.Order.RANDOM,
    gold_share: float = 0.0,
    target_width: float = 0.2,
    alpha: float = 0.05,
    lease_seconds: int = 300,
    min_view_ms: int = 250,
    created_by=None,
) -> Campaign:
    """Validate, then create the campaign, its items and its check items in one transaction.

    The items go in by bulk insert as plain rows (COPY on PostgreSQL); each gets its place in
    the campaign's order (``Item.rank``) drawn with the seed."""
    clusters, picks = campaign_check(
        kind=kind,
        titles=titles,
        selectors=selectors,
        overlap=overlap,
        order=order,
        gold_share=gold_share,
        target_width=target_width,
        alpha=alpha,
    )
    clusters = _sampled(clusters, sample_size, seed)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            kind=kind,
            selectors=selectors,
            overlap=overlap,
            sample_size=sample_size,
            seed=seed,
            order=order,
            gold_share=gold_share,
            target_width=target_width,
            alpha=alpha,
            lease_seconds=lease_seconds,
            min_view_ms=min_view_ms,
            created_by=created_by,
        )
        campaign.titles.set(titles)
        items = _items(campaign, clusters, picks, references(titles))
        asked = [item for item in items if not item.identical]
        # Each item's group in the campaign's order, drawn with the seed (see review.queue).
        groups = rank_groups(len(asked) + check_count(gold_share, len(asked)))
        ranks = random.Random(f"order:{seed}")
        _insert(campaign, items, ranks, groups)
        checks: list[NewItem] = []
        if check_count(gold_share, len(asked)):
            ids = campaign.items.filter(identical=False).order_by("pk").values_list("pk", flat=True)
            for item, pk in zip(asked, ids, strict=True):
                item.pk = pk
            checks = check_items(campaign, asked, titles)
            _insert(campaign, checks, ranks, groups)
        campaign.items_asked = len(asked)
        campaign.items_identical = len(items) - len(asked)
        campaign.items_check = len(checks)
        campaign.save(update_fields=["items_asked", "items_identical", "items_check"])
    return campaign


# The columns of a new item, as inserted (it has no judgments yet).
_COLUMNS = (
    "campaign_id",
    "cluster_id",
    "face_id",
    "face_b_id",
    "reference_id",
    "crop",
    "crop_b",
    "selectors",
    "identical",
    "gold",
    "gold_source",
    "repeat_of_id",
    "rank",
    "judged",
    "answers_0",
    "answers_1",
    "answers_2",
    "complete",
)


@functools.cache
def _selectors_json(selectors: tuple[str, ...]) -> str:
    return json.dumps(list(selectors))


def _insert(campaign: Campaign, items: list[NewItem], ranks: random.Random, groups: int) -> None:
    """Insert the items as rows, in their order (their ids ascend in it), each in one of
    ``groups`` groups of the campaign's order."""
    rows = [
        (
            campaign.pk,
            item.cluster_id,
            item.face_id,
            item.face_b_id,
            item.reference_id,
            item.crop,
            item.crop_b,
            _selectors_json(tuple(item.selectors)),
            item.identical,
            item.gold,
            item.gold_source,
            item.repeat_of_id,
            ranks.randrange(groups),
            0,
            0,
            0,
            0,
            False,
        )
        for item in items
    ]
    table = Item._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES ({marks})", rows
            )


def campaign_preview(
    *,
    kind: str,
    titles: list[Title],
    selectors: list[str],
    overlap: int = 1,
    sample_size: int | None = None,
    seed: int = 0,
    order: str = Campaign.Order.RANDOM,
    gold_share: float = 0.0,
    target_width: float = 0.2,
    alpha: float = 0.05,
) -> dict[str, int]:
    """What ``campaign_create`` would make, without making it: the clusters, the items to judge,
    the clusters whose picks are all one face (recorded as agreement, never asked: in A/B
    campaigns, and in disagreement-first grade campaigns), the check items, and the judgments
    needed. Raises CampaignInvalid as creation would."""
    clusters, picks = campaign_check(
        kind=kind,
        titles=titles,
        selectors=selectors,
        overlap=overlap,
        order=order,
        gold_share=gold_share,
        target_width=target_width,
        alpha=alpha,
    )
    clusters = _sampled(clusters, sample_size, seed)
    distinct = [len({picks[c][s].face for s in selectors}) for c in clusters]
    skips_agreement = kind == Campaign.Kind.AB or order == Campaign.Order.DISAGREEMENT
    identical = sum(n == 1 for n in distinct) if skips_agreement else 0
    items = (len(clusters) if kind == Campaign.Kind.AB else sum(distinct)) - identical
    return {
        "clusters": len(clusters),
        "items": items,
        "identical": identical,
        "checks": check_count(gold_share, items),
        "judgments": items * overlap,
    }


def check_count(gold_share: float, items: int) -> int:
    """The check items added to ``items`` items asked: at least one when any is wanted."""
    return math.ceil(gold_share * items) if items else 0


def _sampled(clusters: list[int], sample_size: int | None, seed: int) -> list[int]:
    """The clusters a campaign asks about: all, or ``sample_size`` drawn with ``seed``."""
    if sample_size is None or sample_size >= len(clusters):
        return clusters
    return sorted(random.Random(seed).sample(clusters, sample_size))


def campaign_check(
    *,
    kind: str,
    titles: list[Title],
    selectors: list[str],
    overlap: int,
    order: str = Campaign.Order.RANDOM,
    gold_share: float = 0.0,
    target_width: float = 0.2,
    alpha: float = 0.05,
):
    """The clusters that have a pick from every selector, and the picks; raises CampaignInvalid
    with a one-line reason when the campaign cannot be made."""
    if order not in Campaign.Order.values:
        raise CampaignInvalid(f"unknown order {order!r}: random or disagreement")
    if not 0 <= gold_share <= 0.5:
        raise CampaignInvalid("the share of check items must be between 0 and 0.5")
    if not 0 < target_width <= 1:
        raise CampaignInvalid("the target interval width must be a share in (0, 1]")
    if not 0 < alpha < 1:
        raise CampaignInvalid("α must be between 0 and 1")
    known = set(Selection.Selector.values)
    if unknown := [s for s in selectors if s not in known]:
        raise CampaignInvalid(f"unknown selectors: {', '.join(unknown)}")
    if len(set(selectors)) != len(selectors) or not selectors:
        raise CampaignInvalid("choose each selector once, at least one")
    if kind == Campaign.Kind.AB and len(selectors) != 2:
        raise CampaignInvalid("an A/B campaign compares exactly two selectors")
    if overlap < 1:
        raise CampaignInvalid("judgments per item must be at least 1")
    if not titles:
        raise CampaignInvalid("choose at least one title")
    picks: dict[int, dict[str, Pick]] = defaultdict(dict)
    # Unordered (the models' order would join titles and clusters to sort by their names).
    for cluster_id, selector, face_id, crop in (
        Selection.objects.filter(cluster__title__in=titles, selector__in=selectors)
        .order_by()
        .values_list("cluster_id", "selector", "face_id", "crop")
    ):
        picks[cluster_id][selector] = Pick(face_id, crop)
    clusters = sorted(cid for cid, by in picks.items() if len(by) == len(selectors))
    if not clusters:
        raise CampaignInvalid("the titles have no picks from these selectors: score them first")
    return clusters, picks


class Pick(NamedTuple):
    face: int
    crop: str


@dataclass(slots=True)
class NewItem:
    """An item about to be inserted (``pk`` once it is)."""

    cluster_id: int
    face_id: int
    selectors: list[str]
    face_b_id: int | None = None
    reference_id: int | None = None
    crop: str = ""
    crop_b: str = ""
    identical: bool = False
    gold: str = ""
    gold_source: str = ""
    repeat_of_id: int | None = None
    pk: int | None = None


def references(titles: list[Title]) -> dict[int, int]:
    """For each cluster of the titles, the face to show as "this is the person": its best face
    by quality that no selector picked, so that it never hints at a pick. Clusters whose every
    face was picked have none."""
    best = Window(
        RowNumber(),
        partition_by=F("cluster"),
        order_by=[F("quality").desc(nulls_last=True), F("pk")],
    )
    return dict(
        Face.objects.filter(title__in=titles)
        .exclude(Exists(Selection.objects.filter(face=OuterRef("pk"))))
        .annotate(place=best)
        .filter(place=1)
        .order_by()
        .values_list("cluster_id", "pk")
    )


def _items(
    campaign: Campaign, clusters: list[int], picks, reference: dict[int, int]
) -> list[NewItem]:
    """One item per A/B cluster; per grade cluster, one per distinct face picked. A face every
    selector picked is asked in a random-order grade campaign (it measures the selectors'
    absolute grades) and recorded as agreement in a disagreement-first one."""
    skip_agreement = campaign.order == Campaign.Order.DISAGREEMENT
    items = []
    for cluster_id in clusters:
        by = picks[cluster_id]
        if campaign.kind == Campaign.Kind.AB:
            a, b = (by[s] for s in campaign.selectors)
            items.append(
                NewItem(
                    cluster_id=cluster_id,
                    face_id=a.face,
                    face_b_id=b.face,
                    reference_id=reference.get(cluster_id),
                    crop=a.crop,
                    crop_b=b.crop,
                    selectors=list(campaign.selectors),
                    identical=a.face == b.face,
                )
            )
            continue
        credited: dict[int, list[str]] = defaultdict(list)
        crops: dict[int, str] = {}
        for selector in campaign.selectors:
            face, crop = by[selector]
            credited[face].append(selector)
            crops[face] = crops.get(face) or crop
        items.extend(
            NewItem(
                cluster_id=cluster_id,
                face_id=face_id,
                reference_id=reference.get(cluster_id),
                crop=crops[face_id],
                selectors=names,
                identical=skip_agreement and len(credited) == 1,
            )
            for face_id, names in credited.items()
        )
    return items


def check_items(campaign: Campaign, asked: list[NewItem], titles: list[Title]) -> list[NewItem]:
    """Items whose answer is known, to measure the annotators (never the selectors), drawn with
    the campaign's seed from the items asked. Grade: the faces of these titles an admin graded,
    then picks shown with a strong degradation (answer: unidentifiable). A/B: pairs shown again
    with the sides swapped (self-consistency), and pairs of a pick against its own degraded copy
    (answer: the pick)."""
    count = check_count(campaign.gold_share, len(asked))
    if not count:
        return []
    rng = random.Random(f"checks:{campaign.seed}")
    drawn = rng.sample(asked, min(count, len(asked)))
    if campaign.kind == Campaign.Kind.AB:
        repeats = math.ceil(count / 2)
        return [_repeat(item) for item in drawn[:repeats]] + [
            _degraded_pair(item) for item in drawn[repeats:]
        ]
    marked = list(
        Face.objects.filter(title__in=titles)
        .exclude(known_grade="")
        .order_by("pk")
        .values_list("pk", "cluster_id", "known_grade")
    )
    marked = rng.sample(marked, min(count, len(marked)))
    checks = [
        NewItem(
            cluster_id=cluster_id,
            face_id=face_id,
            selectors=[],
            gold=grade,
            gold_source=Item.GoldSource.ADMIN,
        )
        for face_id, cluster_id, grade in marked
    ]
    checks += [
        NewItem(
            cluster_id=item.cluster_id,
            face_id=item.face_id,
            reference_id=item.reference_id,
            crop=item.crop,
            selectors=[],
            gold=Judgment.Answer.UNIDENTIFIABLE,
            gold_source=Item.GoldSource.DEGRADED,
        )
        for item in drawn[: count - len(checks)]
    ]
    return checks


def _repeat(item: NewItem) -> NewItem:
    return NewItem(
        cluster_id=item.cluster_id,
        face_id=item.face_id,
        face_b_id=item.face_b_id,
        reference_id=item.reference_id,
        crop=item.crop,
        crop_b=item.crop_b,
        selectors=list(item.selectors),
        repeat_of_id=item.pk,
    )


def _degraded_pair(item: NewItem) -> NewItem:
    """Selector A's pick against the same pick degraded (shown on the B side)."""
    return NewItem(
        cluster_id=item.cluster_id,
        face_id=item.face_id,
        face_b_id=item.face_id,
        reference_id=item.reference_id,
        crop=item.crop,
        crop_b=item.crop,
        selectors=[],
        gold=Judgment.Answer.A,
        gold_source=Item.GoldSource.DEGRADED,
    )
