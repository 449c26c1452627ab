"""``ssa``: the Semi-Supervised Assessor (Tang et al., CVPR 2020) as an ``arch_predictor``.

>>> from archperf import registry
>>> model = registry.create("arch_predictor", "ssa", space="nb201", seed=0)
>>> model.fit(cells, y, unlabeled=other_cells)   # labeled + unlabeled cells form one graph
>>> model.predict(any_cells)                     # float64 numpy [len(any_cells)]
>>> model.save("my-ssa/"); SSAPredictor.load("my-ssa/").predict(any_cells)

The model (details and the measured choices: docs/ssa.md):

1. **Auto-encoder.**  A registered graph encoder (default ``"gin"``: 3 layers of width 32, mean
   pooling) gives node embeddings; a linear map makes each node a ``latent_dim`` code and the
   cell's representation is the mean of its node codes.  The decoder rebuilds every real node's
   op (softmax over the op vocabulary) and every ordered pair's edge (a bilinear score of the
   two codes) from the node codes; its loss is the op cross-entropy plus the edge binary
   cross-entropy.
2. **Relation graph.**  Every distinct cell of ``fit`` (labeled and unlabeled) is a node; each
   node is joined to its ``k`` nearest other nodes by squared Euclidean distance between the
   space's fixed features (:func:`neighbour_graph`, exact, blocked matrix products on torch;
   above :data:`EXACT_MAX` cells :func:`approx_neighbour_graph`, a principal-direction
   projection and an inverted-file k-means index).
   ``features="auto"`` uses the space's ``tree_features`` (NB201: ``canonical-path``, so
   equivalent cells are at distance 0 and become neighbours), else the padded graph features of
   :func:`~archperf.predictors.mlp.graph_features`.  Ties are broken by a fixed pseudo-random
   order, not by position.
3. **GCN.**  ``gcn_layers`` mean-aggregation graph convolutions of width ``gcn_dim`` over the
   directed kNN graph, ``h'_i = relu(W_s h_i + W_n mean_{j in kNN(i)} h_j)``, then a linear
   head.  Each node reads only its own ``k`` out-neighbours, so a cell that was not in the
   fitted graph is attached the same way: its ``k`` nearest *fitted* cells, whose per-layer
   states are kept after ``fit``; fitted cells are never changed by a query.
4. **Training.**  ``pretrain_steps`` steps of the auto-encoder alone on random batches of all
   nodes, then ``steps`` (default ``max(200, 4 · labels)``) joint steps of
   ``MSE(labels) + recon_weight · reconstruction``: the regression term covers every label
   through the GCN (the encoder runs on the labeled nodes' ``gcn_layers``-hop
   neighbourhood), the reconstruction term a random batch of
   ``recon_batch`` nodes.  Adam, labels standardised; CPU and deterministic for a seed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._io import atomic_write_bytes, load_json_limited
from ..errors import InvalidCellError, NotFittedError, UsageError, check_finite_predictions
from ..interfaces import ArchPredictor, HasFeatures, SearchSpace, SemiSupervised

__all__ = [
    "EXACT_MAX",
    "IVF_MIN",
    "KNN_METHODS",
    "SSAPredictor",
    "approx_neighbour_graph",
    "default_nprobe",
    "ivf_lists",
    "neighbour_graph",
]

#: How the relation graph is searched: ``"auto"`` (exact up to :data:`EXACT_MAX` cells),
#: ``"exact"`` or ``"approx"``.
KNN_METHODS = ("auto", "exact", "approx")

FORMAT = "archperf-ssa"
FORMAT_VERSION = 1
_CONFIG = "ssa.json"
_WEIGHTS = "weights.safetensors"
_GRAPH = "graph.safetensors"


#: Above this many fitted cells, ``knn="auto"`` uses :func:`approx_neighbour_graph`.
EXACT_MAX = 20_000

#: Pools of at most this many rows are searched by :func:`approx_neighbour_graph` without an
#: inverted-file index (unless its ``lists`` is given).
IVF_MIN = 4096


def _tie_jitter(r: Any, tie_seed: int) -> Any:
    """A fixed pseudo-random tie-breaker per reference row: under 0.1 % of the mean squared
    distance between two rows (any value when all rows are equal)."""
    import torch

    scale = 1e-3 * 2.0 * float(r.var(0, unbiased=False).sum()) if r.shape[0] > 1 else 0.0
    scale = scale if scale > 0 else 1.0  # all rows equal: every distance ties
    u = np.random.default_rng(tie_seed).random(r.shape[0]).astype(np.float32)
    return torch.from_numpy(u) * scale


def _check_k(k: int, n: int, self_graph: bool) -> None:
    avail = n - 1 if self_graph else n
    if k < 1 or k > avail:
        raise UsageError(f"a {k}-nearest-neighbour graph needs more than {k} cells, got {n}")


def neighbour_graph(
    ref: np.ndarray,
    k: int,
    query: np.ndarray | None = None,
    block: int = 256,
    tie_seed: int = 0,
) -> np.ndarray:
    """Indices ``int64 [Q, k]`` of the ``k`` nearest rows of ``ref`` (squared Euclidean
    distance), nearest first, for every row of ``query`` (default: ``ref`` itself, each row's
    own index excluded).  Exact: blocked matrix products on torch, one block of ``block``
    query rows at a time.  Equal distances are ordered by a fixed pseudo-random order of the
    ``ref`` rows (``tie_seed``), so ties do not favour early rows (a jitter under 0.1 % of
    the mean squared distance between rows).  Runs with the library's torch thread count
    (:func:`archperf.runtime.threads`)."""
    import torch  # noqa: F401  (imported first, so that threads() sets its count)

    from ..runtime import threads

    with threads():  # the library's thread count (ARCHPERF_THREADS, else 1)
        return _exact_graph(ref, k, query, block, tie_seed)


def _exact_graph(
    ref: np.ndarray, k: int, query: np.ndarray | None, block: int, tie_seed: int
) -> np.ndarray:
    import torch

    r = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))
    n = r.shape[0]
    self_graph = query is None
    q = r if query is None else torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
    _check_k(k, n, self_graph)
    out = np.empty((q.shape[0], k), dtype=np.int64)
    rt = r.T.contiguous()
    base = (r * r).sum(1) + _tie_jitter(r, tie_seed)  # |q|^2 cannot change a row's order
    for s in range(0, q.shape[0], block):
        d = torch.addmm(base, q[s : s + block], rt, beta=1.0, alpha=-2.0)
        if self_graph:
            rows = torch.arange(d.shape[0])
            d[rows, rows + s] = float("inf")
        out[s : s + block] = torch.topk(d, k, dim=1, largest=False, sorted=True).indices.numpy()
    return out


def _sq_dists(x: Any, c: Any, c_sq: Any) -> Any:
    """Squared distances between the rows of ``x`` and of ``c`` (``c_sq`` = ``|c|²``)."""
    import torch

    return torch.addmm(c_sq, x, c.T, beta=1.0, alpha=-2.0) + (x * x).sum(1, keepdim=True)


def _nearest_centroids(x: Any, cents: Any, probes: int, block: int = 4096) -> Any:
    """``int64 [len(x), probes]``: each row's ``probes`` nearest centroids, nearest first
    (blocked; ties to the lower centroid index)."""
    import torch

    c_sq = (cents * cents).sum(1)
    out = torch.empty((x.shape[0], probes), dtype=torch.int64)
    for s in range(0, x.shape[0], block):
        d = _sq_dists(x[s : s + block], cents, c_sq)
        if probes == 1:
            out[s : s + block, 0] = d.argmin(1)
        else:
            out[s : s + block] = torch.topk(d, probes, dim=1, largest=False, sorted=True).indices
    return out


def ivf_lists(x: Any, lists: int, iters: int = 5, seed: int = 0) -> tuple[Any, Any]:
    """k-means for an inverted-file index: ``lists`` centroids seeded by k-means++ (on at
    most ``16 · lists`` distinct rows of ``x`` drawn with ``seed``), then ``iters`` Lloyd
    iterations; a list that empties keeps its centroid.  Returns the centroids ``float32
    [lists, d]`` and every row's list ``int64 [n]`` (deterministic for a seed)."""
    import torch

    rng = np.random.default_rng(seed)
    _, first = np.unique(x.numpy(), axis=0, return_index=True)  # distinct rows only
    first = np.sort(first)
    lists = max(1, min(lists, len(first)))
    if len(first) > 16 * lists:
        first = np.sort(rng.choice(first, 16 * lists, replace=False))
    sample = x[torch.from_numpy(first)].double()
    chosen = [int(rng.integers(len(first)))]
    near = ((sample - sample[chosen[0]]) ** 2).sum(1)
    for _ in range(lists - 1):  # k-means++: the next seed in proportion to its distance²
        w = near.numpy()
        nxt = int(rng.choice(len(w), p=w / w.sum())) if w.sum() > 0 else int(np.argmax(w))
        chosen.append(nxt)
        near = torch.minimum(near, ((sample - sample[nxt]) ** 2).sum(1))
    cents = sample[chosen].float()
    assign = _nearest_centroids(x, cents, 1)[:, 0]
    for _ in range(iters):
        sums = torch.zeros_like(cents).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=lists)
        full = counts > 0
        cents[full] = sums[full] / counts[full].unsqueeze(1).to(x.dtype)
        new = _nearest_centroids(x, cents, 1)[:, 0]
        if torch.equal(new, assign):
            break
        assign = new
    return cents, assign


