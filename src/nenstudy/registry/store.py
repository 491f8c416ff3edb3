"""The registry store: a DuckDB file built by a validated, all-or-nothing import.

:func:`import_registry` reads each source file once, typing and checking it on the way, straight
into a new DuckDB file next to the target (:func:`nenstudy.registry.validation.validate_into`).
Only when no error is found are the check columns dropped, the remaining derived column added and
the file atomically renamed over the target; otherwise the new file is deleted: a failed import
leaves an existing store byte-for-byte as it was. The store holds one
table per schema table (columns typed as the schema says; diagnoses with the derived columns),
plus ``_meta`` (schema and software version, source digest), ``_source_files`` (one row per
source file with its SHA-256) and ``_import_log`` (one row per import into this path). Rows are
written in source-file order, so importing the same source again yields the same tables.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import duckdb

from nenstudy import __version__
from nenstudy.registry import sql
from nenstudy.registry.schema import DAYS_PER_YEAR, SCHEMA, SCHEMA_VERSION, TABLE_NAMES
from nenstudy.registry.sources import LoadedSource
from nenstudy.registry.validation import (
    DEFAULT_MEMORY_LIMIT,
    ValidationError,
    ValidationReport,
    connect_work_db,
    drop_views,
    validate_into,
)

__all__ = [
    "ImportSummary",
    "StoreTargetError",
    "import_registry",
    "open_store",
    "summarize",
    "source_digest",
    "folder_digest",
    "DEFAULT_MEMORY_LIMIT",
    "STORAGE_VERSION",
]


STORAGE_VERSION = "v1.3.0"
"""DuckDB storage format of the stores written (with DuckDB 1.3 or later installed).

A store must open wherever its users look at it: R's duckdb package, the DuckDB command line,
DBeaver, which often lag behind the Python package. DuckDB 2.0 writes by default a format that
versions before 2.0 cannot open; the v1.3.0 format opens in DuckDB 1.3 and every later version.
It imported 10^6 patients as fast as the 2.0 format (older formats, v1.0.0 and v1.2.0, took
about 7% longer). An older installed DuckDB writes its own format, which later ones read.
"""


class StoreTargetError(RuntimeError):
    """The path given for the store cannot be written: nothing was read or changed."""


def _check_target(db_path: Path) -> None:
    """Refuse a target that is not (yet) a registry store, or that another program holds.

    An existing file is replaced only when it is a nenstudy store: a mistyped ``--registry``
    must never overwrite a source file, a spreadsheet or another database.
    """
    if db_path.with_name(db_path.name + ".wal").exists():
        raise StoreTargetError(
            f"{db_path} has a pending write-ahead log ({db_path.name}.wal): another program may "
            "have it open, or it was not closed cleanly; open it once with DuckDB and retry"
        )
    if not db_path.exists():
        return
    if not db_path.is_file():
        raise StoreTargetError(f"{db_path} exists and is not a file; give the path of a "
                               "DuckDB file to create or replace")
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0]
        if "lock" in reason.lower():
            raise StoreTargetError(
                f"{db_path} is open in another program (DuckDB: {reason}); close it and retry"
            ) from None
        raise StoreTargetError(
            f"{db_path} exists and is not a DuckDB database; the import replaces only a "
            "nenstudy registry store: choose another path or move the file away"
        ) from None
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        try:
            keys = {r[0] for r in con.execute("SELECT key FROM _meta").fetchall()}
        except duckdb.Error:
            keys = set()
    finally:
        con.close()
    # a store of any schema version records its version and digest, and holds the patients
    # (another program's file may happen to hold a table named _meta)
    if not ({"_meta", "patients"} <= names and {"schema_version", "source_digest"} <= keys):
        raise StoreTargetError(
            f"{db_path} is a DuckDB database but not a nenstudy registry store; the import "
            "replaces only a registry store: choose another path or move the file away"
        )


def source_digest(hashes: Mapping[str, str]) -> str:
    """The digest of a registry's data: SHA-256 over each table's name and the SHA-256 of its
    file, by table name. The same for a folder (:func:`folder_digest`) and for the store imported
    from it (``_meta.source_digest``), whenever and wherever it was imported."""
    return hashlib.sha256("".join(f"{n}:{hashes[n]};" for n in sorted(hashes)).encode()).hexdigest()


def folder_digest(source: Path) -> str:
    """:func:`source_digest` of a registry folder: only its table files count (not the record
    nenstudy keeps of what it wrote, nor other files).

    Raises
    ------
    ValueError
        When a table has no file, or more than one.
    """
    from nenstudy.registry.csvshape import byte_pass
    from nenstudy.registry.sources import find_source_files

    matched, _ = find_source_files(Path(source))
    hashes = {}
    for table, paths in matched.items():
        if len(paths) != 1:
            raise ValueError(f"{source}: table {table} has {len(paths)} files; expected one")
        hashes[table] = byte_pass(paths[0], digest=True, lines=False)[0]
    return source_digest(hashes)


def _storage_option() -> str:
    """The ATTACH option choosing :data:`STORAGE_VERSION`."""
    return f" (STORAGE_VERSION {sql.literal(STORAGE_VERSION)})"


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote.

    Attributes
    ----------
    db_path
        The store written.
    report
        The validation report (no errors; possibly warnings).
    rows
        Rows written per table.
    source_digest
        SHA-256 over the source files' digests (also in ``_meta``).
    seconds
        Wall time of validation and import.
    stage_seconds
        Wall time of each stage: ``read`` and ``cross_checks`` (see
        :attr:`ValidationReport.seconds`), then ``store`` (check columns dropped, derived column
        added, metadata written, file checkpointed and renamed into place).
    """

    db_path: Path
    report: ValidationReport
    rows: Mapping[str, int]
    source_digest: str
    seconds: float
    stage_seconds: Mapping[str, float] = field(default_factory=dict)


