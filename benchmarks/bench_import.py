"""Benchmark: validate + import a synthetic registry of 10^6 patients into a DuckDB store.

Usage::

    python benchmarks/bench_import.py [--patients 1000000] [--format csv|parquet]
                                      [--threads 2] [--memory-limit 2GB] [--workdir DIR]
                                      [--source DIR]

Generates the registry with the synthetic generator (not timed; ``--source`` reuses a folder
written by ``nenstudy synth``), then times ``nenstudy.registry.store.import_registry`` end to end
(reading, validation, typed store written and renamed into place) and reports patient records
per second, total rows per second, the CPU seconds the import used (user + system, all threads:
on a shared machine wall time depends on the other load, CPU time much less), the load average
and the peak resident memory of the importing process (``ru_maxrss``, which includes DuckDB's
native memory; the generator runs in a child process and is not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nenstudy.registry.store import import_registry
from nenstudy.synth.generator import n_patients


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to write the registry and store (default: a temp folder)")
    parser.add_argument("--source", type=Path, default=None,
                        help="import this registry folder instead of generating one")
    args = parser.parse_args(argv)

    scale = args.patients / n_patients(1.0)
    work = Path(tempfile.mkdtemp(prefix="nenstudy-bench-import-", dir=args.workdir))
    try:
        source, db = work / "registry", work / "registry.duckdb"
        if args.source is not None:
            source = args.source
            print(f"importing {source} (not generated here)")
        else:
            start = time.perf_counter()
            # Generated in a child process so that the peak memory below is the import's alone.
            code = (
                "import json, sys; from nenstudy.synth.generator import write_registry; "
                f"print(json.dumps(write_registry({str(source)!r}, seed={args.seed}, "
                f"scale={scale!r}, fmt={args.format!r})))"
            )
            done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                  text=True)
            rows = json.loads(done.stdout.strip().splitlines()[-1])
            generated = time.perf_counter() - start
            print(f"generated {rows['patients']:,} patients, {sum(rows.values()):,} rows "
                  f"({args.format}) in {generated:.1f} s (not timed below)")
        size_mb = sum(p.stat().st_size for p in source.iterdir()) / 1e6
        print(f"source: {size_mb:,.0f} MB")

        load_before = os.getloadavg()[0]
        cpu_start = _cpu_seconds()
        start = time.perf_counter()
        summary = import_registry(source, db, threads=args.threads,
                                  memory_limit=args.memory_limit)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start
        total = sum(summary.rows.values())
        print(f"validate + import: {seconds:.2f} s wall, {cpu:.2f} s CPU (user + system), "
              f"{summary.report.n_errors} errors, {summary.report.n_warnings} warnings")
        print("  stages (s wall): " + ", ".join(
            f"{name} {value:.2f}" for name, value in summary.stage_seconds.items()))
        print(f"load average (1 min) before / after: {load_before:.2f} / "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"patient records/s: {summary.rows['patients'] / seconds:,.0f}")
        print(f"total rows/s:      {total / seconds:,.0f}  ({total:,} rows in 5 tables)")
        print(f"peak RSS (import process, incl. DuckDB): {_peak_rss_mb():,.0f} MB "
              f"(DuckDB memory_limit {args.memory_limit}, threads {args.threads})")
        print(f"store size: {db.stat().st_size / 1e6:,.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
