"""The archperf GIN on PyTorch Geometric: ``edge_index`` + ``edge_weight`` message passing.

Same parameters (names and shapes) as :class:`archperf.nn.gin.DenseGIN`, so a ``state_dict``
moves between the two and gives the same outputs.  Only pure-torch parts of PyG are used
(``MessagePassing`` with ``aggr="add"``, ``global_add_pool`` / ``global_mean_pool``): pyg-lib,
torch-scatter and torch-sparse are not needed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.nn import MessagePassing, global_add_pool, global_mean_pool

from archperf.cell import CellBatch
from archperf.interfaces import EncoderOutput
from archperf.nn.gin import GINBase, SparseGraph, dense_to_sparse

__all__ = ["PygGIN", "WeightedSum", "to_pyg_batch"]


class WeightedSum(MessagePassing):
    """``out_v = sum_{u → v} w(u, v) * x_u`` (flow source → target, no parameters)."""

    def __init__(self) -> None:
        super().__init__(aggr="add", flow="source_to_target")

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        return self.propagate(edge_index, x=x, edge_weight=edge_weight, size=None)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.unsqueeze(-1) * x_j


def to_pyg_batch(batch: CellBatch, keep_zero_edges: bool | None = None) -> Batch:
    """A :class:`CellBatch` as a PyG ``Batch`` (``x`` = op one-hot / distribution rows,
    ``edge_index`` ``[2, E]`` for edges ``i → j``, ``edge_weight`` ``[E]``)."""
    x = batch.op_onehot().to(batch.adj.dtype)
    sg = dense_to_sparse(batch.adj, x, batch.mask, keep_zero_edges)
    data = []
    starts = torch.cumsum(sg.num_nodes, 0) - sg.num_nodes
    for b in range(sg.num_graphs):
        sel = sg.edge_batch == b
        node_sel = sg.batch == b
        ei = torch.stack([sg.src[sel], sg.dst[sel]]) - starts[b]
        data.append(Data(x=sg.x[node_sel], edge_index=ei, edge_weight=sg.weight[sel]))
    return Batch.from_data_list(data)


class PygGIN(GINBase):
    """GIN on PyTorch Geometric (registry name ``gin-pyg``); arguments as in
    :class:`archperf.nn.gin.GINBase`."""

    registry_name = "gin-pyg"
    backend = "pyg"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._message_passing = WeightedSum()

    def forward_dense(self, adj: Tensor, x: Tensor, mask: Tensor) -> EncoderOutput:
        self._check_dense(adj, x, mask)
        sg: SparseGraph = dense_to_sparse(adj, x, mask)
        edge_index = torch.stack([sg.src, sg.dst])
        nodes, graph = self.forward_graph(
            sg.x, edge_index, sg.weight.to(x.dtype), sg.batch, sg.num_graphs
        )
        return EncoderOutput(nodes=sg.to_dense_nodes(nodes), graph=graph)

    def forward_data(self, data: Batch) -> tuple[Tensor, Tensor]:
        """Encode a PyG ``Batch`` (``x``, ``edge_index``, optional ``edge_weight``)."""
        w = getattr(data, "edge_weight", None)
        if w is None:
            w = data.x.new_ones(data.edge_index.shape[1])
        return self.forward_graph(data.x, data.edge_index, w, data.batch, int(data.num_graphs))

    def forward_graph(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor, batch: Tensor, num_graphs: int
    ) -> tuple[Tensor, Tensor]:
        """Flat form: node rows ``[M, in_dim]`` → (node embeddings ``[M, hidden_dim]``,
        graph embedding ``[num_graphs, num_layers * hidden_dim]``)."""
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"x must be [M, {self.in_dim}], got {tuple(x.shape)}")
        reverse = edge_index.flip(0)
        pool = global_add_pool if self.pooling == "sum" else global_mean_pool
        h = x
        pooled = []
        for layer_idx, update in enumerate(self.layers):
            if self.direction == "in":
                msg = self._message_passing(h, edge_index, edge_weight)
            elif self.direction == "out":
                msg = self._message_passing(h, reverse, edge_weight)
            else:
                msg = self._message_passing(h, edge_index, edge_weight) + self._message_passing(
                    h, reverse, edge_weight
                )
            h = update((1.0 + self.eps[layer_idx]) * h + msg)
            pooled.append(pool(h, batch, size=num_graphs))
        return h, torch.cat(pooled, dim=-1)
