"""The NEN registry: schema, validation and the DuckDB store."""
