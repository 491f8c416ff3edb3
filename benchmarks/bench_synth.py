"""Benchmark of the synthetic registry generator: wall time, rows/s and peak memory.

Usage: ``python benchmarks/bench_synth.py [--scale 625] [--seed 2022] [--out DIR] [--fmt csv]``
(scale 625 = 10^6 patients). Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from nenstudy.synth.generator import write_registry


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=625.0)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nenstudy-bench-") as tmp:
        out = args.out or Path(tmp) / "registry"
        start = time.perf_counter()
        rows = write_registry(out, seed=args.seed, scale=args.scale, fmt=args.fmt)
        elapsed = time.perf_counter() - start
        size = sum(p.stat().st_size for p in out.iterdir())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(rows.values())
    print(f"scale {args.scale:g} seed {args.seed} format {args.fmt}")
    for name, n in rows.items():
        print(f"  {name:16s} {n:>12,} rows")
    print(f"time {elapsed:.1f} s; {rows['patients'] / elapsed:,.0f} patients/s; {total / elapsed:,.0f} rows/s")
    print(f"files {size / 1e6:,.0f} MB; peak resident memory {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
