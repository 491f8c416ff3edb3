"""Reading a study run's results.json for the report, with clear errors for what is missing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["ResultsError", "load_results", "REQUIRED_KEYS"]

#: Paths (dotted) the report needs; everything else in results.json is optional for the report.
REQUIRED_KEYS = (
    "study", "study.conf_level", "attrition", "cohort_n", "baseline", "baseline.variables",
    "os", "os.n", "os.events", "os.median", "os.ci", "os.curve", "os.risk_table",
    "pfs", "pfs.n", "pfs.events", "pfs.median", "pfs.ci", "pfs.curve", "pfs.risk_table",
    "followup", "followup.median", "first_line", "first_line.treated", "first_line.eligible",
    "response_first_line", "orr_first_line", "orr_first_line.rate", "orr_first_line.ci",
    "later_lines", "later_lines.second", "later_lines.third", "provenance",
)


class ResultsError(ValueError):
    """results.json is missing, not JSON, or lacks something the report needs."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (results.json must use null for missing numbers)")


def _has(data: Any, dotted: str) -> bool:
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load_results(out_dir: Path) -> dict:
    """Read ``out_dir/results.json`` and check that the keys the report uses are present.

    Parameters
    ----------
    out_dir : Path
        The study run's output folder.

    Returns
    -------
    dict
        The parsed results.

    Raises
    ------
    ResultsError
        Naming the file and the first missing key (or the JSON error with its line and column).
    """
    path = Path(out_dir) / "results.json"
    if not path.is_file():
        raise ResultsError(f"{path}: not found; run the study first (nenstudy run ... --out {out_dir})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except ValueError as exc:
        raise ResultsError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    missing = [key for key in REQUIRED_KEYS if not _has(data, key)]
    if missing:
        raise ResultsError(f"{path}: missing key(s) the report needs: {', '.join(missing)}")
    for key in ("os", "pfs"):
        median = data[key]["median"]
        if median is not None and not (isinstance(median, (int, float)) and math.isfinite(median)):
            raise ResultsError(f"{path}: '{key}.median' must be a number or null, got {median!r}")
    return data
