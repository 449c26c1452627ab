"""What both encoders share: reading a :class:`~archperf.cell.CellBatch` into dense tensors,
checking dense inputs, and masked pooling."""

from __future__ import annotations

import torch
from torch import Tensor

from archperf.cell import CellBatch

POOLINGS = ("sum", "mean")


def dense_inputs(
    batch: CellBatch, num_ops: int, in_dim: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor]:
    """``(adj, x, mask)`` of a batch: op ids become one-hot rows, op distributions stay as they
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
        if real.numel() and (int(real.min()) < 0 or int(real.max()) >= num_ops):
            raise ValueError(
                f"op ids must lie in [0, {num_ops}), got [{int(real.min())}, {int(real.max())}]"
            )
    return batch.adj.to(dtype), batch.op_onehot().to(dtype), batch.mask


def check_dense(adj: Tensor, x: Tensor, mask: Tensor, in_dim: int) -> None:
    """One clear ``ValueError`` for dense inputs of the wrong shape, type or an empty graph."""
    if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise ValueError(f"adj must be [B, N, N], got shape {tuple(adj.shape)}")
    b, n = adj.shape[0], adj.shape[1]
    if tuple(mask.shape) != (b, n):
        raise ValueError(f"mask must be [B, N] = [{b}, {n}], got shape {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
    if x.dim() != 3 or tuple(x.shape[:2]) != (b, n) or x.shape[2] != in_dim:
        raise ValueError(f"x must be [B, N, in_dim] = [{b}, {n}, {in_dim}], got {tuple(x.shape)}")
    if not adj.dtype.is_floating_point or not x.dtype.is_floating_point:
        raise ValueError(f"adj and x must be float tensors, got {adj.dtype} and {x.dtype}")
    if b == 0:
        raise ValueError("empty batch: B must be at least 1")
    if not bool(mask.any(dim=1).all()):
        empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
        raise ValueError(f"graphs {empty} have no real vertex (mask is all False)")


def pool(h: Tensor, m: Tensor, pooling: str) -> Tensor:
    """Masked sum or mean over the real vertices: ``h [B, N, D]``, ``m`` float ``[B, N]``."""
    s = (h * m.unsqueeze(-1)).sum(dim=1)
    if pooling == "mean":
        s = s / m.sum(dim=1, keepdim=True).clamp_min(1.0)
    return s
