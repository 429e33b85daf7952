"""From tracks to actors: a few faces of each track are embedded, tracks are clustered.

Only a few faces per track are embedded (``ActorParams.per_track``: the largest, most frontal
and most confident), since an embedding costs tens of milliseconds a face on a CPU core. A track
is *background* when its faces are small or it is brief (a crowd, a passer-by): it is kept and
marked, and joins an actor only when its embedding is close to one; tracks of no actor are
*unassigned* (label -1), never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.tracks import Track, TrackedFace

UNASSIGNED = -1


@dataclass(frozen=True)
class ActorParams:
    """``distance``: the largest average Euclidean distance between dlib face descriptors of
    one actor's tracks (dlib's own same-person threshold is 0.6); ``per_track``: faces embedded
    per track, only faces at least ``min_frontal`` frontal (a profile's descriptor is not to be
    trusted); a track is background below ``min_height`` pixels of face or ``min_faces``."""

    distance: float = 0.45
    per_track: int = 3
    min_frontal: float = 0.25
    min_height: float = 40.0
    min_faces: int = 3


def frontal(face: TrackedFace) -> float:
    """1 for a face whose nose lies midway between its eyes, towards 0 as the head turns."""
    left_eye, right_eye, nose = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    span = abs(right_eye[0] - left_eye[0]) or 1.0
    return float(max(0.0, 1.0 - abs(nose[0] - (left_eye[0] + right_eye[0]) / 2) / (span / 2)))


def embed_priority(face: TrackedFace, params: ActorParams = ActorParams()) -> float | None:
    """How much a face is worth embedding for its track (large, frontal, confident), or None
    for a face too far turned for its descriptor to be trusted."""
    turned = frontal(face)
    if turned < params.min_frontal:
        return None
    return face.box[2] * face.box[3] * turned * face.confidence


def faces_to_embed(track: Track, params: ActorParams = ActorParams()) -> list[TrackedFace]:
    """The track's best few faces to embed; none when it shows only profiles."""
    scored = [(embed_priority(f, params), f) for f in track.faces]
    ranked = sorted(
        ((p, f) for p, f in scored if p is not None), key=lambda pf: pf[0], reverse=True
    )
    return [f for _, f in ranked[: params.per_track]]


def is_background(track: Track, params: ActorParams = ActorParams()) -> bool:
    return track.height < params.min_height or len(track.faces) < params.min_faces


def cluster_tracks(
    tracks: Sequence[Track],
    embeddings: Sequence[np.ndarray | None],
    params: ActorParams = ActorParams(),
) -> list[int]:
    """An actor label per track (0, 1, …), or ``UNASSIGNED``. ``embeddings``: each track's mean
    face descriptor, ``None`` when none of its faces could be embedded."""
    from sklearn.cluster import AgglomerativeClustering

    labels = [UNASSIGNED] * len(tracks)
    embedded = {i: e for i, e in enumerate(embeddings) if e is not None}
    main = [i for i in embedded if not is_background(tracks[i], params)]
    if len(main) == 1:
        labels[main[0]] = 0
    elif main:
        found = AgglomerativeClustering(
            n_clusters=None, distance_threshold=params.distance, linkage="average"
        ).fit_predict(np.stack([embedded[i] for i in main]))
        for i, label in zip(main, found, strict=True):
            labels[i] = int(label)
    centres = {
        label: np.mean([embedded[i] for i in main if labels[i] == label], axis=0)
        for label in set(labels) - {UNASSIGNED}
    }
    for i, embedding in embedded.items():
        if i in main or not centres:
            continue
        label, centre = min(centres.items(), key=lambda kv: np.linalg.norm(kv[1] - embedding))
        if np.linalg.norm(centre - embedding) <= params.distance:
            labels[i] = label
    return labels


def track_embeddings(
    tracks: Sequence[Track],
    embed: Callable[[Track, list[TrackedFace]], np.ndarray],
    params: ActorParams = ActorParams(),
) -> list[np.ndarray | None]:
    """Each track's mean descriptor of its ``faces_to_embed``; ``embed`` returns (k, 128)."""
    result: list[np.ndarray | None] = []
    for track in tracks:
        chosen = faces_to_embed(track, params)
        vectors = embed(track, chosen) if chosen else np.empty((0, 128))
        result.append(vectors.mean(axis=0) if len(vectors) else None)
    return result
