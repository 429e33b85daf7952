"""Reads about the catalog that other features' rows depend on."""

from __future__ import annotations

from django.db.models import Count

from curation.models import Item, Title


def campaigns_using(*, titles: list[Title]) -> list[str]:
    """One line per campaign that asks about these titles' faces: its name, and the judgments
    and items that deleting the titles would destroy."""
    rows = (
        Item.objects.filter(cluster__title__in=titles)
        .values("campaign__pk", "campaign__name")
        .annotate(items=Count("pk", distinct=True), judged=Count("judgments", distinct=True))
        .order_by("campaign__pk")
    )
    return [
        f"campaign “{row['campaign__name']}” (#{row['campaign__pk']}): "
        f"{row['judged']} judgment{'s' if row['judged'] != 1 else ''} on "
        f"{row['items']} item{'s' if row['items'] != 1 else ''}"
        for row in rows
    ]
