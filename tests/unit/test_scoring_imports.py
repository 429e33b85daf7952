"""scoring/ is a library: importing every module of it loads neither Django nor Celery."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import scoring

REPO = Path(__file__).resolve().parents[2]


def test_importing_every_scoring_module_loads_no_django_or_celery():
    modules = [info.name for info in pkgutil.walk_packages(scoring.__path__, "scoring.")]
    assert {"scoring.detect", "scoring.features", "scoring.selectors"} <= set(modules)
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