def _finish_store_tables(con: duckdb.DuckDBPyConnection, loaded: LoadedSource) -> dict[str, int]:
    """Turn the validated tables of ``store`` into the store tables; return rows per table.

    Drops the check columns (a catalogue change: no data is rewritten) and adds
    ``age_at_diagnosis`` from the patients' birth dates. No checkpoint comes first: with CSV
    sources it made no difference, and with Parquet sources whose row groups are smaller than
    DuckDB's it cost a rewrite of those row groups that the final checkpoint does anyway
    (10^6 patients: store stage 1.2 -> 0.8 s).
    """
    drop_views(con)
    rows: dict[str, int] = {}
    for table in SCHEMA:
        con.execute(f"ALTER TABLE store.{table.name} DROP COLUMN _problems")
        if loaded.files[table.name].row_column:
            con.execute(f"ALTER TABLE store.{table.name} DROP COLUMN _row")
        rows[table.name] = loaded.files[table.name].n_rows
    con.execute("ALTER TABLE store.diagnoses ADD COLUMN age_at_diagnosis DOUBLE")
    con.execute(
        "UPDATE store.diagnoses AS d SET age_at_diagnosis = "
        f"datediff('day', p.birth_date, d.diagnosis_date) / {DAYS_PER_YEAR} "
        "FROM store.patients AS p WHERE d.patient_id = p.patient_id"
    )
    return rows


def _write_metadata(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedSource,
    hashes: dict[str, str],
    source: Path,
    digest: str,
    rows: dict[str, int],
    previous_log: list[tuple],
) -> None:
    from nenstudy.folders import synthetic_record

    meta = [["schema_version", SCHEMA_VERSION], ["source_digest", digest],
            ["tables", ",".join(TABLE_NAMES)]]
    synthetic = synthetic_record(source)
    if synthetic is not None and synthetic["source_digest"] == digest:
        # the data are those nenstudy synth wrote, unchanged
        meta += [["synthetic_seed", str(synthetic["seed"])],
                 ["synthetic_scale", repr(synthetic["scale"])]]
    con.execute("CREATE TABLE store._meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.executemany("INSERT INTO store._meta VALUES (?, ?)", meta)
    con.execute(
        "CREATE TABLE store._source_files (table_name VARCHAR, file_name VARCHAR, "
        "format VARCHAR, encoding VARCHAR, sha256 VARCHAR, n_rows BIGINT)"
    )
    con.executemany(
        "INSERT INTO store._source_files VALUES (?, ?, ?, ?, ?, ?)",
        [
            [name, f.path.name, f.format, f.encoding, hashes[name], f.n_rows]
            for name, f in sorted(loaded.files.items())
        ],
    )
    con.execute(
        "CREATE TABLE store._import_log (imported_at TIMESTAMP, source VARCHAR, "
        "source_digest VARCHAR, nenstudy_version VARCHAR, schema_version VARCHAR, "
        "n_patients BIGINT)"
    )
    if previous_log:
        con.executemany("INSERT INTO store._import_log VALUES (?, ?, ?, ?, ?, ?)", previous_log)
    con.execute(
        "INSERT INTO store._import_log VALUES (?, ?, ?, ?, ?, ?)",
        [
            _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None),
            str(Path(source).resolve()),  # the folder read, wherever the import ran from
            digest,
            __version__,
            SCHEMA_VERSION,
            rows["patients"],
        ],
    )


