"""What the cluster page shows for curation: its tracks on the video's timeline, and the other
clusters of its title to merge into or move faces to."""

from __future__ import annotations

from django.db.models import Count, Min, Q

from curation.models import Cluster, Face, Track

TRACKS_SHOWN = 200


def cluster_curation(cluster: Cluster) -> dict[str, object]:
    """Tracks with faces in the cluster, at most ``TRACKS_SHOWN`` (those with most faces here),
    in time order; ``track_count`` says how many there are in all."""
    # Which tracks, counted from the cluster's faces alone: joined to the tracks first, the
    # count would walk every face of the title that has a track.
    counts = sorted(
        Face.objects.filter(cluster=cluster, track__isnull=False)
        .order_by()
        .values_list("track")
        .annotate(n=Count("pk")),
        key=lambda row: (-row[1], row[0]),
    )
    in_cluster = Q(faces__cluster=cluster)
    tracks = sorted(
        Track.objects.filter(pk__in=[track for track, _ in counts[:TRACKS_SHOWN]]).annotate(
            faces_here=Count("faces", filter=in_cluster),
            faces_all=Count("faces"),
            first_face=Min("faces__pk", filter=in_cluster),
        ),
        key=lambda track: (track.start, track.number),
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
        "track_count": len(counts),
        "timeline": timeline,
        "others": list(
            Cluster.objects.filter(title_id=cluster.title_id)
            .exclude(pk=cluster.pk)
            .order_by("label")
            .only("pk", "label", "role")
        ),
        "roles": Cluster.Role.choices,
    }
