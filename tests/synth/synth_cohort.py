"""Cohort and outcome helpers computed from generated tables (for plausibility tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nenstudy.registry import schema
from nenstudy.synth.generator import generate_registry
from nenstudy.synth.parameters import ParameterSet

DAYS_PER_MONTH = 30.4375


def ep_nec_cohort(diagnoses: pd.DataFrame) -> pd.DataFrame:
    """Pure-histology extra-pulmonary NEC diagnoses (typed or derived category NEC)."""
    d = diagnoses
    nec = (d["differentiation"] == "poor") | (d["differentiation"].isna() & (d["who_category"] == "NEC"))
    pure = d["non_ne_component_pct"].fillna(0) == 0
    return d[nec & pure & (d["site_group_derived"] != "lung")]


def advanced(d: pd.DataFrame) -> pd.Series:
    """Metastatic, or locally advanced and not resectable."""
    return (d["stage"] == "metastatic") | ((d["stage"] == "locally_advanced") & (d["resectable"] != True))  # noqa: E712


def died_within(d: pd.DataFrame, follow_up: pd.DataFrame, months: float) -> pd.Series:
    """Whether each diagnosis' patient died within ``months`` of diagnosis (bool per row)."""
    f = d[["patient_id", "diagnosis_date"]].merge(follow_up, on="patient_id", how="left")
    days = (pd.to_datetime(f["death_date"]) - pd.to_datetime(f["diagnosis_date"])).dt.days
    return pd.Series(np.asarray(days.le(months * DAYS_PER_MONTH)), index=d.index)


def registry_frames(seed: int, scale: float, params: ParameterSet | None = None) -> dict[str, pd.DataFrame]:
    """Generate a registry as data frames, with the derived site group added to diagnoses."""
    frames = {name: t.to_pandas() for name, t in generate_registry(seed, scale, params).items()}
    d = frames["diagnoses"]
    d["site_group_derived"] = d["primary_site"].map(schema.site_group_for)
    return frames
