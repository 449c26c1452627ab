"""Rank correlations used to judge predictors (Kendall τ-b, Spearman ρ), numpy only."""

from __future__ import annotations

import numpy as np

__all__ = ["kendall_tau", "spearman_rho"]


def _check(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"x and y differ in length: {a.shape[0]} vs {b.shape[0]}")
    if a.size < 2:
        raise ValueError("a rank correlation needs at least two points")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("rank correlation inputs must be finite")
    return a, b


def _ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions)."""
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(v.size, dtype=np.float64)
    sv = v[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sv)) + 1]
    ends = np.r_[starts[1:], v.size]
    avg = (starts + ends - 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman_rho(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ: Pearson correlation of average ranks (NaN if a side is constant)."""
    a, b = _check(x, y)
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _count_swaps(v: np.ndarray) -> int:
    """Number of inversions in v (merge sort, O(n log n))."""
    n = v.size
    if n < 2:
        return 0
    width = 1
    src = v.copy()
    swaps = 0
    while width < n:
        dst = np.empty_like(src)
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            left, right = src[lo:mid], src[mid:hi]
            if right.size == 0:
                dst[lo:hi] = left
                continue
            # for each element of right, how many of left are strictly greater
            pos = np.searchsorted(left, right, side="right")
            swaps += int((left.size - pos).sum())
            merged = np.concatenate([left, right])
            merged.sort(kind="mergesort")
            dst[lo:hi] = merged
        src = dst
        width *= 2
    return swaps


def _tie_pairs(v: np.ndarray) -> int:
    _, counts = np.unique(v, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's τ-b (handles ties), O(n log n). NaN if a side is constant."""
    a, b = _check(x, y)
    n = a.size
    order = np.lexsort((b, a))  # sort by a, then b
    a_s, b_s = a[order], b[order]
    n0 = n * (n - 1) // 2
    n1 = _tie_pairs(a)
    n2 = _tie_pairs(b)
    # pairs tied in both a and b
    pairs = np.stack([a_s, b_s], axis=1)
    _, joint_counts = np.unique(pairs, axis=0, return_counts=True)
    n3 = int((joint_counts * (joint_counts - 1) // 2).sum())
    # discordant pairs = inversions of b within the a-sorted order, excluding ties in a
    swaps = _count_swaps(b_s)
    # inversions counted among a-ties: within each a-tie group b is sorted, so none are counted
    con_minus_dis = n0 - n1 - n2 + n3 - 2 * swaps
    den = np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float(con_minus_dis / den) if den > 0 else float("nan")
