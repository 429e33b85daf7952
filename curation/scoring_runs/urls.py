from django.urls import path

from curation.scoring_runs import views

urlpatterns = [
    path("titles/<int:title_id>/score/", views.title_score, name="title-score"),
    path("titles/<int:title_id>/progress/", views.title_progress, name="title-progress"),
    path("runs/<int:run_a>/diff/<int:run_b>/", views.runs_diff_page, name="runs-diff"),
]
