"""What the cluster page shows for curation: its tracks on the video's timeline, and the other
clusters of its title to merge into or move faces to."""

from __future__ import annotations

from django.db.models import Count, Min, Q

from curation.models import Cluster, Track


def cluster_curation(cluster: Cluster) -> dict[str, object]:
    here = Q(faces__cluster=cluster)
    tracks = list(
        Track.objects.filter(faces__cluster=cluster)
        .annotate(
            faces_here=Count("faces", filter=here),
            faces_all=Count("faces"),
            first_face=Min("faces__pk", filter=here),
        )
        .order_by("start", "number")
    )
    seconds = cluster.title.seconds or 0.0
    # Where each sits on the timeline, in % of the video; brief tracks stay visible.
    timeline = [
        {
            "track": track,
            "left": round(100 * track.start / seconds, 3) if seconds else 0.0,
            "width": max(0.4, round(100 * (track.end - track.start) / seconds, 3))
            if seconds
            else 0.0,
        }
        for track in tracks
    ]
    return {
        "tracks": tracks,
        "timeline": timeline,
        "others": list(
            Cluster.objects.filter(title_id=cluster.title_id)
            .exclude(pk=cluster.pk)
            .order_by("label")
            .only("pk", "label", "role")
        ),
        "roles": Cluster.Role.choices,
    }
