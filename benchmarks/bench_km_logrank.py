"""Benchmark: Kaplan-Meier (+ median CI) and (stratified) log-rank, nenstudy vs lifelines, R and numpy.

Run from the repository root::

    python benchmarks/bench_km_logrank.py                    # n = 1e4, 1e5, 1e6, 1e7
    python benchmarks/bench_km_logrank.py --sizes 1e4 1e6 --repeat 5

All tools get the same synthetic data (``benchmarks/_data.py``: whole-day times in
months, 3 groups, 4 strata).  Times are the best of ``--repeat`` runs (at most 3 at
n >= 10^7), the same number for every tool, computation only (lifelines at its defaults,
which are its fastest for these tasks):
R is timed inside R with ``system.time`` after reading the data from raw binary files.
Peak memory is measured with ``tracemalloc`` (numpy allocations included) in a separate
run of each nenstudy call.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import make_survival_data  # noqa: E402
from _timing import best_seconds, peak_mb  # noqa: E402

from nenstudy.stats import kaplan_meier, logrank_test  # noqa: E402

TASKS = ("km_median_ci", "logrank", "logrank_stratified")

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; n <- as.integer(args[2]); rep <- as.integer(args[3])
time <- readBin(file.path(dir, "time.bin"), "double", n)
event <- readBin(file.path(dir, "event.bin"), "integer", n)
group <- readBin(file.path(dir, "group.bin"), "integer", n)
stratum <- readBin(file.path(dir, "stratum.bin"), "integer", n)
best <- function(expr) {
  f <- function() eval.parent(substitute(expr), 2)
  min(sapply(seq_len(rep), function(i) system.time(f())[["elapsed"]]))
}
t_km <- min(sapply(seq_len(rep), function(i) system.time({
  fit <- survfit(Surv(time, event) ~ 1, conf.type = "log-log"); q <- quantile(fit, 0.5)})[["elapsed"]]))
t_lr <- min(sapply(seq_len(rep), function(i) system.time(
  survdiff(Surv(time, event) ~ group))[["elapsed"]]))
t_slr <- min(sapply(seq_len(rep), function(i) system.time(
  survdiff(Surv(time, event) ~ group + strata(stratum)))[["elapsed"]]))
cat("km_median_ci", t_km, "\n"); cat("logrank", t_lr, "\n"); cat("logrank_stratified", t_slr, "\n")
"""


# -- the tools ---------------------------------------------------------------------------
def nenstudy_calls(d):
    t, e, g, s = d["time"], d["event"], d["group"], d["stratum"]

    def km():
        fit = kaplan_meier(t, e)
        return fit.median, fit.median_ci

    return {
        "km_median_ci": km,
        "logrank": lambda: logrank_test(t, e, g).p_value,
        "logrank_stratified": lambda: logrank_test(t, e, g, strata=s).p_value,
    }


def lifelines_calls(d):
    try:
        from lifelines import KaplanMeierFitter
        from lifelines.statistics import multivariate_logrank_test
        from lifelines.utils import median_survival_times
    except ImportError:
        return {}
    t, e, g = d["time"], d["event"], d["group"]

    def km():
        kmf = KaplanMeierFitter().fit(t, e)
        return kmf.median_survival_time_, median_survival_times(kmf.confidence_interval_)

    return {"km_median_ci": km, "logrank": lambda: multivariate_logrank_test(t, g, e).p_value}


