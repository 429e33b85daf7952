from django.urls import path

from curation.evaluation import views

urlpatterns = [
    path("evaluation/", views.dashboard, name="evaluation"),
    path("evaluation/freshness/", views.freshness, name="evaluation-freshness"),
    path("evaluation/export/<str:fmt>/", views.download, name="evaluation-download"),
    path("evaluation/judgments.<str:fmt>", views.judgments_download, name="evaluation-judgments"),
]
