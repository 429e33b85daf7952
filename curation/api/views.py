from django.db.models import Count
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from curation.api.serializers import ClusterSerializer, FaceSerializer, TitleSerializer
from curation.models import Face, Title


class TitleViewSet(viewsets.ReadOnlyModelViewSet):
    """Imported titles, with their clusters and faces."""

    serializer_class = TitleSerializer

    def get_queryset(self):
        return Title.objects.annotate(
            cluster_count=Count("clusters", distinct=True),
            face_count=Count("faces", distinct=True),
        ).order_by("-created_at")

    @action(detail=True)
    def clusters(self, request: Request, pk: str) -> Response:
        title = self.get_object()
        clusters = title.clusters.annotate(face_count=Count("faces"))
        return Response(ClusterSerializer(clusters, many=True).data)

    @action(detail=True, serializer_class=FaceSerializer)
    def faces(self, request: Request, pk: str) -> Response:
        title = self.get_object()
        page = self.paginate_queryset(Face.objects.filter(title=title).select_related("frame"))
        return self.get_paginated_response(FaceSerializer(page, many=True).data)
