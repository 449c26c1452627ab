"""Structure of cells: which ops they contain and how short their input → output path is.

These are the quantities of SemiGAN-NAD's appendix B (figures 4 and 5):

* **op presence**: for each op, how many cells contain it at least once.  The ops counted are
  the ops of a cell's *interior* vertices in the space's graph form (``space.to_graph``): for
  NB101 conv3x3 / conv1x1 / maxpool3x3 (input and output are in every cell), for NB201 the five
  edge ops, ``none`` included (vertices 1..6 of the op-on-node cell are its six edges).
* **shortest input → output path**: the number of edges on a shortest directed path from the
  cell input to the cell output, found by breadth-first search.

  - NB101 (and any space whose graph form is an op-on-node DAG with the input at vertex 0 and
    the output at the last vertex): measured on the pruned cell.  A pruned NB101 cell always
    has a path, of length 1 (input → output directly) to 6.
  - NB201: measured on the **op-on-edge** DAG of 4 nodes (0 = cell input, 3 = cell output) in
    which an edge exists iff its op is not ``none``; ``skip_connect`` and pooling are edges like
    the convolutions.  Lengths are 1 (edge ``3←0`` is not ``none``), 2 or 3.  A cell whose
    output is unreachable (every path blocked by ``none``) has no length: ``None``, counted as
    ``"disconnected"``.  (The op-on-node form would give length 2 to every cell, since its
    adjacency is fixed.)
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..cell import Cell
from ..interfaces import HasEdgeOps, SearchSpace

__all__ = [
    "DISCONNECTED",
    "interior_op_names",
    "nb201_edge_adjacency",
    "op_presence",
    "path_length_histogram",
    "path_lengths",
    "shortest_path_length",
]

DISCONNECTED = "disconnected"
"""Histogram key of cells whose output cannot be reached from their input."""


def shortest_path_length(adjacency: Any, source: int = 0, target: int | None = None) -> int | None:
    """Edges on a shortest directed path ``source → target`` (default: last vertex), or None.

    ``adjacency[i, j] != 0`` is an edge i → j.  BFS, so any directed graph works (cycles too).
    ``source == target`` gives 0.
    """
    adj = np.asarray(adjacency)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
        raise ValueError(f"adjacency must be a square matrix, got shape {adj.shape}")
    n = adj.shape[0]
    if n == 0:
        raise ValueError("adjacency has no vertices")
    t = n - 1 if target is None else int(target)
    for name, v in (("source", source), ("target", t)):
        if not 0 <= v < n:
            raise ValueError(f"{name} vertex {v} is not in 0..{n - 1}")
    dist = [-1] * n
    dist[source] = 0
    queue = deque([source])
    succ = [np.flatnonzero(adj[i]).tolist() for i in range(n)]
    while queue:
        u = queue.popleft()
        if u == t:
            return dist[u]
        for w in succ[u]:
            if dist[w] < 0:
                dist[w] = dist[u] + 1
                queue.append(w)
    return None


def _is_nb201(space: SearchSpace[Any]) -> bool:
    return getattr(space, "name", None) == "nb201"


def nb201_edge_adjacency(space: SearchSpace[Any], cell: Cell) -> np.ndarray:
    """The 4×4 op-on-edge adjacency of an NB201 cell: ``[src, dst] = 1`` iff that edge's op is
    not ``none`` (node 0 = cell input, node 3 = cell output)."""
    from ..spaces.nb201 import ARCH_EDGES, EDGE_OPS

    if not _is_nb201(space):
        raise ValueError(f"nb201_edge_adjacency needs the nb201 space, got {space.name!r}")
    if not isinstance(space, HasEdgeOps):
        raise ValueError(f"space {space.name!r} has no op per edge (HasEdgeOps)")
    ops = space.to_op_indices(cell)  # validates
    none = EDGE_OPS.index("none")
    adj = np.zeros((4, 4), dtype=np.uint8)
    for (src, dst), op in zip(ARCH_EDGES, ops, strict=True):
        if op != none:
            adj[src, dst] = 1
    return adj


def path_lengths(space: SearchSpace[Any], cells: Iterable[Any]) -> list[int | None]:
    """Shortest input → output path length of each cell (None: output unreachable).

    NB201 cells are measured on their op-on-edge DAG without ``none`` edges, other spaces on
    ``space.to_graph(cell)`` (input = vertex 0, output = last vertex); see the module docstring.
    Invalid cells raise :class:`~archperf.errors.InvalidCellError`.
    """
    if _is_nb201(space):
        return [shortest_path_length(nb201_edge_adjacency(space, c)) for c in cells]
    return [shortest_path_length(space.to_graph(c).adjacency) for c in cells]


def path_length_histogram(lengths: Iterable[int | None]) -> dict[str, int]:
    """Counts keyed by length (as a string, ascending) with ``"disconnected"`` last (if any)."""
    counts = Counter(lengths)
    out = {str(k): counts[k] for k in sorted(k for k in counts if k is not None)}
    if counts[None]:
        out[DISCONNECTED] = counts[None]
    return out


def interior_op_names(space: SearchSpace[Any]) -> tuple[str, ...]:
    """The ops an interior vertex can hold: ``op_names`` without the first (input) and the last
    (output) entry (NB101: 3 ops, NB201: the 5 edge ops)."""
    names = tuple(space.op_names)
    if len(names) < 3:
        raise ValueError(f"space {space.name!r} has no interior ops (op_names={names})")
    return names[1:-1]


def op_presence(space: SearchSpace[Any], cells: Sequence[Any]) -> dict[str, int]:
    """For each interior op (:func:`interior_op_names`), the number of cells that contain it at
    least once in their graph form.  Invalid cells raise."""
    names = interior_op_names(space)
    counts = dict.fromkeys(names, 0)
    for c in cells:
        g = space.to_graph(c)
        for op_id in set(g.ops[1:-1].tolist()):
            if not 1 <= op_id <= len(names):
                raise ValueError(
                    f"cell has op id {op_id} on an interior vertex; interior ops of "
                    f"{space.name!r} are ids 1..{len(names)}"
                )
            counts[names[op_id - 1]] += 1
    return counts
