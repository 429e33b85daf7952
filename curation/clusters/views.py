"""Cluster curation from the title and cluster pages: each action is a POST that redirects back
with what it did, or why not, in one line."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from curation.accounts.roles import admin_required
from curation.clusters.service import (
    EditRefused,
    cluster_mark,
    cluster_rename,
    clusters_merge,
    edit_undo,
    faces_split,
    picks_recompute,
)
from curation.models import Cluster, ClusterEdit, Title
from curation.queueing import QueueUnavailable
from curation.scoring_runs.service import ScoringRefused


def _ids(request: HttpRequest, name: str) -> list[int]:
    return [int(value) for value in request.POST.getlist(name) if value.isdigit()]


def _attempt(request: HttpRequest, action: Callable[[], ClusterEdit | None]) -> bool:
    """Run the action and say in a message what it did, or why not; True when it was done."""
    try:
        edit = action()
    except (EditRefused, ScoringRefused, QueueUnavailable) as error:
        messages.error(request, str(error))
        return False
    if edit is not None:
        messages.success(request, f"{edit.summary[:1].upper()}{edit.summary[1:]}.")
    return True


def _act(request: HttpRequest, action: Callable[[], ClusterEdit | None], back) -> HttpResponse:
    _attempt(request, action)
    return back


@admin_required
@require_POST
def cluster_rename_view(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    return _act(
        request,
        lambda: cluster_rename(
            cluster=cluster, label=request.POST.get("label", ""), user=request.user
        ),
        redirect("cluster-detail", cluster_id=cluster.pk),
    )


@admin_required
@require_POST
def cluster_mark_view(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    return _act(
        request,
        lambda: cluster_mark(cluster=cluster, role=request.POST.get("role", ""), user=request.user),
        redirect("cluster-detail", cluster_id=cluster.pk),
    )


@admin_required
@require_POST
def cluster_merge_view(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Merge this cluster into the one chosen; the page shown next is the merged cluster's."""
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    target = (_ids(request, "target") or [0])[0]
    merged = _attempt(
        request,
        lambda: clusters_merge(
            title=cluster.title, source_ids=[cluster.pk], target_id=target, user=request.user
        ),
    )
    return redirect("cluster-detail", cluster_id=target if merged else cluster.pk)


@admin_required
@require_POST
def cluster_split_view(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Move the checked faces and tracks to another cluster, or to a new one."""
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    target = request.POST.get("target", "new")
    return _act(
        request,
        lambda: faces_split(
            title=cluster.title,
            face_ids=_ids(request, "face"),
            track_ids=_ids(request, "track"),
            source_id=cluster.pk,
            target_id=int(target) if target.isdigit() else None,
            new_label=request.POST.get("new_label", ""),
            user=request.user,
        ),
        redirect("cluster-detail", cluster_id=cluster.pk),
    )


@admin_required
@require_POST
def title_undo_view(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)
    return _act(
        request,
        lambda: edit_undo(title=title, user=request.user),
        redirect("title-detail", title_id=title.pk),
    )


@admin_required
@require_POST
def title_recompute_view(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)

    def start() -> None:
        run = picks_recompute(title=title)
        messages.success(
            request,
            f"Recomputing the picks of {len(run.clusters)} changed clusters (run {run.pk}).",
        )

    return _act(request, start, redirect("title-detail", title_id=title.pk))