def approx_neighbour_graph(
    ref: np.ndarray,
    k: int,
    query: np.ndarray | None = None,
    dim: int = 64,
    oversample: int = 4,
    block: int = 256,
    tie_seed: int = 0,
    lists: int | None = None,
    nprobe: int | None = None,
    iters: int = 5,
) -> np.ndarray:
    """Approximate :func:`neighbour_graph` for large pools, sub-quadratic with an
    inverted-file index (same arguments and output; ``lists``, ``nprobe`` and ``iters`` set
    the index).

    1. **Projection.**  Features wider than ``dim`` columns are projected on their ``dim``
       leading principal directions (an exact eigen-decomposition of the ``d × d``
       covariance); narrower ones are searched as they are.
    2. **Inverted file.**  k-means (:func:`ivf_lists`: ``lists`` centroids, default
       ``round(sqrt(n))``, ``iters`` Lloyd iterations, seeded by ``tie_seed``) splits the
       projected ``ref`` rows into lists.  Every query row is compared, exactly, with the rows
       of the lists of its ``nprobe`` nearest centroids (default :func:`default_nprobe`): the
       (query, list) pairs are grouped by list, so each list meets all the queries that probe
       it in one matrix product, and each query keeps the best of its lists.  About
       ``n · nprobe / lists`` distances per query instead of ``n``; ``nprobe = lists`` is an
       exhaustive search.
    3. **Re-ranking.**  The ``oversample · k`` nearest candidates of a projected search (``k``
       without a projection) are re-ranked by their true distances, ties broken as in
       :func:`neighbour_graph`.

    With ``lists`` unset, the index is skipped for pools of at most :data:`IVF_MIN` rows and
    for queries too few to pay for the k-means (at most ``iters · lists``): the projected
    search is then exhaustive, and with narrow features the result is
    :func:`neighbour_graph`'s.  Deterministic for given inputs and ``tie_seed``; the
    self-graph (``query=None``) never gives a row itself.  Runs with the library's torch
    thread count (:func:`archperf.runtime.threads`: many small products, which extra threads
    only slow down on a busy machine).
    """
    import torch  # noqa: F401  (imported first, so that threads() sets its count)

    from ..runtime import threads

    with threads():  # the library's thread count (ARCHPERF_THREADS, else 1)
        return _approx_graph(ref, k, query, dim, oversample, block, tie_seed, lists, nprobe, iters)


