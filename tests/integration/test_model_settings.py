"""Model settings: the shipped models load by default; a bad setting is one line at start."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from curation.scoring_runs.extractors import feature_version, model_problems
from tests.conftest import REPO


def test_the_shipped_models_load_with_no_setting():
    assert model_problems() == []
    assert "fiqa=lightqnet-dm100" in feature_version()
    assert "pose=fsanet:" in feature_version()


def test_landmark_pose_is_an_explicit_option(settings):
    settings.POSE_MODEL = "landmarks"
    assert model_problems() == []
    assert "pose=landmarks-1" in feature_version()


def test_missing_and_malformed_files_are_one_line_each(settings, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a model")
    settings.FIQA_MODEL_PATH = str(tmp_path / "missing.onnx")
    settings.POSE_MODEL_PATHS = [str(broken)]
    problems = model_problems()
    assert len(problems) == 2
    assert problems[0].startswith("FIQA_MODEL_PATH: cannot read ")
    assert problems[1].startswith("POSE_MODEL_PATHS: ") and "is not a usable model" in problems[1]
    assert all("\n" not in problem for problem in problems)
    with pytest.raises(SystemCheckError, match="curation.E001"):
        call_command("check")


def test_a_worker_with_a_bad_model_setting_stops_at_start_with_one_line(tmp_path):
    env = os.environ | {
        "FIQA_MODEL_PATH": str(tmp_path / "missing.onnx"),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CELERY_BROKER_URL": "memory://",
    }
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "curation", "worker", "--pool", "solo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: FIQA_MODEL_PATH: cannot read {tmp_path / 'missing.onnx'} "
        "(No such file or directory)"
    ]
    assert "Traceback" not in result.stderr
