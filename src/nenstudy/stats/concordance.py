"""Harrell's concordance for survival data with R survival's infinitesimal-jackknife standard error."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Concordance", "concordance_index"]


class Concordance(NamedTuple):
    """Concordance statistic, its standard error, and the pair counts behind it.

    ``concordant``/``discordant`` are stated for the "higher risk score, earlier event"
    direction (R: ``concordance(..., reverse = TRUE)``, as ``coxph`` reports it).
    """

    c: float
    std_err: float
    concordant: float = np.nan
    discordant: float = np.nan
    tied_x: float = np.nan


def _exclusive_cumsum_by_run(keys_sorted_change: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Within runs (``keys_sorted_change`` marks run starts), sum of earlier ``values``."""
    inclusive = np.cumsum(values)
    exclusive = inclusive - values
    run_id = np.cumsum(keys_sorted_change) - 1
    starts = np.flatnonzero(keys_sorted_change)
    return exclusive - exclusive[starts][run_id]


def _count_before(stratum: np.ndarray, rank: np.ndarray, weight: np.ndarray):
    """For each position k of a sequence grouped by stratum, weighted counts of earlier
    positions j (same stratum) with rank below, equal to, and above rank[k].

    ``less`` is found one bit of the rank at a time (a wavelet-tree pass): at each level the
    positions are kept grouped by stratum and higher bits, in sequence order, and an element
    whose bit is 1 is preceded in its group by exactly the elements with the same prefix and a
    smaller rank decided at this bit.
    """
    n = rank.size
    new_stratum = np.empty(n, dtype=bool)
    new_stratum[:1] = True
    new_stratum[1:] = stratum[1:] != stratum[:-1]
    total = _exclusive_cumsum_by_run(new_stratum, weight)

    by_rank = np.lexsort((np.arange(n), rank, stratum))
    sr, rr = stratum[by_rank], rank[by_rank]
    run_start = np.empty(n, dtype=bool)
    run_start[:1] = True
    run_start[1:] = (sr[1:] != sr[:-1]) | (rr[1:] != rr[:-1])
    equal = np.empty(n)
    equal[by_rank] = _exclusive_cumsum_by_run(run_start, weight[by_rank])

    less = np.zeros(n)
    n_bits = max(1, int(rank.max()).bit_length()) if n else 1
    perm = np.arange(n)
    for level in range(n_bits - 1, -1, -1):
        rp = rank[perm]
        sp = stratum[perm]
        prefix = rp >> (level + 1)
        is_one = ((rp >> level) & 1).astype(bool)
        group_start_mask = np.empty(n, dtype=bool)
        group_start_mask[:1] = True
        group_start_mask[1:] = (sp[1:] != sp[:-1]) | (prefix[1:] != prefix[:-1])
        zeros_weight_before = _exclusive_cumsum_by_run(group_start_mask, np.where(is_one, 0.0, weight[perm]))
        less[perm[is_one]] += zeros_weight_before[is_one]
        # stable partition inside each group: bit-0 elements first, then bit-1 elements
        group_id = np.cumsum(group_start_mask) - 1
        starts = np.flatnonzero(group_start_mask)
        zeros_before = _exclusive_cumsum_by_run(group_start_mask, (~is_one).astype(np.int64))
        ones_before = _exclusive_cumsum_by_run(group_start_mask, is_one.astype(np.int64))
        zeros_in_group = np.bincount(group_id, weights=~is_one).astype(np.int64)
        position = np.where(is_one, zeros_in_group[group_id] + ones_before, zeros_before)
        new_perm = np.empty_like(perm)
        new_perm[starts[group_id] + position] = perm
        perm = new_perm
    greater = total - less - equal
    return less, equal, greater


