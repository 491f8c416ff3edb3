"""Cox proportional-hazards regression that reproduces R survival's ``coxph``."""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _sps

from ._cox_kernel import (
    build_layout,
    cholesky_solve,
    generalized_cholesky,
    newton_raphson,
    sort_order,
)
from ._design import build_cox_design
from ._timefix import merge_near_ties
from .concordance import Concordance, concordance_index
from .zph import proportional_hazards_test

__all__ = [
    "cox_ph",
    "CoxResult",
    "TestStatistic",
    "CoxConvergenceWarning",
    "MonotoneLikelihoodWarning",
    "SingularDesignWarning",
]

_EPS = 1e-9
_TOLER_CHOL = float(np.finfo(float).eps ** 0.75)
_TOLER_INF = float(np.sqrt(_EPS))
_ITER_MAX = 20


class CoxConvergenceWarning(UserWarning):
    """Newton-Raphson ran out of iterations; estimates are the best found, not the MLE."""


class MonotoneLikelihoodWarning(CoxConvergenceWarning):
    """The likelihood converged while a coefficient was still running off to infinity."""


class SingularDesignWarning(UserWarning):
    """Design columns are linearly dependent; their coefficients are reported as NaN."""


class TestStatistic(NamedTuple):
    """A chi-square test: statistic, degrees of freedom, p-value."""

    statistic: float
    df: int
    p_value: float


@dataclass(frozen=True, eq=False)
class _FitData:
    """Arrays kept (read-only) for the lazily computed concordance and PH test."""

    time: np.ndarray
    event: np.ndarray
    x: np.ndarray
    linear_predictor: np.ndarray
    strata: np.ndarray
    estimable_terms: dict[str, tuple[int, ...]]
    estimable_columns: np.ndarray


