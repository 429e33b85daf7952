"""The filter tuner's pages: start a search, follow it, compare its candidates, activate one."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.accounts.roles import admin_required
from curation.models import Campaign
from curation.queueing import QueueUnavailable
from curation.scoring_runs.tuning import (
    MAX_CONFIGS,
    TuningRefused,
    judgments_exist,
    search_view,
    tuning_activate,
    tuning_list,
    tuning_read,
    tuning_start,
)


class TuningForm(forms.Form):
    configs = forms.IntegerField(
        label="Configs to draw", min_value=2, max_value=MAX_CONFIGS, initial=50
    )
    seed = forms.IntegerField(min_value=0, initial=0)
    campaigns = forms.ModelMultipleChoiceField(
        Campaign.objects.all(),
        required=False,
        label="Judgments of the campaigns",
        help_text="None chosen: every campaign.",
    )


@admin_required
def tuning_page(request: HttpRequest) -> HttpResponse:
    form = TuningForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            record = tuning_start(
                configs=data["configs"],
                seed=data["seed"],
                campaigns=[campaign.pk for campaign in data["campaigns"]],
                requested_by=request.user.get_username(),
            )
        except (TuningRefused, QueueUnavailable) as error:
            messages.error(request, str(error))
        else:
            return redirect("tuning-search", search_id=record["id"])
    return render(
        request,
        "scoring_runs/tuning.html",
        {
            "form": form,
            "searches": [_shown(record) for record in tuning_list()],
            "has_judgments": judgments_exist(),
        },
    )


def _shown(record: dict) -> dict:
    return record | {"created": datetime.fromisoformat(record["created_at"])}


def _record(search_id: str) -> dict:
    record = tuning_read(search_id)
    if record is None:
        raise Http404("no such search")
    return _shown(record)


@admin_required
def tuning_search(request: HttpRequest, search_id: str) -> HttpResponse:
    record = _record(search_id)
    view = search_view(record) if record["status"] == "done" else None
    return render(request, "scoring_runs/tuning_search.html", {"record": record, "view": view})


@admin_required
def tuning_progress(request: HttpRequest, search_id: str) -> HttpResponse:
    """The progress fragment, polled by htmx while the search runs."""
    record = _record(search_id)
    response = render(request, "scoring_runs/_tuning_progress.html", {"record": record})
    if request.GET.get("watching") and record["status"] in ("done", "failed"):
        response["HX-Refresh"] = "true"  # it ended: reload to show the result
    return response


@admin_required
@require_POST
def tuning_activate_view(request: HttpRequest, search_id: str, candidate: int) -> HttpResponse:
    try:
        config, made = tuning_activate(search_id=search_id, candidate=candidate)
    except TuningRefused as error:
        messages.error(request, str(error))
    else:
        if made:
            messages.success(
                request,
                f"“{config.name}” is now the active filter config: titles pick with it when "
                "they are next scored.",
            )
        else:
            messages.info(request, f"Candidate {candidate} was already made “{config.name}”.")
    return redirect("tuning-search", search_id=search_id)
