"""Kaplan-Meier estimation with R ``survival`` conventions (CIs, quantiles, RMST, follow-up).

Everything is computed from per-distinct-time counts (see :mod:`._counting`); the
arithmetic follows R survival 3.5 (``survfit``, ``survfit_confint``, ``quantile.survfit``,
``summary.survfit`` and ``print.survfit``'s restricted mean) so that the numbers can be put
next to R's.  Differences from R that we know of are listed in the docstrings (R's
``timefix`` merging of times closer than ~1.5e-8 relative is not done).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ._counting import as_survival_arrays, distinct_time_counts
from ._timefix import merge_near_ties

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "CONF_TYPES",
    "FollowUp",
    "KaplanMeierResult",
    "Quantile",
    "RestrictedMean",
    "kaplan_meier",
    "median_follow_up",
    "number_at_risk",
]

CONF_TYPES = ("log-log", "log", "plain")
# R quantile.survfit / print.survfit tolerance for "survival equals the threshold".
_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


class Quantile(NamedTuple):
    """A survival-time quantile and its Brookmeyer-Crowley confidence interval."""

    estimate: float
    lower: float
    upper: float


class RestrictedMean(NamedTuple):
    """Restricted mean survival time up to ``tau`` and its standard error."""

    estimate: float
    std_err: float


class FollowUp(NamedTuple):
    """Median follow-up (reverse Kaplan-Meier) with its confidence interval."""

    median: float
    lower: float
    upper: float


def _check_options(conf_type: str, conf_level: float) -> float:
    """Validate the CI options and return the normal quantile z."""
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES} (got {conf_type!r})")
    if not (isinstance(conf_level, (int, float, np.floating)) and 0 < conf_level < 1):
        raise ValueError(f"conf_level must be a number strictly between 0 and 1 (got {conf_level!r})")
    return float(ndtri(1 - (1 - conf_level) / 2))


def _pointwise_ci(
    surv: np.ndarray, se_log: np.ndarray, conf_type: str, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI for S(t) as R ``survfit_confint`` with ``logse=TRUE``.

    ``se_log`` is the Greenwood standard error of -log S(t) (R's ``fit$std.err``).
    "plain" is clipped to [0, 1]; "log" has its upper limit clipped at 1; "log-log" is
    undefined (nan, as R's NA) where S is 0 or 1; "log" is undefined where S is 0.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = se_log * surv * z
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            log_xx = np.log(xx)
            return np.exp(log_xx - z * se_log), np.minimum(np.exp(log_xx + z * se_log), 1.0)
        xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
        log_xx = np.log(xx)
        half = z * se_log / log_xx
        loglog = np.log(-log_xx)
        return np.exp(-np.exp(loglog - half)), np.exp(-np.exp(loglog + half))


def _first_occurrence(y: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each value of ``y`` (R ``!duplicated(y)``; NaN == NaN)."""
    finite = ~np.isnan(y)
    if finite.all():
        yf = y
        if yf.shape[0] < 2 or (yf[1:] >= yf[:-1]).all():
            keep = np.empty(yf.shape[0], dtype=bool)
            keep[:1] = True
            np.not_equal(yf[1:], yf[:-1], out=keep[1:])
            return np.flatnonzero(keep)
    return np.flatnonzero(~pd.Series(y).duplicated(keep="first").to_numpy())


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float) -> float:
    """Time at which the cumulative curve ``y`` first reaches ``p`` (R survival's ``findq``).

    ``x`` starts with the time origin and ``y`` with 0.  A flat at exactly ``p`` (within
    ``tol``) gives the midpoint of the flat; a flat at ``p`` running to the end of the
    data gives the midpoint between its start and the last time.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return float("nan")
    xmax = x[-1]
    keep = _first_occurrence(y)
    x = x[keep]
    y = y[keep]
    y_last = y[-1]
    present = ~np.isnan(y)
    positions = np.flatnonzero(present)
    yv = y[present]
    order = np.argsort(yv, kind="stable")
    yv = yv[order]
    positions = positions[order]

    def _constant_approx(shifted: np.ndarray) -> float:
        k = int(np.searchsorted(shifted, p, side="left"))
        if shifted.shape[0] == 0 or p < shifted[0] or k == shifted.shape[0]:
            return float("nan")
        return float(x[positions[k]])

    x1 = _constant_approx(yv + tol)
    x2 = _constant_approx(yv - tol)
    quant = (x1 + x2) / 2
    if p == 0:
        quant = float(x[0])
    if not np.isnan(y_last) and abs(p - y_last) < tol:
        quant = (x1 + xmax) / 2
    return float(quant)


@dataclass(frozen=True, eq=False)
class KaplanMeierResult:
    """Immutable Kaplan-Meier fit (use :func:`kaplan_meier` to make one).

    Attributes
    ----------
    n, events : int
        Number of observations and of events.
    conf_type : str
        CI transform used: "log-log", "log" or "plain".
    conf_level : float
        Confidence level of every interval.
    median : float
        Median survival time (nan when not reached), as R ``quantile.survfit``.
    median_ci : tuple of float
        Brookmeyer-Crowley (lower, upper); nan where the band never reaches 0.5.
    table : pandas.DataFrame
        One row per distinct time (events and censorings): ``time, n_risk, n_event,
        n_censor, survival, std_err, lower, upper``.  ``std_err`` is the Greenwood
        standard error of S(t) itself (as R ``summary()`` prints it), not R's
        ``fit$std.err`` (which is the se of -log S); ``std_err_log`` holds the latter.
    """

    n: int
    events: int
    conf_type: str
    conf_level: float
    time: np.ndarray = field(repr=False)
    n_risk: np.ndarray = field(repr=False)
    n_event: np.ndarray = field(repr=False)
    n_censor: np.ndarray = field(repr=False)
    survival: np.ndarray = field(repr=False)
    std_err_log: np.ndarray = field(repr=False)
    lower: np.ndarray = field(repr=False)
    upper: np.ndarray = field(repr=False)

    # -- table ----------------------------------------------------------------------------
    @cached_property
    def table(self) -> pd.DataFrame:
        """Per-distinct-time table (see the class docstring for the columns)."""
        with np.errstate(invalid="ignore"):
            std_err = self.std_err_log * self.survival
        return pd.DataFrame(
            {
                "time": self.time,
                "n_risk": self.n_risk,
                "n_event": self.n_event,
                "n_censor": self.n_censor,
                "survival": self.survival,
                "std_err": std_err,
                "lower": self.lower,
                "upper": self.upper,
            }
        )

    # -- quantiles ------------------------------------------------------------------------
    def quantile(self, p: float) -> Quantile:
        """Time at which survival first drops to ``1 - p`` or below, with its CI.

        Follows R ``quantile.survfit`` (survival 3.5) exactly: the CI limits are the
        times at which the pointwise lower/upper bands reach ``1 - p`` (Brookmeyer and
        Crowley); where the curve is flat at exactly ``1 - p`` (within
        ``sqrt(machine eps)``) the midpoint of the flat is returned; nan where the curve
        or band never reaches ``1 - p``.

        Parameters
        ----------
        p : float
            Probability in [0, 1]; 0.5 gives the median.

        Returns
        -------
        Quantile
            ``(estimate, lower, upper)``.

        References
        ----------
        Brookmeyer R, Crowley J. A confidence interval for the median survival time.
        Biometrics 1982;38:29-41.
        """
        if not (isinstance(p, (int, float, np.floating)) and 0 <= p <= 1):
            raise ValueError(f"p must be a probability in [0, 1] (got {p!r})")
        x = np.concatenate(([0.0], self.time))
        estimate = _findq(x, np.concatenate(([0.0], 1 - self.survival)), p, _TOLERANCE)
        lower = _findq(x, np.concatenate(([0.0], 1 - self.lower)), p, _TOLERANCE)
        upper = _findq(x, np.concatenate(([0.0], 1 - self.upper)), p, _TOLERANCE)
        return Quantile(estimate, lower, upper)

    @cached_property
    def _median(self) -> Quantile:
        return self.quantile(0.5)

    @property
    def median(self) -> float:
        """Median survival time; nan when not reached."""
        return self._median.estimate

    @property
    def median_ci(self) -> tuple[float, float]:
        """Brookmeyer-Crowley CI of the median as (lower, upper); nan where undefined."""
        return (self._median.lower, self._median.upper)

    # -- survival at given times ----------------------------------------------------------
    def survival_at(self, times: ArrayLike, extend: bool = False) -> pd.DataFrame:
        """Survival at given times, as R ``summary(fit, times=, extend=)``.

        Parameters
        ----------
        times : array_like
            Times of interest; they are sorted and non-finite values dropped (as R).
        extend : bool, default False
            R's ``extend``.  With ``False`` (R's default) times after the last observed
            time are dropped from the result; with ``True`` they are kept, with
            ``n_risk`` 0 and survival, std_err and limits carried forward.

        Returns
        -------
        pandas.DataFrame
            Columns ``time, n_risk, n_event, survival, std_err, lower, upper``:
            ``n_risk`` is the number with time >= t, ``n_event`` the events in
            (previous requested time, t], the others carried forward from the last
            distinct time <= t (1, 0, 1, 1 before the first).  ``std_err`` is the se of
            S(t), as R ``summary`` prints.

        References
        ----------
        Therneau T. A Package for Survival Analysis in R (``summary.survfit``).
        """
        requested = np.sort(np.asarray(times, dtype=np.float64).ravel())
        requested = requested[np.isfinite(requested)]
        # R's survfit0: prepend the time origin 0 unless an observation is at 0.
        if self.time[0] == 0:
            t0, nr, ne = self.time, self.n_risk, self.n_event
            s, sel, lo, up = self.survival, self.std_err_log, self.lower, self.upper
        else:
            t0 = np.concatenate(([0.0], self.time))
            nr = np.concatenate((self.n_risk[:1], self.n_risk))
            ne = np.concatenate(([0], self.n_event))
            s = np.concatenate(([1.0], self.survival))
            sel = np.concatenate(([0.0], self.std_err_log))
            lo = np.concatenate(([1.0], self.lower))
            up = np.concatenate(([1.0], self.upper))
        if not extend:
            requested = requested[requested <= t0[-1]]
        upto = np.searchsorted(t0, requested, side="right")
        row = np.maximum(upto, 1) - 1
        before = np.searchsorted(t0, requested, side="left")
        n_risk = np.append(nr, 0)[before]
        cum_events = np.concatenate(([0], np.cumsum(ne)))[upto]
        n_event = np.diff(np.concatenate(([0], cum_events)))
        with np.errstate(invalid="ignore"):
            std_err = sel[row] * s[row]
        return pd.DataFrame(
            {
                "time": requested,
                "n_risk": n_risk,
                "n_event": n_event,
                "survival": s[row],
                "std_err": std_err,
                "lower": lo[row],
                "upper": up[row],
            }
        )

    # -- restricted mean ------------------------------------------------------------------
    def rmst(self, tau: float) -> RestrictedMean:
        """Restricted mean survival time up to ``tau`` and its se, as R ``print(fit, rmean=tau)``.

        The area under the curve from 0 to ``tau`` (the last value carried forward when
        ``tau`` is beyond the last time); the variance is R's
        ``sum_i A_i^2 d_i / (n_i (n_i - d_i))`` with ``A_i`` the area after the i-th
        distinct time (terms with ``n_i = d_i`` contribute 0).

        Parameters
        ----------
        tau : float
            Truncation time, >= 0.

        Returns
        -------
        RestrictedMean
            ``(estimate, std_err)``.

        References
        ----------
        Klein JP, Moeschberger ML. Survival Analysis, 2nd ed., section 4.5.
        """
        if not (isinstance(tau, (int, float, np.floating)) and np.isfinite(tau) and tau >= 0):
            raise ValueError(f"tau must be a finite number >= 0 (got {tau!r})")
        keep = self.time <= tau
        t_keep = self.time[keep]
        s_keep = self.survival[keep]
        d = self.n_event[keep].astype(np.float64)
        r = self.n_risk[keep].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            hh = np.where(r - d == 0, 0.0, d / (r * (r - d)))
        widths = np.diff(np.concatenate(([0.0], t_keep, [float(tau)])))
        heights = np.concatenate(([1.0], s_keep))
        rectangles = widths * heights
        estimate = float(rectangles.sum())
        # area after the i-th kept time: sum of rectangles i+1 .. end
        after = np.cumsum(rectangles[::-1])[::-1][1:]
        variance = float(np.sum(after**2 * hh))
        return RestrictedMean(estimate, float(np.sqrt(variance)))

    # -- display --------------------------------------------------------------------------
    def _summary_rows(self) -> list[tuple[str, str]]:
        level = f"{100 * self.conf_level:g}%"
        lo, up = self.median_ci
        return [
            ("n", f"{self.n}"),
            ("events", f"{self.events}"),
            ("median", _fmt(self.median)),
            (f"{level} CI", f"{_fmt(lo)} to {_fmt(up)}"),
            ("CI transform", self.conf_type),
            ("variance", "Greenwood"),
        ]

    def summary(self) -> str:
        """Readable text summary: n, events, median with CI, and the options used."""
        rows = self._summary_rows()
        width = max(len(k) for k, _ in rows)
        lines = ["Kaplan-Meier estimate"] + [f"  {k:<{width}}  {v}" for k, v in rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self._summary_rows()
        )
        return f"<table><caption>Kaplan-Meier estimate</caption>{body}</table>"


def _fmt(x: float) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.4g}"


def _freeze(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def kaplan_meier(
    time: ArrayLike,
    event: ArrayLike,
    conf_type: str = "log-log",
    conf_level: float = 0.95,
    timefix: bool = True,
) -> KaplanMeierResult:
    """Kaplan-Meier estimate of the survival function with Greenwood variance.

    Parameters
    ----------
    time : array_like
        Follow-up times, finite and >= 0 (any unit; the study uses months).
    event : array_like
        1 (or True) for an event, 0 (False) for a censored observation.
    conf_type : {"log-log", "log", "plain"}, default "log-log"
        Transform for pointwise CIs.  "log-log" is our default (as SAS LIFETEST and
        lifelines); "log" is R ``survfit``'s default; "plain" is the linear interval
        clipped to [0, 1] as R does.  The choice also determines the median CI.
    conf_level : float, default 0.95
        Confidence level.
    timefix : bool, default True
        As R's ``survfit(timefix = TRUE)``: times whose gap to the next distinct time is at
        most ``sqrt(machine eps)`` (~1.49e-8) absolute or relative to the mean distinct time
        (R's ``aeqSurv``) are one time, reported as the smallest of the run; so
        ``0.1 + 0.2`` and ``0.3`` are tied.  False keeps every distinct float apart.

    Returns
    -------
    KaplanMeierResult
        Immutable result with ``n, events, median, median_ci, quantile(p),
        survival_at(times), rmst(tau), table``, the options echoed, ``summary()`` and
        an HTML representation.

    Notes
    -----
    Computed from aggregates per distinct time: when the times lie on a whole-unit grid
    (days, months of 30.4375 days, ...; checked exactly) one chunked counting pass,
    otherwise one sort of ``time``, plus work proportional to the number of distinct times.  Matches
    R survival 3.5 ``survfit(Surv(time, event) ~ 1, conf.type=...)`` to rounding, including
    R's default ``timefix`` merge of near-equal times (``timefix=False`` matches
    ``survfit(..., timefix = FALSE)``).  Times on a whole-unit grid cannot be near-equal
    (distinct grid times are at least one unit apart, see ``_timefix``), so only the sort
    path merges.

    References
    ----------
    Kaplan EL, Meier P. Nonparametric estimation from incomplete observations.
    JASA 1958;53:457-481.
    Greenwood M. The natural duration of cancer. Reports on Public Health and Medical
    Subjects 1926;33.
    Therneau TM. A Package for Survival Analysis in R, version 3.5 (``survfit``).
    """
    z = _check_options(conf_type, conf_level)
    t, e = as_survival_arrays(time, event, check_time=False)  # checked while counting
    return _kaplan_meier_arrays(t, e, conf_type, float(conf_level), z, timefix)


def _kaplan_meier_arrays(
    t: np.ndarray, e: np.ndarray, conf_type: str, conf_level: float, z: float, timefix: bool
) -> KaplanMeierResult:
    counts = distinct_time_counts(t, e, timefix)
    n_risk = counts.n_risk.astype(np.float64)
    n_event = counts.n_event.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_event / n_risk)
        greenwood = np.cumsum(n_event / (n_risk * (n_risk - n_event)))
    std_err_log = np.sqrt(greenwood)
    lower, upper = _pointwise_ci(survival, std_err_log, conf_type, z)
    return KaplanMeierResult(
        n=int(t.shape[0]),
        events=int(counts.n_event.sum()),
        conf_type=conf_type,
        conf_level=conf_level,
        time=_freeze(counts.time),
        n_risk=_freeze(counts.n_risk),
        n_event=_freeze(counts.n_event),
        n_censor=_freeze(counts.n_censor),
        survival=_freeze(survival),
        std_err_log=_freeze(std_err_log),
        lower=_freeze(lower),
        upper=_freeze(upper),
    )


def median_follow_up(
    time: ArrayLike,
    event: ArrayLike,
    conf_type: str = "log-log",
    conf_level: float = 0.95,
    timefix: bool = True,
) -> FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method.

    The Kaplan-Meier estimator is applied with the event indicator reversed
    (censoring is the "event", deaths are censored); its median and
    Brookmeyer-Crowley CI are returned, as R
    ``quantile(survfit(Surv(time, 1 - event) ~ 1, conf.type=...), 0.5)``.

    Parameters
    ----------
    time, event : array_like
        As for :func:`kaplan_meier` (event = 1 for death/progression).
    conf_type : {"log-log", "log", "plain"}, default "log-log"
        CI transform, as for :func:`kaplan_meier`.
    conf_level : float, default 0.95
        Confidence level.
    timefix : bool, default True
        Merge near-equal times as R's ``survfit`` does by default; see :func:`kaplan_meier`.

    Returns
    -------
    FollowUp
        ``(median, lower, upper)``; nan where not reached.

    References
    ----------
    Schemper M, Smith TL. A note on quantifying follow-up in studies of failure time.
    Controlled Clinical Trials 1996;17:343-346.
    """
    z = _check_options(conf_type, conf_level)
    t, e = as_survival_arrays(time, event, check_time=False)  # checked while counting
    reverse = _kaplan_meier_arrays(t, ~e, conf_type, float(conf_level), z, timefix)
    q = reverse._median
    return FollowUp(q.estimate, q.lower, q.upper)


