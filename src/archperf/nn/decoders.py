"""Per-space decoders: generator logits → relaxed cells → valid architectures.

A :class:`SpaceDecoder` turns the generator's raw scores into

* a **relaxed** :class:`~archperf.cell.CellBatch` in the space's graph form (the form
  ``space.to_graph`` gives, ops as distributions over ``space.op_names``), differentiable in the
  scores (Gumbel-softmax / binary-concrete with optional straight-through), and
* **valid architectures** of the space, by construction (:meth:`SpaceDecoder.decode`).

Relaxation (one choice for every space): scores are perturbed by Gumbel noise (logistic noise for
the independent edges of NB101) and divided by the temperature ``tau``.  With ``hard=False`` the
batch holds the soft probabilities.  With ``hard=True`` (straight-through) the *forward value* is
the one-hot graph of the valid architecture decoded from those probabilities, so a discriminator
sees exactly ``space.to_graph(arch)``, while gradients flow through the soft probabilities
(``hard + soft − soft.detach()``).

Decoding rules:

* **NB101** (7 vertices, upper triangle = DAG by construction): an edge is on where its
  probability is > 0.5 (or drawn with that probability); the most probable input→output path
  (max Σ log p) is always kept; the other "on" edges are added by decreasing probability,
  skipping any that would bring the pruned cell above 9 edges; vertices off every
  input→output path are pruned.  Interior ops are the argmax (or a
  draw) over the three interior ops.  Entries below the diagonal are ignored.
  ``NB101Decoder(space, keep_vertices=True)`` starts instead from a set of edges that keeps
  all 7 vertices alive (each vertex's most probable in-edge, a most probable out-edge where one
  is missing, less the edges not needed), so its cells have 7 vertices unless that set alone
  exceeds the cap.
* **NB201** (fixed adjacency): only ops, argmax (or a draw) over the five edge ops per vertex.
* **DARTS** (22-vertex block graph of :meth:`DartsSpace.to_graph`): for each intermediate node
  the two slots get two *distinct* earlier inputs (the jointly best pair of the slots' input
  weights, or a draw), each with the argmax (or a draw) over the seven ops.

Ties are broken towards the lowest index.  Every decoded architecture is checked with
``space.validate`` before it is returned.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from ..cell import Cell, CellBatch
from ..errors import UsageError
from ..interfaces import SearchSpace, as_rng

__all__ = [
    "STRUCTURES",
    "DartsDecoder",
    "NB101Decoder",
    "NB201Decoder",
    "SpaceDecoder",
    "batch_to_numpy",
    "check_batch",
    "choose",
    "decoder_for",
    "gumbel_noise",
    "logistic_noise",
    "nb101_select",
    "straight_through",
]

_EPS = 1e-9

#: What :meth:`SpaceDecoder.choice_probs` describes of a cell: ``"ops"`` only the op choices;
#: ``"edges"`` also the edge choices as two-outcome distributions; ``"live"`` the edge and op
#: choices weighted by the (relaxed) liveness of their vertices, so choices that pruning drops
#: count as one outcome.  Spaces without edge choices (NB201) give the op choices for all three.
STRUCTURES = ("ops", "edges", "live")


def _uniform(shape: Sequence[int], like: Tensor, generator: torch.Generator | None) -> Tensor:
    dev = generator.device if generator is not None else like.device
    u = torch.rand(tuple(shape), generator=generator, device=dev, dtype=like.dtype)
    return u.to(like.device).clamp(_EPS, 1.0 - _EPS)


def gumbel_noise(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard Gumbel noise shaped like ``like`` (``−log(−log U)``)."""
    return -torch.log(-torch.log(_uniform(like.shape, like, generator)))


