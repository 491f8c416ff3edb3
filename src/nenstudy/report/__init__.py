"""Report layer: tables, figures and documents built from a study run's results.

The public names are imported on first use, so that a process needing only part of the report
(e.g. the figure helper process, which imports ``nenstudy.report.figures``) does not pay for
the Word, Excel and HTML writers.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["build_report", "load_results", "ResultsError", "suppress_count"]

_HOMES = {"build_report": ".build", "load_results": ".results", "ResultsError": ".results",
          "suppress_count": ".suppression"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
