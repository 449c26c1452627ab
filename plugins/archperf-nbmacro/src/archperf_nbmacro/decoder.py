"""The generator decoder of ``nbmacro``: only the eight layer choices are generated.

The generator has 10 nodes, the vertices of the chain (0 = input, 1..8 = layers, 9 = output);
its op scores have width 3 (identity, mb3_k3, mb6_k5) and are read at the layer vertices.  A
layer's three scores go to the three graph ops that layer can hold (the stride-2 ops at layers
0, 2 and 5), so a relaxed cell is exactly ``space.to_graph(arch)`` in form, and every decoded
cell is valid by construction.  The adjacency is the fixed chain (no edge scores).

Relaxation as for every space (:mod:`archperf.nn.decoders`): Gumbel noise, temperature ``tau``,
straight-through one-hot with ``hard=True``.  Decoding: argmax per layer (lowest choice on ties)
or a draw from the relaxed probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from archperf.cell import Cell, CellBatch
from archperf.interfaces import SearchSpace, as_rng
from archperf.nn.decoders import (
    SpaceDecoder,
    batch_to_numpy,
    check_batch,
    choose,
    gumbel_noise,
    straight_through,
)

from .space import ADJACENCY, CHOICES, NUM_LAYERS, NUM_VERTICES, layer_op_ids

__all__ = ["NBMacroDecoder"]


class NBMacroDecoder(SpaceDecoder):
    """NAS-Bench-Macro: 10 generator nodes = the chain's vertices; 3 choices per layer."""

    space_name = "nbmacro"
    uses_edges = False

    def __init__(self, space: SearchSpace[Any]) -> None:
        super().__init__(space)
        names = list(space.op_names)
        self.input_id = names.index("input")
        self.output_id = names.index("output")
        self.num_nodes = NUM_VERTICES
        self.op_dim = len(CHOICES)
        # ids[k, c]: the graph op id of choice c at layer k
        self.layer_ids = np.array([layer_op_ids(k) for k in range(NUM_LAYERS)], dtype=np.int64)
        # scatter[k, c, id] = 1: choice probabilities [B, 8, 3] -> graph op distributions
        scatter = torch.zeros(NUM_LAYERS, self.op_dim, self.num_graph_ops)
        for k in range(NUM_LAYERS):
            for c in range(self.op_dim):
                scatter[k, c, int(self.layer_ids[k, c])] = 1.0
        self._scatter = scatter
        probe = space.to_graph(space.sample(1, seed=0)[0])
        if probe.num_vertices != NUM_VERTICES or not np.array_equal(probe.adjacency, ADJACENCY):
            raise RuntimeError("NBMacroDecoder's chain disagrees with the space's to_graph")

    def relax(
        self,
        op_logits: Tensor,
        edge_logits: Tensor | None,
        *,
        tau: float = 1.0,
        hard: bool = True,
        gumbel: bool = True,
        generator: torch.Generator | None = None,
    ) -> CellBatch:
        b = self._check_logits(op_logits, edge_logits)
        n = self.num_nodes
        ol = op_logits + gumbel_noise(op_logits, generator) if gumbel else op_logits
        soft = torch.softmax(self.choice_logits(ol) / tau, dim=-1)  # [B, 8, 3]
        if hard:
            one = torch.nn.functional.one_hot(soft.detach().argmax(-1), self.op_dim).to(soft)
            soft = straight_through(one, soft)
        layers = torch.einsum("bkc,kci->bki", soft, self._scatter.to(soft))
        ends = torch.zeros(b, 2, self.num_graph_ops, dtype=soft.dtype, device=soft.device)
        ends[:, 0, self.input_id] = 1.0  # vertex 0: input
        ends[:, 1, self.output_id] = 1.0  # vertex n - 1: output
        ops = torch.cat([ends[:, :1], layers, ends[:, 1:]], dim=1)
        adj = torch.from_numpy(ADJACENCY.astype(np.float32)).to(ops).expand(b, n, n).clone()
        mask = torch.ones(b, n, dtype=torch.bool, device=ops.device)
        return CellBatch(adj, ops, mask, self.num_graph_ops)

    def decode(self, relaxed: CellBatch, stochastic: bool = False, seed: Any = None) -> list[Cell]:
        """Valid cells from the layer vertices' op distributions (``relaxed.adj`` is not read:
        the chain is fixed)."""
        check_batch(relaxed, self.space)
        _, ops, mask = batch_to_numpy(relaxed)
        n = self.num_nodes
        if relaxed.max_nodes != n or not mask.all():
            raise ValueError(f"NAS-Bench-Macro cells have exactly {n} real vertices")
        layer = ops[:, 1 : n - 1]  # [B, 8, K]
        scores = np.take_along_axis(layer, self.layer_ids[None].repeat(len(ops), 0), axis=2)
        choice = choose(scores, as_rng(seed) if stochastic else None)
        out: list[Cell] = []
        for row in choice:
            ids = self.layer_ids[np.arange(NUM_LAYERS), row]
            cell = Cell(ADJACENCY, [self.input_id, *ids.tolist(), self.output_id])
            self.space.validate(cell)
            out.append(cell)
        return out
