"""The import benchmark runs on a small registry and prints its two floors (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_import_prints_import_floor_and_write_floor(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_import.py"), "--patients", "2000",
         "--rounds", "1", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    out = done.stdout
    assert re.search(r"validate \+ import \(one run\): [\d.]+ / [\d.]+ s wall, .* 0 errors", out)
    assert re.search(r"patient records/s: [\d,]+ / [\d,]+", out)
    assert re.search(r"floor, DuckDB's typed read .*: [\d.]+ / [\d.]+ s wall \([\d,]+ / [\d,]+ "
                     r"patients/s\)", out)
    written = re.search(r"write floor, .*: ([\d.]+) / [\d.]+ s wall, .* allows ([\d.]+) s", out)
    assert written is not None and float(written.group(1)) > 0
    # The benchmark's work folder is removed, the store and the copies with it.
    assert list(tmp_path.iterdir()) == []