def logistic_noise(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard logistic noise (``log U − log(1 − U)``): the binary-concrete perturbation."""
    u = _uniform(like.shape, like, generator)
    return torch.log(u) - torch.log1p(-u)


def straight_through(hard: Tensor, soft: Tensor) -> Tensor:
    """``hard`` forward, ``soft``'s gradient backward (helpers for plugin decoders too)."""
    return hard + (soft - soft.detach())


def check_batch(relaxed: CellBatch, space: SearchSpace[Any]) -> None:
    """A decoder's input check: a CellBatch over ``space``'s ops and at most its vertices."""
    if not isinstance(relaxed, CellBatch):
        raise TypeError(f"decode takes a CellBatch, got {type(relaxed).__name__}")
    k = len(space.op_names)
    if relaxed.num_ops != k:
        raise ValueError(
            f"batch has num_ops={relaxed.num_ops}, space {space.name!r} has {k} op names"
        )
    if relaxed.max_nodes > space.max_nodes:
        raise ValueError(
            f"batch has {relaxed.max_nodes} vertices, space {space.name!r} at most "
            f"{space.max_nodes}"
        )


def _check_structure(structure: str) -> None:
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")


def batch_to_numpy(relaxed: CellBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency, op distributions and mask as float64/bool arrays; NaN or inf refused."""
    adj = relaxed.adj.detach().to("cpu", torch.float64).numpy()
    ops = relaxed.op_onehot().detach().to("cpu", torch.float64).numpy()
    mask = relaxed.mask.detach().to("cpu").numpy().astype(bool)
    if not (np.isfinite(adj).all() and np.isfinite(ops).all()):
        raise ValueError("relaxed cells hold NaN or inf values")
    return adj, ops, mask


def choose(scores: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Argmax over the last axis (lowest index on ties), or a draw ∝ clipped scores."""
    if rng is None:
        return np.argmax(scores, axis=-1)
    w = np.clip(scores, 0.0, None)
    tot = w.sum(axis=-1, keepdims=True)
    w = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 1.0 / scores.shape[-1])
    u = rng.random((*scores.shape[:-1], 1))
    idx = (np.cumsum(w, axis=-1) < u).sum(axis=-1)
    return np.minimum(idx, scores.shape[-1] - 1)


class SpaceDecoder(abc.ABC):
    """Turns generator scores into relaxed cells and relaxed cells into valid architectures.

    The generator has :attr:`num_nodes` nodes; it produces ``edge_logits [B, N, N]`` (score of
    edge ``i → j``) when :attr:`uses_edges`, and op logits of width :attr:`op_dim` per node
    (``[B, N, op_dim]``) or, when :attr:`pair_ops`, per pair (``[B, N, N, op_dim]``, the op of
    the edge ``i → j``).
    """

    space_name: ClassVar[str] = ""
    num_nodes: int
    op_dim: int
    uses_edges: bool = True
    pair_ops: bool = False

    def __init__(self, space: SearchSpace[Any]) -> None:
        if space.name != self.space_name:
            raise ValueError(
                f"{type(self).__name__} decodes {self.space_name!r}, not {space.name!r}"
            )
        self.space = space
        self.num_graph_ops = len(space.op_names)

    @abc.abstractmethod
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
        """Relaxed cells in the space's graph form (see the module docstring)."""

    @abc.abstractmethod
    def decode(self, relaxed: CellBatch, stochastic: bool = False, seed: Any = None) -> list[Any]:
        """Valid architectures: argmax decoding, or draws from the relaxed probabilities."""

    def relax_unpruned(
        self,
        op_logits: Tensor,
        edge_logits: Tensor | None,
        *,
        tau: float = 1.0,
        gumbel: bool = True,
        generator: torch.Generator | None = None,
    ) -> CellBatch:
        """Straight-through cells before any repair that decoding makes (NB101: the raw graph,
        no edge cap, no pruning).  Default: :meth:`relax` with ``hard=True``, for spaces whose
        decoding repairs nothing."""
        return self.relax(
            op_logits, edge_logits, tau=tau, hard=True, gumbel=gumbel, generator=generator
        )

    def choice_logits(self, op_logits: Tensor) -> Tensor:
        """The op scores of the cell's actual op choices, ``[B, M, op_dim]``.

        Default: the interior nodes ``1 .. N − 2`` (NB101 vertices, NB201 edges).
        """
        return op_logits[:, 1 : self.num_nodes - 1]

    def choice_probs(
        self,
        op_logits: Tensor,
        edge_logits: Tensor | None,
        tau: float = 1.0,
        structure: str = "live",
    ) -> Tensor:
        """Noise-free probabilities of a cell's choices, ``[B, M, K]`` (one distribution per
        choice, zero-padded to a common width ``K``), for a diversity term.

        Default (NB201, DARTS): the op choices ``softmax(choice_logits / tau)`` whatever
        ``structure`` (one of :data:`STRUCTURES`) says.
        """
        _check_structure(structure)
        return torch.softmax(self.choice_logits(op_logits) / tau, dim=-1)

    def op_choices(self, probs: Tensor) -> Tensor:
        """The op rows of :meth:`choice_probs`' output ``[B, M, K]`` (default: all of them)."""
        return probs

    def over_limit(self, probs: Tensor) -> Tensor:
        """``[B]``: the probability that a sample breaks a limit that :meth:`decode` enforces,
        from :meth:`choice_probs`' output (default: zeros, no such limit)."""
        return probs.new_zeros(probs.shape[0])

    def _check_logits(self, op_logits: Tensor, edge_logits: Tensor | None) -> int:
        b = int(op_logits.shape[0])
        n, k = self.num_nodes, self.op_dim
        want = (b, n, n, k) if self.pair_ops else (b, n, k)
        if tuple(op_logits.shape) != want:
            raise ValueError(f"op_logits must have shape {want}, got {tuple(op_logits.shape)}")
        if self.uses_edges and (edge_logits is None or tuple(edge_logits.shape) != (b, n, n)):
            got = None if edge_logits is None else tuple(edge_logits.shape)
            raise ValueError(f"edge_logits must have shape {(b, n, n)}, got {got}")
        if b == 0:
            raise ValueError("empty batch")
        return b


# ------------------------------------------------------------------------------------- NB101
def _living(succ: list[int], pred: list[int], n: int) -> tuple[int, int]:
    """Bitmask of the vertices on an input→output path, and the number of edges between them."""
    fwd = 1
    for v in range(1, n):
        if pred[v] & fwd:
            fwd |= 1 << v
    bwd = 1 << (n - 1)
    for v in range(n - 2, -1, -1):
        if succ[v] & bwd:
            bwd |= 1 << v
    alive = fwd & bwd
    return alive, sum((succ[v] & alive).bit_count() for v in range(n) if (alive >> v) & 1)


def _forced_edges(p: list[list[float]], n: int) -> tuple[list[int], list[int]]:
    """Each vertex's most probable in-edge, then, for each vertex still without a successor,
    its most probable out-edge (lowest index on ties), then without the edges that are not
    needed (least probable first): a graph where every vertex lies on an input→output path."""
    succ, pred = [0] * n, [0] * n
    for v in range(1, n):
        u = max(range(v), key=lambda i: (p[i][v], -i))
        succ[u] |= 1 << v
        pred[v] |= 1 << u
    for u in range(n - 1):
        if not succ[u]:
            v = max(range(u + 1, n), key=lambda j: (p[u][j], -j))
            succ[u] |= 1 << v
            pred[v] |= 1 << u
    # drop, least probable first, the edges whose ends have another successor / predecessor
    edges = [(p[u][v], u, v) for u in range(n) for v in range(u + 1, n) if (succ[u] >> v) & 1]
    for _, u, v in sorted(edges):
        if succ[u].bit_count() > 1 and pred[v].bit_count() > 1:
            succ[u] &= ~(1 << v)
            pred[v] &= ~(1 << u)
    return succ, pred


def nb101_select(
    prob: np.ndarray, on: np.ndarray, max_edges: int = 9, keep_vertices: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The kept edges and living vertices of an NB101 cell of ``n`` vertices.

    ``prob [n, n]`` edge probabilities and ``on [n, n]`` the edges switched on (only the strict
    upper triangle is read; vertex 0 is the input, ``n − 1`` the output).  Keeps the most
    probable input→output path (max Σ log p), then adds the other ``on`` edges by decreasing
    probability, skipping an edge whenever it would bring the *pruned* cell above
    ``max_edges`` edges; finally drops every vertex off an input→output path.  Returns
    ``kept [n, n]`` (bool, only between living vertices) and ``alive [n]``.

    ``keep_vertices``: start instead from every vertex's most probable in-edge and, where a
    vertex has no successor yet, its most probable out-edge, less the edges whose ends keep
    another successor and predecessor (least probable first), so that all ``n`` vertices live;
    where those already exceed ``max_edges``, the rule above applies, with those edges tried
    (by decreasing probability) before the switched-on ones.  Every cell of ``n``
    living vertices is still reachable (sharp probabilities on its edges select exactly them).
    """
    n = prob.shape[0]
    if n < 2:
        raise ValueError(f"an NB101 cell needs at least 2 vertices, got {n}")
    p = np.clip(prob, _EPS, 1.0).tolist()
    best = [0.0] * n
    back = [0] * n
    for j in range(1, n):
        i_best, v_best = 0, -math.inf
        for i in range(j):  # strict ">" keeps the lowest index on ties
            v = best[i] + math.log(p[i][j])
            if v > v_best:
                i_best, v_best = i, v
        best[j], back[j] = v_best, i_best
    succ, pred = [0] * n, [0] * n
    first: list[tuple[float, int, int]] = []  # edges tried before the switched-on ones
    if keep_vertices:
        succ, pred = _forced_edges(p, n)
        if sum(x.bit_count() for x in succ) > max_edges:  # too many: path, then these first
            first = sorted(
                (-p[i][j], i, j) for i in range(n) for j in range(i + 1, n) if (succ[i] >> j) & 1
            )
            succ, pred = [0] * n, [0] * n
    if not any(succ):
        j = n - 1
        while j != 0:
            succ[back[j]] |= 1 << j
            pred[j] |= 1 << back[j]
            j = back[j]
    total = sum(x.bit_count() for x in succ)
    cand = [(-p[i][j], i, j) for i, j in zip(*np.nonzero(np.triu(on, 1)), strict=True)]
    for _, i, j in first + sorted(cand):  # decreasing probability, then row-major
        i, j = int(i), int(j)
        if (succ[i] >> j) & 1:
            continue
        succ[i] |= 1 << j
        pred[j] |= 1 << i
        total += 1
        # living edges <= all edges: only count them when the budget could be exceeded
        if total > max_edges and _living(succ, pred, n)[1] > max_edges:
            succ[i] &= ~(1 << j)
            pred[j] &= ~(1 << i)
            total -= 1
    alive_bits, _ = _living(succ, pred, n)
    alive = np.array([(alive_bits >> v) & 1 for v in range(n)], dtype=bool)
    bits = [(succ[u] & alive_bits) if (alive_bits >> u) & 1 else 0 for u in range(n)]
    kept = np.array([[(bits[u] >> v) & 1 for v in range(n)] for u in range(n)], dtype=bool)
    return kept, alive


class NB101Decoder(SpaceDecoder):
    """NB101: 7 generator nodes = the 7 vertices; edge scores on the upper triangle."""

    space_name = "nb101"
    max_edges: int = 9

    def __init__(self, space: SearchSpace[Any], keep_vertices: bool = False) -> None:
        super().__init__(space)
        #: decode with :func:`nb101_select`'s ``keep_vertices`` (every vertex lives)
        self.keep_vertices = bool(keep_vertices)
        names = list(space.op_names)
        self.input_id = names.index("input")
        self.output_id = names.index("output")
        self.interior_ids = [i for i, o in enumerate(names) if o not in ("input", "output")]
        self.num_nodes = int(space.max_nodes)
        self.op_dim = len(self.interior_ids)
        self.max_edges = int(getattr(space, "max_edges", self.max_edges))

    def _fixed(self, b: int, like: Tensor) -> tuple[Tensor, Tensor]:
        n, k = self.num_nodes, self.num_graph_ops
        fixed = torch.zeros(b, n, k, dtype=like.dtype, device=like.device)
        fixed[:, 0, self.input_id] = 1.0
        fixed[:, n - 1, self.output_id] = 1.0
        upper = torch.ones(n, n, dtype=torch.bool, device=like.device).triu(1)
        return fixed, upper

    def _relaxed_parts(
        self,
        op_logits: Tensor,
        edge_logits: Tensor | None,
        tau: float,
        gumbel: bool,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Soft adjacency and ops (noise-perturbed), and the one-hot argmax ops."""
        b = self._check_logits(op_logits, edge_logits)
        assert edge_logits is not None
        n = self.num_nodes
        ol = op_logits + gumbel_noise(op_logits, generator) if gumbel else op_logits
        el = edge_logits + logistic_noise(edge_logits, generator) if gumbel else edge_logits
        fixed, upper = self._fixed(b, op_logits)
        interior = torch.softmax(ol[:, 1 : n - 1] / tau, dim=-1)  # [B, n-2, n_interior]
        soft_ops = fixed.clone()
        soft_ops[:, 1 : n - 1, self.interior_ids] = interior
        soft_adj = torch.sigmoid(el / tau) * upper
        choice = interior.detach().argmax(dim=-1)
        hard_ops = fixed.clone()
        ids = torch.tensor(self.interior_ids, device=op_logits.device)[choice]
        hard_ops[:, 1 : n - 1] = torch.nn.functional.one_hot(ids, self.num_graph_ops).to(
            fixed.dtype
        )
        return soft_adj, soft_ops, hard_ops, upper

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
        soft_adj, soft_ops, hard_ops, _ = self._relaxed_parts(
            op_logits, edge_logits, tau, gumbel, generator
        )
        b, n = int(op_logits.shape[0]), self.num_nodes
        mask = torch.ones(b, n, dtype=torch.bool, device=op_logits.device)
        if not hard:
            return CellBatch(soft_adj, soft_ops, mask, self.num_graph_ops)
        p = soft_adj.detach().to("cpu", torch.float64).numpy()
        kept = np.zeros((b, n, n), dtype=np.float32)
        alive = np.zeros((b, n), dtype=bool)
        for i in range(b):
            kept_i, alive[i] = nb101_select(p[i], p[i] > 0.5, self.max_edges, self.keep_vertices)
            kept[i] = kept_i
        adj = straight_through(torch.from_numpy(kept).to(soft_adj), soft_adj)
        ops = straight_through(hard_ops, soft_ops)
        # compact: living vertices first, in order (exactly the pruned cell's vertex order)
        alive_t = torch.from_numpy(alive).to(op_logits.device)
        order = torch.argsort((~alive_t).to(torch.int8), dim=1, stable=True)
        rows = torch.arange(b, device=op_logits.device)
        adj = adj[rows[:, None, None], order[:, :, None], order[:, None, :]]
        ops = ops[rows[:, None], order]
        new_mask = torch.arange(n, device=op_logits.device)[None, :] < alive_t.sum(1, keepdim=True)
        pair = (new_mask[:, :, None] & new_mask[:, None, :]).to(adj.dtype)
        return CellBatch(
            adj * pair, ops * new_mask[..., None].to(ops.dtype), new_mask, self.num_graph_ops
        )

    def relax_unpruned(
        self,
        op_logits: Tensor,
        edge_logits: Tensor | None,
        *,
        tau: float = 1.0,
        gumbel: bool = True,
        generator: torch.Generator | None = None,
    ) -> CellBatch:
        """The raw graph, straight-through: every switched-on edge (noisy probability > 0.5)
        of all 7 vertices, with no edge cap and no pruning, so every edge score gets a
        gradient; a discriminator judging it sees dead vertices and extra edges."""
        soft_adj, soft_ops, hard_ops, upper = self._relaxed_parts(
            op_logits, edge_logits, tau, gumbel, generator
        )
        on = ((soft_adj.detach() > 0.5) & upper).to(soft_adj.dtype)
        mask = torch.ones(op_logits.shape[0], self.num_nodes, dtype=torch.bool)
        return CellBatch(
            straight_through(on, soft_adj),
            straight_through(hard_ops, soft_ops),
            mask.to(op_logits.device),
            self.num_graph_ops,
        )

    def op_choices(self, probs: Tensor) -> Tensor:
        """The interior op rows, the first ``n − 2`` of every structure (live-weighted with
        ``"live"``)."""
        return probs[:, : self.num_nodes - 2]

    def over_limit(self, probs: Tensor) -> Tensor:
        """The probability that a sample switches on more than :attr:`max_edges` edges, which
        :func:`nb101_select` then drops (often killing vertices): the edge rows' first column
        ``q`` (``"edges"``: raw, ``"live"``: live-weighted) are independent switches, so their
        count is about normal with mean ``Σ q`` and variance ``Σ q(1 − q)``; this returns
        ``1 − Φ((max_edges + 0.5 − mean) / sd)``.  ``"ops"`` probabilities (no edge rows): zeros.
        """
        m = self.num_nodes - 2
        if probs.shape[1] <= m:
            return probs.new_zeros(probs.shape[0])
        q = probs[:, m:, 0].float()
        mean = q.sum(-1)
        sd = (q * (1.0 - q)).sum(-1).clamp_min(1e-6).sqrt()
        z = (self.max_edges + 0.5 - mean) / sd
        return 0.5 * torch.erfc(z / math.sqrt(2.0))

    def choice_probs(
        self,
        op_logits: Tensor,
        edge_logits: Tensor | None,
        tau: float = 1.0,
        structure: str = "live",
    ) -> Tensor:
        """The interior op choices ``[B, n − 2, 3]``; with ``structure="edges"`` followed by the
        ``n(n − 1)/2`` upper-triangle edges as ``[q, 1 − q, 0]`` (``q = sigmoid(score / tau)``);
        with ``"live"`` every choice weighted by its vertices' liveness, width 4: an edge
        ``u → v`` is ``[q·f_u·b_v, 1 − q·f_u·b_v, 0, 0]`` and the op of vertex ``v``
        ``[a_v·p_v, 1 − a_v]`` (``a_v = f_v·b_v``), where ``f`` (reached from the input) and
        ``b`` (reaching the output) are the relaxed reachabilities
        ``f_v = 1 − Π_{u<v} (1 − f_u·q_uv)``, ``b_u = 1 − Π_{v>u} (1 − q_uv·b_v)``.  Choices
        of a vertex that pruning drops are then (nearly) one sure outcome, so a collision term
        sees the cell that survives pruning, not the raw graph.
        """
        ops = super().choice_probs(op_logits, edge_logits, tau, structure)
        if structure == "ops":
            return ops
        if edge_logits is None:
            raise ValueError("NB101 choice_probs needs edge_logits for structure != 'ops'")
        n, k = self.num_nodes, ops.shape[-1]
        q = torch.sigmoid(edge_logits / tau)
        iu = torch.triu_indices(n, n, 1, device=q.device)
        if structure == "edges":
            qe = q[:, iu[0], iu[1]]
            edges = torch.nn.functional.pad(torch.stack([qe, 1.0 - qe], -1), (0, max(k - 2, 0)))
            return torch.cat([ops, edges], dim=1)
        one = torch.ones_like(q[:, 0, 0])
        fwd = [one]
        for v in range(1, n):
            miss = torch.stack([1.0 - fwd[u] * q[:, u, v] for u in range(v)], -1).prod(-1)
            fwd.append(1.0 - miss)
        bwd = [one]
        for u in range(n - 2, -1, -1):
            miss = torch.stack([1.0 - q[:, u, v] * bwd[n - 1 - v] for v in range(u + 1, n)], -1)
            bwd.append(1.0 - miss.prod(-1))
        f = torch.stack(fwd, 1)  # [B, n]
        b = torch.stack(bwd[::-1], 1)  # [B, n]
        qe = (q * f[:, :, None] * b[:, None, :])[:, iu[0], iu[1]]
        edges = torch.nn.functional.pad(torch.stack([qe, 1.0 - qe], -1), (0, max(k - 1, 0)))
        alive = (f * b)[:, 1 : n - 1, None]
        live_ops = torch.cat([ops * alive, 1.0 - alive], dim=-1)
        return torch.cat([live_ops, edges], dim=1)

    def decode(self, relaxed: CellBatch, stochastic: bool = False, seed: Any = None) -> list[Cell]:
        check_batch(relaxed, self.space)
        adj, ops, mask = batch_to_numpy(relaxed)
        rng = as_rng(seed) if stochastic else None
        out: list[Cell] = []
        interior = np.asarray(self.interior_ids)
        for b in range(adj.shape[0]):
            idx = np.flatnonzero(mask[b])
            if idx.size < 2:
                raise ValueError(f"cell {b} has {idx.size} real vertices; NB101 needs >= 2")
            p = np.clip(adj[b][np.ix_(idx, idx)], 0.0, 1.0)
            on = p > 0.5 if rng is None else rng.random(p.shape) < p
            kept, alive = nb101_select(p, on, self.max_edges, self.keep_vertices)
            choice = interior[choose(ops[b][idx][:, interior], rng)]
            choice[0], choice[-1] = self.input_id, self.output_id
            cell = Cell(kept[np.ix_(alive, alive)].astype(np.uint8), choice[alive])
            self.space.validate(cell)
            out.append(cell)
        return out


# ------------------------------------------------------------------------------------- NB201
class NB201Decoder(SpaceDecoder):
    """NB201: 8 generator nodes = the 8 vertices of the fixed graph; only ops are chosen."""

    space_name = "nb201"
    uses_edges = False

    def __init__(self, space: SearchSpace[Any]) -> None:
        super().__init__(space)
        names = list(space.op_names)
        self.input_id = names.index("input")
        self.output_id = names.index("output")
        self.edge_op_ids = [i for i, o in enumerate(names) if o not in ("input", "output")]
        probe = space.to_graph(space.sample(1, seed=0)[0])
        self.adjacency = np.array(probe.adjacency, dtype=np.float32)
        self.num_nodes = probe.num_vertices
        self.op_dim = len(self.edge_op_ids)

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
        soft = torch.softmax(ol[:, 1 : n - 1] / tau, dim=-1)
        fixed = torch.zeros(b, n, self.num_graph_ops, dtype=op_logits.dtype, device=ol.device)
        fixed[:, 0, self.input_id] = 1.0
        fixed[:, n - 1, self.output_id] = 1.0
        ops = fixed.clone()
        if hard:
            one = torch.nn.functional.one_hot(soft.detach().argmax(-1), self.op_dim).to(soft)
            soft = straight_through(one, soft)
        ops[:, 1 : n - 1, self.edge_op_ids] = soft
        adj = torch.from_numpy(self.adjacency).to(ops).expand(b, n, n).clone()
        mask = torch.ones(b, n, dtype=torch.bool, device=ops.device)
        return CellBatch(adj, ops, mask, self.num_graph_ops)

    def decode(self, relaxed: CellBatch, stochastic: bool = False, seed: Any = None) -> list[Cell]:
        """Ops only: the adjacency of NB201 is fixed, so ``relaxed.adj`` is not read."""
        check_batch(relaxed, self.space)
        _, ops, mask = batch_to_numpy(relaxed)
        n = self.num_nodes
        if ops.shape[1] != n or not mask.all():
            bad = int(np.flatnonzero(~mask.all(axis=1))[0]) if not mask.all() else 0
            raise ValueError(
                f"NB201 cells have exactly {n} real vertices (cell {bad} has "
                f"{int(mask[bad].sum())} of {ops.shape[1]})"
            )
        rng = as_rng(seed) if stochastic else None
        ids = np.asarray(self.edge_op_ids)[choose(ops[:, 1 : n - 1][..., self.edge_op_ids], rng)]
        out: list[Cell] = []
        for row in ids:
            cell = Cell(self.adjacency.astype(np.uint8), [self.input_id, *row, self.output_id])
            self.space.validate(cell)
            out.append(cell)
        return out


# ------------------------------------------------------------------------------------- DARTS
class DartsDecoder(SpaceDecoder):
    """DARTS: 12 generator nodes (nodes 0..5 of the normal, then of the reduce cell).

    ``edge_logits[b, j, i]`` scores node ``i`` reading node ``j`` (same cell, ``j < i``) and
    ``op_logits[b, j, i]`` the 7 ops of that edge.  Each intermediate node draws two distinct
    inputs by Gumbel-top-2: slot weights ``w_A = softmax(g/τ)`` and
    ``w_B = softmax(g/τ + log(1 − w_A))`` (the relaxed top-k of Xie & Ermon, 2019), hard
    choices ``argmax g`` and the next best; the slot with the lower input comes first.
    """

    space_name = "darts"
    pair_ops = True
    nodes_per_cell = 6
    first_node = 2

    def __init__(self, space: SearchSpace[Any]) -> None:
        super().__init__(space)
        ops = tuple(getattr(space, "ops", ()))
        if not ops:
            raise ValueError("the DARTS space must list its genotype ops in .ops")
        self.ops = ops
        self.op_dim = len(ops)
        self.num_cells = 2
        self.num_nodes = self.num_cells * self.nodes_per_cell
        self.verts_per_cell = space.max_nodes // self.num_cells  # 11
        self.vocab_per_cell = self.num_graph_ops // self.num_cells  # 10
        vpc, kpc = self.verts_per_cell, self.vocab_per_cell
        n_graph = space.max_nodes
        # slots: (cell, node, slot) -> graph vertex; candidate inputs j < node
        self.slots: list[tuple[int, int, int, int]] = []  # (cell, node, slot, vertex)
        for c in range(self.num_cells):
            for node in range(self.first_node, self.nodes_per_cell):
                for s in range(2):
                    k = 2 * (node - self.first_node) + s
                    self.slots.append((c, node, s, c * vpc + 2 + k))
        # constant maps from slot-candidate weights to the adjacency, and slot ops to ops
        rows: list[tuple[int, int, int]] = []  # (flat weight index, src vertex, dst vertex)
        self._cand_index: list[tuple[int, int]] = []  # flat weight index -> (slot, j)
        for si, (c, node, _s, v) in enumerate(self.slots):
            for j in range(node):
                w = len(self._cand_index)
                self._cand_index.append((si, j))
                for src in self._reps(c, j):
                    rows.append((w, src, v))
        sel = torch.zeros(len(self._cand_index), n_graph * n_graph)
        for w, src, dst in rows:
            sel[w, src * n_graph + dst] = 1.0
        self._sel = sel
        ops_map = torch.zeros(len(self.slots) * self.op_dim, n_graph * self.num_graph_ops)
        fixed_adj = torch.zeros(n_graph, n_graph)
        fixed_ops = torch.zeros(n_graph, self.num_graph_ops)
        for si, (c, _node, _s, v) in enumerate(self.slots):
            for o in range(self.op_dim):
                ops_map[si * self.op_dim + o, v * self.num_graph_ops + c * kpc + 2 + o] = 1.0
            fixed_adj[v, c * vpc + vpc - 1] = 1.0
        for c in range(self.num_cells):
            fixed_ops[c * vpc + 0, c * kpc + 0] = 1.0
            fixed_ops[c * vpc + 1, c * kpc + 1] = 1.0
            fixed_ops[c * vpc + vpc - 1, c * kpc + kpc - 1] = 1.0
        self._ops_map, self._fixed_adj, self._fixed_ops = ops_map, fixed_adj, fixed_ops
        self._check_layout()

    def choice_logits(self, op_logits: Tensor) -> Tensor:
        """Op scores of every candidate edge ``j → i`` (``j < i``, same cell): ``[B, 28, 7]``."""
        npc = self.nodes_per_cell
        src = [
            c * npc + j
            for c in range(self.num_cells)
            for i in range(self.first_node, npc)
            for j in range(i)
        ]
        dst = [
            c * npc + i
            for c in range(self.num_cells)
            for i in range(self.first_node, npc)
            for j in range(i)
        ]
        return op_logits[:, src, dst]

    def _reps(self, c: int, j: int) -> list[int]:
        """Graph vertices that carry genotype node ``j`` of cell ``c``."""
        base = c * self.verts_per_cell
        if j < self.first_node:
            return [base + j]
        first = base + 2 + 2 * (j - self.first_node)
        return [first, first + 1]

    def _check_layout(self) -> None:
        """Our constant maps must reproduce ``space.to_graph`` on a few genotypes."""
        for g in self.space.sample(3, seed=0):
            relaxed = self._graph_from_choices([g])
            ref = CellBatch.from_cells([self.space.to_graph(g)], self.num_graph_ops)
            if not (
                torch.equal(relaxed.adj, ref.adj) and torch.equal(relaxed.ops, ref.op_onehot())
            ):
                raise RuntimeError(
                    "DartsDecoder's graph layout disagrees with DartsSpace.to_graph; "
                    "the space's graph form changed"
                )

    def _graph_from_choices(self, genotypes: Sequence[Any]) -> CellBatch:
        b = len(genotypes)
        w = torch.zeros(b, len(self._cand_index))
        o = torch.zeros(b, len(self.slots), self.op_dim)
        pos = {key: i for i, key in enumerate(self._cand_index)}
        for bi, g in enumerate(genotypes):
            for si, (c, node, s, _v) in enumerate(self.slots):
                src, op = g.cells()[c][2 * (node - self.first_node) + s]
                w[bi, pos[(si, src)]] = 1.0
                o[bi, si, op] = 1.0
        return self._assemble(w, o)

    def _assemble(self, w: Tensor, slot_ops: Tensor) -> CellBatch:
        b, n, k = w.shape[0], self.space.max_nodes, self.num_graph_ops
        sel = self._sel.to(w)
        adj = (w @ sel).view(b, n, n) + self._fixed_adj.to(w)
        ops = (slot_ops.reshape(b, -1) @ self._ops_map.to(w)).view(b, n, k) + self._fixed_ops.to(w)
        mask = torch.ones(b, n, dtype=torch.bool, device=w.device)
        return CellBatch(adj, ops, mask, k)

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
        self._check_logits(op_logits, edge_logits)
        assert edge_logits is not None
        el = edge_logits + gumbel_noise(edge_logits, generator) if gumbel else edge_logits
        ol = op_logits + gumbel_noise(op_logits, generator) if gumbel else op_logits
        npc = self.nodes_per_cell
        weights: list[Tensor] = []
        slot_ops: list[Tensor] = []
        for c in range(self.num_cells):
            for node in range(self.first_node, npc):
                g = el[:, c * npc : c * npc + node, c * npc + node] / tau  # [B, node]
                w_a = torch.softmax(g, dim=-1)
                w_b = torch.softmax(g + torch.log1p(-w_a.clamp(max=1.0 - 1e-6)), dim=-1)
                # op distribution of the edge j -> node, for every candidate j: [B, node, K]
                p_op = torch.softmax(ol[:, c * npc : c * npc + node, c * npc + node] / tau, -1)
                if hard:
                    first = g.detach().argmax(-1)
                    second = (
                        g.detach()
                        .masked_fill(torch.nn.functional.one_hot(first, node).bool(), -torch.inf)
                        .argmax(-1)
                    )
                    h_a = torch.nn.functional.one_hot(first, node).to(g)
                    h_b = torch.nn.functional.one_hot(second, node).to(g)
                    w_a, w_b = straight_through(h_a, w_a), straight_through(h_b, w_b)
                    swap = (second < first)[:, None]
                    w_a, w_b = torch.where(swap, w_b, w_a), torch.where(swap, w_a, w_b)
                for w in (w_a, w_b):
                    o = (w[..., None] * p_op).sum(1)  # [B, K]
                    if hard:
                        o = straight_through(
                            torch.nn.functional.one_hot(o.detach().argmax(-1), self.op_dim).to(o),
                            o,
                        )
                    weights.append(w)
                    slot_ops.append(o)
        return self._assemble(torch.cat(weights, dim=1), torch.stack(slot_ops, dim=1))

    def decode(self, relaxed: CellBatch, stochastic: bool = False, seed: Any = None) -> list[Any]:
        """Genotypes from the 22-vertex graph form: slot input weights are the adjacency
        entries from the input's vertices (mean over a node's two pair vertices)."""
        from ..spaces.darts import Genotype

        check_batch(relaxed, self.space)
        adj, ops, mask = batch_to_numpy(relaxed)
        n = self.space.max_nodes
        if adj.shape[1] != n or not mask.all():
            raise ValueError(f"DARTS graphs have exactly {n} real vertices")
        rng = as_rng(seed) if stochastic else None
        b = adj.shape[0]
        cells = np.zeros((b, self.num_cells, 8, 2), dtype=np.int64)
        kpc = self.vocab_per_cell
        for c in range(self.num_cells):
            for node in range(self.first_node, self.nodes_per_cell):
                k0 = 2 * (node - self.first_node)
                v = [c * self.verts_per_cell + 2 + k0 + s for s in range(2)]
                score = np.stack(
                    [
                        np.stack([adj[:, self._reps(c, j), vs].mean(1) for j in range(node)], 1)
                        for vs in v
                    ],
                    1,
                )  # [B, 2 slots, node]
                pairs = [(j0, j1) for j0 in range(node) for j1 in range(node) if j0 != j1]
                pj = np.asarray(pairs)
                if rng is None:
                    joint = score[:, 0, pj[:, 0]] + score[:, 1, pj[:, 1]]
                else:
                    s = np.clip(score, 0.0, None)
                    joint = s[:, 0, pj[:, 0]] * s[:, 1, pj[:, 1]]
                pick = pj[choose(joint, rng)]  # [B, 2]
                for s_ in range(2):
                    op_scores = ops[:, v[s_], c * kpc + 2 : c * kpc + 2 + self.op_dim]
                    cells[:, c, k0 + s_, 0] = pick[:, s_]
                    cells[:, c, k0 + s_, 1] = choose(op_scores, rng)
        out = []
        for bi in range(b):
            g = Genotype(
                tuple(map(tuple, cells[bi, 0].tolist())), tuple(map(tuple, cells[bi, 1].tolist()))
            )
            self.space.validate(g)
            out.append(g)
        return out


def decoder_for(space: SearchSpace[Any], **kwargs: Any) -> SpaceDecoder:
    """The generator decoder registered for ``space.name`` (kind ``"decoder"``: hook
    ``archperf_decoders``, built-in and plugin spaces alike), built on ``space`` with
    ``kwargs`` (e.g. NB101's ``keep_vertices``); an :class:`~archperf.errors.UsageError` names
    the spaces that have one, or the arguments a decoder does not take."""
    from .. import registry

    name = getattr(space, "name", "")
    if name not in registry.names("decoder"):
        raise UsageError(
            f"no generator decoder for space {name or space!r}; spaces with one: "
            f"{', '.join(registry.names('decoder'))} (a plugin registers one with the "
            f"archperf_decoders hook)"
        )
    cls = registry.get("decoder", name)
    try:
        decoder = cls(space, **kwargs)
    except TypeError as exc:
        if not kwargs:
            raise
        raise UsageError(f"decoder {name!r} does not take {sorted(kwargs)}: {exc}") from None
    if not isinstance(decoder, SpaceDecoder):
        raise UsageError(f"decoder {name!r} is a {type(decoder).__name__}, not a SpaceDecoder")
    return decoder
