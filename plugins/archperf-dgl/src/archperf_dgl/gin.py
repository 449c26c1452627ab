"""The archperf GIN on DGL: a batched ``DGLGraph`` with edge weights in ``edata["w"]``.

Same parameters (names and shapes) as :class:`archperf.nn.gin.DenseGIN`, so a ``state_dict``
moves between the two and gives the same outputs.  Only DGL core (``dgl.graph``,
``update_all`` with ``dgl.function`` builtins, ``dgl.sum_nodes`` / ``dgl.mean_nodes``) is used:
``dgl.sparse`` does not load with recent torch.
"""

from __future__ import annotations

import os

os.environ.setdefault("DGLBACKEND", "pytorch")

from typing import Any

import dgl
import dgl.function as fn
import torch
from torch import Tensor

from archperf.cell import CellBatch
from archperf.interfaces import EncoderOutput
from archperf.nn.gin import GINBase, SparseGraph, dense_to_sparse

__all__ = ["DglGIN", "to_dgl_graph"]


def _graph_from_sparse(sg: SparseGraph) -> dgl.DGLGraph:
    g = dgl.graph((sg.src, sg.dst), num_nodes=int(sg.x.shape[0]), device=sg.x.device)
    g.set_batch_num_nodes(sg.num_nodes)
    g.set_batch_num_edges(torch.bincount(sg.edge_batch, minlength=sg.num_graphs))
    return g


def to_dgl_graph(batch: CellBatch, keep_zero_edges: bool | None = None) -> dgl.DGLGraph:
    """A :class:`CellBatch` as a batched ``DGLGraph`` with ``ndata["x"]`` (op one-hot /
    distribution rows) and ``edata["w"]`` (edge weights of edges ``i → j``)."""
    x = batch.op_onehot().to(batch.adj.dtype)
    sg = dense_to_sparse(batch.adj, x, batch.mask, keep_zero_edges)
    g = _graph_from_sparse(sg)
    g.ndata["x"] = sg.x
    g.edata["w"] = sg.weight
    return g


class DglGIN(GINBase):
    """GIN on DGL (registry name ``gin-dgl``); arguments as in :class:`archperf.nn.gin.GINBase`."""

    registry_name = "gin-dgl"
    backend = "dgl"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> EncoderOutput:
        self._check_dense(adj, x, mask)
        sg = dense_to_sparse(adj, x, mask)
        g = _graph_from_sparse(sg)
        nodes, graph = self.forward_graph(g, sg.x, sg.weight.to(x.dtype))
        return EncoderOutput(nodes=sg.to_dense_nodes(nodes), graph=graph)

    def forward_graph(
        self, g: dgl.DGLGraph, x: Tensor, edge_weight: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Flat form on a batched graph: node rows ``[M, in_dim]`` → (node embeddings
        ``[M, hidden_dim]``, graph embedding ``[g.batch_size, num_layers * hidden_dim]``)."""
        if x.dim() != 2 or x.shape[1] != self.in_dim or x.shape[0] != g.num_nodes():
            raise ValueError(
                f"x must be [num_nodes={g.num_nodes()}, {self.in_dim}], got {tuple(x.shape)}"
            )
        if edge_weight is None:
            edge_weight = x.new_ones(g.num_edges())
        rg = dgl.reverse(g) if self.direction in ("out", "both") else None
        readout = dgl.sum_nodes if self.pooling == "sum" else dgl.mean_nodes
        h = x
        pooled = []
        with g.local_scope():
            for layer_idx, update in enumerate(self.layers):
                msg = h.new_zeros(h.shape)
                if self.direction in ("in", "both"):
                    msg = msg + self._aggregate(g, h, edge_weight)
                if rg is not None:
                    msg = msg + self._aggregate(rg, h, edge_weight)
                h = update((1.0 + self.eps[layer_idx]) * h + msg)
                g.ndata["h"] = h
                pooled.append(readout(g, "h"))
        return h, torch.cat(pooled, dim=-1)

    @staticmethod
    def _aggregate(g: dgl.DGLGraph, h: Tensor, w: Tensor) -> Tensor:
        with g.local_scope():
            g.ndata["h"] = h
            g.edata["w"] = w.unsqueeze(-1)
            g.update_all(fn.u_mul_e("h", "w", "m"), fn.sum("m", "agg"))
            return g.ndata["agg"]
