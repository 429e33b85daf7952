"""The evaluation dashboard: the tables, charts of their shares, filters and downloads, served
from the cache while no judgment, campaign or pick has changed (``curation.evaluation.cache``)."""

from __future__ import annotations

from datetime import date, datetime

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from curation.accounts.roles import admin_required
from curation.evaluation.cache import (
    cached_checks,
    cached_filters,
    cached_slices,
    cached_tables,
    computed_since,
    showing_stale,
    tables_asked,
)
from curation.evaluation.export import FORMATS, zip_tables
from curation.evaluation.judgments import csv_lines, jsonl_lines, judgment_rows
from curation.evaluation.slices import SLICER_BY_KEY, SLICERS, slice_charts
from curation.evaluation.tables import Filters
from curation.models import Campaign, Title


class FilterForm(forms.Form):
    campaigns = forms.ModelMultipleChoiceField(Campaign.objects.all(), required=False)
    titles = forms.ModelMultipleChoiceField(Title.objects.all(), required=False)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    exclude_below = forms.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        label="Exclude annotators below (%)",
        help_text="On gold accuracy or repeat consistency, after 5 checks; empty: everyone.",
    )


def _filters(request: HttpRequest) -> tuple[FilterForm, Filters, float | None]:
    """The form, the filters (with the unreliable annotators excluded when asked), and the
    exclusion threshold as a share."""
    form = FilterForm(request.GET or None)
    if not form.is_valid():
        return form, Filters(), None
    data = form.cleaned_data
    filters = Filters(
        campaigns=[c.pk for c in data["campaigns"]],
        titles=[t.pk for t in data["titles"]],
        since=data["since"],
        until=data["until"],
    )
    threshold = data["exclude_below"] / 100 if data["exclude_below"] else None
    return form, cached_filters(filters, threshold), threshold


def _slices(request: HttpRequest, filters: Filters) -> dict:
    """The dashboard's slice section: the chosen slicer's charts and a link to each slicer."""
    key = request.GET.get("slice", SLICERS[0].key)
    if key not in SLICER_BY_KEY:
        raise Http404(f"unknown slice {key!r}: one of {', '.join(SLICER_BY_KEY)}")
    links = []
    for slicer in SLICERS:
        query = request.GET.copy()
        query["slice"] = slicer.key
        links.append(
            {"slicer": slicer, "href": f"?{query.urlencode()}", "current": slicer.key == key}
        )
    charts = slice_charts(*cached_slices(filters, [SLICER_BY_KEY[key]]))
    return {"slicer": SLICER_BY_KEY[key], "slice_links": links, "slice_charts": charts}


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


@admin_required
def dashboard(request: HtmxRequest) -> HttpResponse:
    refresh = showing_stale()  # the last tables at once; fresh ones after the response
    form, filters, threshold = _filters(request)
    slices = _slices(request, filters)
    if request.htmx.target == "slices" and not request.htmx.history_restore_request:
        # A slicer chosen on the page: only its section, the tables are not computed.
        return render(request, "evaluation/_slices.html", slices)
    tables = [*cached_tables(filters), cached_checks(filters, threshold)]
    grades, _, ab, _, _, _ = tables
    grade_bars = [
        {
            "selector": row["selector"],
            "n": row["n"],
            "bars": [
                {
                    "label": label,
                    "share": 100 * row[key]["share"],
                    "low": 100 * row[key]["wilson_low"],
                    "high": 100 * row[key]["wilson_high"],
                }
                for key, label in (
                    ("unidentifiable", "unidentifiable"),
                    ("usable", "usable"),
                    ("excellent", "excellent"),
                )
            ],
        }
        for row in grades.raw
    ]
    ab_bars = [
        row
        | {
            "share_a": 100 * row["wins_a"] / row["judged"],
            "share_b": 100 * row["wins_b"] / row["judged"],
            "share_equal": 100 * row["equal"] / row["judged"],
        }
        for row in ab.raw
        if row["judged"]
    ]
    return render(
        request,
        "evaluation/dashboard.html",
        {
            "form": form,
            "tables": tables,
            "grade_bars": grade_bars,
            "ab_bars": ab_bars,
            "formats": FORMATS,
            "query": request.GET.urlencode(),
            "excluded": filters.excluded,
            "threshold": threshold,
            "refresh": refresh if refresh.pending else None,
            "served_at": timezone.now(),
        }
        | slices,
    )


@admin_required
def freshness(request: HttpRequest) -> HttpResponse:
    """Polled by the dashboard's note on stale tables: 204 until fresh tables of the same
    filters were computed after ``shown`` (the page's ISO time), then the note that says so."""
    showing_stale()  # reading the filters computes nothing here
    _, filters, _ = _filters(request)
    try:
        shown = datetime.fromisoformat(request.GET.get("shown", ""))
    except ValueError:
        return HttpResponse("shown: an ISO date and time is needed", status=400)
    if not computed_since([tables_asked(filters)], shown):
        return HttpResponse(status=204)
    query = request.GET.copy()
    query.pop("shown", None)
    return render(request, "evaluation/_fresh.html", {"query": query.urlencode()})


@admin_required
def download(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        return HttpResponse(f"unknown format {fmt!r}", status=404)
    _, filters, threshold = _filters(request)
    tables = [
        *cached_tables(filters),
        *cached_slices(filters, SLICERS),
        cached_checks(filters, threshold),
    ]
    response = HttpResponse(zip_tables(tables, fmt), content_type="application/zip")
    name = f"evaluation-tables-{date.today():%Y%m%d}-{fmt}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


JUDGMENT_FORMATS = {
    "csv": (csv_lines, "text/csv; charset=utf-8"),
    "jsonl": (jsonl_lines, "application/x-ndjson; charset=utf-8"),
}


@admin_required
def judgments_download(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    """Every judgment the filters select, raw (CSV or JSON lines), streamed as it is read."""
    if fmt not in JUDGMENT_FORMATS:
        raise Http404(f"unknown format {fmt!r}: csv or jsonl")
    _, filters, _ = _filters(request)
    lines, content_type = JUDGMENT_FORMATS[fmt]
    response = StreamingHttpResponse(lines(judgment_rows(filters)), content_type=content_type)
    name = f"judgments-{date.today():%Y%m%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
