"""Two-objective helpers: accuracy (higher is better) against a cost (lower is better).

* :func:`non_dominated`: the mask of points no other point dominates;
* :func:`pareto_front`: the indices of the front, by increasing cost;
* :func:`plot_fronts`: fronts as staircases beside the true front (matplotlib);
* :func:`hypervolume_2d`: the area dominated by a set of points and bounded by a reference
  point ``(ref_acc, ref_cost)``: the region ``{(a, c): a ≥ ref_acc, c ≤ ref_cost}`` that some
  point ``(acc_i, cost_i)`` dominates (``a ≤ acc_i`` and ``c ≥ cost_i``).  Points that do not
  strictly beat the reference in both objectives add nothing.  Compare hypervolumes only under
  the same reference point; :func:`reference_point` gives the usual choice, the worst accuracy
  and the largest cost of a set (for a benchmark: of the whole space, which the evaluator
  knows and the search does not).

A point dominates another when it is at least as good in both objectives and better in one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import UsageError

__all__ = ["hypervolume_2d", "non_dominated", "pareto_front", "plot_fronts", "reference_point"]


def _points(acc: Sequence[float] | np.ndarray, cost: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(acc, dtype=np.float64).reshape(-1)
    c = np.asarray(cost, dtype=np.float64).reshape(-1)
    if a.shape != c.shape:
        raise UsageError(f"acc and cost must have the same length, got {a.size} and {c.size}")
    if not (np.isfinite(a).all() and np.isfinite(c).all()):
        raise UsageError("acc and cost must be finite (no NaN or inf)")
    return np.stack([a, c], axis=1)


def non_dominated(
    acc: Sequence[float] | np.ndarray, cost: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Boolean mask: which points no other point dominates (duplicates all stay)."""
    p = _points(acc, cost)
    n = len(p)
    keep = np.ones(n, dtype=bool)
    if n == 0:
        return keep
    # sort by cost ascending, then accuracy descending: a point is dominated iff an earlier
    # point has higher accuracy, or equal accuracy at strictly lower cost
    order = np.lexsort((-p[:, 0], p[:, 1]))
    best_acc = -np.inf
    best_cost = np.inf
    for i in order:
        a, c = p[i]
        if a < best_acc or (a == best_acc and c > best_cost):
            keep[i] = False
        elif a > best_acc:
            best_acc, best_cost = a, c
    return keep


def pareto_front(
    acc: Sequence[float] | np.ndarray, cost: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Indices of the non-dominated points, by increasing cost (then decreasing accuracy)."""
    p = _points(acc, cost)
    idx = np.flatnonzero(non_dominated(p[:, 0], p[:, 1]))
    return idx[np.lexsort((-p[idx, 0], p[idx, 1]))]


def reference_point(
    acc: Sequence[float] | np.ndarray, cost: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """``(min accuracy, max cost)`` of a non-empty set of points."""
    p = _points(acc, cost)
    if len(p) == 0:
        raise UsageError("reference_point needs at least one point")
    return float(p[:, 0].min()), float(p[:, 1].max())


def hypervolume_2d(
    acc: Sequence[float] | np.ndarray,
    cost: Sequence[float] | np.ndarray,
    ref: tuple[float, float],
) -> float:
    """Area dominated by the points within the reference box (see the module docstring)."""
    if len(ref) != 2 or not all(np.isfinite(float(r)) for r in ref):
        raise UsageError(f"ref must be a finite (accuracy, cost) pair, got {ref!r}")
    ref_a, ref_c = float(ref[0]), float(ref[1])
    p = _points(acc, cost)
    p = p[(p[:, 0] > ref_a) & (p[:, 1] < ref_c)]
    if len(p) == 0:
        return 0.0
    front = p[pareto_front(p[:, 0], p[:, 1])]
    # by increasing cost, accuracy increases strictly along the front: sum the strips
    area = 0.0
    for k, (a, c) in enumerate(front):
        next_c = front[k + 1, 1] if k + 1 < len(front) else ref_c
        area += (a - ref_a) * (next_c - c)
    return float(area)


def plot_fronts(
    fronts: Mapping[str, tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]],
    true_front: tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray] | None = None,
    cost_name: str = "cost",
    acc_name: str = "accuracy",
    title: str = "",
) -> Any:
    """A matplotlib figure of the fronts of labelled point sets (cost on x, accuracy on y, as
    staircases), with ``true_front`` (e.g. of the whole space) dashed in black.  Needs the
    ``plot`` extra; save it with :func:`archperf.analysis.plots.save_figure`."""
    from .analysis.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    sets = list(fronts.items())
    if true_front is not None:
        sets.append(("true front", true_front))
    for label, (acc, cost) in sets:
        p = _points(acc, cost)
        f = p[pareto_front(p[:, 0], p[:, 1])]
        style = {"color": "black", "linestyle": "--"} if label == "true front" else {}
        ax.step(f[:, 1], f[:, 0], where="post", marker="o", markersize=3, label=label, **style)
    ax.set_xlabel(cost_name)
    ax.set_ylabel(acc_name)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
