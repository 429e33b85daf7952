"""Scoring a title from its page: start a run, and the progress fragment htmx polls."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.accounts.roles import admin_required
from curation.models import ScoringRun, Title
from curation.queueing import QueueUnavailable
from curation.scoring_runs.diffs import runs_diff
from curation.scoring_runs.queries import run_progress
from curation.scoring_runs.service import (
    ScoringRefused,
    run_latest,
    scoring_start,
)


@admin_required
@require_POST
def title_score(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title, pk=title_id)
    try:
        scoring_start(title=title)
    except (ScoringRefused, QueueUnavailable) as error:
        messages.error(request, str(error))
    return redirect("title-detail", title_id=title.pk)


@admin_required
def title_progress(request: HttpRequest, title_id: int) -> HttpResponse:
    """The progress fragment, polled by htmx while a run is active."""
    title = get_object_or_404(Title, pk=title_id)
    run = run_latest(title)
    response = render(request, "scoring_runs/_progress.html", run_progress(title, run))
    active = run is not None and run.status in (ScoringRun.Status.QUEUED, ScoringRun.Status.RUNNING)
    if request.GET.get("watching") and not active:
        response["HX-Refresh"] = "true"  # the run ended: reload to show its picks
    return response


@admin_required
def runs_diff_page(request: HttpRequest, run_a: int, run_b: int) -> HttpResponse:
    """What two runs of a title used differently, and each pick that changed, with why."""
    a = get_object_or_404(ScoringRun.objects.select_related("title"), pk=run_a)
    b = get_object_or_404(ScoringRun.objects.select_related("title"), pk=run_b)
    if a.title_id != b.title_id:
        raise Http404("the two runs score different titles")
    return render(
        request,
        "scoring_runs/runs_diff.html",
        {"a": a, "b": b, "title": a.title, "diff": runs_diff(a, b)},
    )
