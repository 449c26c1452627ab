"""A graph variational auto-encoder over a space's cells, with a performance and a
complexity predictor on the latent code (the model of Graph-VAE NAO, Li et al., 2020).

Four parts, trained jointly:

* **encoder**: a registered encoder (default ``"gin"``) over the space's graph form, then two
  linear heads giving the mean and log-variance of a ``latent_dim``-dimensional Gaussian;
* **decoder**: from the code to the scores of the space's registered
  :class:`~archperf.nn.decoders.SpaceDecoder` (hook ``archperf_decoders``), which turns them
  into *valid* cells by construction, so every decoded code is a cell of the space.  Either a
  one-shot MLP (``decoder="one-shot"``) or an autoregressive GRU (``decoder="autoregressive"``,
  :class:`ARDecoder`) that scores node by node: the op of vertex ``v``, then its incoming
  edges from earlier vertices, conditioned on the code and on the partial graph (trained with
  teacher forcing, decoded greedily);
* **performance** and **complexity predictors**: MLPs from the code to a scalar each, trained on
  standardised targets (the raw unit is kept in buffers).

Loss per batch: ``reconstruction + beta · KL + perf_weight · MSE(perf) + cost_weight ·
MSE(cost)``.  Reconstruction is the binary cross-entropy of the decoder's noise-free relaxed
adjacency against the cell's, plus the cross-entropy of its op distributions, summed over a cell
and averaged over the batch; the MSE terms average over the cells that have a target (unlabeled
cells only reconstruct).  Everything runs on CPU and is deterministic under ``seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..cell import CellBatch
from ..errors import UsageError
from ..interfaces import SearchSpace
from ..runtime import with_threads
from .batching import cells_to_batch
from .decoders import SpaceDecoder, decoder_for
from .encoders import build_encoder
from .gin import init_seeded

__all__ = ["DECODERS", "ARDecoder", "GraphVAE", "VAELoss", "default_decoder"]

_EPS = 1e-6

#: The decoder kinds of :class:`GraphVAE`.
DECODERS = ("one-shot", "autoregressive")
#: Per-space default decoder, chosen on held-out reconstruction (docs/gvae_nao.md,
#: bench/results/gvae_recon.json); other spaces use ``"one-shot"``.
_DEFAULT_DECODER: dict[str, str] = {"nb101": "autoregressive"}


def default_decoder(space_name: str) -> str:
    """The decoder kind :class:`GraphVAE` uses for ``space_name`` when none is named."""
    return _DEFAULT_DECODER.get(space_name, "one-shot")


def _check_float(name: str, value: Any, low: float = 0.0, strict: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and np.isfinite(value)
    if not ok or value < low or (strict and value == low):
        rel = ">" if strict else ">="
        raise UsageError(f"{name} must be a finite number {rel} {low}, got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _mlp(n_in: int, hidden: int, n_out: int, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


class VAELoss(dict[str, Tensor]):
    """The loss terms of one batch (``total``, ``recon``, ``kl``, ``perf``, ``cost``)."""


class ARDecoder(nn.Module):
    """Autoregressive decoder: a GRU over the vertices that scores, for vertex ``v`` in order,
    its op and then its incoming edges ``i → v`` (``i < v``), conditioned on the code and on
    the partial graph.

    The graph state ``g`` starts from the code.  At vertex ``v``: op scores from ``[g, z]``;
    edge scores from ``[s_i, g, z, op_v]`` for every earlier vertex state ``s_i``; then the
    vertex state ``s_v = GRU([op_v, onehot(v), Σ_{i → v} s_i], g)`` and ``g = GRU(s_v, g)``.
    ``op_v`` and the edges fed forward are the target's (teacher forcing) or the greedy
    choices (op argmax, edge score > 0).  A generated vertex without incoming edges, and the
    first and last vertex (fixed ops), feed a zero op, as empty vertices of a target do.
    Spaces with fixed edges (NB201) feed their fixed adjacency and score no edges.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: int,
        num_nodes: int,
        op_dim: int,
        uses_edges: bool,
        fixed_adj: Tensor,
    ) -> None:
        super().__init__()
        self.num_nodes, self.op_dim, self.uses_edges = num_nodes, op_dim, uses_edges
        self.register_buffer("fixed_adj", fixed_adj.float())
        self.init = nn.Linear(latent_dim, hidden)
        self.op_head = _mlp(hidden + latent_dim, hidden, op_dim, layers=1)
        self.edge_head = _mlp(2 * hidden + latent_dim + op_dim, hidden, 1, layers=1)
        self.node_cell = nn.GRUCell(op_dim + num_nodes + hidden, hidden)
        self.graph_cell = nn.GRUCell(hidden, hidden)

    def forward(
        self, z: Tensor, teacher_ops: Tensor | None = None, teacher_adj: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Op scores ``[B, N, op_dim]`` and edge scores ``[B, N, N]`` (row ``i``, column
        ``v``; zero on and below the diagonal).  ``teacher_ops [B, N, op_dim]`` (zero rows for
        empty or fixed vertices) and ``teacher_adj [B, N, N]`` switch on teacher forcing."""
        b, n = z.shape[0], self.num_nodes
        teach = teacher_ops is not None
        g = torch.tanh(self.init(z))
        pos = torch.eye(n, dtype=z.dtype)
        states: list[Tensor] = []
        op_rows: list[Tensor] = []
        edge_cols: list[Tensor] = []
        for v in range(n):
            op_l = self.op_head(torch.cat([g, z], -1))
            op_rows.append(op_l)
            if teach:
                assert teacher_ops is not None
                op_in = teacher_ops[:, v]
            elif 0 < v < n - 1:
                op_in = nn.functional.one_hot(op_l.argmax(-1), self.op_dim).to(z.dtype)
            else:
                op_in = z.new_zeros(b, self.op_dim)
            col = z.new_zeros(b, n)
            if v == 0:
                agg = g.new_zeros(g.shape)
            else:
                prev = torch.stack(states, 1)  # [B, v, H]
                if self.uses_edges:
                    ctx = torch.cat([g, z, op_in], -1)[:, None].expand(b, v, -1)
                    edge_l = self.edge_head(torch.cat([prev, ctx], -1)).squeeze(-1)  # [B, v]
                    col = nn.functional.pad(edge_l, (0, n - v))
                    if teacher_adj is not None:
                        into = teacher_adj[:, :v, v].to(z.dtype)
                    else:
                        into = (edge_l > 0).to(z.dtype)
                else:
                    fixed = self.get_buffer("fixed_adj")
                    into = fixed[:v, v].to(z.dtype).expand(b, v)
                if not teach and 0 < v < n - 1:
                    op_in = op_in * (into.sum(1, keepdim=True) > 0).to(z.dtype)
                agg = (into[..., None] * prev).sum(1)
            edge_cols.append(col)
            s_v = self.node_cell(torch.cat([op_in, pos[v].expand(b, n), agg], -1), g)
            g = self.graph_cell(s_v, g)
            states.append(s_v)
        return torch.stack(op_rows, 1), torch.stack(edge_cols, 2)


class GraphVAE(nn.Module):
    """Graph VAE with performance and complexity predictors (see the module docstring).

    Parameters
    ----------
    space:
        A search space with a registered decoder (nb101, nb201, darts, plugin spaces), or its name.
    latent_dim:
        Size of the latent code (56 as in the public implementation).
    encoder, encoder_kwargs:
        The registered encoder's name and its arguments (``num_ops`` and ``seed`` set here).
    hidden_dim:
        Width of the decoder (the MLP's two hidden layers, or the GRU states of the
        autoregressive decoder); predictors use ``predictor_hidden``.
    decoder:
        ``"one-shot"`` (an MLP) or ``"autoregressive"`` (:class:`ARDecoder`; spaces whose decoder
        scores one op per graph vertex: NB101, NB201); ``None``: the space's default
        (:func:`default_decoder`).
    beta, perf_weight, cost_weight:
        Weights of the KL term and of the two predictors' MSE in the loss.
    seed:
        Seeds the weights; :meth:`fit` takes its own seed for batches and noise.
    """

    def __init__(
        self,
        space: SearchSpace[Any] | str,
        latent_dim: int = 56,
        encoder: str = "gin",
        encoder_kwargs: dict[str, Any] | None = None,
        hidden_dim: int = 128,
        predictor_hidden: int = 64,
        beta: float = 0.005,
        perf_weight: float = 1.0,
        cost_weight: float = 1.0,
        seed: int = 0,
        decoder: str | None = None,
    ) -> None:
        super().__init__()
        from ..registry import search_space

        self.space = search_space(space)
        self.latent_dim = _check_int("latent_dim", latent_dim, 1)
        self.hidden_dim = _check_int("hidden_dim", hidden_dim, 1)
        self.predictor_hidden = _check_int("predictor_hidden", predictor_hidden, 1)
        self.beta = _check_float("beta", beta)
        self.perf_weight = _check_float("perf_weight", perf_weight)
        self.cost_weight = _check_float("cost_weight", cost_weight)
        if encoder_kwargs is not None and not isinstance(encoder_kwargs, dict):
            raise UsageError(f"encoder_kwargs must be a table of arguments, got {encoder_kwargs!r}")
        self.encoder_name = encoder
        self.encoder_kwargs = dict(encoder_kwargs or {})
        self.seed = _check_int("seed", seed, 0)
        self.decoder: SpaceDecoder = decoder_for(self.space)
        self.num_ops = len(self.space.op_names)
        d = self.decoder
        n = d.num_nodes
        self._op_shape = (n, n, d.op_dim) if d.pair_ops else (n, d.op_dim)
        self._edge_shape = (n, n) if d.uses_edges else None
        n_out = int(np.prod(self._op_shape)) + (n * n if d.uses_edges else 0)
        kind = default_decoder(self.space.name) if decoder is None else decoder
        if kind not in DECODERS:
            raise UsageError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        self.decoder_kind = kind
        if kind == "autoregressive":
            fixed_adj = self._probe_decoder()
        with init_seeded(self.seed):
            self.encoder, graph_dim, _ = build_encoder(
                "GraphVAE", None, self.num_ops, name=encoder, **self.encoder_kwargs
            )
            self.mean_head = nn.Linear(graph_dim, self.latent_dim)
            self.logvar_head = nn.Linear(graph_dim, self.latent_dim)
            self.decoder_net: nn.Module
            if kind == "one-shot":
                self.decoder_net = _mlp(self.latent_dim, self.hidden_dim, n_out)
            else:
                self.decoder_net = ARDecoder(
                    self.latent_dim, self.hidden_dim, n, d.op_dim, d.uses_edges, fixed_adj
                )
            self.perf_net = _mlp(self.latent_dim, self.predictor_hidden, 1)
            self.cost_net = _mlp(self.latent_dim, self.predictor_hidden, 1)
        for name in ("perf_mean", "cost_mean"):
            self.register_buffer(name, torch.zeros(()))
        for name in ("perf_std", "cost_std"):
            self.register_buffer(name, torch.ones(()))

    def config(self) -> dict[str, Any]:
        """Constructor arguments (the space by name), JSON-ready."""
        return {
            "space": self.space.name,
            "latent_dim": self.latent_dim,
            "encoder": self.encoder_name,
            "encoder_kwargs": dict(self.encoder_kwargs),
            "hidden_dim": self.hidden_dim,
            "predictor_hidden": self.predictor_hidden,
            "beta": self.beta,
            "perf_weight": self.perf_weight,
            "cost_weight": self.cost_weight,
            "seed": self.seed,
            "decoder": self.decoder_kind,
        }

    def _probe_decoder(self) -> Tensor:
        """For the autoregressive decoder: the map from graph op ids to the decoder's op
        choices (``self._op_map [num_ops, op_dim]``, read off the space decoder by scoring one
        choice at a time) and the adjacency of a cell with all edge scores zero (the fixed
        adjacency of spaces without edge choices)."""
        d = self.decoder
        n = d.num_nodes
        if d.pair_ops or n != self.space.max_nodes:
            raise UsageError(
                f"decoder='autoregressive' needs a space whose decoder scores one op per graph "
                f"vertex (nb101, nb201); {self.space.name!r} does not, use decoder='one-shot'"
            )
        op_map = torch.zeros(self.num_ops, d.op_dim)
        edge = torch.zeros(1, n, n) if d.uses_edges else None
        for k in range(d.op_dim):
            logits = torch.zeros(1, n, d.op_dim)
            logits[0, 1, k] = 50.0
            soft = d.relax(logits, edge, hard=False, gumbel=False)
            op_map[int(soft.op_onehot()[0, 1].argmax()), k] = 1.0
        if int(op_map.sum()) != d.op_dim:
            raise UsageError(f"the {self.space.name!r} decoder maps two op choices to one op")
        self._op_map = op_map
        return d.relax(torch.zeros(1, n, d.op_dim), edge, hard=False, gumbel=False).adj[0]

    # ------------------------------------------------------------------------- pieces
    def batch(self, archs: Sequence[Any]) -> CellBatch:
        """``archs`` (the space's own) as a padded batch in the space's graph form."""
        if len(archs) == 0:
            raise ValueError("no architectures given")
        return cells_to_batch(list(archs), self.num_ops, self.space)

    def encode_batch(self, batch: CellBatch) -> tuple[Tensor, Tensor]:
        """Mean and log-variance ``[B, latent_dim]`` of the codes of a batch."""
        g = self.encoder(batch).graph
        return self.mean_head(g), self.logvar_head(g).clamp(-10.0, 10.0)

    def scores(self, z: Tensor, target: CellBatch | None = None) -> tuple[Tensor, Tensor | None]:
        """The decoder's op and edge scores for codes ``z``; ``target`` (cells, one per code)
        teacher-forces the autoregressive decoder (the MLP ignores it)."""
        if self.decoder_kind == "autoregressive":
            t_ops = t_adj = None
            if target is not None:
                t_adj, full = self._aligned(target, self.decoder.num_nodes)
                t_ops = full @ self._op_map
            op_l, edge_l = self.decoder_net(z, t_ops, t_adj)
            return op_l, edge_l if self._edge_shape is not None else None
        out = self.decoder_net(z)
        b = z.shape[0]
        n_op = int(np.prod(self._op_shape))
        op_logits = out[:, :n_op].reshape(b, *self._op_shape)
        edge = None
        if self._edge_shape is not None:
            edge = out[:, n_op:].reshape(b, *self._edge_shape)
        return op_logits, edge

    def relaxed(self, z: Tensor, target: CellBatch | None = None) -> CellBatch:
        """Noise-free soft cells (probabilities) decoded from ``z``, in the space's graph form
        (``target``: teacher forcing, see :meth:`scores`)."""
        op_logits, edge = self.scores(z, target)
        return self.decoder.relax(op_logits, edge, hard=False, gumbel=False)

    def predict_std(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Standardised predicted performance and complexity ``[B]`` each."""
        return self.perf_net(z).squeeze(-1), self.cost_net(z).squeeze(-1)

    def objective(self, z: Tensor, lam: float = 0.0) -> Tensor:
        """Standardised predicted performance minus ``lam`` · standardised complexity ``[B]``."""
        perf, cost = self.predict_std(z)
        return perf - lam * cost if lam else perf

    def _aligned(self, target: CellBatch, n: int) -> tuple[Tensor, Tensor]:
        """Target adjacency and one-hot ops on the decoder's ``n`` vertices.  A cell smaller
        than that (pruned NB101 cells) keeps its vertices in order with its last one (the
        output) moved to vertex ``n − 1``; the vertices between are empty."""
        adj = target.adj.float()
        ops = target.op_onehot().float()
        b, m = target.mask.shape
        if m < n:
            adj = nn.functional.pad(adj, (0, n - m, 0, n - m))
            ops = nn.functional.pad(ops, (0, 0, 0, n - m))
        size = target.mask.sum(1)
        if bool((size == n).all()):
            return adj, ops
        perm = torch.arange(n).repeat(b, 1)
        for i, k in enumerate(size.tolist()):
            if k < n:
                perm[i, k - 1], perm[i, n - 1] = n - 1, k - 1
        rows = torch.arange(b)
        return adj[rows[:, None, None], perm[:, :, None], perm[:, None, :]], ops[
            rows[:, None], perm
        ]

    def reconstruction_loss(self, z: Tensor, target: CellBatch) -> Tensor:
        """Per-cell reconstruction loss ``[B]`` of ``target`` from codes ``z``."""
        soft = self.relaxed(z, target)
        n = soft.max_nodes
        t_adj, t_ops = self._aligned(target, n)
        p = soft.adj.clamp(_EPS, 1.0 - _EPS)
        bce = -(t_adj * torch.log(p) + (1.0 - t_adj) * torch.log1p(-p)).sum((1, 2))
        q = soft.op_onehot().clamp_min(_EPS)
        ce = -(t_ops * torch.log(q)).sum((1, 2))
        return bce + ce

    def loss(
        self,
        batch: CellBatch,
        perf: Tensor | None = None,
        cost: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> VAELoss:
        """The loss terms of ``batch``; ``perf``/``cost`` are standardised targets ``[B]`` with
        NaN where a cell has none."""
        mu, logvar = self.encode_batch(batch)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = self.reconstruction_loss(z, batch).mean()
        kl = (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)).mean()
        p_hat, c_hat = self.predict_std(z)
        zero = recon.new_zeros(())
        terms = VAELoss(recon=recon, kl=kl, perf=zero, cost=zero)
        for key, target, pred in (("perf", perf, p_hat), ("cost", cost, c_hat)):
            if target is not None:
                has = ~torch.isnan(target)
                if bool(has.any()):
                    terms[key] = (pred[has] - target[has]).pow(2).mean()
        terms["total"] = (
            recon
            + self.beta * kl
            + self.perf_weight * terms["perf"]
            + self.cost_weight * terms["cost"]
        )
        return terms

    # ---------------------------------------------------------------------- training
    def _standardise(self, values: Any, n: int, which: str) -> Tensor | None:
        if values is None:
            return None
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.shape != (n,):
            raise UsageError(f"{which} must have one value per architecture ({n}), got {v.shape}")
        have = v[~np.isnan(v)]
        if not np.isfinite(have).all():
            raise UsageError(f"{which} holds inf values")
        if have.size:
            mean = float(have.mean())
            std = float(have.std()) if have.size > 1 and have.std() > 0 else 1.0
            getattr(self, f"{which}_mean").fill_(mean)
            getattr(self, f"{which}_std").fill_(std)
        return torch.from_numpy(
            (v - float(getattr(self, f"{which}_mean"))) / float(getattr(self, f"{which}_std"))
        ).float()

    @with_threads
    def fit(
        self,
        archs: Sequence[Any],
        perf: Sequence[float] | np.ndarray | None = None,
        cost: Sequence[float] | np.ndarray | None = None,
        epochs: int = 50,
        batch_size: int = 64,
        lr: float = 1e-3,
        seed: int = 0,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> list[dict[str, float]]:
        """Train on ``archs``; ``perf``/``cost`` give targets (NaN: none, e.g. unlabeled cells).

        Targets are standardised on the given values (the scale is kept for :meth:`predict`).
        Returns the mean loss terms per epoch.  Pass the same ``optimizer`` again to continue
        training (see :meth:`make_optimizer`).  Runs with the library's thread count
        (:func:`archperf.runtime.threads`).
        """
        _check_int("epochs", epochs, 0)
        _check_int("batch_size", batch_size, 1)
        _check_float("lr", lr, strict=True)
        n = len(archs)
        if n == 0:
            raise UsageError("fit needs at least one architecture")
        p_t = self._standardise(perf, n, "perf")
        c_t = self._standardise(cost, n, "cost")
        data = self.batch(archs)
        opt = optimizer if optimizer is not None else self.make_optimizer(lr)
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(int(seed))
        history: list[dict[str, float]] = []
        self.train()
        for _ in range(epochs):
            order = rng.permutation(n)
            sums: dict[str, float] = {}
            for s in range(0, n, batch_size):
                idx = torch.from_numpy(order[s : s + batch_size])
                if len(idx) < 2 and n >= 2:  # batch norm needs two cells
                    continue
                sub = CellBatch(data.adj[idx], data.ops[idx], data.mask[idx], data.num_ops)
                terms = self.loss(
                    sub,
                    None if p_t is None else p_t[idx],
                    None if c_t is None else c_t[idx],
                    gen,
                )
                opt.zero_grad()
                terms["total"].backward()
                opt.step()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(idx)
            history.append({k: v / n for k, v in sums.items()})
        self.eval()
        return history

    def make_optimizer(self, lr: float = 1e-3) -> torch.optim.Optimizer:
        """Adam over every parameter (to pass to successive :meth:`fit` calls)."""
        return torch.optim.Adam(self.parameters(), lr=_check_float("lr", lr, strict=True))

    # ------------------------------------------------------------------------ use
    @torch.no_grad()
    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        """Latent codes (posterior means) ``[B, latent_dim]`` of ``archs``."""
        was = self.training
        self.eval()
        try:
            mu, _ = self.encode_batch(self.batch(archs))
        finally:
            self.train(was)
        return mu.numpy().astype(np.float64)

    def _codes(self, codes: Any) -> Tensor:
        z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise UsageError(f"codes must have shape [B, {self.latent_dim}], got {tuple(z.shape)}")
        if not bool(torch.isfinite(z).all()):
            raise UsageError("codes hold NaN or inf values")
        return z

    @torch.no_grad()
    def decode(self, codes: Any) -> list[Any]:
        """Valid architectures of the space decoded (argmax) from codes ``[B, latent_dim]``."""
        z = self._codes(codes)
        if z.shape[0] == 0:
            return []
        return self.decoder.decode(self.relaxed(z))

    @torch.no_grad()
    def predict(self, codes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predicted performance and complexity per code, in the targets' units."""
        p, c = self.predict_std(self._codes(codes))
        perf = p.double().numpy() * self._scale("perf_std") + self._scale("perf_mean")
        cost = c.double().numpy() * self._scale("cost_std") + self._scale("cost_mean")
        return perf, cost

    def _scale(self, name: str) -> float:
        value: Tensor = getattr(self, name)
        return float(value)

    def ascend(
        self, codes: Any, steps: int = 100, step_size: float = 0.1, lam: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradient ascent on :meth:`objective` from ``codes``; returns every step's codes
        ``[steps + 1, B, latent_dim]`` (the start first) and objectives ``[steps + 1, B]``."""
        _check_int("steps", steps, 0)
        _check_float("step_size", step_size)
        _check_float("lam", lam)
        z = self._codes(codes).clone()
        was = self.training
        self.eval()
        path, values = [], []
        try:
            for s in range(steps + 1):
                z.requires_grad_(True)
                obj = self.objective(z, lam)
                path.append(z.detach().numpy().astype(np.float64))
                values.append(obj.detach().numpy().astype(np.float64))
                if s == steps:
                    break
                (grad,) = torch.autograd.grad(obj.sum(), z)
                z = (z + step_size * grad).detach()
        finally:
            self.train(was)
        return np.stack(path), np.stack(values)

    def reconstruction(self, archs: Sequence[Any]) -> dict[str, float]:
        """Share of ``archs`` decoded back exactly from their codes (``accuracy``, by
        ``space.to_text``), share decoded to an equivalent cell (``equivalent``, by
        ``space.canonical``: NB101 isomorphs count) and share of decoded cells that are valid
        (``valid``; 1.0 by construction, checked here with ``space.validate``)."""
        if len(archs) == 0:
            raise UsageError("reconstruction needs at least one architecture")
        out = self.decode(self.encode(archs))
        valid = 0
        for a in out:
            try:
                self.space.validate(a)
                valid += 1
            except Exception:  # any validation failure counts as invalid
                pass
        text = self.space.to_text
        same = sum(text(a) == text(b) for a, b in zip(archs, out, strict=True))
        canon = self.space.canonical
        equiv = sum(canon(a) == canon(b) for a, b in zip(archs, out, strict=True))
        return {
            "accuracy": same / len(archs),
            "equivalent": equiv / len(archs),
            "valid": valid / len(out),
            "cells": len(archs),
        }
