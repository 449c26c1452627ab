"""The cell: an immutable graph spec shared by every part of archperf.

A :class:`Cell` is a directed graph with one operation id per vertex (ops on nodes), stored as an
``uint8`` adjacency matrix ``[N, N]`` and an ``int16`` op-id vector ``[N]``.  It is pure data: it
holds no model, no benchmark data and no reference to a search space; the meaning of the op ids
belongs to the :class:`~archperf.interfaces.SearchSpace` that made it.

:class:`CellBatch` is the padded tensor form (``adj [B, N, N]``, ``ops [B, N]``, ``mask [B, N]``)
that encoders consume. torch is imported only when a batch is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Cell", "CellBatch", "check_fixed_graph", "pad_cells"]


def _integer_array(values: Any, what: str) -> np.ndarray:
    """``values`` as an int64 array, refusing anything that is not a whole number.

    ``np.array(x, dtype=int64)`` truncates 0.9 to 0 and 1.9 to 1 without a word, which silently
    drops edges and changes ops; here a non-integer value (or a string, ``None``, ...) is an error.
    """
    try:
        raw = np.array(values, copy=True)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValueError(f"{what} must be a rectangular array of integers: {exc}") from None
    if raw.dtype == np.bool_ or np.issubdtype(raw.dtype, np.integer):
        return raw.astype(np.int64)
    if np.issubdtype(raw.dtype, np.floating):
        if raw.size and not (np.isfinite(raw).all() and np.array_equal(raw, np.round(raw))):
            bad = raw[~(np.isfinite(raw) & (raw == np.round(raw)))].ravel()[0]
            raise ValueError(f"{what} must be integers, got {bad!r}")
        return raw.astype(np.int64)
    if raw.dtype == object and raw.size == 0:
        return raw.astype(np.int64)
    raise ValueError(f"{what} must be integers, got values of type {raw.dtype}")


class Cell:
    """Immutable, hashable graph spec: adjacency ``uint8 [N, N]`` and op ids ``[N]``.

    Equality is exact (same vertex order, same edges, same ops); isomorphism is the job of a
    space's ``canonical`` form.  The arrays are read-only views; copy them to modify.
    """

    __slots__ = ("_adjacency", "_hash", "_ops")

    def __init__(self, adjacency: Any, ops: Sequence[int] | np.ndarray) -> None:
        adj = _integer_array(adjacency, "adjacency")
        op_arr = _integer_array(ops, "op ids")
        if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
            raise ValueError(f"adjacency must be a square [N, N] matrix, got shape {adj.shape}")
        if op_arr.ndim != 1 or op_arr.shape[0] != adj.shape[0]:
            raise ValueError(
                f"ops must have one id per vertex: adjacency is {adj.shape[0]}x{adj.shape[0]} "
                f"but got {op_arr.shape[0] if op_arr.ndim == 1 else op_arr.shape} ops"
            )
        if adj.size and (adj.min() < 0 or adj.max() > 1):
            raise ValueError("adjacency entries must be 0 or 1")
        if op_arr.size and (op_arr.min() < 0 or op_arr.max() > np.iinfo(np.int16).max):
            raise ValueError("op ids must be non-negative integers < 32768")
        a = adj.astype(np.uint8)
        o = op_arr.astype(np.int16)
        a.setflags(write=False)
        o.setflags(write=False)
        self._adjacency = a
        self._ops = o
        self._hash = hash((a.shape[0], a.tobytes(), o.tobytes()))

    @property
    def adjacency(self) -> np.ndarray:
        """Read-only ``uint8 [N, N]`` adjacency; ``adjacency[i, j] == 1`` is an edge i → j."""
        return self._adjacency

    @property
    def ops(self) -> np.ndarray:
        """Read-only ``int16 [N]`` op ids, one per vertex."""
        return self._ops

    @property
    def num_vertices(self) -> int:
        return int(self._adjacency.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self._adjacency.sum())

    def digest(self) -> str:
        """A stable hex digest of the exact spec (not isomorphism-invariant)."""
        h = hashlib.sha1(np.int64(self.num_vertices).tobytes())
        h.update(self._adjacency.tobytes())
        h.update(self._ops.astype("<i2").tobytes())
        return h.hexdigest()

    def to_dict(self) -> dict[str, list[Any]]:
        """JSON-ready ``{"matrix": [[...]], "ops": [...]}`` with op ids."""
        return {"matrix": self._adjacency.tolist(), "ops": self._ops.tolist()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cell):
            return NotImplemented
        return (
            self._hash == other._hash
            and self._adjacency.shape == other._adjacency.shape
            and bool(np.array_equal(self._adjacency, other._adjacency))
            and bool(np.array_equal(self._ops, other._ops))
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Cell(adjacency={self._adjacency.tolist()}, ops={self._ops.tolist()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Cell, (self._adjacency.copy(), self._ops.copy()))

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_hash"):
            raise AttributeError("Cell is immutable")
        object.__setattr__(self, name, value)


@dataclass(frozen=True)
class CellBatch:
    """Padded batch of graphs for encoders.

    ``adj`` is float ``[B, N, N]`` (it may hold soft/weighted edges from a generator), ``ops`` is
    either long ``[B, N]`` op ids or float ``[B, N, K]`` op distributions, and ``mask`` is bool
    ``[B, N]`` (True for real vertices).  ``num_ops`` is the size K of the op vocabulary.
    """

    adj: torch.Tensor
    ops: torch.Tensor
    mask: torch.Tensor
    num_ops: int

    @property
    def batch_size(self) -> int:
        return int(self.adj.shape[0])

    @property
    def max_nodes(self) -> int:
        return int(self.adj.shape[1])

    def op_onehot(self) -> torch.Tensor:
        """Ops as float ``[B, N, K]`` (one-hot for ids, unchanged for distributions)."""
        import torch

        if self.ops.dtype.is_floating_point:
            return self.ops
        x = torch.nn.functional.one_hot(self.ops.clamp_min(0), self.num_ops).to(self.adj.dtype)
        return x * self.mask.unsqueeze(-1).to(x.dtype)

    def to(self, device: Any) -> CellBatch:
        return CellBatch(
            self.adj.to(device), self.ops.to(device), self.mask.to(device), self.num_ops
        )

    @classmethod
    def from_cells(
        cls,
        cells: Sequence[Cell],
        num_ops: int,
        max_nodes: int | None = None,
        device: Any = None,
    ) -> CellBatch:
        """Stack cells into padded tensors (padding vertices have op id 0 and mask False)."""
        import torch

        adj, ops, mask = pad_cells(cells, num_ops, max_nodes, np.float32)
        return cls(
            torch.from_numpy(adj).to(device),
            torch.from_numpy(ops).to(device),
            torch.from_numpy(mask).to(device),
            num_ops,
        )


def pad_cells(
    cells: Sequence[Cell],
    num_ops: int | None,
    max_nodes: int | None = None,
    adj_dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one padding routine of the library: cells → ``adj [B, N, N]`` (``adj_dtype``),
    ``ops [B, N]`` (int64, padding 0) and ``mask [B, N]`` (bool, True for real vertices).

    ``N`` is ``max_nodes`` (a larger cell is a ``ValueError``), else the largest cell's size.
    With ``num_ops``, an op id ``>= num_ops`` is a ``ValueError``.  :meth:`CellBatch.from_cells`
    and :class:`archperf.nn.batching.GraphTable` both pad with it.
    """
    if len(cells) == 0:
        raise ValueError("cannot build a CellBatch from zero cells")
    n_max = max(c.num_vertices for c in cells)
    if max_nodes is None:
        max_nodes = n_max
    elif n_max > max_nodes:
        i = next(i for i, c in enumerate(cells) if c.num_vertices > max_nodes)
        raise ValueError(f"a cell has {n_max} vertices, more than max_nodes={max_nodes} (cell {i})")
    b = len(cells)
    adj = np.zeros((b, max_nodes, max_nodes), dtype=adj_dtype)
    ops = np.zeros((b, max_nodes), dtype=np.int64)
    mask = np.zeros((b, max_nodes), dtype=bool)
    for i, c in enumerate(cells):
        n = c.num_vertices
        if num_ops is not None and n and int(c.ops.max()) >= num_ops:
            raise ValueError(f"cell {i} has op id {int(c.ops.max())} >= num_ops={num_ops}")
        adj[i, :n, :n] = c.adjacency
        ops[i, :n] = c.ops
        mask[i, :n] = True
    return adj, ops, mask


