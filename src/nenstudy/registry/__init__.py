"""The NEN registry: schema, validation and the DuckDB store."""

DEFAULT_MEMORY_LIMIT = "2GB"
"""DuckDB memory limit of a validation or an import (DuckDB spills to a temporary folder beyond
it), so that a large registry does not take the memory of a shared machine. Kept here, away from
DuckDB, so that the command line can show it without loading DuckDB."""