def _approx_graph(
    ref: np.ndarray,
    k: int,
    query: np.ndarray | None,
    dim: int,
    oversample: int,
    block: int,
    tie_seed: int,
    lists: int | None,
    nprobe: int | None,
    iters: int,
) -> np.ndarray:
    import torch

    r = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))
    n = r.shape[0]
    self_graph = query is None
    _check_k(k, n, self_graph)
    if lists is not None:
        lists = _check_int("approx_neighbour_graph", "lists", lists, 1)
    if nprobe is not None:
        nprobe = _check_int("approx_neighbour_graph", "nprobe", nprobe, 1)
    projected = r.shape[1] > dim
    n_lists = lists if lists is not None else max(1, round(math.sqrt(n)))
    nq = n if query is None else int(np.shape(query)[0])
    use_ivf = lists is not None or (n > IVF_MIN and nq > iters * n_lists)
    if not projected and not use_ivf:
        return neighbour_graph(ref, k, query, block=block, tie_seed=tie_seed)
    q = r if query is None else torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
    if projected:
        mean = r.mean(0)
        centred = r - mean
        _, vecs = torch.linalg.eigh((centred.T @ centred).double())
        basis = vecs[:, -dim:].float()  # the leading principal directions
        pr = (r - mean) @ basis
        pq = pr if query is None else (q - mean) @ basis
    else:
        pr, pq = r, q
    avail = n - 1 if self_graph else n
    m = min(oversample * k, avail) if projected else k
    jitter = _tie_jitter(r, tie_seed)
    if use_ivf:
        cand = _ivf_search(pr, pq, m, self_graph, n_lists, nprobe, iters, block, tie_seed, jitter)
    else:
        cand = torch.from_numpy(
            neighbour_graph(pr.numpy(), m, None if self_graph else pq.numpy(), block, tie_seed)
        )
    out = np.empty((q.shape[0], k), dtype=np.int64)
    base = (r * r).sum(1) + jitter  # the distances of neighbour_graph, |q|^2 apart
    for s in range(0, q.shape[0], block):
        c = cand[s : s + block]
        dots = torch.bmm(r[c], q[s : s + block].unsqueeze(2)).squeeze(2)
        d = base[c] - 2.0 * dots
        top = torch.topk(d, k, dim=1, largest=False, sorted=True).indices
        out[s : s + block] = torch.gather(c, 1, top).numpy()
    return out