def check_fixed_graph(
    arch: Any,
    adjacency: np.ndarray,
    input_id: int,
    output_id: int,
    *,
    cell_name: str,
    graph_name: str,
    size_note: str = "",
) -> np.ndarray:
    """The shared rules of a space whose cells all have one graph (NB201, a chain of layers):
    ``type`` (a :class:`Cell`), ``num-vertices``, ``adjacency`` (equal to ``adjacency``, the
    error naming unexpected and missing edges), ``input-op`` and ``output-op`` (first / last
    vertex).  Raises :class:`~archperf.errors.InvalidCellError` naming the first broken rule;
    returns the cell's ops for the space's own op rules.

    ``cell_name`` starts the messages ("an NB201 cell"), ``graph_name`` describes the graph
    ("has a fixed op-on-node adjacency"), ``size_note`` explains the size (" (input, 8 layers,
    output)").
    """
    from .errors import InvalidCellError

    n = int(adjacency.shape[0])
    if not isinstance(arch, Cell):
        article, _, space = cell_name.partition(" ")
        raise InvalidCellError(
            "type",
            f"{article} {space.removesuffix(' cell')} architecture is a Cell, got "
            f"{type(arch).__name__}",
        )
    if arch.num_vertices != n:
        raise InvalidCellError(
            "num-vertices",
            f"{cell_name} has exactly {n} vertices{size_note}, got {arch.num_vertices}",
        )
    adj = arch.adjacency
    if not np.array_equal(adj, adjacency):
        extra = [(int(i), int(j)) for i, j in np.argwhere(adj > adjacency)]
        missing = [(int(i), int(j)) for i, j in np.argwhere(adj < adjacency)]
        parts = [f"unexpected edges {extra}"] if extra else []
        parts += [f"missing edges {missing}"] if missing else []
        raise InvalidCellError("adjacency", f"{cell_name} {graph_name}: " + "; ".join(parts))
    ops = arch.ops
    if int(ops[0]) != input_id:
        raise InvalidCellError(
            "input-op", f"vertex 0 must be 'input' (op id {input_id}), got op id {ops[0]}"
        )
    if int(ops[-1]) != output_id:
        raise InvalidCellError(
            "output-op",
            f"vertex {n - 1} must be 'output' (op id {output_id}), got op id {ops[-1]}",
        )
    return ops
