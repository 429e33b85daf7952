from django.db.models import Count
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from curation.api.pagination import NewestFirst, OldestFirst
from curation.api.serializers import (
    ClusterSerializer,
    FaceSerializer,
    ScoringRunSerializer,
    TitleSerializer,
)
from curation.catalog.queries import counted
from curation.models import Cluster, Face, ScoringRun, Title
from curation.queueing import QueueUnavailable
from curation.scoring_runs.queries import title_selections
from curation.scoring_runs.service import (
    ScoringRefused,
    run_latest,
    scoring_start,
)


class TitleViewSet(viewsets.ReadOnlyModelViewSet):
    """Imported titles, with their clusters and faces."""

    serializer_class = TitleSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return Title.objects.annotate(
            cluster_count=counted(Cluster, "title"), face_count=counted(Face, "title")
        )

    @action(detail=True)
    def clusters(self, request: Request, pk: str) -> Response:
        title = self.get_object()
        clusters = title.clusters.annotate(face_count=Count("faces"))
        return Response(ClusterSerializer(clusters, many=True).data)

    @action(detail=True, serializer_class=FaceSerializer, pagination_class=OldestFirst)
    def faces(self, request: Request, pk: str) -> Response:
        title = self.get_object()
        page = self.paginate_queryset(
            Face.objects.filter(title=title).select_related("frame", "track")
        )
        return self.get_paginated_response(FaceSerializer(page, many=True).data)

    @action(detail=True, methods=["post"], serializer_class=ScoringRunSerializer)
    def score(self, request: Request, pk: str) -> Response:
        """Start the scoring pipeline (the same one as the page's button and score_title)."""
        try:
            run = scoring_start(title=self.get_object())
        except ScoringRefused as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except QueueUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(ScoringRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, serializer_class=ScoringRunSerializer)
    def scoring(self, request: Request, pk: str) -> Response:
        """The latest scoring run of the title, with its progress per step."""
        run: ScoringRun | None = run_latest(self.get_object())
        if run is None:
            return Response({"detail": "never scored"}, status=status.HTTP_404_NOT_FOUND)
        return Response(ScoringRunSerializer(run).data)

    @action(detail=True)
    def selections(self, request: Request, pk: str) -> Response:
        """Per cluster and selector: the chosen face, its features, quality and crop."""
        return Response(title_selections(self.get_object()))
