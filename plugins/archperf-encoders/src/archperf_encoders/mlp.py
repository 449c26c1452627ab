"""A non-graph baseline encoder (registered as encoder ``mlp``).

A cell becomes one flat vector: the upper triangle (``i < j``) of its (soft) adjacency and its
(soft) op distributions, both zero-padded to ``max_nodes`` vertices.  An MLP maps that vector to
the graph embedding (``graph_dim = hidden_dim``).  Vertices are read in the order the space
gives them (op-on-node cells are topologically ordered, so every edge lies in the upper
triangle); nothing is shared between positions, which is what makes it a baseline for the
graph encoders.  Node embeddings, which a generator's decoder reads, are a per-node linear map of
the node's input plus a linear map of the graph embedding (zero at padding).

Everything is linear in ``adj`` and ``x`` before the first ReLU, so gradients reach a
generator's relaxed adjacency and op distributions; a batch with more than ``max_nodes``
vertices is a ``ValueError``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archperf.cell import CellBatch
from archperf.interfaces import DenseEncoder, Encoder, EncoderOutput
from archperf.nn.batching import dense_inputs
from archperf.nn.gin import init_seeded
from archperf.nn.limits import MAX_LAYERS, MAX_NUM_OPS, MAX_WIDTH, check_int

from ._base import check_dense

__all__ = ["MAX_NODES", "MLPEncoder"]

#: Largest ``max_nodes`` accepted (the input vector grows with its square).
MAX_NODES = 256


class MLPEncoder(nn.Module, Encoder, DenseEncoder):
    """Flattened adjacency and ops → MLP: see the module docstring.

    Args:
        num_ops: size K of the op vocabulary (one-hot input width for :meth:`forward`).
        hidden_dim: width of every hidden layer, of the graph and of the node embeddings.
        num_layers: number of hidden ``Linear → ReLU`` layers.
        max_nodes: vertices the input is padded to (default 32: cells of NB101 have 7,
            NB201 8, DARTS/NB301 22).
        in_dim: node input width for :meth:`forward_dense` (default ``num_ops``).
        seed: if given, parameters are initialised from this seed (global RNG untouched).
    """

    registry_kind: ClassVar[str] = "encoder"
    registry_name: ClassVar[str] = "mlp"
    num_ops: int
    _triu: Tensor

    def __init__(
        self,
        num_ops: int,
        hidden_dim: int = 32,
        num_layers: int = 2,
        max_nodes: int = 32,
        in_dim: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        check_int("num_ops", num_ops, MAX_NUM_OPS)
        check_int("hidden_dim", hidden_dim, MAX_WIDTH)
        check_int("num_layers", num_layers, MAX_LAYERS)
        check_int("max_nodes", max_nodes, MAX_NODES)
        if in_dim is not None:
            check_int("in_dim", in_dim, MAX_WIDTH)
        self.num_ops = num_ops
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.max_nodes = max_nodes
        self.in_dim = num_ops if in_dim is None else in_dim
        self._in_dim_arg = in_dim
        self.seed = seed
        self.graph_dim = hidden_dim
        n = max_nodes
        width = n * (n - 1) // 2 + n * self.in_dim
        self.register_buffer("_triu", torch.triu_indices(n, n, offset=1), persistent=False)
        with init_seeded(seed):
            dims = [width] + [hidden_dim] * num_layers
            self.mlp = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(num_layers))
            self.node_in = nn.Linear(self.in_dim, hidden_dim)
            self.node_graph = nn.Linear(hidden_dim, hidden_dim, bias=False)

    @property
    def node_dim(self) -> int:
        """Width of the node embeddings (``hidden_dim``)."""
        return self.hidden_dim

    def config(self) -> dict[str, Any]:
        """JSON-ready constructor arguments."""
        return {
            "num_ops": self.num_ops,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "max_nodes": self.max_nodes,
            "in_dim": self._in_dim_arg,
            "seed": self.seed,
        }

    def extra_repr(self) -> str:
        return (
            f"num_ops={self.num_ops}, in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, "
            f"num_layers={self.num_layers}, max_nodes={self.max_nodes}"
        )

    def forward(self, batch: CellBatch) -> EncoderOutput:
        """Encode a :class:`CellBatch` (op ids are one-hot encoded, distributions used as is)."""
        adj, x, mask = dense_inputs(batch, self.num_ops, self.in_dim, self.node_in.weight.dtype)
        return self.forward_dense(adj, x, mask)

    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> EncoderOutput:
        """Encode dense inputs: ``adj`` float ``[B, N, N]`` (``adj[b, i, j]``: weight of edge
        ``i → j``), node features ``x`` float ``[B, N, in_dim]``, ``mask`` bool ``[B, N]``."""
        check_dense(adj, x, mask, self.in_dim)
        n = mask.shape[1]
        if n > self.max_nodes:
            raise ValueError(
                f"cells have up to {n} vertices but this encoder reads at most "
                f"max_nodes={self.max_nodes}: build it with a larger max_nodes"
            )
        m = mask.to(x.dtype)
        pad = self.max_nodes - n
        a = F.pad(adj * (m.unsqueeze(2) * m.unsqueeze(1)), (0, pad, 0, pad))
        xm = x * m.unsqueeze(-1)
        flat = torch.cat(
            [a[:, self._triu[0], self._triu[1]], F.pad(xm, (0, 0, 0, pad)).flatten(1)], 1
        )
        g = flat
        for lin in self.mlp:
            g = torch.relu(lin(g))
        nodes = torch.relu(self.node_in(xm) + self.node_graph(g).unsqueeze(1)) * m.unsqueeze(-1)
        return EncoderOutput(nodes=nodes, graph=g)
