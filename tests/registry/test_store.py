"""The store: typed tables with derived columns, all-or-nothing and idempotent imports."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import duckdb
import pytest

from .conftest import good_rows, write_registry
from nenstudy.registry.schema import SCHEMA, TABLE_NAMES
from nenstudy.registry.store import (
    StoreTargetError,
    STORAGE_VERSION,
    _storage_option,
    import_registry,
    open_store,
    summarize,
)
from nenstudy.registry.validation import ValidationError


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(db: Path) -> dict[str, list[tuple]]:
    con = open_store(db)
    try:
        return {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in TABLE_NAMES}
    finally:
        con.close()


def test_store_column_types_follow_the_schema(good_registry: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    con = open_store(db)
    for table in SCHEMA:
        described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table.name}").fetchall()]
        assert described == list(table.store_columns())


def test_failed_import_leaves_existing_store_byte_for_byte(
    good_registry: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    before = _sha(db)
    rows = good_rows()
    rows["patients"][0]["birth_date"] = "14/03/1950"
    bad = write_registry(tmp_path / "bad", rows)
    with pytest.raises(ValidationError) as caught:
        import_registry(bad, db)
    assert caught.value.report.n_errors == 1
    assert _sha(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "registry", "store.duckdb"]


def test_failed_import_creates_no_store(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"][0]["sex"] = "?"
    with pytest.raises(ValidationError):
        import_registry(write_registry(tmp_path / "bad", rows), tmp_path / "store.duckdb")
    assert not (tmp_path / "store.duckdb").exists()


def test_reimport_of_same_source_gives_same_tables(good_registry: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    first = import_registry(good_registry, db)
    tables = _tables(db)
    second = import_registry(good_registry, db)
    assert _tables(db) == tables
    assert first.source_digest == second.source_digest


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_reimport_keeps_the_store_files_permissions(good_registry: Path, tmp_path: Path) -> None:
    db = tmp_path / "reg.duckdb"
    import_registry(good_registry, db)
    os.chmod(db, 0o600)
    import_registry(good_registry, db)
    assert db.stat().st_mode & 0o777 == 0o600


def test_a_store_reached_through_a_link_is_replaced_where_it_points(
    good_registry: Path, tmp_path: Path
) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "store.duckdb"
    import_registry(good_registry, real)
    before = real.stat().st_mtime_ns
    link = tmp_path / "current.duckdb"
    link.symlink_to(real)
    import_registry(good_registry, link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.stat().st_mtime_ns != before
    with duckdb.connect(str(real), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM _import_log").fetchone()[0] == 2


def test_import_log_records_each_import_with_source_digest(
    good_registry: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store.duckdb"
    summary = import_registry(good_registry, db)
    import_registry(good_registry, db)
    con = open_store(db)
    log = con.execute("SELECT source_digest FROM _import_log").fetchall()
    files = con.execute("SELECT table_name, sha256 FROM _source_files ORDER BY 1").fetchall()
    assert log == [(summary.source_digest,)] * 2
    sha = hashlib.sha256((good_registry / "patients.csv").read_bytes()).hexdigest()
    assert ("patients", sha) in files


def test_import_log_names_the_source_folder_by_its_absolute_path(
    good_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(good_registry.parent)
    db = tmp_path / "store.duckdb"
    import_registry(Path(good_registry.name), db)
    with duckdb.connect(str(db), read_only=True) as con:
        (source,) = con.execute("SELECT source FROM _import_log").fetchone()
    assert Path(source) == good_registry.resolve()


def test_import_of_other_data_replaces_tables(good_registry: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    rows = good_rows()
    rows["diagnoses"][2]["ki67_pct"] = "60"
    import_registry(write_registry(tmp_path / "other", rows), db)
    con = open_store(db)
    assert con.execute("SELECT ki67_pct FROM diagnoses WHERE diagnosis_id = 'D003'"
                       ).fetchall() == [(60.0,)]


def _diagnosis(db: Path, diagnosis_id: str, column: str):
    con = open_store(db)
    try:
        return con.execute(f"SELECT {column} FROM diagnoses WHERE diagnosis_id = ?",
                           [diagnosis_id]).fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture
def store(good_registry: Path, tmp_path: Path) -> Path:
    rows = good_rows()
    rows["diagnoses"][1]["who_category"] = "NET G2"  # derived: NET G1 (warning)
    rows["diagnoses"][0]["site_group"] = "lung"  # derived: GEP (warning)
    rows["diagnoses"][2]["non_ne_component_pct"] = "40"  # MiNEN
    db = tmp_path / "store.duckdb"
    import_registry(write_registry(tmp_path / "src", rows), db)
    return db


@pytest.mark.parametrize(
    "diagnosis_id, column, expected",
    [
        ("D002", "who_category", "NET G1"),
        ("D002", "who_category_reported", "NET G2"),
        ("D001", "site_group", "GEP"),
        ("D001", "site_group_reported", "lung"),
        ("D003", "site_group", "other_extrapulmonary"),
        ("D003", "who_category", "MiNEN"),
        ("D003", "pure_histology", False),
        ("D001", "pure_histology", True),
        ("D002", "ecog_ps", 1),
        ("D001", "advanced", True),
        ("D002", "advanced", False),
        ("D003", "advanced", True),
        ("D003", "metastatic", False),
        ("D001", "metastatic_sites", ["liver", "nodes"]),
    ],
)
def test_store_holds_derived_columns(store: Path, diagnosis_id: str, column: str, expected) -> None:
    assert _diagnosis(store, diagnosis_id, column) == expected


def test_age_at_diagnosis_in_years(store: Path) -> None:
    age = _diagnosis(store, "D001", "age_at_diagnosis")
    days = (dt.date(2019, 2, 1) - dt.date(1950, 3, 14)).days
    assert age == pytest.approx(days / 365.25, abs=1e-12)


def test_summarize_counts_tables_and_categories(store: Path) -> None:
    summary = summarize(store)
    assert summary["tables"] == {t: 3 for t in TABLE_NAMES}
    assert summary["patients"] == 3
    assert summary["by_who_category"] == {"MiNEN": 1, "NEC": 1, "NET G1": 1}
    assert summary["by_site_group"] == {"GEP": 2, "other_extrapulmonary": 1}


@pytest.mark.skipif(
    not _storage_option(), reason="DuckDB before 1.3 writes its own, older storage format"
)
def test_store_is_written_in_a_format_older_duckdb_versions_open(
    good_registry: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store.duckdb"
    import_registry(good_registry, db)
    con = open_store(db)
    try:
        tags = con.execute(
            "SELECT tags FROM duckdb_databases() WHERE database_name = 'store'"
        ).fetchone()[0]
    finally:
        con.close()
    # The format the store was written in, not the newest one the installed DuckDB knows.
    assert tags["storage_version"].startswith(STORAGE_VERSION)


def test_open_store_rejects_a_foreign_database(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(ValueError, match="not a nenstudy registry store"):
        open_store(db)


def test_open_store_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_store(tmp_path / "none.duckdb")


def test_schema_round_trips_through_store_export(good_registry: Path, tmp_path: Path) -> None:
    """Store -> source files (typed-in values back in their columns) -> store gives the same."""
    first, second = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    import_registry(good_registry, first)
    export = tmp_path / "export"
    export.mkdir()
    con = open_store(first)
    for table in SCHEMA:
        cols = []
        for column in table.columns:
            name = column.name
            if table.name == "diagnoses" and name in ("site_group", "who_category"):
                expr = f"{name}_reported"
            elif table.name == "diagnoses" and name == "ecog_ps":
                expr = "CASE WHEN karnofsky IS NULL THEN ecog_ps END"
            elif column.dtype == "list":
                expr = f"array_to_string({name}, ';')"
            else:
                expr = name
            cols.append(f"{expr} AS {name}")
        con.execute(f"COPY (SELECT {', '.join(cols)} FROM {table.name}) "
                    f"TO '{export / (table.name + '.csv')}' (HEADER)")
    con.close()
    import_registry(export, second)
    assert _tables(first) == _tables(second)


def test_import_reports_the_time_of_each_stage(good_registry: Path, tmp_path: Path) -> None:
    summary = import_registry(good_registry, tmp_path / "store.duckdb")
    assert list(summary.stage_seconds) == ["read", "cross_checks", "store"]
    assert all(s >= 0 for s in summary.stage_seconds.values())
    assert sum(summary.stage_seconds.values()) <= summary.seconds
    assert summary.report.seconds == {k: summary.stage_seconds[k] for k in ("read", "cross_checks")}


@pytest.mark.parametrize("kind", ["text", "source_csv", "foreign_duckdb", "foreign_meta",
                                  "folder"])
def test_import_never_overwrites_what_is_not_a_registry_store(
    kind: str, good_registry: Path, tmp_path: Path
) -> None:
    if kind == "text":
        target = tmp_path / "notes.txt"
        target.write_text("minutes of the MDT\n")
    elif kind == "source_csv":
        target = good_registry / "patients.csv"  # a mistyped --registry
    elif kind == "foreign_duckdb":
        target = tmp_path / "other.duckdb"
        con = duckdb.connect(str(target))
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        con.close()
    elif kind == "foreign_meta":  # another program's database with a table named _meta
        target = tmp_path / "invoices.duckdb"
        con = duckdb.connect(str(target))
        con.execute("CREATE TABLE _meta (key VARCHAR, value VARCHAR)")
        con.execute("INSERT INTO _meta VALUES ('owner', 'accounts')")
        con.execute("CREATE TABLE invoices AS SELECT 1 AS id")
        con.close()
    else:
        target = tmp_path / "folder.duckdb"
        target.mkdir()
    before = None if target.is_dir() else hashlib.sha256(target.read_bytes()).hexdigest()
    with pytest.raises(StoreTargetError, match="not"):
        import_registry(good_registry, target)
    after = None if target.is_dir() else hashlib.sha256(target.read_bytes()).hexdigest()
    assert before == after
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".importing")]


def test_import_with_a_pending_write_ahead_log_is_refused(good_registry: Path,
                                                          tmp_path: Path) -> None:
    target = tmp_path / "store.duckdb"
    import_registry(good_registry, target)
    (tmp_path / "store.duckdb.wal").write_bytes(b"")
    with pytest.raises(StoreTargetError, match="write-ahead log"):
        import_registry(good_registry, target)


def test_failed_import_leaves_no_folder_it_created(tmp_path: Path) -> None:
    rows = good_rows()
    rows["patients"][0]["sex"] = "X"
    source = write_registry(tmp_path / "bad", rows)
    with pytest.raises(ValidationError):
        import_registry(source, tmp_path / "new" / "deeper" / "store.duckdb")
    assert not (tmp_path / "new").exists()


def test_concurrent_imports_into_one_store_each_leave_a_log_row(good_registry: Path,
                                                                tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "store.duckdb"
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: import_registry(good_registry, target, threads=1), range(3)))
    con = open_store(target)
    try:
        assert con.execute("SELECT count(*) FROM _import_log").fetchone() == (3,)
    finally:
        con.close()


def test_an_import_waiting_on_a_folder_another_import_removed_starts_again(
    good_registry: Path, tmp_path: Path
) -> None:
    """A failed import removes the folders it made, under the lock; a waiting one recreates them."""
    import os
    import threading
    import time

    fcntl = pytest.importorskip("fcntl")
    folder = tmp_path / "new" / "sub"
    folder.mkdir(parents=True)
    held = os.open(folder, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # as a failing import holding the lock
    outcome: list = []
    waiting = threading.Thread(target=lambda: outcome.append(
        import_registry(good_registry, folder / "store.duckdb")))
    waiting.start()
    time.sleep(0.5)
    folder.rmdir()  # the failing import removes the folder it had made
    (tmp_path / "new").rmdir()
    os.close(held)
    waiting.join(timeout=60)
    assert outcome and (folder / "store.duckdb").is_file()


def test_an_import_removes_what_killed_imports_left(good_registry: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGKILLed import leaves its partial store and spill folder: the next import clears
    those of processes that are gone, and only those."""
    import subprocess
    import sys

    from nenstudy.registry import store

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    alive = str(os.getppid())
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(store.tempfile, "tempdir", str(spill_root))
    db = tmp_path / "store.duckdb"
    left = [tmp_path / f".store.duckdb.{gone}.importing",
            tmp_path / f".store.duckdb.{gone}.importing.wal",
            spill_root / f"{store.SPILL_PREFIX}{gone}-x1y2"]
    kept = [tmp_path / f".store.duckdb.{alive}.importing", tmp_path / ".other.duckdb.1.importing",
            spill_root / f"{store.SPILL_PREFIX}{alive}-a1b2"]
    for path in left + kept:
        if path.name.endswith("-x1y2") or path.name.endswith("-a1b2"):
            path.mkdir()
            (path / "spill.tmp").write_bytes(b"x")
        else:
            path.write_bytes(b"x")
    import_registry(good_registry, db)
    assert [p for p in left if p.exists()] == []
    assert all(p.exists() for p in kept)


