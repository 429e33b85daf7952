from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from curation import scoring_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("titles/", views.title_list, name="title-list"),
    path("titles/<int:title_id>/", views.title_detail, name="title-detail"),
    path("titles/<int:title_id>/score/", scoring_views.title_score, name="title-score"),
    path("titles/<int:title_id>/progress/", scoring_views.title_progress, name="title-progress"),
    path("clusters/<int:cluster_id>/", scoring_views.cluster_detail, name="cluster-detail"),
    path("faces/<int:face_id>/crop.jpg", views.face_crop, name="face-crop"),
    path("media/<path:path>", views.media, name="media"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("curation.api.urls")),
]
