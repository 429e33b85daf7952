"""Every scale benchmark (``bench/scale_*.py``) one after the other, and their figures together.

    .venv/bin/python bench/scale.py [--only queue pages] [--out figures.json]

Each ``bench/scale_<part>.py`` runs in its own process (each builds and drops its own catalogue
database, see ``bench/catalogue.py``), its output shown as it comes. A benchmark that calls
``bench.catalogue.record_figures`` hands over its figures; at the end they are printed together,
and written to ``--out`` as JSON, with each benchmark's wall time, exit status and the machine's
load (``uptime``) before and after it. Benchmarks are not tests: CI never runs them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run(script: Path) -> dict:
    """Run one benchmark; its exit status, seconds, load and the figures it handed over."""
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "figures.json"
        before = uptime()
        started = time.perf_counter()
        status = subprocess.run(
            [sys.executable, str(script)],
            cwd=BENCH.parent,
            env=os.environ | {"SCALE_FIGURES": str(figures)},
        ).returncode
        handed = json.loads(figures.read_text()) if figures.exists() else {}
    return {
        "script": f"bench/{script.name}",
        "status": status,
        "seconds": round(time.perf_counter() - started),
        "load before": before,
        "load after": uptime(),
        "figures": handed.get("figures"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="PART", help="e.g. queue pages")
    parser.add_argument("--out", type=Path, help="write the gathered figures here (JSON)")
    args = parser.parse_args()
    scripts = sorted(BENCH.glob("scale_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("scale_") in args.only]
    if not scripts:
        sys.exit("no benchmark bench/scale_*.py to run")
    results = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        results.append(run(script))
    print("\n=== all scale benchmarks ===")
    for result in results:
        outcome = "ok" if result["status"] == 0 else f"failed ({result['status']})"
        print(f"\n{result['script']}: {outcome} in {result['seconds']} s")
        print(f"  load before: {result['load before']}\n  load after:  {result['load after']}")
        if result["figures"] is not None:
            print(json.dumps(result["figures"], indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    if any(result["status"] for result in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
