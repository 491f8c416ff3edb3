"""Confidence intervals for a binomial proportion (Clopper-Pearson, Wilson), as R.

``binomial_ci`` returns an immutable result that is also unpackable as
``estimate, lower, upper = binomial_ci(k, n)``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta, norm

__all__ = ["BINOMIAL_METHODS", "BinomialCI", "binomial_ci"]

BINOMIAL_METHODS = ("exact", "wilson")


@dataclass(frozen=True)
class BinomialCI:
    """Proportion ``k / n`` with its confidence interval.

    Iterating (and therefore unpacking) yields ``(estimate, lower, upper)``; the
    counts and the options used are echoed as ``k, n, method, conf_level``.
    """

    estimate: float
    lower: float
    upper: float
    k: int
    n: int
    method: str
    conf_level: float

    def __iter__(self):
        return iter((self.estimate, self.lower, self.upper))

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index):
        return (self.estimate, self.lower, self.upper)[index]

    def summary(self) -> str:
        """One line: ``k/n = p% (level CI lo-hi%, method)``."""
        name = "Clopper-Pearson exact" if self.method == "exact" else "Wilson score"
        return (
            f"{self.k}/{self.n} = {100 * self.estimate:.1f}% "
            f"({100 * self.conf_level:g}% CI {100 * self.lower:.1f}-{100 * self.upper:.1f}%, {name})"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary())}</p>"


def binomial_ci(k: int, n: int, method: str = "exact", conf_level: float = 0.95) -> BinomialCI:
    """Confidence interval for a binomial proportion.

    Parameters
    ----------
    k : int
        Number of successes (e.g. responders), 0 <= k <= n.
    n : int
        Number of trials (the denominator), n >= 1.
    method : {"exact", "wilson"}, default "exact"
        "exact": Clopper-Pearson, as R ``binom.test``; "wilson": Wilson score interval
        without continuity correction, as R ``prop.test(k, n, correct=FALSE)`` (the
        limits are exactly 0 when k = 0 and 1 when k = n, as R).
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    BinomialCI
        ``estimate, lower, upper`` (unpackable as a 3-tuple) plus ``k, n, method,
        conf_level``.

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the
    case of the binomial. Biometrika 1934;26:404-413.
    Wilson EB. Probable inference, the law of succession, and statistical inference.
    JASA 1927;22:209-212.
    """
    problems = []
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if not (isinstance(value, (float, np.floating)) and float(value).is_integer()):
                problems.append(f"{name} must be a whole number (got {value!r})")
    if problems:
        raise ValueError("; ".join(problems))
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need n >= 1 and 0 <= k <= n (got k={k}, n={n})")
    if method not in BINOMIAL_METHODS:
        raise ValueError(f"method must be one of {BINOMIAL_METHODS} (got {method!r})")
    if not (isinstance(conf_level, (int, float, np.floating)) and 0 < conf_level < 1):
        raise ValueError(f"conf_level must be strictly between 0 and 1 (got {conf_level!r})")
    alpha = 1 - conf_level
    estimate = k / n
    if method == "exact":
        lower = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
        upper = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    else:
        z = float(norm.ppf((1 + conf_level) / 2))
        z22n = z * z / (2 * n)
        spread = z * np.sqrt(estimate * (1 - estimate) / n + z22n / (2 * n))
        upper = 1.0 if estimate >= 1 else float((estimate + z22n + spread) / (1 + 2 * z22n))
        lower = 0.0 if estimate <= 0 else float((estimate + z22n - spread) / (1 + 2 * z22n))
    return BinomialCI(estimate, lower, upper, k, n, method, float(conf_level))