def default_nprobe(lists: int) -> int:
    """The lists a query probes by default: ``max(12, lists // 8)``, at most ``lists``
    (distance recall >= 0.99 on NB201 and the NB101 subset, and on 5,000 NB201 cells of 154
    wide features, where 8 of 71 lists gave 0.990: docs/ssa.md)."""
    return min(lists, max(12, lists // 8))


def _ivf_search(
    pr: Any,
    pq: Any,
    m: int,
    self_graph: bool,
    lists: int,
    nprobe: int | None,
    iters: int,
    block: int,
    tie_seed: int,
    jitter: Any,
) -> Any:
    """``int64 [Q, m]``: each query's ``m`` nearest ``pr`` rows among the rows of its
    ``nprobe`` nearest lists (see :func:`approx_neighbour_graph`)."""
    import torch

    n = pr.shape[0]
    cents, assign = ivf_lists(pr, lists, iters, tie_seed)
    lists = cents.shape[0]
    probes = min(lists, nprobe if nprobe is not None else default_nprobe(lists))
    probe = _nearest_centroids(pq, cents, probes)  # [Q, probes], nearest first
    nq = pq.shape[0]
    order = torch.argsort(assign, stable=True)  # the rows of each list, by index
    starts = torch.zeros(lists + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(torch.bincount(assign, minlength=lists), 0)
    base = (pr * pr).sum(1) + jitter
    pos = torch.full((n,), -1, dtype=torch.int64)
    best_d = torch.empty((nq, m))
    best_i = torch.empty((nq, m), dtype=torch.int64)
    chunk = max(1, (1 << 21) // (probes * m))  # queries whose candidates are held at once
    for c0 in range(0, nq, chunk):
        cq = min(chunk, nq - c0)
        buf_d = torch.full((cq, probes, m), float("inf"))
        buf_i = torch.zeros((cq, probes, m), dtype=torch.int64)
        # the chunk's (query, probe rank) pairs, grouped by list: one product per list
        pair_list = probe[c0 : c0 + cq].reshape(-1)
        by_list = torch.argsort(pair_list, stable=True)
        pair_q = by_list // probes
        pair_r = by_list % probes
        p_starts = torch.zeros(lists + 1, dtype=torch.int64)
        p_starts[1:] = torch.cumsum(torch.bincount(pair_list, minlength=lists), 0)
        for g in range(lists):
            rows = order[starts[g] : starts[g + 1]]
            if p_starts[g] == p_starts[g + 1] or rows.numel() == 0:
                continue
            qi = pair_q[p_starts[g] : p_starts[g + 1]]
            ri = pair_r[p_starts[g] : p_starts[g + 1]]
            d = torch.addmm(base[rows], pq[qi + c0], pr[rows].T, beta=1.0, alpha=-2.0)
            if self_graph:
                pos[rows] = torch.arange(rows.numel())
                own = pos[qi + c0]
                hit = own >= 0
                d[torch.arange(qi.numel())[hit], own[hit]] = float("inf")
                pos[rows] = -1
            kk = min(m, rows.numel())
            top_d, top = torch.topk(d, kk, dim=1, largest=False, sorted=False)
            buf_d[qi, ri, :kk] = top_d
            buf_i[qi, ri, :kk] = rows[top]
        flat_d = buf_d.reshape(cq, -1)
        keep_d, keep = torch.topk(flat_d, m, dim=1, largest=False, sorted=True)
        best_d[c0 : c0 + cq] = keep_d
        best_i[c0 : c0 + cq] = torch.gather(buf_i.reshape(cq, -1), 1, keep)
    short = torch.isinf(best_d).any(1).nonzero()[:, 0]  # probed lists too small: search all
    for s in range(0, short.numel(), block):
        qi = short[s : s + block]
        d = torch.addmm(base, pq[qi], pr.T, beta=1.0, alpha=-2.0)
        if self_graph:
            d[torch.arange(qi.numel()), qi] = float("inf")
        best_i[qi] = torch.topk(d, m, dim=1, largest=False, sorted=True).indices
    return best_i


def _check_int(owner: str, what: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise UsageError(f"{owner}: {what} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_float(owner: str, what: str, value: Any, positive: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise UsageError(
            f"{owner}: {what} must be a number {'>' if positive else '>='} 0, got {value!r}"
        )
    return float(value)


def _build_net(num_ops: int, max_nodes: int, s: dict[str, Any]) -> Any:
    """The auto-encoder and the GCN as one ``nn.Module`` (seeded initialisation)."""
    import torch
    from torch import nn

    from ..nn.encoders import build_encoder
    from ..nn.gin import init_seeded

    class SSANet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            with init_seeded(s["seed"]):
                enc_kwargs: dict[str, Any] = {
                    "hidden_dim": s["hidden_dim"],
                    "num_layers": s["num_layers"],
                }
                if s["encoder"] == "gin":
                    enc_kwargs.update(pooling="mean", norm="none")
                self.encoder, _, _ = build_encoder(
                    "ssa", None, num_ops, name=s["encoder"], **enc_kwargs
                )
                node_dim = int(getattr(self.encoder, "node_dim", s["hidden_dim"]))
                lat = s["latent_dim"]
                self.to_latent = nn.Linear(node_dim, lat)
                self.op_head = nn.Linear(lat, num_ops)
                self.edge_src = nn.Linear(lat, lat, bias=False)
                self.edge_bias = nn.Parameter(torch.zeros(()))
                dims = [lat] + [s["gcn_dim"]] * s["gcn_layers"]
                self.gcn_self = nn.ModuleList(
                    nn.Linear(dims[i], dims[i + 1]) for i in range(s["gcn_layers"])
                )
                self.gcn_nbr = nn.ModuleList(
                    nn.Linear(dims[i], dims[i + 1], bias=False) for i in range(s["gcn_layers"])
                )
                self.head = nn.Linear(dims[-1], 1)

        def codes(self, batch: Any) -> tuple[Any, Any]:
            """Node codes ``[B, N, L]`` and cell representations ``[B, L]``."""
            nodes = self.to_latent(self.encoder(batch).nodes)
            m = batch.mask.to(nodes.dtype).unsqueeze(-1)
            rep = (nodes * m).sum(1) / m.sum(1).clamp(min=1.0)
            return nodes, rep

        def reconstruction(self, batch: Any, nodes: Any) -> Any:
            """Op cross-entropy over real nodes + edge BCE over ordered pairs of real nodes."""
            mask = batch.mask
            op_logits = self.op_head(nodes)[mask]
            op_loss = nn.functional.cross_entropy(op_logits, batch.ops[mask].long())
            edge_logits = self.edge_src(nodes) @ nodes.transpose(1, 2) + self.edge_bias
            pair = mask.unsqueeze(2) & mask.unsqueeze(1)
            edge_loss = nn.functional.binary_cross_entropy_with_logits(
                edge_logits[pair], batch.adj[pair]
            )
            return op_loss + edge_loss

        def layer(self, i: int, h_self: Any, h_nbr_mean: Any) -> Any:
            out = self.gcn_self[i](h_self) + self.gcn_nbr[i](h_nbr_mean)
            return torch.relu(out)

    return SSANet()


class SSAPredictor(ArchPredictor[Any], SemiSupervised):
    """The Semi-Supervised Assessor (see the module doc for the model).

    Args:
        space: a search space or its registered name.
        seed: initialisation, batches and ties of the neighbour graph.
        encoder, hidden_dim, num_layers: the registered graph encoder and its size.
        latent_dim: width of the node codes and of the cell representation.
        k: out-neighbours of every node in the relation graph (at most the number of other
            distinct cells ``fit`` was given).
        features: ``"auto"``, ``"graph"`` or a kind of the space's ``features`` ability: the
            space in which the neighbour graph's distances are measured.
        knn: ``"exact"`` (:func:`neighbour_graph`), ``"approx"``
            (:func:`approx_neighbour_graph`) or ``"auto"``: exact up to :data:`EXACT_MAX`
            fitted cells.
        gcn_dim, gcn_layers: the GCN's width and depth.
        recon_weight: weight of the reconstruction loss in the joint steps.
        pretrain_steps, steps: auto-encoder-only steps, then joint steps (None:
            ``max(200, 4 · labels)``, as a GIN's epochs grow with its labels).
        recon_batch: cells per reconstruction batch.
        lr, weight_decay: Adam.
        threads: torch CPU threads while fitting and predicting (None: the library's rule).
    """

    name: ClassVar[str] = "ssa"

    def __init__(
        self,
        space: SearchSpace[Any] | str = "nb201",
        seed: int = 0,
        encoder: str = "gin",
        hidden_dim: int = 32,
        num_layers: int = 3,
        latent_dim: int = 32,
        k: int = 10,
        features: str = "auto",
        knn: str = "auto",
        gcn_dim: int = 64,
        gcn_layers: int = 2,
        recon_weight: float = 0.0,
        pretrain_steps: int = 0,
        steps: int | None = None,
        recon_batch: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        threads: int | None = None,
    ) -> None:
        from .. import registry

        who = "ssa"
        try:
            self.space = registry.search_space(space)
        except TypeError as exc:
            raise UsageError(str(exc)) from None
        if not isinstance(encoder, str) or encoder not in registry.names("encoder"):
            raise UsageError(
                f"{who}: encoder must be a registered encoder "
                f"({', '.join(registry.names('encoder'))}), got {encoder!r}"
            )
        if threads is not None:
            _check_int(who, "threads", threads, 1)
        if knn not in KNN_METHODS:
            raise UsageError(f"{who}: knn must be one of {', '.join(KNN_METHODS)}, got {knn!r}")
        self.settings: dict[str, Any] = {
            "seed": _check_int(who, "seed", seed, 0),
            "encoder": encoder,
            "hidden_dim": _check_int(who, "hidden_dim", hidden_dim, 1),
            "num_layers": _check_int(who, "num_layers", num_layers, 1),
            "latent_dim": _check_int(who, "latent_dim", latent_dim, 1),
            "k": _check_int(who, "k", k, 1),
            "features": self._resolve_features(features),
            "knn": knn,
            "gcn_dim": _check_int(who, "gcn_dim", gcn_dim, 1),
            "gcn_layers": _check_int(who, "gcn_layers", gcn_layers, 0),
            "recon_weight": _check_float(who, "recon_weight", recon_weight, positive=False),
            "pretrain_steps": _check_int(who, "pretrain_steps", pretrain_steps, 0),
            "steps": None if steps is None else _check_int(who, "steps", steps, 1),
            "recon_batch": _check_int(who, "recon_batch", recon_batch, 1),
            "lr": _check_float(who, "lr", lr, positive=True),
            "weight_decay": _check_float(who, "weight_decay", weight_decay, positive=False),
            "threads": threads,
        }
        try:  # sizes the encoder refuses, or arguments it does not take: one line now
            _build_net(len(self.space.op_names), int(self.space.max_nodes), self.settings)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{who}: {str(exc).splitlines()[0]}") from None
        self._net: Any = None
        self._nbr: np.ndarray | None = None
        self._texts: list[str] = []
        self._index: dict[str, int] = {}
        self._feats: np.ndarray | None = None
        self._states: list[Any] = []  # per GCN layer input states of the fitted nodes
        self._out: np.ndarray | None = None
        self._y_mean, self._y_std = 0.0, 1.0

    def _resolve_features(self, features: Any) -> str:
        kinds: tuple[str, ...] = (
            tuple(self.space.feature_kinds) if isinstance(self.space, HasFeatures) else ()
        )
        if features == "auto":
            if isinstance(self.space, HasFeatures):
                return str(self.space.tree_features)
            return "graph"
        if features == "graph" or features in kinds:
            return str(features)
        raise UsageError(
            f"ssa: features {features!r} is not offered by the {self.space.name} space; use one "
            f"of: {', '.join(('auto', 'graph', *kinds))}"
        )

    def to_config(self) -> dict[str, Any]:
        """The settings that rebuild this model (JSON-ready; the space by its name)."""
        return {"space": self.space.name, **self.settings}

    def neighbours(self, ref: np.ndarray, k: int, query: np.ndarray | None = None) -> np.ndarray:
        """The ``k`` nearest rows of ``ref`` for ``query`` (None: ``ref``'s own graph), by the
        ``knn`` setting."""
        method = self.settings["knn"]
        if method == "approx" or (method == "auto" and ref.shape[0] > EXACT_MAX):
            return approx_neighbour_graph(ref, k, query, tie_seed=self.settings["seed"])
        return neighbour_graph(ref, k, query, tie_seed=self.settings["seed"])

    def joint_steps(self, labels: int) -> int:
        """The joint steps of a fit on ``labels`` labels: ``steps``, or by default
        ``max(200, 4 · labels)`` (measured: docs/ssa.md)."""
        steps = self.settings["steps"]
        return int(steps) if steps is not None else max(200, 4 * int(labels))

    # -- inputs --------------------------------------------------------------------------------

    def _texts_of(self, archs: Any, what: str) -> list[str]:
        if isinstance(archs, str | bytes) or not isinstance(archs, Sequence):
            raise UsageError(
                f"ssa: {what} must be a sequence of architectures, got {type(archs).__name__}"
            )
        out = []
        for i, a in enumerate(archs):
            try:
                self.space.validate(a)
                out.append(self.space.to_text(a))
            except (InvalidCellError, TypeError, ValueError, AttributeError) as exc:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise UsageError(
                    f"ssa: {what}[{i}] is not a valid {self.space.name} architecture: {msg}"
                ) from None
        return out

    def features_of(self, archs: Sequence[Any]) -> np.ndarray:
        """The rows the neighbour graph measures distances between (``float32 [n, d]``)."""
        if self.settings["features"] == "graph":
            from .mlp import graph_features

            return graph_features(self.space, archs)
        assert isinstance(self.space, HasFeatures)
        return np.asarray(self.space.features(archs, self.settings["features"]), np.float32)

    # -- fit -----------------------------------------------------------------------------------

    def fit(
        self,
        archs: Sequence[Any],
        y: Sequence[float] | np.ndarray,
        unlabeled: Sequence[Any] | None = None,
    ) -> SSAPredictor:
        """Train on ``archs`` with targets ``y`` (same length, at least two, finite) and the
        ``unlabeled`` architectures (any number, repeats and labeled cells allowed): all
        distinct cells become the nodes of the relation graph.  Returns ``self``."""
        import torch

        from ..runtime import threads

        texts = self._texts_of(archs, "archs")
        try:
            target = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"ssa: y must be numbers: {exc}") from None
        if target.ndim != 1 or target.shape[0] != len(texts):
            raise UsageError(
                f"ssa: {len(texts)} architectures but y has shape {target.shape}: give one "
                "target each"
            )
        if target.shape[0] < 2:
            raise UsageError("ssa: fit needs at least two labeled architectures")
        if not np.isfinite(target).all():
            bad = int(np.flatnonzero(~np.isfinite(target))[0])
            raise UsageError(f"ssa: y[{bad}] is {target[bad]}: targets must be finite")
        extra = [] if unlabeled is None else self._texts_of(unlabeled, "unlabeled")
        index: dict[str, int] = {}
        node_archs: list[Any] = []
        for t, a in zip(texts + extra, list(archs) + list(unlabeled or []), strict=True):
            if t not in index:
                index[t] = len(node_archs)
                node_archs.append(a)
        if len(node_archs) < 2:
            raise UsageError("ssa: the relation graph needs at least two distinct cells")
        with threads(self.settings["threads"]), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.settings["seed"])
            self._fit(torch, node_archs, index, [index[t] for t in texts], target)
        return self

    def _fit(
        self,
        torch: Any,
        node_archs: list[Any],
        index: dict[str, int],
        lab: list[int],
        target: np.ndarray,
    ) -> None:
        from ..nn.batching import GraphTable

        s = self.settings
        feats = self.features_of(node_archs)
        nbr = self.neighbours(feats, min(s["k"], len(node_archs) - 1))
        table = GraphTable(self.space, node_archs)
        n = len(node_archs)
        net = _build_net(len(self.space.op_names), int(self.space.max_nodes), s)
        opt = torch.optim.Adam(net.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
        rng = np.random.default_rng([s["seed"], 16])
        self._y_mean = float(target.mean())
        self._y_std = float(target.std()) or 1.0
        yt = torch.from_numpy(((target - self._y_mean) / self._y_std).astype(np.float32))
        lab_arr = np.asarray(lab, dtype=np.int64)

        # the labeled nodes' neighbourhood, hop by hop: hops[l] = nodes whose layer-l state
        # the labeled outputs need (hops[L] = the labeled nodes themselves)
        L = s["gcn_layers"]
        hops = [np.unique(lab_arr)]
        for _ in range(L):
            hops.append(np.union1d(hops[-1], nbr[hops[-1]].ravel()))
        hops = hops[::-1]  # hops[0]: encoder inputs ... hops[L]: labeled nodes
        plan = []  # per layer: (positions of its nodes, of their neighbours) in the layer below
        for layer in range(L):
            below, nodes = hops[layer], hops[layer + 1]
            plan.append(
                (
                    torch.from_numpy(np.searchsorted(below, nodes)),
                    torch.from_numpy(np.searchsorted(below, nbr[nodes])),
                )
            )
        out_pos = torch.from_numpy(np.searchsorted(hops[L], lab_arr))

        net.train()
        rb = min(s["recon_batch"], n)
        for _ in range(s["pretrain_steps"]):
            b = table.batch(rng.choice(n, rb, replace=False), None)
            opt.zero_grad()
            loss = net.reconstruction(b, net.codes(b)[0])
            loss.backward()
            opt.step()
        work_batch = table.batch(hops[0], None)
        for _ in range(self.joint_steps(len(lab))):
            opt.zero_grad()
            _, h = net.codes(work_batch)
            for layer, (who, nb) in enumerate(plan):
                h = net.layer(layer, h[who], h[nb].mean(1))
            pred = net.head(h).squeeze(-1)[out_pos]
            loss = torch.nn.functional.mse_loss(pred, yt)
            if s["recon_weight"] > 0:
                b = table.batch(rng.choice(n, rb, replace=False), None)
                loss = loss + s["recon_weight"] * net.reconstruction(b, net.codes(b)[0])
            loss.backward()
            opt.step()
        net.eval()
        self._net = net
        self._feats = feats
        self._nbr = nbr
        self._texts = list(index)
        self._index = index
        self._full_states(torch, table)

    def _full_states(self, torch: Any, table: Any) -> None:
        """The GCN's input state of every fitted node at every layer, and their outputs."""
        net, nbr = self._net, torch.from_numpy(self._nbr)
        with torch.no_grad():
            reps = [net.codes(b)[1] for b in table.batches(4096, None)]
            h = torch.cat(reps)
            states = []
            for layer in range(self.settings["gcn_layers"]):
                states.append(h)
                h = net.layer(layer, h, h[nbr].mean(1))
            self._states = states
            self._out = net.head(h).squeeze(-1).double().numpy() * self._y_std + self._y_mean

    # -- predict -------------------------------------------------------------------------------

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """``float64`` predictions ``[len(archs)]``.  A cell of the fitted graph gets its node's
        output; any other cell is attached to its ``k`` nearest fitted cells (same features)
        and read through the GCN from their kept states, without changing them."""
        import torch

        from ..nn.batching import GraphTable
        from ..runtime import threads

        if self._net is None or self._out is None or self._feats is None or self._nbr is None:
            raise NotFittedError("this SSAPredictor is not fitted: call fit() or load() first")
        texts = self._texts_of(archs, "archs")
        out = np.empty(len(texts), dtype=np.float64)
        new = []
        for i, t in enumerate(texts):
            j = self._index.get(t)
            if j is None:
                new.append(i)
            else:
                out[i] = self._out[j]
        if new:
            new_archs = [archs[i] for i in new]
            k = int(self._nbr.shape[1])
            with threads(self.settings["threads"]), torch.no_grad():
                nbr = torch.from_numpy(self.neighbours(self._feats, k, self.features_of(new_archs)))
                table = GraphTable(self.space, new_archs)
                h = torch.cat([self._net.codes(b)[1] for b in table.batches(4096, None)])
                for layer, state in enumerate(self._states):
                    h = self._net.layer(layer, h, state[nbr].mean(1))
                raw = self._net.head(h).squeeze(-1).double().numpy()
            out[new] = raw * self._y_std + self._y_mean
        check_finite_predictions(out, "SSAPredictor")
        return out

    # -- save / load ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted model to the folder ``path``: ``weights.safetensors`` (the network),
        ``graph.safetensors`` (features, neighbours, kept GCN states and outputs of the fitted
        nodes), ``ssa.json`` (settings, target scale and the fitted cells' text forms) and,
        last, ``manifest.json`` (their SHA-256, checked on load)."""
        import torch
        from safetensors.torch import save as save_bytes

        from ..nn.serialization import write_bundle_manifest

        if self._net is None or self._out is None or self._feats is None or self._nbr is None:
            raise NotFittedError("this SSAPredictor is not fitted: nothing to save")
        out = Path(path)
        state = {k: v.detach().contiguous() for k, v in self._net.state_dict().items()}
        atomic_write_bytes(out / _WEIGHTS, save_bytes(state))
        graph = {
            "features": torch.from_numpy(np.ascontiguousarray(self._feats)),
            "neighbours": torch.from_numpy(np.ascontiguousarray(self._nbr)),
            "outputs": torch.from_numpy(np.ascontiguousarray(self._out)),
        }
        for i, st in enumerate(self._states):
            graph[f"state{i}"] = st.contiguous()
        atomic_write_bytes(out / _GRAPH, save_bytes(graph))
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": self.to_config(),
            "y_mean": self._y_mean,
            "y_std": self._y_std,
            "cells": self._texts,
        }
        atomic_write_bytes(out / _CONFIG, json.dumps(doc, allow_nan=False).encode("utf-8"))
        write_bundle_manifest(out, [_WEIGHTS, _GRAPH, _CONFIG])  # last: commits the save

    @classmethod
    def load(cls, path: str | Path) -> SSAPredictor:
        """A fitted model read back from :meth:`save`'s folder (checked: format, shapes, finite
        values; a damaged folder is a ``ComponentFormatError``)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from ..nn.serialization import ComponentFormatError, check_bundle_file

        folder = Path(path)
        where = folder / _CONFIG
        if not where.is_file():
            raise FileNotFoundError(f"{where} is missing: not a saved SSAPredictor")
        for name in (_CONFIG, _WEIGHTS, _GRAPH):  # a damaged or mixed save: one clear line
            check_bundle_file(folder, name)
        doc = load_json_limited(where.read_bytes(), str(where), ComponentFormatError)
        if (
            not isinstance(doc, dict)
            or doc.get("format") != FORMAT
            or doc.get("format_version") != FORMAT_VERSION
            or not isinstance(doc.get("config"), dict)
            or not isinstance(doc.get("cells"), list)
            or not all(isinstance(t, str) for t in doc["cells"])
        ):
            raise ComponentFormatError(f"{where} is not a saved SSAPredictor (format 1)")
        try:
            model = cls(**doc["config"])
            y_mean, y_std = float(doc["y_mean"]), float(doc["y_std"])
            net = _build_net(len(model.space.op_names), int(model.space.max_nodes), model.settings)
            net.load_state_dict(load_file(str(folder / _WEIGHTS)), strict=True)
            graph = load_file(str(folder / _GRAPH))
        except (TypeError, KeyError, ValueError, RuntimeError, OSError, SafetensorError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ComponentFormatError(f"{folder}: damaged SSAPredictor: {msg}") from None
        n, layers = len(doc["cells"]), model.settings["gcn_layers"]
        k = min(model.settings["k"], n - 1)
        width = model.settings["latent_dim"]
        expect = {"features": None, "neighbours": (n, k), "outputs": (n,)}
        for i in range(layers):
            expect[f"state{i}"] = (n, width if i == 0 else model.settings["gcn_dim"])
        for key, shape in expect.items():
            t = graph.get(key)
            if t is None or (shape is not None and tuple(t.shape) != shape):
                raise ComponentFormatError(f"{folder / _GRAPH}: {key} is missing or mis-shaped")
        feats, nbr = graph["features"].numpy(), graph["neighbours"].numpy()
        if (
            feats.ndim != 2
            or feats.shape[0] != n
            or (nbr.size and (nbr.min() < 0 or nbr.max() >= n))
        ):
            raise ComponentFormatError(f"{folder / _GRAPH}: features or neighbours do not fit")
        if not (np.isfinite(y_mean) and np.isfinite(y_std) and y_std > 0):
            raise ComponentFormatError(f"{where}: y_mean / y_std must be finite, y_std > 0")
        net.eval()
        model._net = net
        model._texts = list(doc["cells"])
        model._index = {t: i for i, t in enumerate(model._texts)}
        model._feats, model._nbr = feats, nbr
        model._states = [graph[f"state{i}"] for i in range(layers)]
        model._out = graph["outputs"].numpy().astype(np.float64)
        model._y_mean, model._y_std = y_mean, y_std
        return model
