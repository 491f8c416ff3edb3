"""Harrell's concordance for survival data with R survival's infinitesimal-jackknife standard error."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Concordance", "ConcordanceDetail", "concordance_index", "concordance_detail"]


class Concordance(NamedTuple):
    """Concordance statistic and its standard error (R ``summary(coxph)$concordance``)."""

    c: float
    std_err: float


class ConcordanceDetail(NamedTuple):
    """Concordance with the pair counts behind it.

    ``concordant``/``discordant`` are stated for the "higher risk score, earlier event"
    direction (R: ``concordance(..., reverse = TRUE)``, as ``coxph`` reports it);
    ``tied_x`` counts comparable pairs with equal scores.
    """

    c: float
    std_err: float
    concordant: float
    discordant: float
    tied_x: float


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """Boolean mask of positions where any of the (already sorted) keys changes."""
    n = keys[0].size
    mask = np.empty(n, dtype=bool)
    if n:
        mask[0] = True
        mask[1:] = False
        for key in keys:
            mask[1:] |= key[1:] != key[:-1]
    return mask


def _exclusive_sum_in_runs(run_start: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Within runs (``run_start`` marks their first element), the sum of earlier ``values``."""
    exclusive = np.cumsum(values) - values
    run_id = np.cumsum(run_start) - 1
    return exclusive - exclusive[np.flatnonzero(run_start)][run_id]


