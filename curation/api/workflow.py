"""The API's resources beyond titles: imports, scoring runs, campaigns, judgments and tables."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.api.pagination import NewestFirst, OldestFirst
from curation.api.serializers import (
    CampaignSerializer,
    ImportJobSerializer,
    JudgmentSerializer,
    ScoringRunSerializer,
    TableSerializer,
    listed_progress,
)
from curation.evaluation.cache import cached_tables
from curation.evaluation.export import table_record
from curation.evaluation.tables import Filters
from curation.imports.forms import ImportJobForm
from curation.imports.jobs import import_job_create
from curation.models import Campaign, ImportJob, Judgment, ScoringRun, Title
from curation.review.campaigns import CampaignInvalid, campaign_create


class ImportJobViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Imports: POST a video or a zip of cluster folders (multipart ``name`` and ``upload``) to
    start one on a worker; GET to follow its progress (``images_done`` counts a video's sampled
    frames) and read its report (``summary.video`` for a video)."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    pagination_class = NewestFirst
    queryset = ImportJob.objects.all()

    def create(self, request: Request, *args, **kwargs) -> Response:
        form = ImportJobForm(request.data, request.FILES)
        if not form.is_valid():
            errors = {field: [str(e) for e in found] for field, found in form.errors.items()}
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        job = import_job_create(
            name=form.cleaned_data["name"],
            upload=form.cleaned_data["upload"],
            created_by=request.user,
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ScoringRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Scoring runs, newest first, with their progress per step; ``?title=`` filters."""

    serializer_class = ScoringRunSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        runs = ScoringRun.objects.all()
        if title := self.request.query_params.get("title"):
            runs = runs.filter(title_id=title)
        return runs


class CampaignViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns with their progress. POST creates one (A/B: ``selectors`` is [A, B]);
    ``close`` and ``reopen`` stop and restart it; judgments are kept either way."""

    serializer_class = CampaignSerializer
    parser_classes = [JSONParser]
    pagination_class = NewestFirst
    queryset = Campaign.objects.prefetch_related(Prefetch("titles", Title.objects.only("pk")))

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # the view always pages
        context = self.get_serializer_context() | {"progress": listed_progress(page)}
        return self.get_paginated_response(
            CampaignSerializer(page, many=True, context=context).data
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = CampaignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            campaign = campaign_create(
                name=data["name"],
                kind=data["kind"],
                titles=list(data["titles"]),
                selectors=list(data["selectors"]),
                overlap=data.get("overlap", 1),
                sample_size=data.get("sample_size"),
                seed=data.get("seed", 0),
                lease_seconds=data.get("lease_seconds", 300),
                min_view_ms=data.get("min_view_ms", 250),
                created_by=request.user,
            )
        except CampaignInvalid as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        return self._set_open(False)

    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        return self._set_open(True)

    def _set_open(self, is_open: bool) -> Response:
        campaign = self.get_object()
        Campaign.objects.filter(pk=campaign.pk).update(is_open=is_open)
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign).data)


class JudgmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Every judgment as recorded (undo rows included), in the order they were recorded;
    ``?campaign=`` filters."""

    serializer_class = JudgmentSerializer
    pagination_class = OldestFirst

    def get_queryset(self):
        judgments = Judgment.objects.select_related("item", "annotator")
        if campaign := self.request.query_params.get("campaign"):
            judgments = judgments.filter(item__campaign_id=campaign)
        return judgments


class TablesView(APIView):
    """The evaluation tables (1, 2, 3 and agreement) as data, from the dashboard's cache;
    ``?campaign=`` and ``?title=`` (repeatable) filter as on the dashboard."""

    @extend_schema(
        parameters=[
            OpenApiParameter("campaign", int, many=True, description="campaign ids"),
            OpenApiParameter("title", int, many=True, description="title ids"),
        ],
        responses=TableSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = Filters(
            campaigns=[int(v) for v in request.query_params.getlist("campaign") if v.isdigit()],
            titles=[int(v) for v in request.query_params.getlist("title") if v.isdigit()],
        )
        return Response([table_record(table) for table in cached_tables(filters)])
