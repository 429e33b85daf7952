from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from curation.api.views import TitleViewSet

router = DefaultRouter()
router.register("titles", TitleViewSet, basename="api-title")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include(router.urls)),
]
