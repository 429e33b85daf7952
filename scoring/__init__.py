"""The curation method as a library: arrays in, arrays and frozen dataclasses out.

This package never imports Django or Celery; ``curation`` calls it. Importing it loads nothing:
each name below loads its module on first use, so ``import scoring`` and the names of the
numpy, OpenCV and scikit-learn work never import torch; only the dlib ResNet names do
(``DlibFaceEmbedder``, ``DlibResNet``, ``load_dlib_resnet``). ``FaceDetector`` imports torch
when one is made. The measures ``sharpness``, ``exposure`` and ``artifacts`` share their
modules' names, so they are called from there: ``scoring.sharpness.sharpness``.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "scoring.actors": ("ActorParams", "UNASSIGNED", "cluster_tracks", "track_embeddings"),
    "scoring.artifacts": ("ArtifactsParams",),
    "scoring.bundled": ("FSANET_MODELS", "LIGHTQNET_MODEL"),
    "scoring.crop": ("CropParams", "HeadshotCrop", "headshot_box", "render_headshot"),
    "scoring.detect": ("Choice", "Detection", "FaceDetector", "choose_face"),
    "scoring.dlib_resnet": ("DlibFaceEmbedder", "DlibResNet", "load_dlib_resnet"),
    "scoring.exposure": ("ExposureParams", "exposure_goodness"),
    "scoring.features": (
        "FEATURE_LABELS",
        "FEATURE_NAMES",
        "PAPER_FEATURES",
        "POSE_FEATURES",
        "SMALLER_BETTER",
        "FeatureConfig",
        "FeatureExtractor",
        "FeatureTable",
        "brightness",
        "goodness",
        "resolution",
    ),
    "scoring.fiqa": ("LightQNet", "aligned_faces"),
    "scoring.identity": (
        "embedding_bytes",
        "embedding_from_bytes",
        "embedding_rows",
        "geometric_median",
        "identity_scores",
    ),
    "scoring.pose": ("FsaNetPose", "landmark_pose"),
    "scoring.preference": (
        "Judged",
        "NotEnoughJudgments",
        "Pairs",
        "PreferenceModel",
        "PreferenceParams",
        "PreferenceSummary",
        "PriorMismatch",
        "judged_pairs",
        "prior_fingerprint",
        "train_preference_model",
    ),
    "scoring.quality": (
        "FeatureVersionMismatch",
        "QualityModel",
        "QualityParams",
        "TrainingSummary",
        "WeakLabels",
        "model_inputs",
        "train_quality_model",
        "weak_labels",
    ),
    "scoring.ranking": ("percentiles",),
    "scoring.selectors": (
        "DEFAULT_STAGES",
        "FIQA_GUARDS",
        "PAPER_STAGES",
        "FilterResult",
        "FilterStage",
        "StageOutcome",
        "candidate_priority",
        "face_cost",
        "select_baseline",
        "select_filtering",
        "select_fiqa",
        "select_learned",
        "select_regression",
    ),
    "scoring.sharpness": ("SharpnessParams",),
    "scoring.tracks": ("Track", "TrackParams", "TrackedFace", "link_tracks", "shot_numbers"),
    "scoring.video": ("SampledFrame", "VideoInfo", "VideoRejected", "sampled_frames", "video_info"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'scoring' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
