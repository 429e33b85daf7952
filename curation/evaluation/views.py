"""The evaluation dashboard: the tables, charts of their shares, filters and downloads."""

from __future__ import annotations

from datetime import date

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from curation.accounts.roles import admin_required
from curation.evaluation.export import FORMATS, zip_tables
from curation.evaluation.judgments import csv_lines, jsonl_lines, judgment_rows
from curation.evaluation.tables import Filters, all_tables
from curation.models import Campaign, Title


class FilterForm(forms.Form):
    campaigns = forms.ModelMultipleChoiceField(Campaign.objects.all(), required=False)
    titles = forms.ModelMultipleChoiceField(Title.objects.all(), required=False)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _filters(request: HttpRequest) -> tuple[FilterForm, Filters]:
    form = FilterForm(request.GET or None)
    if not form.is_valid():
        return form, Filters()
    data = form.cleaned_data
    return form, Filters(
        campaigns=[c.pk for c in data["campaigns"]],
        titles=[t.pk for t in data["titles"]],
        since=data["since"],
        until=data["until"],
    )


@admin_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form, filters = _filters(request)
    tables = all_tables(filters)
    grades, _, ab, _, _ = tables
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
        },
    )


@admin_required
def download(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        return HttpResponse(f"unknown format {fmt!r}", status=404)
    _, filters = _filters(request)
    response = HttpResponse(zip_tables(all_tables(filters), fmt), content_type="application/zip")
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
    _, filters = _filters(request)
    lines, content_type = JUDGMENT_FORMATS[fmt]
    response = StreamingHttpResponse(lines(judgment_rows(filters)), content_type=content_type)
    name = f"judgments-{date.today():%Y%m%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
