"""Build a Cox model design matrix from a DataFrame with R's term naming and NA handling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["CoxDesign", "build_cox_design"]


@dataclass(frozen=True)
class CoxDesign:
    """Numeric inputs of a Cox fit after missing-row removal.

    Attributes
    ----------
    time, event : ndarray
        Follow-up times (float64) and event indicators (int8, 0/1) of the used rows.
    x : ndarray
        Design matrix, shape (n, p), float64, one column per model term level
        (column-major: each column is contiguous).
    strata : ndarray
        Integer stratum code (0..k-1) for each used row; all zero without strata.
    column_names : tuple of str
        R-style names of the design columns (``celltypesmallcell``, ``sexTRUE``).
    term_columns : dict
        Covariate (term) name -> indices of its design columns, in model order.
    n_dropped : int
        Rows removed because duration, event, a covariate or a stratum was missing.
    """

    time: np.ndarray
    event: np.ndarray
    x: np.ndarray
    strata: np.ndarray
    column_names: tuple[str, ...]
    term_columns: dict[str, tuple[int, ...]]
    n_dropped: int


def _levels(column: pd.Series) -> list:
    """Factor levels as R's model.frame would form them (before NA removal)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    values = column.dropna().unique()
    return sorted(values, key=lambda v: (str(type(v)), v))


def _is_categorical(column: pd.Series) -> bool:
    return (
        isinstance(column.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(column.dtype)
        or pd.api.types.is_string_dtype(column.dtype)
    )


def _is_logical(column: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(column.dtype):
        return True
    if pd.api.types.is_object_dtype(column.dtype):
        non_missing = column.dropna()
        return len(non_missing) > 0 and all(isinstance(v, (bool, np.bool_)) for v in non_missing)
    return False


def _as_float(values: pd.Series) -> np.ndarray:
    """Column as float64 (nullable extension types: missing values become NaN)."""
    numeric = pd.to_numeric(values, errors="raise")
    if isinstance(numeric.dtype, np.dtype):
        return numeric.to_numpy(dtype=np.float64)
    return numeric.to_numpy(dtype=np.float64, na_value=np.nan)


def _event_codes(values: pd.Series) -> np.ndarray:
    """Event indicator as R's Surv() reads it: logical, 0/1, or 1/2 (2 = event)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.int8)
    numeric = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
    if numeric.size and np.nanmax(numeric) == 2:
        numeric = numeric - 1.0
    bad = ~((numeric == 0.0) | (numeric == 1.0))
    if np.any(bad):
        raise ValueError(
            "event must be logical, 0/1 (1 = event) or 1/2 (2 = event); "
            f"found {np.unique(numeric[bad])[:5].tolist()}"
        )
    return numeric.astype(np.int8)


def build_cox_design(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    strata: str | Sequence[str] | None,
) -> CoxDesign:
    """Select, encode and clean the columns of a Cox model as R's ``coxph`` does.

    Numeric columns keep their name; logical columns become ``<name>TRUE``; categorical
    (pandas Categorical, string or object) columns give one 0/1 column per non-reference
    level named ``<name><level>``, the reference being the first level (categories order of
    a Categorical, else sorted distinct values). Rows with a missing value in any used
    column are dropped (R's ``na.omit``) and counted.

    Parameters
    ----------
    data : DataFrame
        One row per subject.
    duration, event : str
        Column names of follow-up time and event indicator.
    covariates : sequence of str
        Model terms, in order.
    strata : str, sequence of str or None
        Column(s) whose combinations define strata.

    Returns
    -------
    CoxDesign

    References
    ----------
    R Core Team. ``model.matrix`` with treatment contrasts; ``na.omit``.
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if isinstance(strata, str):
        strata_cols = [strata]
    elif strata is None:
        strata_cols = []
    else:
        strata_cols = list(strata)
    needed = [duration, event, *covariates, *strata_cols]
    missing_cols = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing_cols:
        raise KeyError(f"columns not in data: {missing_cols}")
    if len(set(covariates)) != len(covariates):
        raise ValueError("covariates must not repeat a column")

    complete = np.ones(len(data), dtype=bool)
    for name in dict.fromkeys(needed):
        complete &= data[name].notna().to_numpy()
    all_complete = bool(complete.all())
    n_dropped = int(len(data) - complete.sum())

    def _keep(values: np.ndarray) -> np.ndarray:
        return values if all_complete else values[complete]

    time = _keep(_as_float(data[duration]))
    if not np.all(np.isfinite(time)):
        raise ValueError("duration must be finite")
    status = _event_codes(data[event] if all_complete else data[event][complete])

    blocks: list[np.ndarray] = []
    names: list[str] = []
    term_columns: dict[str, tuple[int, ...]] = {}
    for name in covariates:
        column = data[name]
        start = len(names)
        if _is_logical(column):
            blocks.append(column[complete].astype(bool).to_numpy(dtype=np.float64, na_value=np.nan))
            names.append(f"{name}TRUE")
        elif _is_categorical(column):
            levels = _levels(column)
            used = column[complete]
            if isinstance(used.dtype, pd.CategoricalDtype):
                values = used.astype(object).to_numpy()
            else:
                values = used.to_numpy()
            for level in levels[1:]:
                blocks.append((values == level).astype(np.float64))
                names.append(f"{name}{level}")
        else:
            values = _keep(_as_float(column))
            if not np.all(np.isfinite(values)):
                raise ValueError(f"covariate {name!r} has infinite values")
            blocks.append(values)
            names.append(name)
        term_columns[name] = tuple(range(start, len(names)))
    n_used = int(complete.sum())
    columns = np.empty((len(blocks), n_used))
    for j, block in enumerate(blocks):
        columns[j] = block
    x = columns.T

    if strata_cols:
        keys = data.loc[complete, strata_cols]
        codes = keys.groupby(strata_cols, sort=True, observed=True, dropna=False).ngroup()
        strata_codes = codes.to_numpy(dtype=np.int64)
    else:
        strata_codes = np.zeros(n_used, dtype=np.int64)

    return CoxDesign(
        time=time,
        event=status,
        x=x,
        strata=strata_codes,
        column_names=tuple(names),
        term_columns=term_columns,
        n_dropped=n_dropped,
    )
