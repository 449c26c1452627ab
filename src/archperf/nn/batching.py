"""Cells into tensors, and models over many cells: the one way the library batches cells.

* :func:`archperf.cell.pad_cells` pads op-on-node :class:`~archperf.cell.Cell` s into arrays;
  :meth:`CellBatch.from_cells <archperf.cell.CellBatch.from_cells>` and :class:`GraphTable`
  both use it.
* :func:`cells_to_batch`: cells, or a space's own architectures, as one padded
  :class:`~archperf.cell.CellBatch`.
* :class:`GraphTable`: many architectures stacked once (adjacency as ``uint8``, so a large
  unlabeled pool stays small), sliced into batches by index.
* :func:`predict_table`: a model's outputs over a table, in eval mode, without gradients, in
  batches; :meth:`GraphPredictor.predict <archperf.nn.predictor.GraphPredictor.predict>` and the
  trainer predict through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..cell import Cell, CellBatch, pad_cells
from ..interfaces import SearchSpace

__all__ = ["GraphTable", "cells_to_batch", "dense_inputs", "predict_table", "to_cells"]


def to_cells(archs: Sequence[Any], space: SearchSpace[Any] | None) -> list[Cell]:
    """``archs`` as op-on-node cells: a :class:`Cell` stays, anything else needs ``space``
    (its ``to_graph``); without one, a ``TypeError`` names the first such item."""
    cells: list[Cell] = []
    for i, a in enumerate(archs):
        if isinstance(a, Cell):
            cells.append(a)
        elif space is not None:
            cells.append(space.to_graph(a))
        else:
            raise TypeError(
                f"item {i} is a {type(a).__name__}, not a Cell: pass space=... to convert it"
            )
    return cells


def _check_space_ops(space: SearchSpace[Any], num_ops: int) -> None:
    if len(space.op_names) != num_ops:
        raise ValueError(
            f"space {getattr(space, 'name', space)!r} has {len(space.op_names)} ops but the "
            f"model was built for num_ops={num_ops}"
        )


def cells_to_batch(
    archs: Sequence[Any] | CellBatch,
    num_ops: int,
    space: Any = None,
    device: Any = None,
) -> CellBatch:
    """Cells (or a space's native archs, with ``space``) as a padded :class:`CellBatch`.

    ``space`` is a :class:`~archperf.interfaces.SearchSpace` or a registered name (``"nb201"``);
    it converts native archs with ``to_graph``, pads to ``space.max_nodes`` and checks that its
    op vocabulary has ``num_ops`` ops.  Without a space, cells are padded to the largest one.
    """
    if isinstance(archs, CellBatch):
        return archs.to(device) if device is not None else archs
    from ..registry import search_space

    sp = None if space is None else search_space(space)
    max_nodes = None
    if sp is not None:
        _check_space_ops(sp, num_ops)
        max_nodes = int(sp.max_nodes)
    return CellBatch.from_cells(to_cells(archs, sp), num_ops, max_nodes, device)


class GraphTable:
    """A space's architectures as stacked graph tensors, sliced into :class:`CellBatch` es.

    Adjacency is kept as ``uint8`` so a large unlabeled pool stays small in memory.  Built from
    a space and its architectures (padded to ``space.max_nodes``), or with :meth:`from_cells`.
    """

    def __init__(self, space: SearchSpace[Any], archs: Sequence[Any]) -> None:
        if len(archs) == 0:
            raise ValueError("no architectures given")
        cells = [space.to_graph(a) for a in archs]
        self._fill(cells, len(space.op_names), int(space.max_nodes))

    @classmethod
    def from_cells(
        cls, cells: Sequence[Cell], num_ops: int, max_nodes: int | None = None
    ) -> GraphTable:
        """A table of op-on-node cells, padded to ``max_nodes`` (default: the largest cell)."""
        if len(cells) == 0:
            raise ValueError("no architectures given")
        table = cls.__new__(cls)
        table._fill(list(cells), num_ops, max_nodes)
        return table

    def _fill(self, cells: Sequence[Cell], num_ops: int, max_nodes: int | None) -> None:
        adj, ops, mask = pad_cells(cells, num_ops, max_nodes, np.uint8)
        self.adj = torch.from_numpy(adj)
        self.ops = torch.from_numpy(ops)
        self.mask = torch.from_numpy(mask)
        self.num_ops = num_ops

    def __len__(self) -> int:
        return int(self.adj.shape[0])

    def batch(self, index: Tensor | np.ndarray, device: torch.device | str | None) -> CellBatch:
        idx = torch.as_tensor(index, dtype=torch.long)
        return CellBatch(
            self.adj[idx].to(device=device, dtype=torch.float32),
            self.ops[idx].to(device),
            self.mask[idx].to(device),
            self.num_ops,
        )

    def batches(self, batch_size: int, device: torch.device | str | None) -> Iterator[CellBatch]:
        """The whole table in order, as batches of at most ``batch_size`` (made one by one)."""
        for s in range(0, len(self), batch_size):
            yield self.batch(torch.arange(s, min(s + batch_size, len(self))), device)


@torch.no_grad()
def predict_table(
    model: nn.Module | Callable[[CellBatch], Tensor],
    batches: Iterable[CellBatch],
) -> np.ndarray:
    """``model``'s outputs ``[B]`` over ``batches`` as one float64 array, in eval mode and
    without gradients; the model's mode is restored afterwards."""
    was = model.training if isinstance(model, nn.Module) else None
    if isinstance(model, nn.Module):
        model.eval()
    try:
        outs = [model(b).float().cpu() for b in batches]
    finally:
        if isinstance(model, nn.Module) and was is not None:
            model.train(was)
    if not outs:
        return np.zeros(0, dtype=np.float64)
    return torch.cat(outs).numpy().astype(np.float64)


def dense_inputs(
    batch: CellBatch, num_ops: int | None, in_dim: int | None, dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor]:
    """``(adj, x, mask)`` of a batch for an encoder's ``forward_dense`` (the GIN and plugin
    encoders share it): op ids become one-hot rows, op distributions stay as they
    are (so gradients reach them); a batch of the wrong vocabulary is a ``ValueError``."""
    if not isinstance(batch, CellBatch):
        raise TypeError(f"expected a CellBatch, got {type(batch).__name__}")
    if batch.num_ops != num_ops:
        raise ValueError(
            f"batch has num_ops={batch.num_ops} but the encoder was built for num_ops={num_ops}"
        )
    if in_dim != num_ops:
        raise ValueError(
            f"this encoder takes {in_dim}-dim node features (in_dim), not one-hot ops: "
            "call forward_dense(adj, x, mask)"
        )
    ops = batch.ops
    if not ops.dtype.is_floating_point:
        if ops.dim() != 2:
            raise ValueError(f"op ids must be [B, N], got shape {tuple(ops.shape)}")
        real = ops[batch.mask]
        if real.numel() and (int(real.min()) < 0 or int(real.max()) >= batch.num_ops):
            raise ValueError(
                f"op ids must lie in [0, {batch.num_ops}), got "
                f"[{int(real.min())}, {int(real.max())}]"
            )
    return batch.adj.to(dtype), batch.op_onehot().to(dtype), batch.mask
