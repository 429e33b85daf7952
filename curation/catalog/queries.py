"""Reads about the catalog that other features' rows depend on."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Func, IntegerField, Model, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from curation.models import Cluster, Face, Item, Title

# A face's place in its cluster: best quality first, unscored faces last (then by id). The same
# expression as the ``face_cluster_rank`` index, which serves it without sorting.
QUALITY_RANK = Coalesce("quality", Value(-1.0))


def counted(model: type[Model], field: str) -> Coalesce:
    """How many ``model`` rows point at the outer row through ``field``: a correlated count,
    which the database computes only for the rows a page shows (unless it sorts by it)."""
    rows = model._default_manager.filter(**{field: OuterRef("pk")}).order_by()
    # COUNT(*), not of a column: the count is then read from an index on ``field`` alone.
    count = Func(template="COUNT(*)", output_field=IntegerField())
    return Coalesce(Subquery(rows.annotate(n=count).values("n")), 0)


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


def best_faces(clusters: Sequence[Cluster], count: int) -> dict[int, list[Face]]:
    """Each cluster's ``count`` best faces (``QUALITY_RANK``), by cluster id. One subquery per
    place, each a short walk down the index: the cost grows with the clusters shown, not with
    their faces (a window over the faces would rank every one of them)."""
    ranked = (
        Face.objects.filter(cluster=OuterRef("pk")).order_by(QUALITY_RANK.desc(), "pk").values("pk")
    )
    places = Cluster.objects.filter(pk__in=[cluster.pk for cluster in clusters]).values_list(
        "pk", *(Subquery(ranked[place : place + 1]) for place in range(count))
    )
    chosen = {cluster: [face for face in faces if face is not None] for cluster, *faces in places}
    found = (
        Face.objects.only("pk", "cluster_id")
        .order_by()
        .in_bulk([face for faces in chosen.values() for face in faces])
    )
    return {
        cluster: [found[face] for face in faces if face in found]
        for cluster, faces in chosen.items()
    }
