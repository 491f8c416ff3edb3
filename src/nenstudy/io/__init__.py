"""Readers that load registry source files (CSV, Parquet, XLSX) into DuckDB."""
