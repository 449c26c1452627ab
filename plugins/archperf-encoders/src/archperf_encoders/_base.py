"""What both encoders share: checking dense inputs and masked pooling (reading a
:class:`~archperf.cell.CellBatch` is :func:`archperf.nn.batching.dense_inputs`)."""

from __future__ import annotations

import torch
from torch import Tensor

POOLINGS = ("sum", "mean")


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
