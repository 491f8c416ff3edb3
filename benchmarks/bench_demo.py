"""Benchmark: ``nenstudy demo`` end to end (target < 10 s on the 2-core reference machine).

Usage::

    python benchmarks/bench_demo.py [--repeat 3] [--scale 1] [--workdir DIR]

1. Times ``python -m nenstudy demo --out DIR`` as a fresh process (interpreter start, synthetic
   registry, validated import, the EP-NEC study, the report) ``--repeat`` times and prints the
   wall-clock times, their minimum and median.
2. Times the study stage alone (:func:`nenstudy.study.runner.run_study` on an imported store
   of the synthetic registry at ``--scale``), to show what the study engine itself costs.
3. Times the report stage alone (:func:`nenstudy.report.build_report` on that study's
   results), with figures rendered in this process only and with the helper process.

The 1-minute load average before and after is printed: the machine is shared, and the
timings mean little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0


def _time_demo(workdir: Path, repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        out = workdir / f"demo{i}"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nenstudy", "demo", "--out", str(out)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def _time_study(workdir: Path, scale: float) -> dict[str, float]:
    from nenstudy.paths import default_study
    from nenstudy.registry.store import import_registry
    from nenstudy.study.runner import run_study
    from nenstudy.synth.generator import write_registry

    folder, store = workdir / "registry", workdir / "registry.duckdb"
    write_registry(folder, seed=2022, scale=scale)
    import_registry(folder, store)
    start = time.perf_counter()
    results = run_study(store, default_study(), workdir / "study", seed=2022)
    return {"scale": scale, "diagnoses": results["registry_diagnoses"], "cohort": results["cohort_n"],
            "seconds": time.perf_counter() - start}


def _time_report(study_dir: Path, repeat: int) -> dict[str, float]:
    from nenstudy.report import build_report

    out = {}
    for label, parallel in (("serial", False), ("with_helper", None)):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            build_report(study_dir, parallel=parallel)
            times.append(time.perf_counter() - start)
        out[f"{label}_min"] = min(times)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="nenstudy-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        demo = _time_demo(workdir, args.repeat)
        study = _time_study(workdir, args.scale)
        report = _time_report(workdir / "study", args.repeat)
    summary = {
        "cores": os.cpu_count(),
        "load_avg_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "demo_seconds": [round(t, 2) for t in demo],
        "demo_min": round(min(demo), 2),
        "demo_median": round(statistics.median(demo), 2),
        "target_seconds": TARGET_SECONDS,
        "meets_target": min(demo) < TARGET_SECONDS,
        "study_stage": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in study.items()},
        "report_stage": {k: round(v, 2) for k, v in report.items()},
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