@dataclass(frozen=True, eq=False)
class CoxResult:
    """Fitted Cox model (immutable).

    Attributes
    ----------
    params : DataFrame
        Indexed by term: ``coef``, ``se``, ``hazard_ratio``, ``lower``, ``upper`` (CI of the
        hazard ratio at ``conf_level``), ``z``, ``p_value`` (Wald).
    loglik, loglik_null : float
        Log partial likelihood at the estimate and at zero.
    iterations : int
        Newton-Raphson iterations (R's ``fit$iter``).
    n, events : int
        Rows used and events among them.
    n_dropped : int
        Rows dropped for a missing value (R's ``na.omit``).
    lr_test, wald_test, score_test : TestStatistic
        Likelihood-ratio, Wald and score (log-rank) tests of all coefficients.
    ties : str
        ``"efron"`` or ``"breslow"``.
    conf_level : float
        Confidence level of ``lower``/``upper``.
    covariates : tuple of str
        Model terms as given.
    strata : tuple of str
        Stratification columns (empty when none).
    converged : bool
        False when the iteration limit was reached (a warning was issued).
    covariance : DataFrame
        Variance-covariance matrix of the coefficients (inverse information).
    """

    _params: pd.DataFrame = field(repr=False)
    loglik: float
    loglik_null: float
    iterations: int
    n: int
    events: int
    n_dropped: int
    lr_test: TestStatistic
    wald_test: TestStatistic
    score_test: TestStatistic
    ties: str
    conf_level: float
    covariates: tuple[str, ...]
    strata: tuple[str, ...]
    converged: bool
    _covariance: pd.DataFrame = field(repr=False)
    _fit: _FitData = field(repr=False)

    @property
    def params(self) -> pd.DataFrame:
        """Coefficient table (a copy; the result itself never changes)."""
        return self._params.copy()

    @property
    def covariance(self) -> pd.DataFrame:
        """Variance-covariance matrix of the coefficients (a copy)."""
        return self._covariance.copy()

    @cached_property
    def concordance(self) -> Concordance:
        """``(c, std_err)``: Harrell's C of the linear predictor and its standard error.

        As ``summary(coxph(...))$concordance`` in R (pairs within strata, ties in the
        predictor count one half, infinitesimal-jackknife standard error).
        """
        fit = self._fit
        return concordance_index(fit.time, fit.event, fit.linear_predictor, fit.strata)

    def ph_test(self) -> pd.DataFrame:
        """Proportional-hazards test per term and ``GLOBAL`` (R ``cox.zph(fit)``).

        Uses R's defaults: ``transform = "km"``, ``terms = TRUE`` (one multi-df test per
        categorical covariate), score test with the full information matrix.

        Returns
        -------
        DataFrame
            Indexed by term plus ``"GLOBAL"``: ``chisq``, ``df``, ``p_value``.
        """
        return self._ph_table.copy()

    @cached_property
    def _ph_table(self) -> pd.DataFrame:
        fit = self._fit
        return proportional_hazards_test(
            fit.time,
            fit.event,
            fit.x[:, fit.estimable_columns],
            fit.linear_predictor,
            fit.strata,
            self.ties == "efron",
            fit.estimable_terms,
        )

    def _labelled_params(self) -> pd.DataFrame:
        """Coefficient table with the clinical column labels (HR, CI level, p)."""
        level = f"{100 * self.conf_level:g}%"
        return self.params.rename(
            columns={
                "hazard_ratio": "HR",
                "lower": f"lower {level}",
                "upper": f"upper {level}",
                "p_value": "p",
            }
        )

    def summary(self) -> str:
        """Plain-text summary in the layout of R's ``summary(coxph)``."""
        table = self._labelled_params()
        strata = f"; strata: {', '.join(self.strata)}" if self.strata else ""
        lines = [
            f"Cox proportional hazards (ties = {self.ties}{strata})",
            f"  n = {self.n}, events = {self.events}"
            + (f" ({self.n_dropped} rows dropped for missing values)" if self.n_dropped else ""),
            "",
            table.to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            f"Concordance = {self.concordance.c:.3f} (se = {self.concordance.std_err:.3f})",
        ]
        for label, test in (
            ("Likelihood ratio test", self.lr_test),
            ("Wald test            ", self.wald_test),
            ("Score (logrank) test ", self.score_test),
        ):
            lines.append(f"{label} = {test.statistic:.4g} on {test.df} df, p = {test.p_value:.3g}")
        lines.append(
            f"Log-likelihood = {self.loglik:.6g} (null {self.loglik_null:.6g}); "
            f"{self.iterations} Newton-Raphson iterations"
            + ("" if self.converged else " (did NOT converge)")
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        table = self._labelled_params().to_html(float_format=lambda v: f"{v:.4g}", border=0)
        strata = f"; strata: {html.escape(', '.join(self.strata))}" if self.strata else ""
        tests = "".join(
            f"<li>{name}: {t.statistic:.4g} on {t.df} df, p = {t.p_value:.3g}</li>"
            for name, t in (
                ("Likelihood ratio", self.lr_test),
                ("Wald", self.wald_test),
                ("Score (log-rank)", self.score_test),
            )
        )
        return (
            f"<div><strong>Cox proportional hazards</strong> (ties = {self.ties}{strata}); "
            f"n = {self.n}, events = {self.events}{table}"
            f"<p>Concordance = {self.concordance.c:.3f} (se = {self.concordance.std_err:.3f})</p>"
            f"<ul>{tests}</ul></div>"
        )


def _chi2(statistic: float, df: int) -> TestStatistic:
    p_value = float(_sps.chi2.sf(statistic, df)) if df > 0 else np.nan
    return TestStatistic(float(statistic), int(df), p_value)


def _wald_statistic(var: np.ndarray, coef: np.ndarray) -> float:
    """``b' V^-1 b`` with R's generalised Cholesky (``coxph.wtest``)."""
    lower, pivots, _ = generalized_cholesky(var, _TOLER_CHOL)
    return float(coef @ cholesky_solve(lower, pivots, coef))


def cox_ph(
    data: pd.DataFrame,
    duration: str = "time",
    event: str = "event",
    covariates: Sequence[str] = (),
    ties: str = "efron",
    strata: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
) -> CoxResult:
    """Fit a Cox proportional-hazards model, matching R's ``coxph`` to numerical precision.

    Parameters
    ----------
    data : DataFrame
        One row per subject.
    duration : str
        Column of follow-up times.
    event : str
        Column of event indicators: logical, 0/1 (1 = event) or 1/2 (2 = event), as R's Surv.
    covariates : sequence of str
        Model terms. Numeric columns enter as is (name kept); logical columns as
        ``<name>TRUE``; categorical columns (pandas Categorical, string or object) as one
        indicator per non-reference level named ``<name><level>``, the reference being the
        first category of a Categorical, else the smallest value.
    ties : {"efron", "breslow"}
        Handling of tied event times; R's default is Efron.
    strata : str or sequence of str, optional
        Column(s) defining strata with separate baseline hazards (R ``strata()``).
    conf_level : float
        Confidence level of the hazard-ratio intervals.

    Returns
    -------
    CoxResult

    Warns
    -----
    MonotoneLikelihoodWarning
        When the likelihood converged before a coefficient (R: "Loglik converged before
        variable ...; coefficient may be infinite").
    CoxConvergenceWarning
        When the iteration limit (20) was reached without convergence.
    SingularDesignWarning
        When design columns are collinear (their coefficients are NaN).

    Notes
    -----
    Rows with a missing value in any used column are dropped (``n_dropped``). Times that
    differ by less than ``sqrt(machine eps)`` are merged as ties (R's ``timefix``).
    Newton-Raphson starts at zero with centred and scaled covariates, uses step-halving and
    stops when the relative change of the log-likelihood is at most 1e-9 (R ``coxph.control``).
    If 20 iterations are not enough, the best iterate is returned with the inverse information
    at that point (R's variance in this case comes from a stale factorisation and is not
    reproduced) and :class:`CoxConvergenceWarning` is issued.

    The risk-set sums are computed once per distinct (stratum, time) with vectorised numpy
    (sort once, ``np.add.reduceat``, reverse cumulative sums), so heavy ties such as
    whole-day registry times make the fit faster, not slower.

    References
    ----------
    Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187-220.
    Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977;72:557-65.
    Therneau T, Grambsch P. Modeling Survival Data: Extending the Cox Model. Springer 2000.
    Therneau T. A Package for Survival Analysis in R, version 3.5 (``coxph``, ``coxph.fit``).
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    if not 0.0 < conf_level < 1.0:
        raise ValueError("conf_level must be strictly between 0 and 1")
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = tuple(covariates)
    if not covariates:
        raise ValueError("cox_ph needs at least one covariate")
    design = build_cox_design(data, duration, event, covariates, strata)
    if design.time.size == 0:
        raise ValueError("no rows left after removing missing values")
    n_events = int(design.event.sum())
    if n_events == 0:
        raise ValueError("no events: the Cox model is not estimable")

    time_order = sort_order(design.time)
    time = merge_near_ties(design.time, order=time_order)
    efron = ties == "efron"
    layout = build_layout(time, design.event, design.strata, time_order=time_order)
    fit = newton_raphson(layout, design.x, efron, _EPS, _TOLER_CHOL, _ITER_MAX)
    names = list(design.column_names)
    p = len(names)

    coef = fit.coef.copy()
    var = fit.var
    singular = np.zeros(p, dtype=bool)
    if abs(fit.rank) < p:
        singular = np.diag(var) == 0
    if np.any(singular):
        warnings.warn(
            "X matrix deemed to be singular; coefficient(s) set to NaN: "
            + ", ".join(np.asarray(names)[singular]),
            SingularDesignWarning,
            stacklevel=2,
        )
    if not fit.converged:
        warnings.warn(
            f"Cox model ran out of iterations ({_ITER_MAX}) and did not converge; "
            "estimates and tests are unreliable",
            CoxConvergenceWarning,
            stacklevel=2,
        )
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            drift = np.abs(fit.score @ var)
            infinite = ~np.isfinite(fit.score) | ((drift > _EPS) & (drift > _TOLER_INF * np.abs(coef)))
        infinite &= ~singular
        if np.any(infinite):
            warnings.warn(
                "Loglik converged before variable(s) "
                + ", ".join(np.asarray(names)[infinite])
                + "; coefficient may be infinite (monotone likelihood, e.g. a group without "
                "events). Hazard ratio, CI and Wald test are not meaningful for it.",
                MonotoneLikelihoodWarning,
                stacklevel=2,
            )

    # linear predictor as R forms it: X b - sum(b * means), summed column by column
    linear_predictor = np.zeros(design.time.size)
    for j in range(p):
        linear_predictor += design.x[:, j] * coef[j]
    linear_predictor -= float(np.sum(coef * fit.means))

    estimable = ~singular
    coef[singular] = np.nan
    se = np.sqrt(np.diag(var))
    se[singular] = np.nan
    z_crit = _sps.norm.ppf((1.0 + conf_level) / 2.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = coef / se
        params = pd.DataFrame(
            {
                "coef": coef,
                "se": se,
                "hazard_ratio": np.exp(coef),
                "lower": np.exp(coef - z_crit * se),
                "upper": np.exp(coef + z_crit * se),
                "z": z,
                "p_value": _sps.chi2.sf(z**2, 1),
            },
            index=pd.Index(names, name="term"),
        )
    covariance = pd.DataFrame(var, index=names, columns=names)
    covariance.loc[singular, :] = np.nan
    covariance.loc[:, singular] = np.nan

    df = int(estimable.sum())
    lr = 2.0 * (fit.loglik - fit.loglik_init)
    sub_var = var[np.ix_(estimable, estimable)]
    wald = _wald_statistic(sub_var, coef[estimable]) if np.all(np.isfinite(sub_var)) else np.nan

    column_index = {j: k for k, j in enumerate(np.flatnonzero(estimable))}
    estimable_terms = {
        term: tuple(column_index[j] for j in cols if estimable[j])
        for term, cols in design.term_columns.items()
    }
    estimable_terms = {t: c for t, c in estimable_terms.items() if c}
    # time may be a view of the caller's column: copy it; the other arrays were made here
    frozen = [np.array(time, copy=True), design.event, design.x, linear_predictor, design.strata]
    for array in frozen:
        array.setflags(write=False)
    fit_data = _FitData(*frozen, estimable_terms, np.flatnonzero(estimable))

    if strata is None:
        strata_names: tuple[str, ...] = ()
    elif isinstance(strata, str):
        strata_names = (strata,)
    else:
        strata_names = tuple(strata)
    return CoxResult(
        _params=params,
        loglik=float(fit.loglik),
        loglik_null=float(fit.loglik_init),
        iterations=int(fit.iterations),
        n=int(design.time.size),
        events=n_events,
        n_dropped=design.n_dropped,
        lr_test=_chi2(lr, df),
        wald_test=_chi2(wald, df),
        score_test=_chi2(fit.score_test, df),
        ties=ties,
        conf_level=float(conf_level),
        covariates=covariates,
        strata=strata_names,
        converged=bool(fit.converged),
        _covariance=covariance,
        _fit=fit_data,
    )