def _previous_import_log(db_path: Path) -> list[tuple]:
    """Rows of the ``_import_log`` of an existing store (empty when there is none to read)."""
    if not db_path.is_file():
        return []
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:
        return []  # locked by another program or not a DuckDB file: the log starts afresh
    wanted = ("imported_at", "source", "source_digest", "nenstudy_version", "schema_version",
              "n_patients")
    try:
        present = {r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = '_import_log'"
        ).fetchall()}
        if "imported_at" not in present:
            return []
        # a store of an older schema may lack a column: its history is kept all the same
        columns = ", ".join(sql.ident(c) if c in present else "NULL" for c in wanted)
        return con.execute(
            f"SELECT {columns} FROM _import_log ORDER BY imported_at"
        ).fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()


SPILL_PREFIX = "nenstudy-import-"
"""Prefix of the temporary folder an import spills to (then its process id and ``-``)."""


def _remove_stale(folder: Path, prefix: str, suffix: str) -> None:
    """Remove what imports killed outright (SIGKILL, power loss) left: ``prefix<pid>...suffix``
    files or folders in ``folder`` whose process is gone."""
    import shutil

    if os.name == "nt":  # os.kill(pid, 0) would end the process there
        return
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix):len(name) - len(suffix)].split(".")[0].split("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                _remove(entry)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def import_registry(
    source: Path,
    db_path: Path,
    *,
    show_identifiers: bool = False,
    threads: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
) -> ImportSummary:
    """Validate a registry source folder and import it into a DuckDB store, all or nothing.

    Parameters
    ----------
    source
        Folder with one ``<table>.csv``, ``<table>.parquet`` or ``<table>.xlsx`` per table.
    db_path
        The DuckDB store to create or replace (through a symbolic link: the file it points
        to). A replaced store's permissions, owner and group are kept where the system allows.
    show_identifiers
        Show identifier values in the problems of the validation report.
    threads
        DuckDB threads (default: DuckDB's choice, the number of cores).
    memory_limit
        DuckDB memory limit, e.g. ``"2GB"``; beyond it DuckDB spills to a temporary folder.

    Returns
    -------
    ImportSummary

    Raises
    ------
    ValidationError
        When validation finds an error; ``.report`` lists every problem and ``db_path`` is
        untouched.
    StoreTargetError
        When ``db_path`` exists and is not a registry store (it is never overwritten), or has
        a pending write-ahead log, or is open in another program.
    """
    start = time.perf_counter()
    # A store reached through a symbolic link is replaced where the link points (the link is
    # kept), so that every path to it reads the new registry.
    source, db_path = Path(source), Path(os.path.realpath(db_path))
    _check_target(db_path)
    while True:
        created = [d for d in (db_path.parent, *db_path.parent.parents) if not d.exists()]
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with _import_lock(db_path) as locked:
            if not locked:
                continue  # a failed import removed the folder while this one waited: again
            try:
                _check_target(db_path)  # again: another import may have just finished
                return _import(source, db_path, start, show_identifiers, threads,
                               memory_limit)
            except BaseException:
                # Still under the lock, so no import waiting for it finds its folder gone
                # unawares; deepest first, only what this import made, and only if empty.
                for folder in created:
                    try:
                        folder.rmdir()
                    except OSError:
                        break
                raise


