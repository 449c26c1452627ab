"""The Performance Predictor (PP) of SemiGAN-NAD: an encoder's graph embedding → MLP →
performance.

>>> pp = GraphPredictor(num_ops=7)                     # 4-layer dense GIN, width 64
>>> pp = GraphPredictor(registry.create("encoder", "gin-pyg", num_ops=7))  # any encoder
>>> pp(batch)                                          # Tensor [B] (differentiable)
>>> pp.predict(cells, space="nb201")                   # numpy [B], eval mode, no grad, batched

The output is ``mlp(graph) * target_std + target_mean``: set the two buffers with
:meth:`GraphPredictor.set_target_scale` so that the MLP works on standardised targets while
:meth:`predict` returns performance in the benchmark's own units.  ``GINPredictor`` is the
same class under its first name (the default encoder is a GIN; the registry name is ``"gin"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..cell import CellBatch
from ..errors import check_finite_predictions
from ..interfaces import Encoder, Predictor
from ..runtime import with_threads
from .batching import cells_to_batch, predict_table
from .encoders import build_encoder, encoder_spec, resolve_encoder
from .gin import GINBase, init_seeded
from .limits import MAX_LAYERS, MAX_WIDTH

__all__ = [
    "GINPredictor",
    "GraphPredictor",
    "build_encoder",
    "build_mlp",
    "cells_to_batch",
    "encoder_spec",
    "resolve_encoder",
    "resolve_space",
]


def build_mlp(
    in_dim: int, dims: Sequence[int], out_dim: int, dropout: float = 0.0
) -> nn.Sequential:
    """``Linear → ReLU (→ Dropout)`` for each hidden width in ``dims``, then ``Linear → out``."""
    layers: list[nn.Module] = []
    prev = in_dim
    for d in dims:
        layers += [nn.Linear(prev, int(d)), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        prev = int(d)
    layers.append(nn.Linear(prev, out_dim))
    return nn.Sequential(*layers)


def _check_dims(name: str, dims: Sequence[int]) -> tuple[int, ...]:
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence):
        raise ValueError(f"{name} must be a list of positive integers, got {dims!r}")
    if len(dims) > MAX_LAYERS:
        raise ValueError(f"{name} has {len(dims)} layers, more than the limit of {MAX_LAYERS}")
    out = tuple(dims)
    for d in out:
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_WIDTH:
            raise ValueError(f"{name} must be integers in [1, {MAX_WIDTH}], got {list(out)!r}")
    return out


def resolve_space(space: Any) -> Any:
    """A search space instance from an instance, a registered name, or None
    (:func:`archperf.registry.search_space`)."""
    if space is None:
        return None
    from ..registry import search_space

    return search_space(space)


class GraphPredictor(nn.Module, Predictor):
    """PP: encoder graph embedding → MLP → one performance value per cell.

    Args:
        encoder: any :class:`~archperf.interfaces.Encoder` module with ``graph_dim`` (or an
            encoder spec dict from a saved config); default a :class:`DenseGIN` built from
            ``num_ops``, ``hidden_dim``, ``num_layers``, ``direction``, ``pooling``, ``norm``.
        num_ops: op vocabulary size (required when ``encoder`` is None).
        hidden_dim, num_layers: GIN width and depth (paper: 4 layers).  The defaults (width 64,
            mean pooling, no normalisation) rank best in ``bench/predictor_recipes.py``.
        mlp_dims: hidden widths of the MLP head.
        dropout: dropout in the MLP head.
        target_mean, target_std: initial output scale (see :meth:`set_target_scale`).
        seed: if given, parameters are initialised from it (global RNG untouched).
    """

    registry_kind: ClassVar[str] = "predictor"
    registry_name: ClassVar[str] = "gin"
    encoder: nn.Module
    target_mean: Tensor
    target_std: Tensor

    def __init__(
        self,
        encoder: Encoder | Mapping[str, Any] | None = None,
        num_ops: int | None = None,
        hidden_dim: int = 64,
        num_layers: int = 4,
        mlp_dims: Sequence[int] = (64, 32),
        direction: str = "both",
        pooling: str = "mean",
        norm: str = "none",
        dropout: float = 0.0,
        target_mean: float = 0.0,
        target_std: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.mlp_dims = _check_dims("mlp_dims", mlp_dims)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.seed = seed
        with init_seeded(seed):
            enc, graph_dim, enc_ops = build_encoder(
                "GraphPredictor",
                encoder,
                num_ops,
                hidden_dim=hidden_dim,
                num_layers=num_layers,
                direction=direction,
                pooling=pooling,
                norm=norm,
            )
            self.encoder = enc
            self.head = build_mlp(graph_dim, self.mlp_dims, 1, self.dropout)
        self.num_ops = enc_ops
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))
        self.register_buffer("target_std", torch.tensor(float(target_std)))
        self.set_target_scale(float(target_mean), float(target_std))

    def set_target_scale(self, mean: float, std: float) -> None:
        """Outputs become ``mlp(graph) * std + mean`` (std must be positive and finite)."""
        if not np.isfinite(mean) or not np.isfinite(std) or std <= 0:
            raise ValueError(f"target scale needs finite mean and std > 0, got {mean}, {std}")
        self.target_mean.fill_(float(mean))
        self.target_std.fill_(float(std))

    def config(self) -> dict[str, Any]:
        """JSON-ready constructor arguments (the encoder as a registry spec)."""
        return {
            "encoder": encoder_spec(self.encoder),
            "mlp_dims": list(self.mlp_dims),
            "dropout": self.dropout,
            "seed": self.seed,
        }

    @classmethod
    def for_space(cls, space: Any, **kwargs: Any) -> GraphPredictor:
        """A predictor sized for a search space (``num_ops = len(space.op_names)``)."""
        return cls(num_ops=len(space.op_names), **kwargs)

    def forward(self, batch: CellBatch) -> Tensor:
        """Predicted performance ``[B]`` (differentiable w.r.t. soft adjacency and ops)."""
        out = self.encoder(batch)
        y = self.head(out.graph).squeeze(-1)
        return y * self.target_std + self.target_mean

    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> Tensor:
        """Like :meth:`forward` on dense inputs (encoder must be a :class:`GINBase`)."""
        if not isinstance(self.encoder, GINBase):
            raise TypeError("forward_dense needs a GIN encoder")
        y = self.head(self.encoder.forward_dense(adj, x, mask).graph).squeeze(-1)
        return y * self.target_std + self.target_mean

    @with_threads
    @torch.no_grad()
    def predict(
        self,
        cells: Sequence[Any] | CellBatch,
        space: Any = None,
        batch_size: int = 512,
        device: Any = None,
    ) -> np.ndarray:
        """Predicted performance for cells (or a space's archs with ``space``) as numpy ``[B]``.

        Runs in eval mode without gradients, in batches of ``batch_size``, on ``device``
        (default: where the model's parameters are), with the library's torch thread count
        (:mod:`archperf.runtime`); the module's mode and the caller's threads are restored
        afterwards.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if self.num_ops is None:
            raise ValueError("this predictor's encoder does not say num_ops")
        if device is None:
            device = next(self.parameters()).device
        else:
            self.to(device)
        if isinstance(cells, CellBatch):
            n = cells.batch_size
            chunks = [
                CellBatch(
                    cells.adj[i : i + batch_size],
                    cells.ops[i : i + batch_size],
                    cells.mask[i : i + batch_size],
                    cells.num_ops,
                ).to(device)
                for i in range(0, n, batch_size)
            ]
            if n <= batch_size:
                chunks = [cells.to(device)]
            out = predict_table(self, chunks)
        else:
            items = list(cells)
            if not items:
                return np.zeros(0, dtype=np.float64)
            sp = resolve_space(space)
            out = predict_table(
                self,
                (
                    cells_to_batch(items[i : i + batch_size], self.num_ops, sp, device)
                    for i in range(0, len(items), batch_size)
                ),
            )
        check_finite_predictions(out, f"{type(self).__name__}")
        return out


GINPredictor = GraphPredictor
"""The first name of :class:`GraphPredictor` (kept: saved models and user code use it)."""
