"""Pure survival and proportion statistics (no registry knowledge)."""

from .km import kaplan_meier, median_follow_up, number_at_risk
from .logrank import logrank_test, logrank_trend_test
from .proportions import binomial_ci

__all__ = [
    "binomial_ci",
    "kaplan_meier",
    "logrank_test",
    "logrank_trend_test",
    "median_follow_up",
    "number_at_risk",
]