def _dense_rank(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _order_by(*codes: np.ndarray) -> np.ndarray:
    """Order by non-negative integer codes (last one fastest), via one packed int64 key."""
    key = np.zeros(codes[0].size, dtype=np.int64)
    capacity = 1
    for code in codes:
        span = int(code.max(initial=0)) + 1
        capacity *= span
        if capacity >= 2**62:
            return np.lexsort(tuple(reversed(codes)))
        key = key * span + code
    return np.argsort(key)


def _count_dominated(stratum: np.ndarray, first: np.ndarray, second: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """For each i, the summed weight of j in the same stratum with ``first[j] < first[i]`` and
    ``second[j] < second[i]`` (both strict); stratum, first and second are integer codes >= 0.

    The coordinate with fewer distinct values is resolved one bit at a time (a wavelet-tree
    pass over the points sorted by the other coordinate), so the work is
    O(n log(min distinct)) with a handful of vectorised passes per bit.
    """
    n = stratum.size
    if n == 0:
        return np.zeros(0)
    if first.max() < second.max():
        first, second = second, first
    # sequence: by stratum, then `first` ascending; equal `first` ordered by `second`
    # descending so that none of them precedes a point with larger `second`
    top = int(second.max())
    sequence = _order_by(stratum, first, top - second)
    n_bits = max(1, top.bit_length())
    key = (stratum[sequence] << n_bits) | second[sequence]
    id_bits = max(1, int(n - 1).bit_length())
    binary = bool(np.all((weight == 0) | (weight == 1)))
    if binary and int(key.max()).bit_length() + id_bits + 1 <= 62:
        return _wavelet_pass_packed(key, np.asarray(weight)[sequence].astype(np.int64), sequence, n_bits, id_bits)
    return _wavelet_pass(key, np.asarray(weight, dtype=np.float64)[sequence], sequence, n_bits)


def _wavelet_pass_packed(key, weight, ids, n_bits: int, id_bits: int) -> np.ndarray:
    """:func:`_wavelet_pass` for 0/1 weights, moving one packed int64 (key, weight, id)."""
    n = key.size
    low = id_bits + 1
    packed = (key << low) | (weight << id_bits) | ids
    acc = np.zeros(n)
    positions = np.arange(n)
    for level in range(n_bits - 1, -1, -1):
        bit = (packed >> (level + low)) & 1
        group_start = _run_starts(packed >> (level + 1 + low))
        starts = np.flatnonzero(group_start)
        group_id = np.cumsum(group_start) - 1
        is_zero = 1 - bit
        zero_weight = ((packed >> id_bits) & 1) * is_zero
        cumulative = np.cumsum(zero_weight)
        before_group = (cumulative - zero_weight)[starts]
        acc += bit * (cumulative - before_group[group_id])
        zero_count = np.cumsum(is_zero)
        zero_before_group = (zero_count - is_zero)[starts]
        zeros_in_group = zero_count[np.append(starts[1:], n) - 1] - zero_before_group
        start_of = starts[group_id]
        zeros_before = zero_count - is_zero - zero_before_group[group_id]
        destination = np.where(
            bit, zeros_in_group[group_id] + positions - zeros_before, start_of + zeros_before
        )
        new_packed = np.empty_like(packed)
        new_packed[destination] = packed
        new_acc = np.empty_like(acc)
        new_acc[destination] = acc
        packed, acc = new_packed, new_acc
    out = np.empty(n)
    out[packed & ((1 << id_bits) - 1)] = acc
    return out


def _wavelet_pass(key, w, ids, n_bits: int) -> np.ndarray:
    """Weighted count of earlier positions with a smaller key in the same high-bit group."""
    n = key.size
    acc = np.zeros(n)
    positions = np.arange(n)
    for level in range(n_bits - 1, -1, -1):
        bit = ((key >> level) & 1).astype(bool)
        group_start = _run_starts(key >> (level + 1))
        group_id = np.cumsum(group_start) - 1
        starts = np.flatnonzero(group_start)
        zero_weight = np.where(bit, 0.0, w)
        cumulative = np.cumsum(zero_weight)
        before_group = (cumulative - zero_weight)[starts]
        acc += np.where(bit, cumulative - before_group[group_id], 0.0)
        # stable partition of each group: zero bits first, then one bits
        is_zero = (~bit).astype(np.int64)
        zero_count = np.cumsum(is_zero)
        zero_before_group = (zero_count - is_zero)[starts]
        group_end = np.append(starts[1:], n) - 1
        zeros_in_group = zero_count[group_end] - zero_before_group
        start_of = starts[group_id]
        zeros_before = zero_count - is_zero - zero_before_group[group_id]
        ones_before = positions - start_of - zeros_before
        destination = np.where(bit, start_of + zeros_in_group[group_id] + ones_before, start_of + zeros_before)
        new_key = np.empty_like(key)
        new_key[destination] = key
        new_w = np.empty_like(w)
        new_w[destination] = w
        new_acc = np.empty_like(acc)
        new_acc[destination] = acc
        new_ids = np.empty_like(ids)
        new_ids[destination] = ids
        key, w, acc, ids = new_key, new_w, new_acc, new_ids
    out = np.empty(n)
    out[ids] = acc
    return out


def _pair_counts(stratum: np.ndarray, block: np.ndarray, rank: np.ndarray, weight: np.ndarray):
    """Summed weight of j (same stratum, ``block[j] < block[i]``) with rank below, equal to
    and above ``rank[i]``. All arguments but ``weight`` are non-negative integer codes."""
    n = stratum.size
    by_block = _order_by(stratum, block)
    sb, bb, wb = stratum[by_block], block[by_block], weight[by_block]
    total = np.empty(n)
    # weight of strictly earlier blocks: exclusive sum within stratum, taken at block start
    earlier = _exclusive_sum_in_runs(_run_starts(sb), wb)
    block_start = _run_starts(sb, bb)
    total[by_block] = earlier[np.flatnonzero(block_start)][np.cumsum(block_start) - 1]

    by_rank = _order_by(stratum, rank, block)
    sr, rr, br, wr = stratum[by_rank], rank[by_rank], block[by_rank], weight[by_rank]
    earlier = _exclusive_sum_in_runs(_run_starts(sr, rr), wr)
    run_start = _run_starts(sr, rr, br)
    equal = np.empty(n)
    equal[by_rank] = earlier[np.flatnonzero(run_start)][np.cumsum(run_start) - 1]

    less = _count_dominated(stratum, block, rank, weight)
    return less, equal, total - less - equal


def concordance_detail(
    time: np.ndarray,
    event: np.ndarray,
    risk_score: np.ndarray,
    strata: np.ndarray | None = None,
) -> ConcordanceDetail:
    """Concordance, its standard error and the pair counts; see :func:`concordance_index`."""
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(bool)
    n = time.size
    strata_codes = np.zeros(n, dtype=np.int64) if strata is None else _dense_rank(np.asarray(strata))
    rank = _dense_rank(np.asarray(risk_score, dtype=np.float64))

    # Blocks: (stratum, time, status) in the order R walks them: time descending and,
    # at equal time, censored before events (a censoring at t outlives an event at t).
    time_code = _dense_rank(time)
    block = (time_code.max(initial=0) - time_code) * 2 + event.astype(np.int64)
    ones = np.ones(n)
    # (a) each event against the subjects in earlier blocks (still at risk after it)
    less_a, equal_a, greater_a = _pair_counts(strata_codes, block, rank, ones)
    less_a, equal_a, greater_a = (np.where(event, v, 0.0) for v in (less_a, equal_a, greater_a))
    # (b) each subject against the events in later blocks (that happened before it)
    less_b, equal_b, greater_b = _pair_counts(
        strata_codes, block.max(initial=0) - block, rank, event.astype(np.float64)
    )

    # R's orientation (reverse = FALSE): "concordant" = event has the smaller score
    conc_i = greater_a + less_b
    disc_i = less_a + greater_b
    tied_i = equal_a + equal_b
    concordant = float(greater_a.sum())
    discordant = float(less_a.sum())
    tied = float(equal_a.sum())
    npair = concordant + discordant + tied
    if npair == 0:
        return ConcordanceDetail(np.nan, np.nan, 0.0, 0.0, 0.0)
    somers = (concordant - discordant) / npair
    dfbeta = (conc_i - disc_i) / npair - (somers / npair) * (conc_i + disc_i + tied_i)
    std_err = float(np.sqrt(np.sum(dfbeta**2) / 4.0))
    c = 1.0 - (somers + 1.0) / 2.0
    return ConcordanceDetail(c, std_err, discordant, concordant, tied)


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
    (``concordancefit``, ``timewt = "n"``), pairs formed within strata when given.

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
        ``(c, std_err)``.

    References
    ----------
    Harrell FE, Califf RM, Pryor DB, Lee KL, Rosati RA. Evaluating the yield of medical tests.
    JAMA 1982;247:2543-6.
    Therneau T, Watson E. The concordance statistic and the Cox model. Mayo Clinic technical
    report, 2017; R survival ``concordancefit`` and ``src/concordance3.c``.
    """
    detail = concordance_detail(time, event, risk_score, strata)
    return Concordance(detail.c, detail.std_err)
