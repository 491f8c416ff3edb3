"""Pure survival and proportion statistics (no registry knowledge)."""

from .cox import (
    CoxConvergenceWarning,
    CoxResult,
    MonotoneLikelihoodWarning,
    SingularDesignWarning,
    cox_ph,
)
from .km import kaplan_meier, median_follow_up, number_at_risk
from .logrank import SingularVarianceWarning, logrank_test, logrank_trend_test
from .proportions import binomial_ci
from .tests import chi_square_test, fisher_exact_test, kruskal_wallis_test, wilcoxon_rank_sum_test

__all__ = [
    "CoxConvergenceWarning",
    "CoxResult",
    "MonotoneLikelihoodWarning",
    "SingularDesignWarning",
    "SingularVarianceWarning",
    "binomial_ci",
    "chi_square_test",
    "fisher_exact_test",
    "cox_ph",
    "kaplan_meier",
    "kruskal_wallis_test",
    "logrank_test",
    "logrank_trend_test",
    "median_follow_up",
    "number_at_risk",
    "wilcoxon_rank_sum_test",
]
