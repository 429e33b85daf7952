"""``identity``: how typical a face is of its cluster's person, in [0, 1].

Each face is embedded with dlib's ResNet descriptor (``scoring.dlib_resnet``); dlib calls two faces
the same person when their descriptors are less than 0.6 apart. A cluster's person is the
geometric median of its embedded faces: unlike the mean, a minority of wrong faces (another
actor, a poster in the background) cannot pull it far. A face's ``identity`` is
``clip(1 - distance to that centre, 0, 1)``, the centre taken without the face itself
(leave-one-out), so a face never vouches for itself. Same-person faces score about 0.5-0.8; a
face of someone else falls below 0.4.

An embedding costs milliseconds per face on a CPU, so a large cluster does not embed every face:
:func:`embedding_rows` picks the ``TOP`` best faces by the other measures (the candidates any
selector might pick: they are the ones whose identity decides something) plus ``SAMPLE`` faces at
evenly spaced ranks of the rest (so the centre describes the whole cluster, not only its best
shots). The other faces keep ``identity`` NaN: unmeasured, never guessed.
"""

from __future__ import annotations

import numpy as np

SAMPLE = 16
TOP = 16
VERSION = f"dlib-resnet-v1:top{TOP}+sample{SAMPLE}"
EMBEDDING_SIZE = 128


def embedding_rows(priority: np.ndarray, *, top: int = TOP, sample: int = SAMPLE) -> np.ndarray:
    """Which of a cluster's faces to embed, given their (N,) ``priority`` (larger = better
    candidate): all when N <= top + sample, else the ``top`` best and ``sample`` spread over the
    ranks of the rest. Sorted row indices; the same faces whatever the row order (ties aside)."""
    priority = np.asarray(priority, dtype=np.float64)
    if len(priority) <= top + sample:
        return np.arange(len(priority))
    ranked = np.argsort(-np.nan_to_num(priority, nan=-np.inf), kind="stable")
    rest = ranked[top:]
    spread = rest[np.linspace(0, len(rest) - 1, sample).round().astype(int)]
    return np.sort(np.concatenate([ranked[:top], spread]))


def geometric_median(points: np.ndarray, *, iterations: int = 100, tol: float = 1e-7) -> np.ndarray:
    """The point minimising the sum of Euclidean distances to (K, D) ``points`` (Weiszfeld)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        raise ValueError("the geometric median of no points is undefined")
    centre = np.median(points, axis=0)
    for _ in range(iterations):
        distances = np.linalg.norm(points - centre, axis=1)
        near = distances < 1e-12
        if near.any():  # the iterate sits on a data point: Weiszfeld's step is undefined there
            distances[near] = 1e-12
        weights = 1.0 / distances
        moved = weights @ points / weights.sum()
        if np.linalg.norm(moved - centre) < tol:
            return moved
        centre = moved
    return centre


def identity_scores(embeddings: np.ndarray) -> np.ndarray:
    """``identity`` of each of (K, 128) embedded faces of one cluster, leave-one-out; (K,).

    With one face there is no one else to compare with: its identity is NaN."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    count = len(embeddings)
    scores = np.full(count, np.nan)
    if count < 2:
        return scores
    everyone = np.arange(count)
    for row in everyone:
        centre = geometric_median(embeddings[everyone != row])
        scores[row] = 1.0 - np.linalg.norm(embeddings[row] - centre)
    return np.clip(scores, 0.0, 1.0)


def embedding_bytes(embedding: np.ndarray) -> bytes:
    """A (128,) descriptor as 256 bytes (float16: dlib distances keep 3 decimals)."""
    vector = np.asarray(embedding, dtype=np.float16).reshape(-1)
    if vector.shape != (EMBEDDING_SIZE,):
        raise ValueError(f"expected a {EMBEDDING_SIZE}-d embedding, got {vector.shape}")
    return vector.astype("<f2").tobytes()


def embedding_from_bytes(data: bytes) -> np.ndarray:
    """The (128,) float32 descriptor stored by :func:`embedding_bytes`."""
    return np.frombuffer(data, dtype="<f2").astype(np.float32)