def numpy_calls(d):
    """A plain-numpy floor: np.unique + bincount + cumulative products, no CIs, no checks."""
    t, e, g, s = d["time"], d["event"], d["group"], d["stratum"]

    def km():
        times, inverse = np.unique(t, return_inverse=True)
        deaths = np.bincount(inverse, weights=e)
        at_time = np.bincount(inverse)
        at_risk = np.cumsum(at_time[::-1])[::-1]
        surv = np.cumprod(1 - deaths / at_risk)
        return times[np.argmax(surv <= 0.5)]

    def logrank_one(tt, ee, gg, k):
        times, inverse = np.unique(tt, return_inverse=True)
        m = times.shape[0]
        cell = inverse * k + gg
        at_time = np.bincount(cell, minlength=m * k).reshape(m, k)
        deaths = np.bincount(cell, weights=ee, minlength=m * k).reshape(m, k)
        at_risk = np.cumsum(at_time[::-1], axis=0)[::-1]
        n_tot, d_tot = at_risk.sum(1), deaths.sum(1)
        exp = (d_tot / n_tot) @ at_risk
        with np.errstate(invalid="ignore", divide="ignore"):
            kt = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / (n_tot * (n_tot - 1)), 0)
        var = np.diag(kt @ at_risk) - at_risk.T @ (at_risk * (kt / n_tot)[:, None])
        return deaths.sum(0), exp, var

    def chi(obs, exp, var):
        diff = (obs - exp)[1:]
        return diff @ np.linalg.solve(var[1:, 1:], diff)

    k = int(g.max()) + 1

    def logrank():
        return chi(*logrank_one(t, e, g, k))

    def stratified():
        total = [0, 0, 0]
        for level in range(int(s.max()) + 1):
            sel = s == level
            parts = logrank_one(t[sel], e[sel], g[sel], k)
            total = [a + b for a, b in zip(total, parts)]
        return chi(*total)

    return {"km_median_ci": km, "logrank": logrank, "logrank_stratified": stratified}


def r_times(d, repeat: int) -> dict:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        d["time"].astype("<f8").tofile(tmpdir / "time.bin")
        for name in ("event", "group", "stratum"):
            d[name].astype("<i4").tofile(tmpdir / f"{name}.bin")
        (tmpdir / "bench.R").write_text(R_SCRIPT)
        proc = subprocess.run(
            [rscript, str(tmpdir / "bench.R"), str(tmpdir), str(d["time"].shape[0]), str(repeat)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        print(f"  (R failed: {proc.stderr.strip()[:200]})", file=sys.stderr)
        return {}
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in TASKS:
            out[parts[0]] = float(parts[1])
    return out


# -- driver ------------------------------------------------------------------------------
def _fmt(x: float | None) -> str:
    return f"{'-':>9}" if x is None else f"{x:9.4f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:7.1f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6, 1e7])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--no-r", action="store_true", help="skip R even if Rscript is present")
    parser.add_argument("--no-lifelines", action="store_true")
    parser.add_argument("--seed", type=int, default=20250301)
    args = parser.parse_args(argv)

    header = (
        f"{'n':>9} {'task':<19} {'nenstudy':>9} {'lifelines':>9} {'R':>9} {'numpy':>9} "
        f"{'lifel/nen':>9} {'R/nen':>8} {'nen/numpy':>9} {'peak MB':>8}"
    )
    print("seconds, best of", args.repeat, "runs; ratios > 1 mean nenstudy is faster than the peer")
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n = int(size)
        frame = make_survival_data(n, seed=args.seed, n_groups=3, n_strata=4, n_covariates=0)
        d = {
            "time": frame["time"].to_numpy(),
            "event": frame["event"].to_numpy(),
            "group": frame["group"].to_numpy(),
            "stratum": frame["stratum"].to_numpy(),
        }
        del frame
        ours = nenstudy_calls(d)
        life = {} if args.no_lifelines else lifelines_calls(d)
        floor = numpy_calls(d)
        reps = args.repeat if n < 10**7 else min(args.repeat, 3)  # the same best-of-k for every tool
        r = {} if args.no_r else r_times(d, reps)
        for task in TASKS:
            t_ours = best_seconds(ours[task], reps)
            t_life = best_seconds(life[task], reps) if task in life else None
            t_floor = best_seconds(floor[task], reps)
            t_r = r.get(task)
            peak = peak_mb(ours[task])
            print(
                f"{n:>9} {task:<19} {_fmt(t_ours)} {_fmt(t_life)} {_fmt(t_r)} {_fmt(t_floor)} "
                f"{_ratio(t_life, t_ours):>9} {_ratio(t_r, t_ours):>8} {_ratio(t_ours, t_floor):>9} {peak:8.1f}"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
