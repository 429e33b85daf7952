"""Cluster curation, the paper's human step: merge, split, rename, mark as no actor, undo.

Every action runs in one transaction under the title's row lock, is logged with who made it
(``ClusterEdit``) and marks the clusters it changed ``stale``; ``picks_recompute`` then scores
only those. Undo takes back the latest action not yet undone, so actions come off in the reverse
order they were made and each undo finds the clusters as its action left them. Nothing is
edited while a scoring run is going: its picks would mix the old clusters and the new.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from curation.models import Cluster, ClusterEdit, Face, ScoringRun, Selection, Title
from curation.scoring_runs.service import scoring_start


class EditRefused(Exception):
    """The edit was not made; the message says why in one line."""


def _locked_title(title_id: int) -> Title:
    title = Title.objects.select_for_update().get(pk=title_id)
    if title.scoring_runs.filter(
        status__in=[ScoringRun.Status.QUEUED, ScoringRun.Status.RUNNING]
    ).exists():
        raise EditRefused("the title is being scored: edit its clusters once the run ends")
    return title


def _cluster(title: Title, cluster_id: int) -> Cluster:
    try:
        return Cluster.objects.get(pk=cluster_id, title=title)
    except Cluster.DoesNotExist:
        raise EditRefused(f"cluster {cluster_id} is not in {title.name!r}") from None


def _label_free(title: Title, label: str) -> str:
    label = " ".join(label.split())
    if not label:
        raise EditRefused("the name is empty")
    longest = Cluster._meta.get_field("label").max_length or 200
    if len(label) > longest:
        raise EditRefused(f"the name is longer than {longest} characters")
    if Cluster.objects.filter(title=title, label=label).exists():
        raise EditRefused(f"{title.name!r} already has a cluster named {label!r}")
    return label


def _next_actor_label(title: Title) -> str:
    number = Cluster.objects.filter(title=title).count() + 1
    while Cluster.objects.filter(title=title, label=f"actor {number}").exists():
        number += 1
    return f"actor {number}"


def _log(title: Title, user, action: str, summary: str, changes: dict) -> ClusterEdit:
    return ClusterEdit.objects.create(
        title=title, action=action, summary=summary[:500], changes=changes, made_by=user
    )


def _move(faces: Iterable[Face], target: Cluster) -> list[list[int]]:
    moves = [
        [face.pk, face.cluster_id, target.pk] for face in faces if face.cluster_id != target.pk
    ]
    if not moves:
        raise EditRefused("nothing to move: the faces are in that cluster already")
    Face.objects.filter(pk__in=[face for face, _, _ in moves]).update(cluster=target)
    Cluster.objects.filter(pk__in={c for _, c, _ in moves} | {target.pk}).update(stale=True)
    return moves


def clusters_merge(*, title: Title, source_ids: list[int], target_id: int, user) -> ClusterEdit:
    """Every face of the ``source_ids`` clusters into ``target_id``; the sources are left
    empty (campaigns may name them) and get no picks."""
    with transaction.atomic():
        title = _locked_title(title.pk)
        target = _cluster(title, target_id)
        sources = [_cluster(title, pk) for pk in source_ids if pk != target.pk]
        if not sources:
            raise EditRefused("choose another cluster to merge")
        faces = Face.objects.filter(cluster__in=sources).only("pk", "cluster_id")
        moves = _move(faces, target)
        names = ", ".join(source.label for source in sources)
        return _log(
            title,
            user,
            ClusterEdit.Action.MERGE,
            f"merged {names} into {target.label} ({len(moves)} faces)",
            {"moves": moves},
        )


def faces_split(
    *,
    title: Title,
    face_ids: list[int],
    track_ids: list[int],
    source_id: int,
    target_id: int | None,
    new_label: str = "",
    user,
) -> ClusterEdit:
    """Move faces, and whole tracks' faces, of cluster ``source_id`` to ``target_id``, or to a
    new cluster (named ``new_label``, or the next free "actor N") when it is None."""
    with transaction.atomic():
        title = _locked_title(title.pk)
        source = _cluster(title, source_id)
        faces = list(
            Face.objects.filter(cluster=source, pk__in=face_ids).only("pk", "cluster_id")
        ) + list(
            Face.objects.filter(cluster=source, track__in=track_ids)
            .exclude(pk__in=face_ids)
            .only("pk", "cluster_id")
        )
        if not faces:
            raise EditRefused("choose faces or tracks of this cluster to move")
        created = []
        if target_id is None:
            label = _label_free(title, new_label) if new_label.strip() else _next_actor_label(title)
            target = Cluster.objects.create(title=title, label=label, stale=True)
            created.append(target.pk)
        else:
            target = _cluster(title, target_id)
        moves = _move(faces, target)
        return _log(
            title,
            user,
            ClusterEdit.Action.SPLIT,
            f"moved {len(moves)} faces from {source.label} to "
            f"{'new cluster ' if created else ''}{target.label}",
            {"moves": moves, "created": created},
        )


def cluster_rename(*, cluster: Cluster, label: str, user) -> ClusterEdit:
    with transaction.atomic():
        title = _locked_title(cluster.title_id)
        cluster = _cluster(title, cluster.pk)
        before = cluster.label
        if " ".join(label.split()) == before:
            raise EditRefused("that is its name already")
        cluster.label = _label_free(title, label)
        cluster.save(update_fields=["label"])
        return _log(
            title,
            user,
            ClusterEdit.Action.RENAME,
            f"renamed {before} to {cluster.label}",
            {"labels": {str(cluster.pk): [before, cluster.label]}},
        )


def cluster_mark(*, cluster: Cluster, role: str, user) -> ClusterEdit:
    """Mark a cluster as an actor, or as no actor (a poster, a crowd, a false detection):
    only actors get picks."""
    if role not in Cluster.Role.values:
        raise EditRefused(f"unknown role {role!r}")
    with transaction.atomic():
        title = _locked_title(cluster.title_id)
        cluster = _cluster(title, cluster.pk)
        before = cluster.role
        if before == role:
            raise EditRefused(f"{cluster.label} is marked {cluster.get_role_display()} already")
        cluster.role, cluster.stale = role, True
        cluster.save(update_fields=["role", "stale"])
        return _log(
            title,
            user,
            ClusterEdit.Action.ROLE,
            f"marked {cluster.label} as {cluster.get_role_display()}",
            {"roles": {str(cluster.pk): [before, role]}},
        )


def edit_undo(*, title: Title, user) -> ClusterEdit:
    """Take back the title's latest action that is not undone yet."""
    with transaction.atomic():
        title = _locked_title(title.pk)
        edit = undoable_edit(title, lock=True)
        if edit is None:
            raise EditRefused("nothing to undo")
        changes = edit.changes
        touched: set[int] = set()
        for face, before, after in reversed(changes.get("moves", [])):
            Face.objects.filter(pk=face, cluster_id=after).update(cluster_id=before)
            touched |= {before, after}
        for pk, (before, _) in changes.get("labels", {}).items():
            try:
                with transaction.atomic():
                    Cluster.objects.filter(pk=int(pk)).update(label=before)
            except IntegrityError:
                raise EditRefused(f"another cluster is now named {before!r}") from None
        for pk, (before, _) in changes.get("roles", {}).items():
            Cluster.objects.filter(pk=int(pk)).update(role=before)
            touched.add(int(pk))
        created = changes.get("created", [])
        Cluster.objects.filter(pk__in=touched - set(created)).update(stale=True)
        # A cluster the action made goes with it, unless something now holds on to it.
        for cluster in Cluster.objects.filter(pk__in=created):
            if not cluster.faces.exists():
                try:
                    cluster.delete()
                except ProtectedError:  # a campaign made since names it: it stays, empty
                    cluster.stale = True
                    cluster.save(update_fields=["stale"])
        undo = _log(title, user, ClusterEdit.Action.UNDO, f"undid: {edit.summary}", {})
        edit.undone_by = undo
        edit.save(update_fields=["undone_by"])
        return undo


def undoable_edit(title: Title, *, lock: bool = False) -> ClusterEdit | None:
    """The latest action on the title's clusters not undone yet: the one Undo takes back."""
    edits = ClusterEdit.objects.select_for_update() if lock else ClusterEdit.objects.all()
    return (
        edits.filter(title=title, undone_by=None)
        .exclude(action=ClusterEdit.Action.UNDO)
        .order_by("-created_at", "-pk")
        .first()
    )


def stale_clusters(title: Title) -> list[int]:
    """The clusters changed since the title's picks were made (none before it has any)."""
    if not Selection.objects.filter(cluster__title=title).exists():
        return []
    return list(title.clusters.filter(stale=True).order_by("pk").values_list("pk", flat=True))


def picks_recompute(*, title: Title) -> ScoringRun:
    """Score again only the clusters changed since their picks: identity, quality, picks and
    headshots (features are kept: they do not depend on the cluster)."""
    if not Selection.objects.filter(cluster__title=title).exists():
        raise EditRefused("the title has no picks yet: score it (every cluster) first")
    stale = stale_clusters(title)
    if not stale:
        raise EditRefused("no cluster has changed since its picks were made")
    return scoring_start(title=title, clusters=stale)
