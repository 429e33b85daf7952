"""The import pages: upload a title, follow its job, read its report."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from curation.accounts.roles import admin_required
from curation.imports.forms import ImportJobForm
from curation.imports.jobs import import_job_create, job_is_video, job_speed
from curation.listing import listing
from curation.models import Frame, ImportJob


@admin_required
def import_list(request: HttpRequest) -> HttpResponse:
    """The upload form and the recent jobs; POST stores the upload and opens its job page."""
    form = ImportJobForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = import_job_create(
            name=form.cleaned_data["name"],
            upload=form.cleaned_data["upload"],
            created_by=request.user,
        )
        return redirect("import-job", job_id=job.pk)
    found = listing(
        request,
        ImportJob.objects.select_related("title"),
        search=("name",),
        columns={"created_at": "started", "name": "name", "status": "status"},
        default="-created_at",
    )
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "jobs": found.page,
        "listing": found,
        "any": ImportJob.objects.exists(),
    }
    return render(request, "imports/list.html", context, status=status)


@admin_required
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("title"), pk=job_id)
    return render(request, "imports/job.html", _job_context(job))


@admin_required
def import_job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's status fragment, polled by htmx until the job ends."""
    job = get_object_or_404(ImportJob.objects.select_related("title"), pk=job_id)
    return render(request, "imports/_job_status.html", _job_context(job))


def _job_context(job: ImportJob) -> dict:
    summary = job.summary or {}
    ambiguous = summary.get("ambiguous", [])
    frames = {}
    if job.title_id and ambiguous:
        frames = {
            frame.source_name: frame
            for frame in Frame.objects.filter(
                title_id=job.title_id, source_name__in=[a["file"] for a in ambiguous]
            )
        }
    return {
        "job": job,
        "summary": summary,
        "unit": "sampled frames" if job_is_video(job) else "images",
        "active": job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING),
        "percent": round(100 * job.images_done / job.images_total) if job.images_total else 0,
        "speed": job_speed(job),
        "ambiguous": [(a, frames.get(a["file"])) for a in ambiguous],
    }
