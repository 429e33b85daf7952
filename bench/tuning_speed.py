"""How long the filter tuner's search takes: N random configs over C labelled clusters of
simulated faces (5–60 faces each, every feature measured), on this machine.

    .venv/bin/python bench/tuning_speed.py [--configs 50] [--clusters 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scoring.features import FeatureTable
from scoring.tuning import ClusterLabels, random_configs, tune


def cluster(rng: np.random.Generator) -> FeatureTable:
    n = int(rng.integers(5, 61))
    return FeatureTable(
        brightness=rng.uniform(15, 85, n),
        resolution=rng.uniform(40, 260, n) ** 2,
        sharpness=rng.uniform(0.1, 1, n),
        roll=rng.normal(0, 10, n),
        pitch=rng.normal(0, 12, n),
        yaw=rng.normal(0, 25, n),
        fiqa=rng.uniform(0.2, 0.7, n),
        exposure=rng.normal(0, 0.35, n),
        artifacts=rng.uniform(0, 0.5, n),
        identity=rng.uniform(0.25, 0.85, n),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=50)
    parser.add_argument("--clusters", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tables = [cluster(rng) for _ in range(args.clusters)]
    labels = [
        ClusterLabels(grades={int(row): int(rng.integers(0, 3)) for row in rng.choice(len(t), 4)})
        for t in tables
    ]
    configs = random_configs(args.configs, seed=0)
    faces = sum(len(t) for t in tables)
    started = time.perf_counter()
    result = tune(configs, tables, labels, seed=0)
    seconds = time.perf_counter() - started
    # Every config filters the search half; the compared few also the held-out half.
    filterings = args.configs * len(result.search_clusters) + len(result.compared) * len(
        result.held_out_clusters
    )
    print(
        f"{args.configs} configs × {args.clusters} clusters ({faces} faces): {seconds:.1f} s, "
        f"{1000 * seconds / filterings:.2f} ms per cluster filtered"
    )


if __name__ == "__main__":
    main()
