from django.urls import path

from curation.catalog import views

urlpatterns = [
    path("", views.home, name="home"),
    path("titles/", views.title_list, name="title-list"),
    path("titles/<int:title_id>/", views.title_detail, name="title-detail"),
    path("clusters/<int:cluster_id>/", views.cluster_detail, name="cluster-detail"),
    path("faces/<int:face_id>/crop.jpg", views.face_crop, name="face-crop"),
    path("media/<path:path>", views.media, name="media"),
]