def concordance_index(
    time: np.ndarray,
    event: np.ndarray,
    risk_score: np.ndarray,
    strata: np.ndarray | None = None,
) -> Concordance:
    """Concordance between a risk score and survival, as R ``coxph`` reports it.

    A pair is comparable when the shorter time is an event (a censoring at the same time
    counts as longer); pairs of events at the same time are not comparable. The pair is
    concordant when the higher risk score has the earlier event; ties in the score count
    one half. The standard error is R's infinitesimal-jackknife estimate
    (``concordancefit``, ``timewt = "n"``), within strata when given.

    Parameters
    ----------
    time : ndarray
        Follow-up times.
    event : ndarray
        Event indicators (0/1).
    risk_score : ndarray
        Linear predictor; higher means higher hazard. Exact equality defines ties.
    strata : ndarray, optional
        Stratum codes; only pairs within a stratum are compared.

    Returns
    -------
    Concordance
        ``(c, std_err)`` plus the pair counts.

    References
    ----------
    Harrell FE, Califf RM, Pryor DB, Lee KL, Rosati RA. Evaluating the yield of medical tests.
    JAMA 1982;247:2543-6.
    Therneau T, Watson E. The concordance statistic and the Cox model. Mayo Clinic technical
    report, 2017; R survival ``concordancefit`` and ``src/concordance3.c``.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(bool)
    risk_score = np.asarray(risk_score, dtype=np.float64)
    n = time.size
    if strata is None:
        strata = np.zeros(n, dtype=np.int64)
    else:
        strata = np.unique(np.asarray(strata), return_inverse=True)[1].astype(np.int64)
    rank = np.unique(risk_score, return_inverse=True)[1].astype(np.int64)

    # Sequence: by stratum, time descending, censored before events, rank ascending.
    order = np.lexsort((rank, event, -time, strata))
    s, r, ev, t = strata[order], rank[order], event[order], time[order]
    ones = np.ones(n)

    # (a) each event against subjects still at risk after it (earlier in the sequence)
    less_a, equal_a, greater_a = _count_before(s, r, ones)
    # ties of events at the same time are not pairs: remove same-block events before it
    block_start = np.empty(n, dtype=bool)
    block_start[:1] = True
    block_start[1:] = (s[1:] != s[:-1]) | (t[1:] != t[:-1]) | (ev[1:] != ev[:-1])
    run_start = block_start.copy()
    run_start[1:] |= r[1:] != r[:-1]
    position_in_block = _exclusive_cumsum_by_run(block_start, ones)
    position_in_run = _exclusive_cumsum_by_run(run_start, ones)
    block_id = np.cumsum(block_start) - 1
    run_id = np.cumsum(run_start) - 1
    block_size = np.bincount(block_id)[block_id]
    run_size = np.bincount(run_id)[run_id]
    smaller_in_block = position_in_block - position_in_run
    equal_before_in_block = position_in_run
    equal_after_in_block = run_size - position_in_run - 1
    larger_in_block = block_size - (smaller_in_block + run_size)
    less_a = np.where(ev, less_a - smaller_in_block, 0.0)
    equal_a = np.where(ev, equal_a - equal_before_in_block, 0.0)
    greater_a = np.where(ev, greater_a, 0.0)

    # (b) each subject against the events that happened before it (later in the sequence)
    rev = slice(None, None, -1)
    less_b, equal_b, greater_b = _count_before(s[rev], r[rev], ev[rev].astype(np.float64))
    less_b, equal_b, greater_b = less_b[rev], equal_b[rev], greater_b[rev]
    greater_b = greater_b - np.where(ev, larger_in_block, 0.0)
    equal_b = equal_b - np.where(ev, equal_after_in_block, 0.0)

    # R's orientation (reverse = FALSE): "concordant" = event has the smaller score
    conc_i = greater_a + less_b
    disc_i = less_a + greater_b
    tied_i = equal_a + equal_b
    concordant = float(greater_a.sum())
    discordant = float(less_a.sum())
    tied = float(equal_a.sum())
    npair = concordant + discordant + tied
    if npair == 0:
        return Concordance(np.nan, np.nan, 0.0, 0.0, 0.0)
    somers = (concordant - discordant) / npair
    dfbeta = (conc_i - disc_i) / npair - (somers / npair) * (conc_i + disc_i + tied_i)
    std_err = float(np.sqrt(np.sum(dfbeta**2) / 4.0))
    c = 1.0 - (somers + 1.0) / 2.0
    return Concordance(c, std_err, discordant, concordant, tied)
