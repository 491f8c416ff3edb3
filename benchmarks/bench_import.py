"""Benchmark: validate + import a synthetic registry of 10^6 patients into a DuckDB store.

Usage::

    python benchmarks/bench_import.py [--patients 1000000] [--format csv|parquet]
                                      [--threads 2] [--memory-limit 2GB] [--workdir DIR]
                                      [--source DIR] [--rounds 3]

Generates the registry with the synthetic generator (not timed; ``--source`` reuses a folder
written by ``nenstudy synth``), then times ``nenstudy.registry.store.import_registry`` end to end
(reading, validation, typed store written and renamed into place) and reports patient records
per second, total rows per second, the CPU seconds the import used (user + system, all threads:
on a shared machine wall time depends on the other load, CPU time much less), the load average
and the peak resident memory of the importing process (``ru_maxrss``, which includes DuckDB's
native memory; the generator runs in a child process and is not counted).

The same run then times a floor: DuckDB reading the same files with its own typed readers
(``read_csv`` with the schema's column types, ``read_parquet``) into a new DuckDB file, files side
by side as the import reads them, identifier columns stored uncompressed as in the store, with no
check, no derived column and no cross-table query.
No importer that checks what the issue asks can be faster than that; the ratio import / floor
says what the checks and the store's finishing cost on top of DuckDB's reading and writing.

A second floor isolates the writing: the tables of the store the round's import wrote, copied into
memory first (not timed), are written into a new DuckDB file with the import's connection settings,
storage format and table definitions, in a child process (so that the copy does not count in the
peak memory above). No reading, no typing, no check: what DuckDB needs to write the store's rows on
this machine, which any importer writing this store pays. It is compared with the time the target
of 200,000 patients per second allows for the registry.

Each round times the import, then the floor; the figures are the best and the median of the
rounds (``--rounds``, default 3). On a shared machine single runs of the same code vary by up to
20%, and the floor of the same round shows how fast the machine was at the time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nenstudy.registry import sql
from nenstudy.registry.lanes import run_side_by_side
from nenstudy.registry.schema import SCHEMA
from nenstudy.registry.store import import_registry
from nenstudy.registry.typed import uncompressed_columns
from nenstudy.registry.validation import connect_work_db
from nenstudy.synth.generator import n_patients

TARGET_PATIENTS_PER_S = 200_000
"""The issue's target for validate + import, end to end."""

_FLOOR_TYPES = {"string": "VARCHAR", "list": "VARCHAR", "date": "DATE", "int": "INTEGER",
                "float": "DOUBLE", "bool": "BOOLEAN"}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _floor_relation(path: Path) -> str:
    """DuckDB's own typed reader of one registry file (the schema's column types for CSV)."""
    table = next(t for t in SCHEMA if t.name == path.stem.lower())
    if path.suffix.lower() == ".parquet":
        return f"read_parquet('{path}')"
    with open(path, encoding="utf-8-sig") as handle:
        header = handle.readline().strip().split(",")
    types = {c.name: _FLOOR_TYPES[c.dtype] for c in table.columns}
    columns = ", ".join(f"'{h}': '{types[h.lower()]}'" for h in header)
    return (f"read_csv('{path}', header=true, auto_detect=false, delim=',', quote='\"', "
            f"escape='\"', nullstr='', dateformat='%Y-%m-%d', columns={{{columns}}})")


def _floor_read(cursor, path: Path) -> None:
    """Read one registry file into a table of the floor database, keys stored as the store does.

    The store keeps its identifier columns uncompressed (random strings gain little from
    compression and cost the most to compress); the floor does the same, so that it writes what
    the store writes, less the derived columns.
    """
    table = next(t for t in SCHEMA if t.name == path.stem.lower())
    keys = uncompressed_columns(table)
    relation = _floor_relation(path)
    columns = cursor.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    definitions = ", ".join(
        f"{sql.ident(name)} {dtype}" + (" USING COMPRESSION uncompressed" if name in keys else "")
        for name, dtype, *_ in columns)
    cursor.execute(f"CREATE TABLE floor.{table.name} ({definitions})")
    cursor.execute(f"INSERT INTO floor.{table.name} SELECT * FROM {relation}")


def _duckdb_floor(source: Path, work: Path, threads: int, memory_limit: str) -> tuple[float, float]:
    """Wall and CPU seconds of DuckDB's typed read of ``source`` into a DuckDB file."""
    files = sorted((p for p in source.iterdir() if p.suffix.lower() in (".csv", ".parquet")),
                   key=lambda p: -p.stat().st_size)
    for old in (work / "floor.duckdb", work / "floor.duckdb.wal"):
        old.unlink(missing_ok=True)
    con = connect_work_db(threads=threads, memory_limit=memory_limit)
    con.execute(f"ATTACH '{work / 'floor.duckdb'}' AS floor")
    cpu_start, start = _cpu_seconds(), time.perf_counter()

    def job(path: Path):
        return lambda cursor: _floor_read(cursor, path)

    run_side_by_side(con, [job(p) for p in files])
    con.execute("CHECKPOINT floor")
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    con.close()
    return seconds, cpu


