"""The scoring models this deployment uses, as settings name them, loaded once per process.

``model_problems`` checks the configured files without scoring anything; the system checks and
the worker call it at start, so a missing or malformed file is one line there, not a traceback
in the middle of a run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings

from curation.errors import first_line
from scoring.features import FeatureConfig, FeatureExtractor


def feature_config() -> FeatureConfig:
    pose = () if settings.POSE_MODEL == "landmarks" else tuple(settings.POSE_MODEL_PATHS)
    return FeatureConfig(pose_models=pose, fiqa_model=settings.FIQA_MODEL_PATH)


def feature_version() -> str:
    """What the configured extractors write in ``Face.feature_version``; loads no model."""
    return feature_config().version


@functools.cache
def feature_extractor() -> FeatureExtractor:
    """One extractor per worker process: its models load once."""
    return FeatureExtractor(feature_config())


@functools.cache
def face_detector():
    """One MTCNN per process: loading it costs about a second."""
    from scoring.detect import FaceDetector

    return FaceDetector()


@functools.cache
def face_embedder():
    """dlib's face descriptor (torch), loaded once per worker process."""
    from scoring.dlib_resnet import DlibFaceEmbedder

    return DlibFaceEmbedder()


def model_problems() -> list[str]:
    """One line per configured model file that is missing or cannot be loaded."""
    from scoring.dlib_resnet import LANDMARK_MODEL, RESNET_MODEL, model_path
    from scoring.fiqa import LightQNet
    from scoring.pose import FsaNetPose

    problems = []
    if settings.POSE_MODEL not in ("fsanet", "landmarks"):
        problems.append(f"POSE_MODEL must be fsanet or landmarks, not {settings.POSE_MODEL!r}")
    guards = {"roll", "exposure", "sharpness", "artifacts", "none"}
    unknown = set(settings.FIQA_SELECTOR_GUARDS) - guards
    if unknown:
        problems.append(
            f"FIQA_SELECTOR_GUARDS: {', '.join(sorted(unknown))} unknown; "
            "use some of roll, exposure, sharpness, artifacts, or none"
        )
    loaders: list[tuple[str, str, Callable[[str], object]]] = [
        ("FIQA_MODEL_PATH", settings.FIQA_MODEL_PATH, lambda p: LightQNet(p, _CPU))
    ]
    if settings.POSE_MODEL == "fsanet":
        if not settings.POSE_MODEL_PATHS:
            problems.append("POSE_MODEL_PATHS is empty: name the FSA-Net files or unset it")
        loaders += [
            ("POSE_MODEL_PATHS", path, lambda p: FsaNetPose([p], _CPU))
            for path in settings.POSE_MODEL_PATHS
        ]
    for setting, path, load in loaders:
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            problems.append(f"{setting}: cannot read {path} ({error.strerror or error})")
            continue
        try:
            load(str(path))
        except Exception as error:  # onnxruntime raises its own exception types
            problems.append(f"{setting}: {path} is not a usable model: {first_line(error)[:200]}")
    for name in (RESNET_MODEL, LANDMARK_MODEL):
        try:
            model_path(name)
        except FileNotFoundError as error:
            problems.append(str(error))
    return problems


_CPU = ["CPUExecutionProvider"]
