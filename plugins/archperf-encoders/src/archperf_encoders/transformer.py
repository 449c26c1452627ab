"""A graph transformer over op-on-node cells (registered as encoder ``transformer``).

Every vertex starts from a linear embedding of its (soft) op distribution.  Each of
``num_layers`` pre-norm layers applies multi-head self-attention over the real vertices, then a
feed-forward block, both residual.  Attention between vertices ``i`` (query) and ``j`` (key)
gets, per head ``h``, an additive bias from the (soft) adjacency::

    bias_h(i, j) = w_out[h] * adj[i, j] + w_in[h] * adj[j, i]
                   + w_none[h] * (1 - min(1, adj[i, j] + adj[j, i])) + w_self[h] * [i == j]

with four learned scalars per head and layer: edge ``i → j``, edge ``j → i``, no edge, the vertex
itself.  With ``max_distance > 0`` a learned scalar per head, layer and shortest-path distance
is added too (Graphormer's spatial encoding): hops between ``i`` and ``j`` along edges taken in
either direction in the adjacency rounded at 0.5, ``0..max_distance`` (further is clipped) or
unreachable.  Distances are read from the rounded graph, so they carry no gradient; the
four adjacency terms still do.

The bias is linear in ``adj`` where ``adj[i, j] + adj[j, i] <= 1``, so gradients reach a
generator's relaxed adjacency, and node inputs may be op distributions.  Padding vertices are
never attended to, and their embeddings are zero; the graph embedding is the masked mean
(default) or sum of the final vertex embeddings (``graph_dim = hidden_dim``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from archperf.cell import CellBatch
from archperf.interfaces import DenseEncoder, Encoder, EncoderOutput
from archperf.nn.batching import dense_inputs
from archperf.nn.gin import init_seeded
from archperf.nn.limits import MAX_LAYERS, MAX_NUM_OPS, MAX_WIDTH, check_int

from ._base import POOLINGS, check_dense, pool

__all__ = ["GraphTransformer", "TransformerLayer", "shortest_path_buckets"]

_NEG = -1e9  # an attention logit that no real key can lose to


def shortest_path_buckets(adj: Tensor, mask: Tensor, max_distance: int) -> Tensor:
    """Hop distances ``[B, N, N]`` (long) between real vertices of the graphs ``adj > 0.5``,
    edges taken in either direction: ``0..max_distance`` (longer ones clipped), and
    ``max_distance + 1`` for unreachable pairs and pairs with a padding vertex."""
    b, n = mask.shape
    inf = n + 1
    pair = mask.unsqueeze(2) & mask.unsqueeze(1)
    linked = ((adj > 0.5) | (adj.transpose(1, 2) > 0.5)) & pair
    dist = torch.full((b, n, n), inf, dtype=torch.long, device=adj.device)
    dist[linked] = 1
    eye = torch.eye(n, dtype=torch.bool, device=adj.device).unsqueeze(0) & pair
    dist[eye] = 0
    for k in range(n):  # Floyd-Warshall, batched
        dist = torch.minimum(dist, dist[:, :, k : k + 1] + dist[:, k : k + 1, :])
    far = (dist >= inf) | ~pair
    return torch.where(far, max_distance + 1, dist.clamp(max=max_distance))


class TransformerLayer(nn.Module):
    """Pre-norm self-attention with the adjacency bias, then a feed-forward block."""

    def __init__(self, dim: int, num_heads: int, ffn_mult: int, max_distance: int = 0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn_mult * dim), nn.ReLU(), nn.Linear(ffn_mult * dim, dim)
        )
        # per head: edge i -> j, edge j -> i, no edge, self.  Random, not zero: at zero the
        # adjacency would get no gradient, and a generator no signal about its edges, at first
        self.edge_bias = nn.Parameter(0.5 * torch.randn(4, num_heads))
        self.distance_bias: nn.Embedding | None = (
            nn.Embedding(max_distance + 2, num_heads) if max_distance > 0 else None
        )

    def bias(self, adj: Tensor, distance: Tensor | None = None) -> Tensor:
        """``[B, heads, N, N]`` additive attention bias from ``adj [B, N, N]`` (and the
        distance buckets of :func:`shortest_path_buckets` when the layer has them)."""
        n = adj.shape[1]
        fwd, bwd = adj, adj.transpose(1, 2)
        none = 1.0 - (fwd + bwd).clamp(max=1.0)
        eye = torch.eye(n, dtype=adj.dtype, device=adj.device).expand_as(adj)
        feats = torch.stack([fwd, bwd, none, eye], dim=-1)  # [B, N, N, 4]
        out = torch.einsum("bijf,fh->bhij", feats, self.edge_bias)
        if self.distance_bias is not None and distance is not None:
            out = out + self.distance_bias(distance).permute(0, 3, 1, 2)
        return out

    def forward(
        self, h: Tensor, adj: Tensor, key_mask: Tensor, distance: Tensor | None = None
    ) -> Tensor:
        b, n, d = h.shape
        hd = d // self.num_heads
        q, k, v = self.qkv(self.norm1(h)).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, self.num_heads, hd).transpose(1, 2) for t in (q, k, v))
        logits = q @ k.transpose(-1, -2) / math.sqrt(hd) + self.bias(adj, distance)
        logits = logits.masked_fill(~key_mask[:, None, None, :], _NEG)
        att = torch.softmax(logits, dim=-1)
        h = h + self.out((att @ v).transpose(1, 2).reshape(b, n, d))
        return h + self.ffn(self.norm2(h))


class GraphTransformer(nn.Module, Encoder, DenseEncoder):
    """Graph transformer encoder: see the module docstring.

    Args:
        num_ops: size K of the op vocabulary (one-hot input width for :meth:`forward`).
        hidden_dim: width of every layer (and of the graph embedding); a multiple of
            ``num_heads``.
        num_layers: number of attention layers.
        num_heads: attention heads per layer.
        ffn_mult: the feed-forward block's hidden width is ``ffn_mult * hidden_dim``.
        in_dim: node input width for :meth:`forward_dense` (default ``num_ops``).
        pooling: ``"mean"`` (default) or ``"sum"`` over real vertices.
        max_distance: with a value > 0, add a learned bias per shortest-path distance
            (``0..max_distance``, clipped, or unreachable); 0 (default) leaves it out.
        seed: if given, parameters are initialised from this seed (global RNG untouched).
    """

    registry_kind: ClassVar[str] = "encoder"
    registry_name: ClassVar[str] = "transformer"
    num_ops: int

    def __init__(
        self,
        num_ops: int,
        hidden_dim: int = 32,
        num_layers: int = 2,
        num_heads: int = 4,
        ffn_mult: int = 2,
        in_dim: int | None = None,
        pooling: str = "mean",
        max_distance: int = 0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        check_int("num_ops", num_ops, MAX_NUM_OPS)
        check_int("hidden_dim", hidden_dim, MAX_WIDTH)
        check_int("num_layers", num_layers, MAX_LAYERS)
        check_int("num_heads", num_heads, MAX_WIDTH)
        check_int("ffn_mult", ffn_mult, 64)
        if in_dim is not None:
            check_int("in_dim", in_dim, MAX_WIDTH)
        check_int("max_distance", max_distance, 64, low=0)
        if hidden_dim % num_heads:
            raise ValueError(
                f"hidden_dim must be a multiple of num_heads, got {hidden_dim} and {num_heads}"
            )
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.num_ops = num_ops
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.ffn_mult = ffn_mult
        self.in_dim = num_ops if in_dim is None else in_dim
        self._in_dim_arg = in_dim
        self.pooling = pooling
        self.max_distance = max_distance
        self.seed = seed
        self.graph_dim = hidden_dim
        with init_seeded(seed):
            self.embed = nn.Linear(self.in_dim, hidden_dim)
            self.layers = nn.ModuleList(
                TransformerLayer(hidden_dim, num_heads, ffn_mult, max_distance)
                for _ in range(num_layers)
            )
            self.final_norm = nn.LayerNorm(hidden_dim)

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
            "num_heads": self.num_heads,
            "ffn_mult": self.ffn_mult,
            "in_dim": self._in_dim_arg,
            "pooling": self.pooling,
            "max_distance": self.max_distance,
            "seed": self.seed,
        }

    def extra_repr(self) -> str:
        return (
            f"num_ops={self.num_ops}, in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, "
            f"num_layers={self.num_layers}, num_heads={self.num_heads}, pooling={self.pooling!r}, "
            f"max_distance={self.max_distance}"
        )

    def forward(self, batch: CellBatch) -> EncoderOutput:
        """Encode a :class:`CellBatch` (op ids are one-hot encoded, distributions used as is)."""
        adj, x, mask = dense_inputs(batch, self.num_ops, self.in_dim, self.embed.weight.dtype)
        return self.forward_dense(adj, x, mask)

    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> EncoderOutput:
        """Encode dense inputs: ``adj`` float ``[B, N, N]`` (``adj[b, i, j]``: weight of edge
        ``i → j``), node features ``x`` float ``[B, N, in_dim]``, ``mask`` bool ``[B, N]``."""
        check_dense(adj, x, mask, self.in_dim)
        m = mask.to(x.dtype)
        pair = m.unsqueeze(2) * m.unsqueeze(1)
        a = adj * pair
        h = self.embed(x * m.unsqueeze(-1)) * m.unsqueeze(-1)
        dist = (
            shortest_path_buckets(a.detach(), mask, self.max_distance)
            if self.max_distance > 0
            else None
        )
        for layer in self.layers:
            h = layer(h, a, mask, dist) * m.unsqueeze(-1)
        h = self.final_norm(h) * m.unsqueeze(-1)
        return EncoderOutput(nodes=h, graph=pool(h, m, self.pooling))
