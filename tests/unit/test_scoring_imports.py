"""scoring/ is a library: it loads neither Django nor Celery, and torch only for a torch network."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import scoring

REPO = Path(__file__).resolve().parents[2]
# The modules that build or run a torch network, and the names of scoring's API they hold.
TORCH_MODULES = {"scoring.dlib_resnet"}
TORCH_NAMES = {"DlibFaceEmbedder", "DlibResNet", "load_dlib_resnet"}
MODULES = [info.name for info in pkgutil.walk_packages(scoring.__path__, "scoring.")]


def run(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_importing_every_scoring_module_loads_no_django_or_celery():
    assert {"scoring.detect", "scoring.features", "scoring.selectors"} <= set(MODULES)
    script = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = run(script)
    assert result.returncode == 0, result.stdout + result.stderr


# Features, weak labels, a quality model, the selectors, a headshot and identity on made-up
# arrays: all of it numpy, OpenCV, ONNX Runtime and scikit-learn.
TORCH_FREE_WORK = """
import numpy as np
import scoring
from scoring.dlib_weights import RESNET_MODEL, model_path, read_resnet_weights

rng = np.random.default_rng(0)
image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
boxes = np.array([[100.0, 60.0, 90.0, 110.0]])
landmarks = np.array([[[125, 100], [165, 100], [145, 125], [130, 150], [160, 150]]], float)
extractor = scoring.FeatureExtractor(scoring.FeatureConfig(device="cpu"))
faces = extractor.extract_many([(image, boxes, landmarks)] * 12)
table = faces.replace(yaw=rng.uniform(-40, 40, 12), identity=rng.uniform(0, 1, 12))
model = scoring.train_quality_model(table, scoring.QualityParams(trees=5))
scoring.select_regression(table, model.predict(table))
scoring.select_filtering(table)
scoring.select_fiqa(table)
scoring.select_baseline(table)
crop = scoring.headshot_box(boxes[0], landmarks[0], (320, 240))
scoring.render_headshot(image, crop, scoring.CropParams(output_size=(30, 40)))
scoring.identity_scores(rng.normal(0, 0.1, (5, 128)))
try:
    read_resnet_weights(model_path(RESNET_MODEL))
except FileNotFoundError:
    pass
"""


def test_scoring_imports_torch_only_for_a_torch_network():
    torch_free = [name for name in MODULES if name not in TORCH_MODULES]
    script = (
        "import importlib, sys\n"
        "import scoring\n"
        "assert not [m for m in sys.modules if m.startswith('scoring.')], 'import scoring loads'\n"
        f"for name in {torch_free!r}: importlib.import_module(name)\n"
        f"for name in sorted(set(scoring.__all__) - {TORCH_NAMES!r}): getattr(scoring, name)\n"
        f"{TORCH_FREE_WORK}\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'facenet_pytorch')]\n"
        "assert not heavy, sorted(heavy)[:5]\n"
        f"for name in {sorted(TORCH_NAMES)!r}: getattr(scoring, name)\n"
        "assert 'torch' in sys.modules, 'no torch for the torch names: TORCH_NAMES is stale'\n"
    )
    result = run(script)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_api_resolves_and_hides_no_module():
    for name in scoring.__all__:
        assert getattr(scoring, name) is not None, name
    # A name exported beside a module of the same name would shadow the module on the package.
    assert not set(scoring.__all__) & {name.rsplit(".", 1)[1] for name in MODULES}
    assert {getattr(scoring, name).__module__ for name in TORCH_NAMES} == TORCH_MODULES
