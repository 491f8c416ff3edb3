"""Report layer: tables, figures and documents built from a study run's results."""
