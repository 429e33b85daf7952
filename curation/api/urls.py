from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from curation.api.views import TitleViewSet
from curation.api.workflow import (
    CampaignViewSet,
    ImportJobViewSet,
    JudgmentViewSet,
    ScoringRunViewSet,
    TablesView,
)

router = DefaultRouter()
router.register("titles", TitleViewSet, basename="api-title")
router.register("imports", ImportJobViewSet, basename="api-import")
router.register("runs", ScoringRunViewSet, basename="api-run")
router.register("campaigns", CampaignViewSet, basename="api-campaign")
router.register("judgments", JudgmentViewSet, basename="api-judgment")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("tables/", TablesView.as_view(), name="api-tables"),
    path("", include(router.urls)),
]
