from django.urls import path

from curation.review import views

urlpatterns = [
    path("review/", views.review_home, name="review-home"),
    path("review/<int:campaign_id>/", views.queue, name="review-queue"),
    path("review/<int:campaign_id>/answer/", views.answer, name="review-answer"),
    path("review/<int:campaign_id>/undo/", views.undo, name="review-undo"),
    path("review/items/<int:item_id>/<str:slot>.jpg", views.item_image, name="item-image"),
    path("campaigns/", views.campaign_list, name="campaign-list"),
    path("campaigns/new/", views.campaign_new, name="campaign-new"),
    path("campaigns/new/preview/", views.campaign_preview_fragment, name="campaign-preview"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/close/", views.campaign_close, name="campaign-close"),
    path("campaigns/<int:campaign_id>/reopen/", views.campaign_reopen, name="campaign-reopen"),
]
