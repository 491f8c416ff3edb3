"""Pure survival and proportion statistics (no registry knowledge)."""

from .km import kaplan_meier, median_follow_up, number_at_risk
from .logrank import logrank_test, logrank_trend_test

__all__ = [
    "kaplan_meier",
    "logrank_test",
    "logrank_trend_test",
    "median_follow_up",
    "number_at_risk",
]
