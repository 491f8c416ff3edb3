"""Open a registry store read-only for a study run and check the columns the study reads.

The study never writes to the registry: the store file is attached read-only (as ``reg``) to
an in-memory DuckDB database, where the study's own tables (cohort, endpoints) live and vanish
with the connection.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from nenstudy.registry.schema import SCHEMA_VERSION

__all__ = ["StoreLayoutError", "REQUIRED_COLUMNS", "open_store", "attach_connection"]

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id", "sex", "birth_date"),
    "diagnoses": (
        "diagnosis_id", "patient_id", "diagnosis_date", "mdt_date", "primary_site", "site_group",
        "site_group_reported", "morphology", "differentiation", "cell_type", "ki67_pct",
        "mitoses_per_2mm2", "non_ne_component_pct", "necrosis", "who_category",
        "who_category_reported", "stage", "resectable", "metastases_timing", "ecog_ps",
        "karnofsky", "pure_histology", "advanced", "metastatic",
    ),
    "molecular_tests": ("patient_id", "test_date", "assay", "gene", "alteration", "msi_status", "tmb"),
    "treatments": (
        "patient_id", "modality", "line", "agents", "start_date", "end_date", "best_response",
        "progression_date", "last_assessment_date",
    ),
    "follow_up": ("patient_id", "last_contact_date", "vital_status", "death_date"),
}
"""Registry tables and columns the study engine reads (the store layout of registry_spec)."""


class StoreLayoutError(ValueError):
    """A registry store that lacks a table or column the study reads."""


def attach_connection(store: Path) -> duckdb.DuckDBPyConnection:
    """Return an in-memory connection with ``store`` attached read-only as ``reg``.

    Parameters
    ----------
    store : Path
        A DuckDB registry store file.

    Returns
    -------
    duckdb.DuckDBPyConnection

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    StoreLayoutError
        When the file is not a DuckDB database.
    """
    store = Path(store)
    if not store.is_file():
        raise FileNotFoundError(f"{store}: no such registry store file")
    with open(store, "rb") as handle:
        head = handle.read(12)
    if head[8:12] != b"DUCK":  # a DuckDB database file says so in its first bytes
        raise StoreLayoutError(
            f"{store}: not a DuckDB database (a registry store is the .duckdb file that "
            "`nenstudy import` writes; a registry folder is given as the folder)")
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH ? AS reg (READ_ONLY)", [str(store)])
    except duckdb.Error as err:
        con.close()
        raise StoreLayoutError(f"{store}: not a readable DuckDB registry store ({err})") from None
    return con


def open_store(store: Path) -> duckdb.DuckDBPyConnection:
    """Attach a store read-only and check that every table and column the study reads exists.

    Parameters
    ----------
    store : Path
        A DuckDB registry store file.

    Returns
    -------
    duckdb.DuckDBPyConnection
        In-memory connection with the store attached as ``reg``.

    Raises
    ------
    StoreLayoutError
        Naming the missing table or columns.
    """
    con = attach_connection(store)
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = 'reg'"
    ).fetchall()
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(table, set()).add(column)
    problems = []
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in present:
            problems.append(f"table {table!r} is missing")
            continue
        missing = [c for c in columns if c not in present[table]]
        if missing:
            problems.append(f"table {table!r} lacks column(s) {', '.join(missing)}")
    if problems:
        version = _schema_version(con) if "_meta" in present else None
        con.close()
        if version is not None and version.isdigit() and int(version) > int(SCHEMA_VERSION):
            raise StoreLayoutError(
                f"{store}: a registry store of schema version {version}, written by a newer "
                f"nenstudy (this one reads schema version {SCHEMA_VERSION}): "
                f"{'; '.join(problems)}; upgrade nenstudy"
            )
        if version is not None and version != SCHEMA_VERSION:
            raise StoreLayoutError(
                f"{store}: a registry store of schema version {version}, which lacks what this "
                f"nenstudy reads (schema version {SCHEMA_VERSION}): {'; '.join(problems)}; "
                "import the registry folder again with `nenstudy import`"
            )
        raise StoreLayoutError(
            f"{store}: not a nenstudy registry store: {'; '.join(problems)} "
            "(import the registry folder with `nenstudy import`)"
        )
    return con


def _schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The schema version a store records in ``_meta`` (None when it cannot be read)."""
    try:
        row = con.execute("SELECT value FROM reg._meta WHERE key = 'schema_version'").fetchone()
    except duckdb.Error:
        return None
    return None if row is None else str(row[0])
