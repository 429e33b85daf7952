"""What a scoring run used, frozen when it runs, and what it picked: enough to tell two runs apart.

``run_record`` names the code (the package version and a digest of the scoring sources), every
model file by its sha256, the feature version, the selectors' parameters and the seeds. The
quality model is added when the run assigns one, and the picks (with the learned model, when
one made learned picks) when it makes them, so a later run replacing the title's selections
does not erase what this one chose.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from curation.media import file_stamp
from curation.scoring_runs.extractors import feature_version
from curation.scoring_runs.filter_configs import filter_stages, fiqa_guards
from scoring.quality import QualityParams

SOURCES = ("scoring", "curation/scoring_runs")
REPO = Path(__file__).resolve().parent.parent.parent


@functools.lru_cache(maxsize=64)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """A file's sha256, computed once per version of the file."""
    found = Path(path).stat()
    return _sha256(str(path), found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=64)
def _stored_sha256(name: str, size: int, modified: datetime) -> str:
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stored_sha256(name: str) -> str:
    """A stored file's sha256 (a model artifact's), computed once per version of the file."""
    return _stored_sha256(name, *file_stamp(name))


@functools.cache
def code_version() -> str:
    """The package version and a digest of the sources that decide what a run computes."""
    digest = hashlib.sha256()
    for folder in SOURCES:
        for path in sorted((REPO / folder).rglob("*.py")):
            digest.update(path.relative_to(REPO).as_posix().encode())
            digest.update(path.read_bytes())
    try:
        version = importlib.metadata.version("face-curation")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}+{digest.hexdigest()[:12]}"


def model_files() -> dict[str, str]:
    """Every model file scoring reads, by setting or role, with its sha256."""
    from scoring.dlib_resnet import LANDMARK_MODEL, RESNET_MODEL, model_path

    files = {"FIQA_MODEL_PATH": settings.FIQA_MODEL_PATH}
    if settings.POSE_MODEL == "fsanet":
        files |= {f"POSE_MODEL_PATHS[{i}]": p for i, p in enumerate(settings.POSE_MODEL_PATHS)}
    files |= {"dlib resnet": str(model_path(RESNET_MODEL))}
    files |= {"dlib landmarks": str(model_path(LANDMARK_MODEL))}
    return {role: f"{Path(path).name} sha256:{file_sha256(path)}" for role, path in files.items()}


def run_record() -> dict[str, object]:
    filter_version, stages = filter_stages()
    return {
        "code": code_version(),
        "feature_version": feature_version(),
        "models": model_files(),
        "selectors": {
            "baseline": "baseline:paper",
            "fiqa": {"guards": [asdict(stage) for stage in fiqa_guards()]},
            "filtering": {"config": filter_version, "stages": [asdict(s) for s in stages]},
        },
        "seeds": {"quality model training": QualityParams().seed},
    }


def learned_model_record(model) -> dict[str, object]:
    """The learned model a run's learned picks came from: what it learned from and built on."""
    return {
        "version": model.version,
        "artifact": Path(model.artifact.name).name,
        "sha256": stored_sha256(model.artifact.name),
        "campaigns": model.campaigns,
        "prior": model.params.get("prior", {}).get("version"),
        "features": model.features,
    }


def quality_model_record(model) -> dict[str, object]:
    return {
        "version": model.version,
        "artifact": Path(model.artifact.name).name,
        "sha256": stored_sha256(model.artifact.name),
        "features": model.features,
        "params": model.params,
    }
