from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from curation import evaluation_views, review_views, scoring_views, views
from curation.login_throttle import ThrottledLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("titles/", views.title_list, name="title-list"),
    path("titles/<int:title_id>/", views.title_detail, name="title-detail"),
    path("titles/<int:title_id>/score/", scoring_views.title_score, name="title-score"),
    path("titles/<int:title_id>/progress/", scoring_views.title_progress, name="title-progress"),
    path("clusters/<int:cluster_id>/", scoring_views.cluster_detail, name="cluster-detail"),
    path("review/", review_views.review_home, name="review-home"),
    path("review/<int:campaign_id>/", review_views.queue, name="review-queue"),
    path("review/<int:campaign_id>/answer/", review_views.answer, name="review-answer"),
    path("review/<int:campaign_id>/undo/", review_views.undo, name="review-undo"),
    path("review/items/<int:item_id>/<str:slot>.jpg", review_views.item_image, name="item-image"),
    path("campaigns/", review_views.campaign_list, name="campaign-list"),
    path("campaigns/<int:campaign_id>/", review_views.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/close/", review_views.campaign_close, name="campaign-close"),
    path("evaluation/", evaluation_views.dashboard, name="evaluation"),
    path("evaluation/export/<str:fmt>/", evaluation_views.download, name="evaluation-download"),
    path("faces/<int:face_id>/crop.jpg", views.face_crop, name="face-crop"),
    path("media/<path:path>", views.media, name="media"),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledLoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("curation.api.urls")),
]
