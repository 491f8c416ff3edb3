"""Small-number suppression: the one place where counts 1..K-1 become "<K" for sharing."""

from __future__ import annotations

__all__ = ["suppress_count", "is_suppressed", "SUPPRESSED_DERIVED"]

#: Text shown in place of a value derived from a suppressed count (a percentage, a rate, a CI).
SUPPRESSED_DERIVED = "—"


def is_suppressed(n: int | None, below: int | None) -> bool:
    """Tell whether a count is hidden under suppression.

    Parameters
    ----------
    n : int or None
        A count of patients or events (``None`` when unknown).
    below : int or None
        The threshold K: counts 1..K-1 are hidden. ``None`` or a value <= 1 disables suppression.

    Returns
    -------
    bool
        True when ``1 <= n < below``. Zero is never hidden (an empty cell discloses nobody).
    """
    if below is None or below <= 1 or n is None:
        return False
    return 1 <= int(n) < below


def suppress_count(n: int | None, below: int | None) -> int | str | None:
    """Apply small-number suppression to one count; every table and figure label goes through here.

    Parameters
    ----------
    n : int or None
        A count (``None`` passes through as ``None``).
    below : int or None
        The threshold K (``--suppress-below K``); ``None`` disables suppression.

    Returns
    -------
    int or str or None
        ``n`` itself when shown, or the text ``"<K"`` when ``1 <= n < K``.

    Examples
    --------
    >>> suppress_count(3, 5), suppress_count(0, 5), suppress_count(12, 5), suppress_count(3, None)
    ('<5', 0, 12, 3)
    """
    if n is None:
        return None
    if isinstance(n, bool) or int(n) != n:
        raise TypeError(f"suppress_count expects an integer count, got {n!r}")
    if is_suppressed(n, below):
        return f"<{below}"
    return int(n)
