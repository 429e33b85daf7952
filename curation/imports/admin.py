"""Admin pages of imports: upload a zip of cluster folders, follow its job and report."""

from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from curation.imports.forms import ImportJobForm
from curation.imports.jobs import import_job_enqueue
from curation.models import ImportJob
from curation.queueing import QueueUnavailable


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    form = ImportJobForm
    list_display = ["name", "status", "progress", "title_link", "created_at"]
    list_filter = ["status"]
    readonly_fields = [
        "status",
        "progress",
        "title_link",
        "error",
        "report",
        "created_by",
        "created_at",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "upload"]
        return ["name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["name"] if obj else [])

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="images")
    def progress(self, job):
        return f"{job.images_done}/{job.images_total}" if job.images_total else "—"

    @admin.display(description="title")
    def title_link(self, job):
        if job.title_id is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("title-detail", args=[job.title_id]), job.name
        )

    @admin.display(description="report")
    def report(self, job):
        summary = job.summary
        if not summary:
            return "—"
        rows = format_html_join(
            "",
            "<li><code>{}</code>: {}</li>",
            ((item["file"], item["reason"]) for item in summary.get("rejected", [])),
        )
        return format_html(
            "{} images, {} faces in {} clusters, {} s; {} ambiguous images; "
            "{} rejected files<ul>{}</ul>",
            summary["images"],
            summary["faces"],
            summary["clusters"],
            summary["seconds"],
            len(summary.get("ambiguous", [])),
            len(summary.get("rejected", [])),
            rows,
        )

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        super().save_model(request, obj, form, change)

        def enqueue():
            try:
                import_job_enqueue(job_id=obj.pk)
            except QueueUnavailable as error:
                messages.error(request, str(error))

        transaction.on_commit(enqueue)
