"""Graph Isomorphism Network (GIN) encoders for cells, dense backend.

Layer ``l`` updates every real vertex ``v`` as (Xu et al., 2019)::

    h_v^l = MLP_l((1 + eps_l) * h_v^{l-1} + sum_u w(u, v) * h_u^{l-1})

where the sum runs over the neighbours chosen by ``direction`` (``"in"``: predecessors,
``w(u, v) = adj[u, v]``; ``"out"``: successors, ``w = adj[v, u]``; ``"both"``: the two sums
added, i.e. ``adj + adj^T``).  Edge weights may be soft (a generator's relaxed adjacency), and
node inputs may be op distributions, so gradients reach both.  The graph embedding concatenates,
for every layer, the masked *sum* (default) or *mean* of the real vertices' features
(``[B, num_layers * hidden_dim]``), following arch2vec / GIN.

:class:`GINBase` holds the parameters and everything except message passing, so the PyG and DGL
backends (plugins ``archperf-pyg`` / ``archperf-dgl``) have the same parameter names and shapes:
a ``state_dict`` moves between backends and gives the same outputs.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..cell import CellBatch
from ..interfaces import DenseEncoder, Encoder, EncoderOutput
from .batching import dense_inputs
from .limits import MAX_LAYERS, MAX_NUM_OPS, MAX_WIDTH, check_int

__all__ = [
    "DIRECTIONS",
    "NORMS",
    "POOLINGS",
    "DenseGIN",
    "GINBase",
    "GINUpdate",
    "SparseGraph",
    "dense_to_sparse",
    "init_seeded",
    "to_backend",
]

DIRECTIONS = ("in", "out", "both")
POOLINGS = ("sum", "mean")
NORMS = ("batch", "layer", "none")


class init_seeded:
    """Context manager: seed torch's CPU RNG for parameter init, restoring it afterwards.

    ``seed=None`` does nothing (the global RNG is used and advanced as usual).
    """

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self._ctx: Any = None

    def __enter__(self) -> None:
        if self.seed is None:
            return
        self._ctx = torch.random.fork_rng(devices=[])
        self._ctx.__enter__()
        torch.manual_seed(int(self.seed))

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self._ctx = None


def _norm(kind: str, dim: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(dim)
    if kind == "layer":
        return nn.LayerNorm(dim)
    return nn.Identity()


class GINUpdate(nn.Module):
    """The per-layer MLP ``Linear → norm → ReLU → Linear → norm → ReLU`` on flat node rows.

    It only ever sees real vertices (``[M, F]``), so batch norm statistics ignore padding and are
    the same whatever the backend.
    """

    def __init__(self, in_dim: int, hidden_dim: int, norm: str) -> None:
        super().__init__()
        self.lin1 = nn.Linear(in_dim, hidden_dim)
        self.norm1 = _norm(norm, hidden_dim)
        self.lin2 = nn.Linear(hidden_dim, hidden_dim)
        self.norm2 = _norm(norm, hidden_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.norm1(self.lin1(x)))
        return torch.relu(self.norm2(self.lin2(x)))


class GINBase(nn.Module, Encoder, DenseEncoder, metaclass=abc.ABCMeta):
    """Parameters and shared logic of the GIN encoders; subclasses implement message passing.

    Args:
        num_ops: size K of the op vocabulary (one-hot input width for :meth:`forward`).
        hidden_dim: width of every layer.
        num_layers: number of GIN layers (graph embedding is ``num_layers * hidden_dim``).
        direction: ``"both"`` (default), ``"in"`` or ``"out"``; see the module docstring.
        eps_learnable: learn ``eps_l`` (initialised at 0) or keep it fixed at 0.
        in_dim: node input width for :meth:`forward_dense` (default ``num_ops``).
        pooling: ``"sum"`` (default) or ``"mean"`` over real vertices.
        norm: ``"batch"`` (default; masked: statistics over real vertices only), ``"layer"`` or
            ``"none"``.
        seed: if given, parameters are initialised from this seed (global RNG untouched).
    """

    registry_kind: ClassVar[str] = "encoder"
    registry_name: ClassVar[str] = ""
    backend: ClassVar[str] = ""

    def __init__(
        self,
        num_ops: int,
        hidden_dim: int = 32,
        num_layers: int = 4,
        direction: str = "both",
        eps_learnable: bool = True,
        in_dim: int | None = None,
        pooling: str = "sum",
        norm: str = "batch",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        check_int("num_ops", num_ops, MAX_NUM_OPS)
        check_int("hidden_dim", hidden_dim, MAX_WIDTH)
        check_int("num_layers", num_layers, MAX_LAYERS)
        if in_dim is not None:
            check_int("in_dim", in_dim, MAX_WIDTH)
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.num_ops = num_ops
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.direction = direction
        self.eps_learnable = bool(eps_learnable)
        self.in_dim = num_ops if in_dim is None else in_dim
        self._in_dim_arg = in_dim
        self.pooling = pooling
        self.norm = norm
        self.seed = seed
        self.graph_dim = num_layers * hidden_dim
        with init_seeded(seed):
            dims = [self.in_dim] + [hidden_dim] * num_layers
            self.layers = nn.ModuleList(
                GINUpdate(dims[i], hidden_dim, norm) for i in range(num_layers)
            )
        eps = torch.zeros(num_layers)
        if self.eps_learnable:
            self.eps = nn.Parameter(eps)
        else:
            self.register_buffer("eps", eps)

    @property
    def node_dim(self) -> int:
        """Width of the node embeddings (``hidden_dim``)."""
        return self.hidden_dim

    # -- configuration -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """JSON-ready constructor arguments."""
        return {
            "num_ops": self.num_ops,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "direction": self.direction,
            "eps_learnable": self.eps_learnable,
            "in_dim": self._in_dim_arg,
            "pooling": self.pooling,
            "norm": self.norm,
            "seed": self.seed,
        }

    @classmethod
    def for_space(cls, space: Any, **kwargs: Any) -> GINBase:
        """An encoder sized for a search space (``num_ops = len(space.op_names)``)."""
        return cls(num_ops=len(space.op_names), **kwargs)

    def extra_repr(self) -> str:
        return (
            f"backend={self.backend!r}, num_ops={self.num_ops}, in_dim={self.in_dim}, "
            f"hidden_dim={self.hidden_dim}, num_layers={self.num_layers}, "
            f"direction={self.direction!r}, pooling={self.pooling!r}, norm={self.norm!r}"
        )

    # -- forward -------------------------------------------------------------------------------

    def forward(self, batch: CellBatch) -> EncoderOutput:
        """Encode a :class:`CellBatch` (op ids are one-hot encoded, distributions used as is)."""
        inputs = dense_inputs(batch, self.num_ops, self.in_dim, self._param_dtype())
        return self.forward_dense(*inputs)

    @abc.abstractmethod
    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> EncoderOutput:
        """Encode dense inputs: ``adj`` float ``[B, N, N]`` (``adj[b, i, j]``: weight of edge
        ``i → j``), node features ``x`` float ``[B, N, in_dim]``, ``mask`` bool ``[B, N]``."""

    # -- helpers for all backends --------------------------------------------------------------

    def _param_dtype(self) -> torch.dtype:
        first = self.layers[0]
        assert isinstance(first, GINUpdate)
        return first.lin1.weight.dtype

    def _check_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> None:
        if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
            raise ValueError(f"adj must be [B, N, N], got shape {tuple(adj.shape)}")
        b, n = adj.shape[0], adj.shape[1]
        if tuple(mask.shape) != (b, n):
            raise ValueError(f"mask must be [B, N] = [{b}, {n}], got shape {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
        if x.dim() != 3 or tuple(x.shape[:2]) != (b, n) or x.shape[2] != self.in_dim:
            raise ValueError(
                f"x must be [B, N, in_dim] = [{b}, {n}, {self.in_dim}], got {tuple(x.shape)}"
            )
        if not adj.dtype.is_floating_point or not x.dtype.is_floating_point:
            raise ValueError(f"adj and x must be float tensors, got {adj.dtype} and {x.dtype}")
        if b == 0:
            raise ValueError("empty batch: B must be at least 1")
        if not bool(mask.any(dim=1).all()):
            empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
            raise ValueError(f"graphs {empty} have no real vertex (mask is all False)")

    def _pool_dense(self, h: Tensor, m: Tensor) -> Tensor:
        s = (h * m.unsqueeze(-1)).sum(dim=1)
        if self.pooling == "mean":
            s = s / m.sum(dim=1, keepdim=True).clamp_min(1.0)
        return s


class DenseGIN(GINBase):
    """GIN on dense batched adjacency (pure torch, batched matmuls): the default backend.

    ``forward(batch)`` → :class:`EncoderOutput` with ``nodes [B, N, hidden_dim]`` (zero at
    padding) and ``graph [B, num_layers * hidden_dim]``.  See :class:`GINBase` for arguments.
    """

    registry_name = "gin"
    backend = "dense"

    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> EncoderOutput:
        self._check_dense(adj, x, mask)
        m = mask.to(x.dtype)
        full = bool(mask.all())  # no padding: skip the masking and the scatter
        a = adj if full else adj * (m.unsqueeze(2) * m.unsqueeze(1))
        h = x if full else x * m.unsqueeze(-1)
        b, n = mask.shape
        # one message matrix per batch: row v sums the chosen neighbours of v
        if self.direction == "in":
            msg_from = a.transpose(1, 2)
        elif self.direction == "out":
            msg_from = a
        else:
            msg_from = a.transpose(1, 2) + a
        pooled = []
        for layer_idx, update in enumerate(self.layers):
            agg = (1.0 + self.eps[layer_idx]) * h + msg_from @ h
            if full:
                h = update(agg.reshape(b * n, -1)).reshape(b, n, -1)
            else:
                flat = update(agg[mask])
                h = flat.new_zeros(b, n, flat.shape[-1]).index_put((mask,), flat)
            pooled.append(self._pool_dense(h, m))
        return EncoderOutput(nodes=h, graph=torch.cat(pooled, dim=-1))


class SparseGraph:
    """A padded dense batch flattened to real vertices and weighted edges (for PyG / DGL).

    ``x`` ``[M, F]`` real-vertex features (row-major order of ``mask``), ``src``/``dst`` ``[E]``
    flat vertex ids of each edge ``src → dst``, ``weight`` ``[E]`` (differentiable in ``adj``),
    ``batch`` ``[M]`` graph id per vertex, ``edge_batch`` ``[E]``, ``num_nodes`` ``[B]``.
    """

    __slots__ = ("batch", "dst", "edge_batch", "mask", "num_nodes", "src", "weight", "x")

    def __init__(
        self,
        x: Tensor,
        src: Tensor,
        dst: Tensor,
        weight: Tensor,
        batch: Tensor,
        edge_batch: Tensor,
        num_nodes: Tensor,
        mask: Tensor,
    ) -> None:
        self.x, self.src, self.dst, self.weight = x, src, dst, weight
        self.batch, self.edge_batch, self.num_nodes, self.mask = batch, edge_batch, num_nodes, mask

    @property
    def num_graphs(self) -> int:
        return int(self.mask.shape[0])

    def to_dense_nodes(self, flat: Tensor) -> Tensor:
        """Scatter ``[M, D]`` vertex rows back to ``[B, N, D]`` (zeros at padding)."""
        b, n = self.mask.shape
        return flat.new_zeros(b, n, flat.shape[-1]).index_put((self.mask,), flat)


def dense_to_sparse(
    adj: Tensor, x: Tensor, mask: Tensor, keep_zero_edges: bool | None = None
) -> SparseGraph:
    """Flatten a dense batch to an edge list between real vertices.

    An edge ``i → j`` is kept where ``adj[b, i, j] != 0`` — or for every pair of real vertices
    when ``keep_zero_edges`` (default: when ``adj`` requires grad, so that gradients w.r.t. zero
    entries of a soft adjacency are the same as in the dense backend).
    """
    if keep_zero_edges is None:
        keep_zero_edges = adj.requires_grad
    pair = mask.unsqueeze(2) & mask.unsqueeze(1)
    if not keep_zero_edges:
        pair = pair & (adj != 0)
    bi, i, j = pair.nonzero(as_tuple=True)
    flat_id = (mask.reshape(-1).long().cumsum(0) - 1).reshape(mask.shape)
    graph_of = torch.arange(mask.shape[0], device=mask.device).unsqueeze(1).expand_as(mask)
    return SparseGraph(
        x=x[mask],
        src=flat_id[bi, i],
        dst=flat_id[bi, j],
        weight=adj[bi, i, j],
        batch=graph_of[mask],
        edge_batch=bi,
        num_nodes=mask.sum(dim=1),
        mask=mask,
    )


def to_backend(encoder: GINBase, name: str) -> GINBase:
    """The same encoder (config and weights) on another registered GIN backend.

    ``name`` is an encoder registry name, e.g. ``"gin"`` (dense), ``"gin-pyg"``, ``"gin-dgl"``.
    """
    from .. import registry

    cls = registry.get("encoder", name)
    if not (isinstance(cls, type) and issubclass(cls, GINBase)):
        raise ValueError(f"encoder {name!r} is not a GIN backend ({cls!r})")
    other = cls.from_config(encoder.config())
    other.load_state_dict(encoder.state_dict())
    param = next(encoder.parameters(), None)
    if param is not None:
        other = other.to(param.device)
    other.train(encoder.training)
    return other
