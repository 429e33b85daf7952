from django.urls import path

from curation.clusters import views

urlpatterns = [
    path("clusters/<int:cluster_id>/rename/", views.cluster_rename_view, name="cluster-rename"),
    path("clusters/<int:cluster_id>/mark/", views.cluster_mark_view, name="cluster-mark"),
    path("clusters/<int:cluster_id>/merge/", views.cluster_merge_view, name="cluster-merge"),
    path("clusters/<int:cluster_id>/split/", views.cluster_split_view, name="cluster-split"),
    path("titles/<int:title_id>/undo/", views.title_undo_view, name="title-undo"),
    path("titles/<int:title_id>/recompute/", views.title_recompute_view, name="title-recompute"),
]
