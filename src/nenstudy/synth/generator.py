"""Generate the synthetic NEN MDT registry and write it as a registry source folder.

Patients are simulated in blocks of :data:`BLOCK_SIZE` (fully vectorised numpy), each block
from its own child of ``numpy.random.SeedSequence(seed)`` with a PCG64 generator, and streamed
to the output files block by block, so memory stays bounded at any scale and the result depends
only on ``seed`` and ``scale``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nenstudy.registry import schema
from nenstudy.synth.arrow import table_key
from nenstudy.synth.course import simulate_course
from nenstudy.synth.molecular import simulate_molecular
from nenstudy.synth.parameters import ParameterSet, load_parameters
from nenstudy.synth.population import simulate_baseline
from nenstudy.synth.regimens import build_catalogue
from nenstudy.synth.tables import IdKeys, Offsets, block_tables

__all__ = ["BLOCK_SIZE", "FORMATS", "n_patients", "iter_blocks", "generate_registry", "write_registry"]

BLOCK_SIZE = 100_000
"""Patients simulated per block (fixed: changing it changes the registry of a seed)."""

FORMATS = ("csv", "parquet")
"""Output formats of :func:`write_registry`."""


def n_patients(scale: float, params: ParameterSet | None = None) -> int:
    """Number of simulated patients at ``scale`` (``centre.patients_per_unit_scale`` x scale).

    Parameters
    ----------
    scale : float
        Size relative to the reference centre (> 0).
    params : ParameterSet, optional
        Simulation parameters; the bundled ones when omitted.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        When ``scale`` is not a positive finite number.
    """
    params = params or load_parameters()
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return max(1, int(round(params["centre.patients_per_unit_scale"] * scale)))


def iter_blocks(
    seed: int = 2022, scale: float = 1.0, params: ParameterSet | None = None
) -> Iterator[dict[str, pa.Table]]:
    """Yield the registry block by block (each a dict of the five tables).

    Parameters
    ----------
    seed
        Seed of the simulation (non-negative integer).
    scale
        Multiplier of the number of patients (1.0 = one centre, about 1600 patients).
    params
        Generator parameters; default: the bundled ``parameters.toml``.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    params = params or load_parameters()
    total = n_patients(scale, params)
    catalogue = build_catalogue(params)
    keys = IdKeys(*(table_key(int(seed), t) for t in ("patients", "diagnoses", "molecular_tests", "treatments")))
    n_blocks = math.ceil(total / BLOCK_SIZE)
    children = np.random.SeedSequence(int(seed)).spawn(n_blocks)
    offsets = Offsets(0, 0, 0)
    for block, child in enumerate(children):
        n = min(BLOCK_SIZE, total - block * BLOCK_SIZE)
        rng = np.random.Generator(np.random.PCG64(child))
        detail = np.random.Generator(np.random.PCG64(child.spawn(1)[0]))
        base = simulate_baseline(rng, params, n, detail)
        course = simulate_course(rng, params, base, catalogue, detail)
        molecular = simulate_molecular(rng, params, base, course.last_contact)
        tables = block_tables(base, course, molecular, catalogue, keys, offsets)
        offsets = Offsets(
            offsets.patient + n,
            offsets.test + tables["molecular_tests"].num_rows,
            offsets.treatment + tables["treatments"].num_rows,
        )
        yield tables


def generate_registry(seed: int = 2022, scale: float = 1.0, params: ParameterSet | None = None) -> dict[str, pa.Table]:
    """Simulate the registry in memory (for small scales).

    Parameters
    ----------
    seed : int, default 2022
        Seed of the simulation; the same seed, scale and parameters give the same registry.
    scale : float, default 1.0
        Size relative to the reference centre (see :func:`n_patients`).
    params : ParameterSet, optional
        Simulation parameters; the bundled ones when omitted.

    Returns
    -------
    dict of str to pyarrow.Table
        The five registry tables, columns in schema order.
    """
    blocks = list(iter_blocks(seed, scale, params))
    return {name: pa.concat_tables([b[name] for b in blocks]) for name in schema.TABLE_NAMES}


def write_registry(
    out_dir: Path, *, seed: int = 2022, scale: float = 1.0, fmt: str = "csv", params: ParameterSet | None = None
) -> dict[str, int]:
    """Simulate the registry and write it as a source folder (one file per table).

    Parameters
    ----------
    out_dir
        Folder to write (created if needed); existing table files are overwritten.
    seed
        Seed of the simulation: the same seed and scale give byte-identical files.
    scale
        Multiplier of the number of patients (scale 625 = 10^6 patients).
    fmt
        ``"csv"`` (ISO dates, ``;``-separated lists, ``true``/``false``) or ``"parquet"``.
    params
        Generator parameters; default: the bundled ``parameters.toml``.

    Returns
    -------
    dict of str to int
        Rows written per table.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, object] = {}
    rows = {name: 0 for name in schema.TABLE_NAMES}
    try:
        for tables in iter_blocks(seed, scale, params):
            for name, table in tables.items():
                if name not in writers:
                    writers[name] = _open_writer(out / f"{name}.{fmt}", table.schema, fmt)
                writers[name].write_table(table)
                rows[name] += table.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    return rows


class _CsvFile:
    """A CSV file with a plain header line, then Arrow-written rows (no quoting)."""

    def __init__(self, path: Path, arrow_schema: pa.Schema) -> None:
        self._handle = path.open("wb")
        self._handle.write((",".join(arrow_schema.names) + "\n").encode("utf-8"))
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        self._writer = pacsv.CSVWriter(self._handle, arrow_schema, write_options=options)

    def write_table(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._handle.close()


class _ParquetFile:
    """A Parquet file in row groups of pyarrow's default size, as pandas and pyarrow exports are.

    The simulation's blocks are buffered until a row group is full (memory: at most one row
    group per table). Row groups much smaller than DuckDB's (122,880 rows) cost an import about
    0.5 s more at 10^6 patients (the store's derived column is then updated row group by row
    group), so the benchmark data should not have them unless a real export would.
    """

    ROW_GROUP_ROWS = 1 << 20

    def __init__(self, path: Path, arrow_schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, arrow_schema)
        self._pending: list[pa.Table] = []
        self._n_pending = 0

    def write_table(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._n_pending += table.num_rows
        if self._n_pending >= self.ROW_GROUP_ROWS:
            merged = pa.concat_tables(self._pending)
            full = (self._n_pending // self.ROW_GROUP_ROWS) * self.ROW_GROUP_ROWS
            self._writer.write_table(merged.slice(0, full), row_group_size=self.ROW_GROUP_ROWS)
            rest = merged.slice(full)
            self._pending = [rest] if rest.num_rows else []
            self._n_pending = rest.num_rows

    def close(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending),
                                     row_group_size=self.ROW_GROUP_ROWS)
        self._writer.close()


def _open_writer(path: Path, arrow_schema: pa.Schema, fmt: str):
    if fmt == "csv":
        return _CsvFile(path, arrow_schema)
    return _ParquetFile(path, arrow_schema)
