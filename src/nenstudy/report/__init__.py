"""Report layer: tables, figures and documents built from a study run's results."""

from .build import build_report
from .results import ResultsError, load_results
from .suppression import suppress_count

__all__ = ["build_report", "load_results", "ResultsError", "suppress_count"]