def test_a_failed_rename_over_the_store_leaves_no_copy_behind(good_registry: Path,
                                                               tmp_path: Path,
                                                               monkeypatch) -> None:
    """An immutable store (chattr +i), or a signal at the rename: the store as before, and no
    full-size temporary copy left next to it."""
    target = tmp_path / "store.duckdb"
    import_registry(good_registry, target)
    before = _sha(target)

    def refused(src, dst):
        raise PermissionError(1, "Operation not permitted", str(src))

    monkeypatch.setattr("nenstudy.registry.store.os.replace", refused)
    with pytest.raises(PermissionError):
        import_registry(good_registry, target)
    assert _sha(target) == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_store_of_an_older_schema_is_replaced_with_its_import_history_kept(
    good_registry: Path, tmp_path: Path
) -> None:
    target = tmp_path / "store.duckdb"
    import_registry(good_registry, target)
    with duckdb.connect(str(target)) as con:  # as an older nenstudy wrote it
        con.execute("UPDATE _meta SET value = '1' WHERE key = 'schema_version'")
        con.execute("ALTER TABLE _import_log DROP COLUMN nenstudy_version")
    import_registry(good_registry, target)
    with duckdb.connect(str(target), read_only=True) as con:
        log = con.execute("SELECT nenstudy_version, n_patients FROM _import_log "
                          "ORDER BY imported_at").fetchall()
    assert len(log) == 2 and log[0][0] is None and log[1][0] is not None
    assert log[0][1] == log[1][1]
