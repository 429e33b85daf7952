"""Every feature's pages; each feature package declares its own."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("curation.catalog.urls")),
    path("", include("curation.clusters.urls")),
    path("", include("curation.imports.urls")),
    path("", include("curation.scoring_runs.urls")),
    path("", include("curation.review.urls")),
    path("", include("curation.evaluation.urls")),
    path("", include("curation.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("curation.api.urls")),
]
