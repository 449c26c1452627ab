"""Architecture signatures (SemiGAN-NAD figures 2 and 3): edge and op frequencies of a cell set.

A signature counts, over a set of cells, how often each structural choice is made:

* **NB201** (``ops``, 6 × 5): for each of the six edges (arch-string order ``1←0``, ``2←0``,
  ``2←1``, ``3←0``, ``3←1``, ``3←2``), how many cells put each of the five edge ops on it.
* **Any space with per-position choices** (a plugin's, e.g.): a space that offers
  ``to_op_indices(arch)`` (one choice index per position) with ``choice_labels`` (one label
  per position) and ``choice_names`` (the names of the choice indices) gets the ``ops``
  signature of its positions × choices, like NB201's.
* **NB101** (``adjacency``, 7 × 7, and ``ops``, 7 × 5): how many cells have each edge and each
  op per vertex *slot*.  A pruned NB101 cell has k ≤ 7 vertices, so it is first placed into 7
  slots (:func:`nb101_slots`): the input at slot 0, the output at slot 6 and the k − 2 interior
  vertices, in the cell's own vertex order (a topological order, as the matrix is
  upper-triangular), at slots 1 .. k − 2; slots k − 1 .. 5 stay empty (no op, no edge).  The
  vertex order is the cell's as given (the generator's, or the benchmark file's): isomorphic
  cells with different vertex orders land in different slots, since NB101 has no canonical
  vertex order.

:meth:`Signature.normalized` divides by the largest count (the paper's "normalized by the
maximum"); :meth:`Signature.frequency` divides by the number of cells.  The *most likely*
entries are the argmax op of each row (vertex or edge), and, for NB101 adjacency, the edges
present in more than half of the cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cell import Cell
from ..interfaces import HasEdgeOps, SearchSpace

__all__ = [
    "NB101_SLOTS",
    "Signature",
    "compare_signatures",
    "nb101_slots",
    "signature",
]

NB101_SLOTS = 7
"""Vertex slots of the NB101 signature (the space's maximum vertex count)."""


@dataclass(frozen=True)
class Signature:
    """Counts over ``n`` cells: ``ops[row, op]`` and, for NB101, ``adjacency[src, dst]``."""

    space: str
    n: int
    row_labels: tuple[str, ...]
    op_labels: tuple[str, ...]
    ops: np.ndarray
    adjacency: np.ndarray | None = None

    def frequency(self, which: str = "ops") -> np.ndarray:
        """Counts divided by the number of cells (each entry in [0, 1])."""
        counts = self._counts(which)
        return counts / self.n if self.n else np.zeros_like(counts, dtype=np.float64)

    def normalized(self, which: str = "ops") -> np.ndarray:
        """Counts divided by their maximum (all zeros if every count is zero)."""
        counts = self._counts(which).astype(np.float64)
        top = counts.max() if counts.size else 0.0
        return counts / top if top > 0 else counts

    def most_likely_ops(self) -> list[str | None]:
        """The most frequent op of each row (first on ties); None for a row no cell uses."""
        return [self.op_labels[int(np.argmax(row))] if row.sum() > 0 else None for row in self.ops]

    def likely_edges(self) -> list[tuple[int, int]]:
        """NB101: the ``(src, dst)`` slots joined in more than half of the cells."""
        if self.adjacency is None:
            return []
        return [(int(i), int(j)) for i, j in np.argwhere(2 * self.adjacency > self.n)]

    def _counts(self, which: str) -> np.ndarray:
        if which == "ops":
            return self.ops
        if which == "adjacency":
            if self.adjacency is None:
                raise ValueError(f"the {self.space} signature has no adjacency part")
            return self.adjacency
        raise ValueError(f"which must be 'ops' or 'adjacency', got {which!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts, labels and most likely entries."""
        d: dict[str, Any] = {
            "space": self.space,
            "n": self.n,
            "rows": list(self.row_labels),
            "ops": list(self.op_labels),
            "op_counts": self.ops.tolist(),
            "most_likely_ops": self.most_likely_ops(),
        }
        if self.adjacency is not None:
            d["adjacency_counts"] = self.adjacency.tolist()
            d["likely_edges"] = [list(e) for e in self.likely_edges()]
        return d


def nb101_slots(space: SearchSpace[Any], cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    """A (pruned) NB101 cell placed into :data:`NB101_SLOTS` slots.

    Returns ``(adjacency uint8 [7, 7], ops int64 [7])`` with ``ops = -1`` at empty slots: the
    input at slot 0, the output at slot 6, interior vertex ``i`` (1 ≤ i ≤ k − 2) at slot ``i``.
    """
    g = space.to_graph(cell)  # validates and prunes
    k = g.num_vertices
    if k > NB101_SLOTS:
        raise ValueError(f"a cell of {k} vertices does not fit into {NB101_SLOTS} slots")
    slot = [*range(k - 1), NB101_SLOTS - 1]
    adj = np.zeros((NB101_SLOTS, NB101_SLOTS), dtype=np.uint8)
    ops = np.full(NB101_SLOTS, -1, dtype=np.int64)
    idx = np.asarray(slot)
    adj[np.ix_(idx, idx)] = g.adjacency
    ops[idx] = g.ops
    return adj, ops


def _nb201_signature(space: SearchSpace[Any], cells: Sequence[Any]) -> Signature:
    from ..spaces.nb201 import ARCH_EDGES, EDGE_OPS

    counts = np.zeros((len(ARCH_EDGES), len(EDGE_OPS)), dtype=np.int64)
    rows = np.arange(len(ARCH_EDGES))
    if not isinstance(space, HasEdgeOps):
        raise ValueError(f"space {space.name!r} has no op per edge (HasEdgeOps)")
    for c in cells:
        counts[rows, np.asarray(space.to_op_indices(c))] += 1
    labels = tuple(f"{dst}←{src}" for src, dst in ARCH_EDGES)
    return Signature("nb201", len(cells), labels, EDGE_OPS, counts)


def _nb101_signature(space: SearchSpace[Any], cells: Sequence[Any]) -> Signature:
    names = tuple(space.op_names)
    adj = np.zeros((NB101_SLOTS, NB101_SLOTS), dtype=np.int64)
    ops = np.zeros((NB101_SLOTS, len(names)), dtype=np.int64)
    rows = np.arange(NB101_SLOTS)
    for c in cells:
        a, o = nb101_slots(space, c)
        adj += a
        used = o >= 0
        ops[rows[used], o[used]] += 1
    labels = ("in", *(str(i) for i in range(1, NB101_SLOTS - 1)), "out")
    return Signature("nb101", len(cells), labels, names, ops, adj)


def _choice_signature(space: Any, cells: Sequence[Any]) -> Signature:
    rows = tuple(str(x) for x in space.choice_labels)
    names = tuple(str(x) for x in space.choice_names)
    counts = np.zeros((len(rows), len(names)), dtype=np.int64)
    index = np.arange(len(rows))
    for c in cells:
        choice = np.asarray(space.to_op_indices(c), dtype=np.int64)
        if choice.shape != (len(rows),) or (choice < 0).any() or (choice >= len(names)).any():
            raise ValueError(
                f"space {space.name!r}: to_op_indices must give {len(rows)} choices in "
                f"0..{len(names) - 1}, got {choice.tolist()}"
            )
        counts[index, choice] += 1
    return Signature(str(space.name), len(cells), rows, names, counts)


def has_choice_signature(space: Any) -> bool:
    """True when ``space`` offers ``to_op_indices``, ``choice_labels`` and ``choice_names``."""
    return all(hasattr(space, a) for a in ("to_op_indices", "choice_labels", "choice_names"))


def signature(space: SearchSpace[Any], cells: Sequence[Any]) -> Signature:
    """The signature of ``cells`` (NB201, NB101 or a space with per-position choices, see the
    module docstring; invalid cells raise)."""
    name = getattr(space, "name", None)
    if name == "nb201":
        return _nb201_signature(space, cells)
    if name == "nb101":
        return _nb101_signature(space, cells)
    if has_choice_signature(space):
        return _choice_signature(space, cells)
    raise ValueError(
        f"signatures are defined for nb201 and nb101, and for spaces with choice_labels, "
        f"choice_names and to_op_indices, not {name!r}"
    )


def compare_signatures(a: Signature, b: Signature) -> dict[str, Any]:
    """How close two signatures of the same space are.

    ``ops_mean_abs_diff``: the mean absolute difference of the op :meth:`~Signature.frequency`
    matrices (0 = the same frequencies); ``most_likely_op_agreement``: the fraction of rows used
    by both whose most likely op is the same; ``adjacency_mean_abs_diff`` (NB101): the mean
    absolute difference of the adjacency frequencies over the 21 upper-triangle entries.  For
    NB101 the op comparison covers the interior slots 1..5 and the three interior ops only (the
    input and output slots are the same in every cell and would inflate the agreement).
    """
    if a.space != b.space or a.ops.shape != b.ops.shape:
        raise ValueError(f"cannot compare a {a.space} signature with a {b.space} signature")
    rows = slice(None)
    cols = slice(None)
    if a.adjacency is not None:  # NB101: interior slots and interior ops
        rows = slice(1, len(a.row_labels) - 1)
        cols = slice(1, len(a.op_labels) - 1)
    fa, fb = a.frequency()[rows, cols], b.frequency()[rows, cols]
    out: dict[str, Any] = {"ops_mean_abs_diff": float(np.abs(fa - fb).mean())}
    pairs = [
        (x, y)
        for x, y in zip(a.most_likely_ops()[rows], b.most_likely_ops()[rows], strict=True)
        if x is not None and y is not None
    ]
    out["most_likely_op_agreement"] = (
        sum(x == y for x, y in pairs) / len(pairs) if pairs else float("nan")
    )
    out["rows_compared"] = len(pairs)
    if a.adjacency is not None and b.adjacency is not None:
        diff = np.abs(a.frequency("adjacency") - b.frequency("adjacency"))
        upper = np.triu(np.ones_like(diff, dtype=bool), k=1)
        out["adjacency_mean_abs_diff"] = float(diff[upper].mean())
    return out
