"""An asynchronous message-passing GRU over a cell's DAG (registered as encoder ``dag-gru``).

The encoder of D-VAE (Zhang et al., 2019), which the public Graph-VAE NAO code builds on,
written here from the paper's equations.  Vertices are visited one at a time in topological
order, and a vertex is updated once, after all its predecessors::

    h_in(v) = Σ_{u → v} adj[u, v] · sigmoid(g(h_u)) ⊙ m(h_u)      (gated sum; 0 at a source)
    h_v     = GRU(x_v, h_in(v))

with ``x_v`` the vertex's (soft) op distribution as the GRU's input, ``h_in(v)`` as its hidden
state, and ``g``, ``m`` linear maps (``m`` without bias, as in D-VAE).  Op-on-node cells list
their vertices in topological order, so vertex ``v`` reads the vertices ``u < v``: only the strict
upper triangle of ``adj`` is read (entries ``adj[u, v]`` with ``u >= v`` are ignored).  Each
message is weighted by its (soft) adjacency entry, so gradients reach a generator's relaxed
adjacency; the op distributions enter the GRU as they are.

Node embeddings (what a generator's decoder reads) are the vertex states ``h_v``, zero at padding.
The graph embedding is the state of the last real vertex (the output of the cell).  With
``bidirectional=True`` a second GRU with its own ``g`` and ``m`` runs in reverse order over the
reversed edges (a vertex reads its successors); node embeddings are then ``[h_v, h'_v]`` and the
graph embedding ``[h_out, h'_in]``: the forward state of the last real vertex and the reverse
state of the first one, so ``node_dim = graph_dim = 2 * hidden_dim``.

Padding vertices (mask ``False``, anywhere in the order) send and receive nothing and have zero
states, so they change no real output.  The batch is processed at once; the loop runs over the
``N`` vertex positions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from archperf.cell import CellBatch
from archperf.interfaces import DenseEncoder, Encoder, EncoderOutput
from archperf.nn.batching import dense_inputs
from archperf.nn.gin import init_seeded
from archperf.nn.limits import MAX_NUM_OPS, MAX_WIDTH, check_int

from ._base import check_dense

__all__ = ["DAGGRUEncoder", "DAGPass"]


class DAGPass(nn.Module):
    """One pass in one direction: a GRU cell and the gated message of a vertex state."""

    def __init__(self, in_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.cell = nn.GRUCell(in_dim, hidden_dim)
        self.gate = nn.Linear(hidden_dim, hidden_dim)
        self.mapper = nn.Linear(hidden_dim, hidden_dim, bias=False)

    def message(self, h: Tensor) -> Tensor:
        """``sigmoid(g(h)) ⊙ m(h)``: what a vertex with state ``h`` sends along its edges."""
        return torch.sigmoid(self.gate(h)) * self.mapper(h)

    def forward(self, a: Tensor, x: Tensor, m: Tensor, reverse: bool) -> Tensor:
        """States ``[B, N, H]`` over ``a [B, N, N]`` (masked, strict upper triangle), ``x``
        and the float mask ``m``; ``reverse`` visits vertices from last to first and reads
        successors (``a[v, w]``, ``w > v``) instead of predecessors (``a[u, v]``, ``u < v``)."""
        b, n, _ = x.shape
        hidden = self.cell.hidden_size
        order = range(n - 1, -1, -1) if reverse else range(n)
        states: list[Tensor] = [x.new_zeros(b, hidden)] * n
        msgs: list[Tensor] = []  # messages of the vertices visited so far, in visiting order
        done: list[int] = []
        for v in order:
            if msgs:
                w = a[:, v, done] if reverse else a[:, done, v]  # [B, visited]
                h_in = torch.einsum("bk,bkh->bh", w, torch.stack(msgs, 1))
            else:
                h_in = x.new_zeros(b, hidden)
            h = self.cell(x[:, v], h_in) * m[:, v : v + 1]
            states[v] = h
            msgs.append(self.message(h))
            done.append(v)
        return torch.stack(states, 1)


class DAGGRUEncoder(nn.Module, Encoder, DenseEncoder):
    """D-VAE's asynchronous message-passing GRU encoder: see the module docstring.

    Args:
        num_ops: size K of the op vocabulary (one-hot input width for :meth:`forward`).
        hidden_dim: width of the GRU states (default 128: the graph embedding is as wide as the
            default GIN's, 4 layers × 32).
        bidirectional: add the reverse pass (node and graph embeddings twice as wide).
        in_dim: node input width for :meth:`forward_dense` (default ``num_ops``).
        seed: if given, parameters are initialised from this seed (global RNG untouched).
    """

    registry_kind: ClassVar[str] = "encoder"
    registry_name: ClassVar[str] = "dag-gru"
    num_ops: int

    def __init__(
        self,
        num_ops: int,
        hidden_dim: int = 128,
        bidirectional: bool = False,
        in_dim: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        check_int("num_ops", num_ops, MAX_NUM_OPS)
        check_int("hidden_dim", hidden_dim, MAX_WIDTH)
        if in_dim is not None:
            check_int("in_dim", in_dim, MAX_WIDTH)
        if not isinstance(bidirectional, bool):
            raise ValueError(f"bidirectional must be True or False, got {bidirectional!r}")
        self.num_ops = num_ops
        self.hidden_dim = hidden_dim
        self.bidirectional = bidirectional
        self.in_dim = num_ops if in_dim is None else in_dim
        self._in_dim_arg = in_dim
        self.seed = seed
        self.graph_dim = hidden_dim * (2 if bidirectional else 1)
        with init_seeded(seed):
            self.forward_pass = DAGPass(self.in_dim, hidden_dim)
            self.reverse_pass: DAGPass | None = (
                DAGPass(self.in_dim, hidden_dim) if bidirectional else None
            )

    @property
    def node_dim(self) -> int:
        """Width of the node embeddings (``hidden_dim``, doubled when bidirectional)."""
        return self.graph_dim

    def config(self) -> dict[str, Any]:
        """JSON-ready constructor arguments."""
        return {
            "num_ops": self.num_ops,
            "hidden_dim": self.hidden_dim,
            "bidirectional": self.bidirectional,
            "in_dim": self._in_dim_arg,
            "seed": self.seed,
        }

    def extra_repr(self) -> str:
        return (
            f"num_ops={self.num_ops}, in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, "
            f"bidirectional={self.bidirectional}"
        )

    def forward(self, batch: CellBatch) -> EncoderOutput:
        """Encode a :class:`CellBatch` (op ids are one-hot encoded, distributions used as is)."""
        dtype = self.forward_pass.cell.weight_ih.dtype
        adj, x, mask = dense_inputs(batch, self.num_ops, self.in_dim, dtype)
        return self.forward_dense(adj, x, mask)

    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> EncoderOutput:
        """Encode dense inputs: ``adj`` float ``[B, N, N]`` (``adj[b, i, j]``: weight of edge
        ``i → j``; only ``i < j`` is read), node features ``x`` float ``[B, N, in_dim]``,
        ``mask`` bool ``[B, N]``."""
        check_dense(adj, x, mask, self.in_dim)
        n = mask.shape[1]
        m = mask.to(x.dtype)
        a = torch.triu(adj * (m.unsqueeze(2) * m.unsqueeze(1)), diagonal=1)
        xm = x * m.unsqueeze(-1)
        pos = torch.arange(n, device=mask.device)
        last = torch.where(mask, pos, -1).argmax(1)  # the output: last real vertex
        rows = torch.arange(mask.shape[0], device=mask.device)
        h = self.forward_pass(a, xm, m, reverse=False)
        nodes, graph = h, h[rows, last]
        if self.reverse_pass is not None:
            first = torch.where(mask, -pos, -n).argmax(1)  # the input: first real vertex
            r = self.reverse_pass(a, xm, m, reverse=True)
            nodes = torch.cat([h, r], -1)
            graph = torch.cat([graph, r[rows, first]], -1)
        return EncoderOutput(nodes=nodes, graph=graph)