_WRITE_FLOOR = """
import json, os, sys, time
from nenstudy.registry import sql
from nenstudy.registry.store import STORAGE_VERSION
from nenstudy.registry.validation import connect_work_db
store, target, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = connect_work_db(threads=threads, memory_limit="8GB")
con.execute(f"ATTACH {sql.literal(store)} AS old (READ_ONLY)")
tables = con.execute(
    "SELECT table_name, sql FROM duckdb_tables() WHERE database_name = 'old'").fetchall()
for name in (sql.ident(t[0]) for t in tables):
    con.execute(f"CREATE TABLE memory.main.{name} AS SELECT * FROM old.{name}")
con.execute("DETACH old")
version = sql.literal(STORAGE_VERSION)
con.execute(f"ATTACH {sql.literal(target)} AS new (STORAGE_VERSION {version})")
cpu, start = sum(os.times()[:2]), time.perf_counter()
con.execute("USE new")
for name, definition in tables:  # the store's own definitions (column compression included)
    con.execute(definition)
    con.execute(f"INSERT INTO new.{sql.ident(name)} SELECT * FROM memory.main.{sql.ident(name)}")
con.execute("CHECKPOINT new")
print(json.dumps([time.perf_counter() - start, sum(os.times()[:2]) - cpu]))
"""


def _write_floor(store: Path, work: Path, threads: int) -> tuple[float, float]:
    """Wall and CPU seconds DuckDB takes to write the tables of ``store``, held in memory."""
    target = work / "write-floor.duckdb"
    for old in (target, work / "write-floor.duckdb.wal"):
        old.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", _WRITE_FLOOR, str(store), str(target),
                           str(threads)], check=True, capture_output=True, text=True)
    target.unlink(missing_ok=True)
    seconds, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, cpu


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
    parser.add_argument("--rounds", type=int, default=3,
                        help="import (then floor) this many times; best and median are shown")
    args = parser.parse_args(argv)

    scale = args.patients / n_patients(1.0)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
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

        runs: list[tuple[float, float, float, float, float, float]] = []
        for round_ in range(1, args.rounds + 1):
            db.unlink(missing_ok=True)
            load_before = os.getloadavg()[0]
            cpu_start = _cpu_seconds()
            start = time.perf_counter()
            summary = import_registry(source, db, threads=args.threads,
                                      memory_limit=args.memory_limit)
            seconds = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu_start
            floor_s, floor_cpu = _duckdb_floor(source, work, args.threads, args.memory_limit)
            write_s, write_cpu = _write_floor(db, work, args.threads)
            runs.append((seconds, cpu, floor_s, floor_cpu, write_s, write_cpu))
            if args.rounds > 1:
                print(f"round {round_}: import {seconds:.2f} s wall, {cpu:.2f} s CPU; floor "
                      f"{floor_s:.2f} s wall, {floor_cpu:.2f} s CPU; write floor {write_s:.2f} s "
                      f"wall, {write_cpu:.2f} s CPU; stages " + ", ".join(
                          f"{name} {value:.2f}" for name, value in summary.stage_seconds.items()))
        total = sum(summary.rows.values())
        n_patients_read = summary.rows["patients"]
        walls = sorted(r[0] for r in runs)
        best, median = walls[0], statistics.median(walls)
        which = "best / median of " + str(args.rounds) + " rounds" if args.rounds > 1 else "one run"
        print(f"validate + import ({which}): {best:.2f} / {median:.2f} s wall, "
              f"{min(r[1] for r in runs):.2f}-{max(r[1] for r in runs):.2f} s CPU (user + "
              f"system), {summary.report.n_errors} errors, {summary.report.n_warnings} warnings")
        print("  stages of the last run (s wall): " + ", ".join(
            f"{name} {value:.2f}" for name, value in summary.stage_seconds.items()))
        print(f"load average (1 min) before / after the last run: {load_before:.2f} / "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"patient records/s: {n_patients_read / best:,.0f} / {n_patients_read / median:,.0f}")
        print(f"total rows/s:      {total / best:,.0f} / {total / median:,.0f}  "
              f"({total:,} rows in 5 tables)")
        print(f"peak RSS (import process, incl. DuckDB): {_peak_rss_mb():,.0f} MB "
              f"(DuckDB memory_limit {args.memory_limit}, threads {args.threads})")
        print(f"store size: {db.stat().st_size / 1e6:,.0f} MB")
        floors = sorted(r[2] for r in runs)
        floor_rates = [n_patients_read / floors[0], n_patients_read / statistics.median(floors)]
        ratios = sorted(r[0] / r[2] for r in runs)
        print(f"floor, DuckDB's typed read of the same files into a DuckDB file, no checks: "
              f"{floors[0]:.2f} / {statistics.median(floors):.2f} s wall ("
              f"{floor_rates[0]:,.0f} / {floor_rates[1]:,.0f} patients/s); import / floor, "
              f"same round: {ratios[0]:.2f}-{ratios[-1]:.2f}x wall")
        writes = sorted(r[4] for r in runs)
        budget = n_patients_read / TARGET_PATIENTS_PER_S
        print(f"write floor, DuckDB writing the store's tables from memory into a new DuckDB file "
              f"(no reading, no checks): {writes[0]:.2f} / {statistics.median(writes):.2f} s wall, "
              f"{min(r[5] for r in runs):.2f}-{max(r[5] for r in runs):.2f} s CPU; the target of "
              f"{TARGET_PATIENTS_PER_S:,} patients/s allows {budget:.2f} s for this registry "
              f"({writes[0] / budget:.0%} of it taken by the write floor at best)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
