from django.urls import path

from curation.scoring_runs import tuning_views, views

urlpatterns = [
    path("titles/<int:title_id>/score/", views.title_score, name="title-score"),
    path("titles/<int:title_id>/progress/", views.title_progress, name="title-progress"),
    path("runs/<int:run_a>/diff/<int:run_b>/", views.runs_diff_page, name="runs-diff"),
    path("tuning/", tuning_views.tuning_page, name="tuning"),
    path("tuning/<str:search_id>/", tuning_views.tuning_search, name="tuning-search"),
    path(
        "tuning/<str:search_id>/progress/",
        tuning_views.tuning_progress,
        name="tuning-progress",
    ),
    path(
        "tuning/<str:search_id>/activate/<int:candidate>/",
        tuning_views.tuning_activate_view,
        name="tuning-activate",
    ),
]
