from django.urls import path

from curation.imports import views

urlpatterns = [
    path("imports/", views.import_list, name="import-list"),
    path("imports/<int:job_id>/", views.import_job, name="import-job"),
    path("imports/<int:job_id>/status/", views.import_job_status, name="import-job-status"),
]
