"""Pure survival and proportion statistics (no registry knowledge)."""

from .km import kaplan_meier, median_follow_up, number_at_risk

__all__ = [
    "kaplan_meier",
    "median_follow_up",
    "number_at_risk",
]
