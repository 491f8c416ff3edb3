"""Table-1 comparison tests (Fisher, chi-square, Wilcoxon rank-sum, Kruskal-Wallis), each naming itself.

No test switches silently to another: the caller chooses, and every result carries the
name of the test actually computed (``TestResult.test``) and its options.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats as _sps
from scipy.special import gammaln

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "TestResult",
    "chi_square_test",
    "fisher_exact_test",
    "kruskal_wallis_test",
    "wilcoxon_rank_sum_test",
]

# R fisher.test counts tables with probability <= p_obs * (1 + 1e-7) as "as extreme".
_RELATIVE_ERROR = 1 + 1e-7
_MAX_NODES = 2_000_000  # allocations of one column
_MAX_ARC_CANDIDATES = 30_000_000  # (node, allocation) pairs examined at one stage
_MAX_PATHS = 20_000_000  # path extensions at one stage
_TOO_LARGE = (
    "table too large for an exact Fisher test (the network of partial tables exceeds the work limit); "
    "use chi_square_test instead"
)


@dataclass(frozen=True)
class TestResult:
    """Result of a Table-1 test.

    Attributes
    ----------
    test : str
        Name of the test actually performed (e.g. "Fisher's exact test").
    statistic : float
        Test statistic (odds ratio for a 2 x 2 Fisher test, the observed table's
        probability for r x c; chi-square; W; H).
    p_value : float
        Two-sided p-value.
    df : float or None
        Degrees of freedom where the test has them.
    method : str
        How the p-value was obtained ("exact enumeration", "asymptotic", ...).
    """

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    p_value: float
    df: float | None = None
    method: str = ""

    def summary(self) -> str:
        """One line naming the test, statistic, df and p-value."""
        df = f", df = {self.df:g}" if self.df is not None else ""
        how = f" ({self.method})" if self.method else ""
        return f"{self.test}{how}: statistic = {self.statistic:.4g}{df}, p = {self.p_value:.4g}"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary())}</p>"


def _as_table(table) -> np.ndarray:
    arr = np.asarray(table)
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise ValueError(f"table must be two-dimensional with at least 2 rows and 2 columns (got shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
        raise ValueError("table must contain finite numbers")
    if (arr < 0).any() or not np.equal(np.mod(arr, 1), 0).all():
        raise ValueError("table must contain non-negative whole-number counts")
    return arr.astype(np.int64)


def _log_weight(cells: np.ndarray) -> float:
    return float(-gammaln(np.asarray(cells, dtype=float) + 1).sum())


def _compositions(total: int, caps: np.ndarray) -> np.ndarray:
    """All integer vectors x with 0 <= x_i <= caps_i and sum(x) == total, one per row."""
    partial = np.zeros((1, 0), dtype=np.int64)
    sums = np.zeros(1, dtype=np.int64)
    r = caps.shape[0]
    for i in range(r - 1):
        rest_cap = int(caps[i + 1 :].sum())
        values = np.arange(int(min(caps[i], total)) + 1)
        new_sums = sums[:, None] + values[None, :]
        ok = (new_sums <= total) & (total - new_sums <= rest_cap)
        rows_idx, val_idx = np.nonzero(ok)
        partial = np.concatenate((partial[rows_idx], values[val_idx][:, None]), axis=1)
        sums = new_sums[rows_idx, val_idx]
        if partial.shape[0] > _MAX_NODES:
            raise ValueError(_TOO_LARGE)
    last = total - sums
    ok = (last >= 0) & (last <= caps[-1])
    return np.concatenate((partial[ok], last[ok][:, None]), axis=1)


def _last_stage_sum(
    parent: np.ndarray,
    log_prob: np.ndarray,
    n_nodes: int,
    path_node: np.ndarray,
    path_log_mass: np.ndarray,
    path_limit: np.ndarray,
) -> float:
    """Probability of the tables completed by one arc from the last-but-one stage.

    ``log_prob[a]`` is the log-probability (up to the path's past weight) of the table
    completed by arc ``a`` out of node ``parent[a]`` (its allocation, the forced last
    column and the normalising constant).  A path at node u with log-mass M (past
    weight plus log multiplicity) contributes ``exp(M + log_prob[a])`` for every arc of
    u with ``log_prob[a] <= limit``.  Per node the arcs are sorted and their
    probabilities, scaled by the node's largest, summed cumulatively (no cancellation);
    a vectorised binary search finds each path's cut.
    """
    order = np.lexsort((log_prob, parent))
    parent, log_prob = parent[order], log_prob[order]
    degree = np.bincount(parent, minlength=n_nodes)
    start = np.concatenate(([0], np.cumsum(degree)[:-1]))
    slot = np.arange(parent.shape[0]) - start[parent]
    values = np.full((n_nodes, int(degree.max())), np.inf)
    values[parent, slot] = log_prob
    top = np.where(degree > 0, values[np.arange(n_nodes), np.maximum(degree - 1, 0)], 0.0)
    scaled = np.zeros(values.shape)
    scaled[parent, slot] = np.exp(log_prob - top[parent])
    cumulative = np.cumsum(scaled, axis=1)
    # binary search per path: number of arcs of its node with value <= limit
    left = np.zeros(path_node.shape[0], dtype=np.intp)
    right = degree[path_node].astype(np.intp)
    while True:
        open_ = left < right
        if not open_.any():
            break
        mid = (left + right) // 2
        below = values[path_node, np.minimum(mid, values.shape[1] - 1)] <= path_limit
        left = np.where(open_ & below, mid + 1, left)
        right = np.where(open_ & ~below, mid, right)
    hit = left > 0
    inside = cumulative[path_node[hit], left[hit] - 1]
    return float((np.exp(path_log_mass[hit] + top[path_node[hit]]) * inside).sum())


def _fisher_rxc_pvalue(table: np.ndarray) -> float:
    """Exact r x c Fisher p-value by Mehta & Patel's network algorithm.

    Stages are the columns; a node is the multiset of remaining row sums (sorted, so
    row permutations share a node).  A first pass finds the reachable nodes and the
    arcs between them; a backward pass gives every node the exact largest and smallest
    log-weight of its completions; the forward pass carries paths (node, past
    log-weight, multiplicity), settles at once every path whose completions are all
    (or none) as extreme as the observed table (their total weight is in closed form),
    and merges paths that reach the same node with the same past weight (to 1e-9).
    Vectorised over nodes, arcs and paths; no Monte Carlo.
    """
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 1.0
    if table.shape[0] > table.shape[1]:
        table = table.T
    rows = np.sort(table.sum(axis=1).astype(np.int64))[::-1]
    cols = np.sort(table.sum(axis=0).astype(np.int64))
    n_cols = cols.shape[0]
    radix = np.cumprod(np.concatenate(([1], np.full(rows.shape[0] - 1, int(rows[0]) + 1)))).astype(np.int64)
    observed = _log_weight(table)
    threshold = observed + np.log(_RELATIVE_ERROR)
    const = float(gammaln(rows + 1.0).sum() + gammaln(cols + 1.0).sum() - gammaln(rows.sum() + 1.0))
    suffix = np.concatenate((np.cumsum(cols[::-1])[::-1], [0]))
    log_fact_suffix = np.concatenate((np.cumsum(gammaln(cols[::-1] + 1.0))[::-1], [0.0]))

    # pass 1: reachable nodes per stage and the arcs (parent, child, allocation weight)
    nodes = [rows[None, :]]
    arcs = []
    for j in range(n_cols - 1):
        states = nodes[j]
        allocs = _compositions(int(cols[j]), states.max(axis=0))
        w_alloc = -gammaln(allocs + 1.0).sum(axis=1)
        if states.shape[0] * allocs.shape[0] > _MAX_ARC_CANDIDATES:
            raise ValueError(_TOO_LARGE)
        parent, alloc = np.nonzero((states[:, None, :] >= allocs[None, :, :]).all(axis=2))
        child_states = -np.sort(-(states[parent] - allocs[alloc]), axis=1)
        codes, first, child = np.unique(child_states @ radix, return_index=True, return_inverse=True)
        nodes.append(child_states[first])
        arcs.append((parent, child.ravel(), w_alloc[alloc]))

    # pass 2 (backward): exact max / min log-weight of the completions of every node
    last = -gammaln(nodes[-1] + 1.0).sum(axis=1)
    hi = [None] * n_cols
    lo = [None] * n_cols
    hi[-1], lo[-1] = last, last
    for j in range(n_cols - 2, -1, -1):
        parent, child, w = arcs[j]
        starts = np.flatnonzero(np.diff(parent, prepend=-1))  # arcs are grouped by parent
        hi[j] = np.maximum.reduceat(w + hi[j + 1][child], starts)
        lo[j] = np.minimum.reduceat(w + lo[j + 1][child], starts)

    # log of the total weight of all completions of each node, in closed form
    log_total = [
        gammaln(suffix[j] + 1.0) - gammaln(nodes[j] + 1.0).sum(axis=1) - log_fact_suffix[j] + const
        for j in range(n_cols)
    ]

    # pass 3 (forward): paths (node, past log-weight, multiplicity)
    if hi[0][0] <= threshold:
        return 1.0
    p_value = 0.0
    path_node = np.zeros(1, dtype=np.intp)
    path_past = np.zeros(1)
    path_mult = np.ones(1)
    for j in range(n_cols - 1):
        parent, child, w = arcs[j]
        if j == n_cols - 2:  # every completion is now a single arc: settle all paths at once
            p_value += _last_stage_sum(
                parent,
                w + hi[j + 1][child] + const,
                nodes[j].shape[0],
                path_node,
                path_past + np.log(path_mult),
                threshold + const - path_past,
            )
            break
        degree = np.bincount(parent, minlength=nodes[j].shape[0])
        first_arc = np.concatenate(([0], np.cumsum(degree)[:-1]))
        counts = degree[path_node]
        if int(counts.sum()) > _MAX_PATHS:
            raise ValueError(_TOO_LARGE)
        owner = np.repeat(np.arange(path_node.shape[0]), counts)
        arc = np.arange(owner.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts) + first_arc[path_node][owner]
        node = child[arc]
        past = path_past[owner] + w[arc]
        mult = path_mult[owner]
        all_in = past + hi[j + 1][node] <= threshold
        if all_in.any():
            p_value += float((mult[all_in] * np.exp(past[all_in] + log_total[j + 1][node[all_in]])).sum())
        keep = ~all_in & (past + lo[j + 1][node] <= threshold)
        if not keep.any():
            break
        node, past, mult = node[keep], past[keep], mult[keep]
        key_weight = np.round(past * 1e9).astype(np.int64)
        order = np.lexsort((key_weight, node))
        node, key_weight, past, mult = node[order], key_weight[order], past[order], mult[order]
        new_run = np.ones(node.shape[0], dtype=bool)
        new_run[1:] = (node[1:] != node[:-1]) | (key_weight[1:] != key_weight[:-1])
        starts = np.flatnonzero(new_run)
        path_node, path_past = node[starts], past[starts]
        path_mult = np.add.reduceat(mult, starts)
    return min(1.0, p_value)


def fisher_exact_test(table: ArrayLike) -> TestResult:
    """Fisher's exact test of independence for an r x c contingency table.

    Parameters
    ----------
    table : array_like of int, shape (r, c)
        Counts; rows or columns that are all zero are ignored.

    Returns
    -------
    TestResult
        For 2 x 2 tables ``scipy.stats.fisher_exact`` (two-sided; statistic = sample
        odds ratio).  For larger tables an exact, Monte-Carlo-free network enumeration
        (statistic = probability of the observed table), with the two-sided p-value
        defined as R ``fisher.test``: the total probability of tables no more probable
        than the observed one (relative tolerance 1e-7).  The installed scipy's r x c
        ``fisher_exact`` is not used because it estimates the p-value by simulation.
        Tables too large to enumerate raise ``ValueError`` (use :func:`chi_square_test`).

    References
    ----------
    Mehta CR, Patel NR. A network algorithm for performing Fisher's exact test in r x c
    contingency tables. JASA 1983;78:427-434.
    """
    arr = _as_table(table)
    if arr.shape == (2, 2):
        res = _sps.fisher_exact(arr)
        return TestResult("Fisher's exact test", float(res.statistic), float(res.pvalue), None, "exact (2 x 2)")
    kept = arr[arr.sum(axis=1) > 0][:, arr.sum(axis=0) > 0]
    rows, cols = kept.sum(axis=1), kept.sum(axis=0)
    statistic = float(
        np.exp(
            gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(kept.sum() + 1) + _log_weight(kept)
        )
    )
    return TestResult(
        "Fisher's exact test", statistic, _fisher_rxc_pvalue(arr), None, "exact network enumeration (r x c)"
    )


def chi_square_test(table: ArrayLike, correction: bool = False) -> TestResult:
    """Pearson's chi-square test of independence (never switches to another test).

    Parameters
    ----------
    table : array_like of int, shape (r, c)
        Counts.
    correction : bool, default False
        Yates' continuity correction (applied by R ``chisq.test`` to 2 x 2 tables by
        default; here only when asked, and named in the result).

    Returns
    -------
    TestResult
        Statistic, df = (r - 1)(c - 1), asymptotic p-value (as R
        ``chisq.test(correct=...)``).  ``method`` warns when an expected count is < 5.

    References
    ----------
    Pearson K. On the criterion that a given system of deviations... Phil Mag
    1900;50:157-175.
    """
    arr = _as_table(table)
    res = _sps.chi2_contingency(arr, correction=correction)
    name = "Pearson's chi-squared test" + (" with Yates' continuity correction" if correction and arr.shape == (2, 2) else "")
    method = "asymptotic"
    if (res.expected_freq < 5).any():
        method += "; some expected counts < 5, the approximation may be poor"
    return TestResult(name, float(res.statistic), float(res.pvalue), float(res.dof), method)


def wilcoxon_rank_sum_test(x: ArrayLike, y: ArrayLike, method: str = "auto") -> TestResult:
    """Wilcoxon rank-sum (Mann-Whitney) test, two-sided, as R ``wilcox.test(x, y)``.

    Parameters
    ----------
    x, y : array_like
        The two samples (NaN values are dropped).
    method : {"auto", "exact", "asymptotic"}, default "auto"
        "auto" follows R: exact when both samples have fewer than 50 values and there
        are no ties, otherwise the normal approximation with tie-corrected variance and
        continuity correction.  The method used is named in the result.

    Returns
    -------
    TestResult
        ``statistic`` is R's W (the Mann-Whitney U of ``x``).

    References
    ----------
    Mann HB, Whitney DR. On a test of whether one of two random variables is
    stochastically larger than the other. Ann Math Stat 1947;18:50-60.
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one non-missing value")
    if method not in ("auto", "exact", "asymptotic"):
        raise ValueError(f"method must be 'auto', 'exact' or 'asymptotic' (got {method!r})")
    if method == "auto":
        has_ties = np.unique(np.concatenate((a, b))).size < a.size + b.size
        method = "exact" if (a.size < 50 and b.size < 50 and not has_ties) else "asymptotic"
    res = _sps.mannwhitneyu(a, b, alternative="two-sided", method=method, use_continuity=True)
    how = "exact" if method == "exact" else "normal approximation with continuity correction"
    return TestResult("Wilcoxon rank-sum test", float(res.statistic), float(res.pvalue), None, how)


def kruskal_wallis_test(*samples: ArrayLike) -> TestResult:
    """Kruskal-Wallis rank-sum test (tie-corrected, chi-square approximation), as R ``kruskal.test``.

    Parameters
    ----------
    *samples : array_like
        Two or more samples (NaN values are dropped).

    Returns
    -------
    TestResult
        H statistic, df = k - 1, asymptotic p-value.

    References
    ----------
    Kruskal WH, Wallis WA. Use of ranks in one-criterion variance analysis. JASA
    1952;47:583-621.
    """
    arrays = [np.asarray(s, dtype=float) for s in samples]
    arrays = [a[~np.isnan(a)] for a in arrays]
    if len(arrays) < 2 or any(a.size == 0 for a in arrays):
        raise ValueError("need at least two samples, each with a non-missing value")
    res = _sps.kruskal(*arrays)
    return TestResult(
        "Kruskal-Wallis rank-sum test", float(res.statistic), float(res.pvalue), float(len(arrays) - 1), "asymptotic"
    )

