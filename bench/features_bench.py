"""Features per second on real faces (LFW), per extractor configuration and per measure.

    python bench/features_bench.py [--faces 2000] [--device cpu|cuda] [--out FILE.json]

Faces are detected first (MTCNN, not timed); then each configuration's ``extract_many`` is timed
over every face, and each measure alone, and dlib's embedding (``identity`` embeds only some faces
per cluster; see ``scoring.identity``). Prints a Markdown table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scoring.bundled import FSANET_MODELS, LIGHTQNET_MODEL  # noqa: E402
from scoring.detect import FaceDetector  # noqa: E402
from scoring.dlib_resnet import DlibFaceEmbedder  # noqa: E402
from scoring.exposure import exposure  # noqa: E402
from scoring.features import FeatureConfig, FeatureExtractor, brightness  # noqa: E402
from scoring.fiqa import LightQNet, aligned_faces  # noqa: E402
from scoring.pose import FsaNetPose, landmark_pose  # noqa: E402
from scoring.runtime import onnx_providers  # noqa: E402
from scoring.sharpness import sharpness  # noqa: E402

DATA = Path(os.environ.get("FACE_DATA_DIR", REPO.parent / "shared" / "data"))


def load_faces(count: int, device: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image, boxes (N, 4), landmarks (N, 5, 2)) of LFW images until ``count`` faces."""
    detector = FaceDetector(device=device)
    groups, total = [], 0
    paths = sorted((DATA / "lfw").glob("*/*.jpg"))
    for start in range(0, len(paths), 64):
        images = [
            cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths[start : start + 64]
        ]
        for image, found in zip(images, detector.detect(images), strict=True):
            found = [d for d in found if d.confidence >= 0.9][: count - total]
            if found:
                groups.append(
                    (
                        image,
                        np.array([d.box for d in found]),
                        np.stack([d.landmarks for d in found]),
                    )
                )
                total += len(found)
        if total >= count:
            break
    return groups


def rate(work, faces: int) -> dict[str, float]:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "faces_per_second": round(faces / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "features.json")
    args = parser.parse_args()

    groups = load_faces(args.faces, args.device)
    faces = sum(len(boxes) for _, boxes, _ in groups)
    providers = onnx_providers(args.device)
    fsanet = FsaNetPose([str(p) for p in FSANET_MODELS], providers)
    lightqnet = LightQNet(str(LIGHTQNET_MODEL), providers)
    default = FeatureExtractor(FeatureConfig(device=args.device))
    landmark_pose_config = FeatureExtractor(FeatureConfig(pose_models=(), device=args.device))
    embedder = DlibFaceEmbedder(device=args.device)
    embed_groups = groups[: max(1, len(groups) // 10)]
    embedded = sum(len(boxes) for _, boxes, _ in embed_groups)

    figures = {
        "faces": faces,
        "images": len(groups),
        "device": args.device,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch_threads": torch.get_num_threads(),
        "configurations": {
            "every per-face measure (default: FSA-Net pose, LightQNet)": rate(
                lambda: default.extract_many(groups), faces
            ),
            "every per-face measure, landmark pose": rate(
                lambda: landmark_pose_config.extract_many(groups), faces
            ),
        },
        "per feature": {
            "brightness": rate(lambda: [brightness(i, b) for i, b, _ in groups], faces),
            "sharpness": rate(lambda: [sharpness(i, b) for i, b, _ in groups], faces),
            "landmark pose": rate(lambda: [landmark_pose(b, m) for _, b, m in groups], faces),
            "FSA-Net pose": rate(lambda: [fsanet(i, b, m) for i, b, m in groups], faces),
            "fiqa (alignment + LightQNet)": rate(
                lambda: [lightqnet(i, m) for i, _, m in groups], faces
            ),
            "exposure (alignment + measure)": rate(
                lambda: [exposure(aligned_faces(i, m)) for i, _, m in groups], faces
            ),
            "dlib embedding (5-point alignment + ResNet)": rate(
                lambda: [embedder(i, b) for i, b, _ in embed_groups], embedded
            ),
        },
    }

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"{faces} faces from {len(groups)} LFW images, device {args.device}, "
        f"{figures['machine']}, torch threads {figures['torch_threads']}\n"
    )
    print("| what | faces/s | seconds |\n|---|---:|---:|")
    for section in ("configurations", "per feature"):
        for name, figure in figures[section].items():
            print(f"| {name} | {figure['faces_per_second']} | {figure['seconds']} |")


if __name__ == "__main__":
    main()