def number_at_risk(time: ArrayLike, at: ArrayLike, timefix: bool = True) -> np.ndarray:
    """Number of subjects still at risk (time >= t) at each of the times ``at``.

    This is the "numbers at risk" row printed under Kaplan-Meier plots and equals
    ``n_risk`` of R ``summary(fit, times=at, extend=TRUE)``.

    Parameters
    ----------
    time : array_like
        Follow-up times (finite, >= 0).
    at : array_like
        Times at which to count; any order.
    timefix : bool, default True
        Merge near-equal follow-up times first, as R's ``survfit`` (see :func:`kaplan_meier`);
        the ``at`` times are used as given, as R's ``summary``.

    Returns
    -------
    numpy.ndarray
        Integer counts, in the order of ``at``.

    References
    ----------
    Pocock SJ, Clayton TC, Altman DG. Survival plots of time-to-event outcomes in
    clinical trials. Lancet 2002;359:1686-1689.
    """
    t, _ = as_survival_arrays(time, np.zeros(np.shape(time), dtype=bool))
    sorted_time = np.sort(t)
    if timefix:
        sorted_time = merge_near_ties(sorted_time)  # stays sorted: runs map to their first value
    points = np.asarray(at, dtype=np.float64)
    return sorted_time.shape[0] - np.searchsorted(sorted_time, points, side="left")
