"""Creating a campaign and its items from the selectors' picks."""

from __future__ import annotations

import random
from collections import defaultdict

from django.db import transaction
from django.db.models import F

from curation.models import Campaign, Face, Item, Selection, Title


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
    lease_seconds: int = 300,
    min_view_ms: int = 250,
    created_by=None,
) -> Campaign:
    """Validate, then create the campaign and its items in one transaction."""
    clusters, picks = campaign_check(kind=kind, titles=titles, selectors=selectors, overlap=overlap)
    clusters = _sampled(clusters, sample_size, seed)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            kind=kind,
            selectors=selectors,
            overlap=overlap,
            sample_size=sample_size,
            seed=seed,
            lease_seconds=lease_seconds,
            min_view_ms=min_view_ms,
            created_by=created_by,
        )
        campaign.titles.set(titles)
        Item.objects.bulk_create(_items(campaign, clusters, picks))
    return campaign


def campaign_preview(
    *,
    kind: str,
    titles: list[Title],
    selectors: list[str],
    overlap: int = 1,
    sample_size: int | None = None,
    seed: int = 0,
) -> dict[str, int]:
    """What ``campaign_create`` would make, without making it: the clusters, the items to judge,
    the A/B clusters whose two picks are one face (recorded, never asked), and the judgments
    needed. Raises CampaignInvalid as creation would."""
    clusters, picks = campaign_check(kind=kind, titles=titles, selectors=selectors, overlap=overlap)
    clusters = _sampled(clusters, sample_size, seed)
    if kind == Campaign.Kind.AB:
        a, b = selectors
        identical = sum(picks[c][a].face_id == picks[c][b].face_id for c in clusters)
        items = len(clusters) - identical
    else:
        identical = 0
        items = sum(len({picks[c][s].face_id for s in selectors}) for c in clusters)
    return {
        "clusters": len(clusters),
        "items": items,
        "identical": identical,
        "judgments": items * overlap,
    }


def _sampled(clusters: list[int], sample_size: int | None, seed: int) -> list[int]:
    """The clusters a campaign asks about: all, or ``sample_size`` drawn with ``seed``."""
    if sample_size is None or sample_size >= len(clusters):
        return clusters
    return sorted(random.Random(seed).sample(clusters, sample_size))


def campaign_check(*, kind: str, titles: list[Title], selectors: list[str], overlap: int):
    """The clusters that have a pick from every selector, and the picks; raises CampaignInvalid
    with a one-line reason when the campaign cannot be made."""
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
    picks: dict[int, dict[str, Selection]] = defaultdict(dict)
    for selection in Selection.objects.filter(
        cluster__title__in=titles, selector__in=selectors
    ).select_related("cluster"):
        picks[selection.cluster_id][selection.selector] = selection
    clusters = sorted(cid for cid, by in picks.items() if len(by) == len(selectors))
    if not clusters:
        raise CampaignInvalid("the titles have no picks from these selectors: score them first")
    return clusters, picks


def references(clusters: list[int]) -> dict[int, int]:
    """For each cluster, the face to show as "this is the person": its best face by quality that
    no selector picked, so that it never hints at a pick. Clusters whose every face was picked
    have none."""
    picked = set(Selection.objects.filter(cluster__in=clusters).values_list("face_id", flat=True))
    best: dict[int, int] = {}
    faces = (
        Face.objects.filter(cluster__in=clusters)
        .exclude(pk__in=picked)
        .order_by("cluster", F("quality").desc(nulls_last=True), "pk")
        .values_list("cluster_id", "pk")
    )
    for cluster_id, face_id in faces:
        best.setdefault(cluster_id, face_id)
    return best


def _items(campaign: Campaign, clusters: list[int], picks) -> list[Item]:
    items = []
    reference = references(clusters)
    for cluster_id in clusters:
        by = picks[cluster_id]
        if campaign.kind == Campaign.Kind.AB:
            a, b = (by[s] for s in campaign.selectors)
            items.append(
                Item(
                    campaign=campaign,
                    cluster_id=cluster_id,
                    face_id=a.face_id,
                    face_b_id=b.face_id,
                    reference_id=reference.get(cluster_id),
                    crop=a.crop,
                    crop_b=b.crop,
                    selectors=list(campaign.selectors),
                    identical=a.face_id == b.face_id,
                )
            )
            continue
        credited: dict[int, list[str]] = defaultdict(list)
        crops: dict[int, str] = {}
        for selector in campaign.selectors:
            credited[by[selector].face_id].append(selector)
            crops[by[selector].face_id] = crops.get(by[selector].face_id) or by[selector].crop
        items.extend(
            Item(
                campaign=campaign,
                cluster_id=cluster_id,
                face_id=face_id,
                reference_id=reference.get(cluster_id),
                crop=crops[face_id],
                selectors=names,
            )
            for face_id, names in credited.items()
        )
    return items