@contextlib.contextmanager
def _import_lock(db_path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on the store's folder while importing into it (no file is left).

    Imports into the same store then run one after the other, and each one's import log keeps
    the rows of the ones before it (imports into other stores of the folder wait too). Where
    ``fcntl`` is missing (Windows) imports are not serialised: the last to finish wins, with a
    log that may miss a concurrent import.

    Yields whether the folder locked is still the store's folder: a failed import removes the
    folders it created, possibly while another import waits for the lock on one of them.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield True
        return
    folder = os.open(db_path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        try:
            current = os.stat(db_path.parent)
        except FileNotFoundError:
            yield False
        else:
            yield os.path.samestat(os.fstat(folder), current)
    finally:
        os.close(folder)  # releases the lock


def _keep_access(db_path: Path, new: Path) -> None:
    """Give the new store file the permissions (and, where allowed, owner and group) of the
    store it replaces, before any data is written to it: a store kept private stays so."""
    try:
        old = os.stat(db_path)
    except FileNotFoundError:
        return
    os.chmod(new, stat.S_IMODE(old.st_mode))
    if hasattr(os, "chown"):
        try:
            os.chown(new, old.st_uid, old.st_gid)
        except PermissionError:  # only the owner's group, or root, may: keep the mode alone
            try:
                os.chown(new, -1, old.st_gid)
            except PermissionError:
                pass


def _import(
    source: Path,
    db_path: Path,
    start: float,
    show_identifiers: bool,
    threads: int | None,
    memory_limit: str | None,
) -> ImportSummary:
    """The import proper (see :func:`import_registry`), into an existing folder."""
    tmp_store = db_path.with_name(f".{db_path.name}.{os.getpid()}.importing")
    _remove(tmp_store)
    for suffix in (".importing", ".importing.wal"):
        _remove_stale(db_path.parent, f".{db_path.name}.", suffix)
    _remove_stale(Path(tempfile.gettempdir()), SPILL_PREFIX, "")
    with tempfile.TemporaryDirectory(prefix=f"{SPILL_PREFIX}{os.getpid()}-") as spill:
        con = connect_work_db(threads=threads, memory_limit=memory_limit, temp_dir=Path(spill))
        try:
            # Atomicity comes from building a new file and renaming it over the target.
            con.execute(f"ATTACH {sql.literal(str(tmp_store))} AS store{_storage_option()}")
            _keep_access(db_path, tmp_store)
            # The files are hashed (from the page cache) while DuckDB reads them.
            report, loaded = validate_into(
                con, source, catalog="store", show_identifiers=show_identifiers, digests=True
            )
            if not report.ok:
                raise ValidationError(report)
            hashes = {name: f.sha256 for name, f in loaded.files.items() if f.sha256}
            assert len(hashes) == len(loaded.files) == len(SCHEMA)
            digest = source_digest(hashes)
            finishing = time.perf_counter()
            previous_log = _previous_import_log(db_path)
            rows = _finish_store_tables(con, loaded)
            _write_metadata(con, loaded, hashes, source, digest, rows, previous_log)
            con.execute("CHECKPOINT store")
            con.execute("DETACH store")
        except BaseException:
            try:
                con.interrupt()
                con.close()
            except duckdb.Error:  # still busy: the file is removed all the same
                pass
            _remove(tmp_store)
            raise
        con.close()
    try:  # a failed or interrupted rename (an immutable store, a signal) leaves no copy behind
        os.replace(tmp_store, db_path)
    except BaseException:
        _remove(tmp_store)
        raise
    end = time.perf_counter()
    return ImportSummary(
        db_path=db_path,
        report=report,
        rows=rows,
        source_digest=digest,
        seconds=end - start,
        stage_seconds={**report.seconds, "store": end - finishing},
    )


def open_store(db_path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a registry store.

    Parameters
    ----------
    db_path
        The DuckDB file written by :func:`import_registry`.
    read_only
        Open read-only (the default; several readers may share the file).

    Returns
    -------
    duckdb.DuckDBPyConnection

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    ValueError
        When the file is not a registry store (no ``_meta`` table).
    """
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"no registry store at {db_path}")
    con = duckdb.connect(str(db_path), read_only=read_only)
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "_meta" not in names or not set(TABLE_NAMES) <= names:
        con.close()
        raise ValueError(f"{db_path} is not a nenstudy registry store")
    return con


def summarize(db_path: Path) -> dict[str, Any]:
    """Summarise what a registry store holds.

    Returns
    -------
    dict
        ``tables`` (rows per table), ``patients``, ``diagnoses``, ``by_who_category`` and
        ``by_site_group`` (diagnoses per category, largest first), ``source_digest`` and
        ``schema_version``.
    """
    con = open_store(db_path)
    try:
        tables = {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            for name in TABLE_NAMES
        }
        meta = dict(con.execute("SELECT key, value FROM _meta").fetchall())

        def counts(column: str) -> dict[str, int]:
            return {
                str(k): int(n)
                for k, n in con.execute(
                    f"SELECT {column}, count(*) AS n FROM diagnoses GROUP BY 1 "
                    "ORDER BY n DESC, 1"
                ).fetchall()
            }

        return {
            "tables": tables,
            "patients": tables["patients"],
            "diagnoses": tables["diagnoses"],
            "by_who_category": counts("who_category"),
            "by_site_group": counts("site_group"),
            "source_digest": meta.get("source_digest"),
            "schema_version": meta.get("schema_version"),
        }
    finally:
        con.close()
