"""Timing and peak-memory helpers shared by the stats benchmarks.

``best_seconds`` is the best wall-clock time of repeated calls (the figure least
disturbed by other load on a shared machine); ``peak_mb`` is the peak of Python and
numpy allocations during one call, as ``tracemalloc`` sees them.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

__all__ = ["best_seconds", "peak_mb"]


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Best wall-clock time of ``repeat`` calls of ``fn``.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    repeat : int
        Number of calls.

    Returns
    -------
    float
        The shortest time in seconds (``inf`` when ``repeat`` is 0).
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mb(fn: Callable[[], object]) -> float:
    """Peak traced memory of one call of ``fn``, in MiB.

    Parameters
    ----------
    fn : callable
        Called once with no arguments; its result is discarded.

    Returns
    -------
    float
        Peak of the allocations ``tracemalloc`` traces (numpy's included) during the call.
    """
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20
