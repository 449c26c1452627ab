"""GA-NAS: generative adversarial NAS with a generator trained by reinforcement learning
(Rezaei et al., IJCAI 2021).

The loop (one *iteration* per batch of counted queries):

1. **Truth set**: the ``top_k`` best cells queried so far (all queried cells are feasible:
   an oracle under a constraint answers feasible cells only, see :mod:`archperf.constraints`).
2. **Discriminator** D (a graph network over any registered encoder, default ``"gin"``, with
   layer norm where the encoder offers it) scores a cell, ``s(x)``.  It is *pairwise*
   (relativistic, Siamese: one network scores both members of a pair): for pairs ``(t, g)`` of
   a truth cell and a generator sample it minimises ``−log σ(s(t) − s(g))``, i.e. it learns
   that truth cells rank above generated ones.
3. **Generator** G: an autoregressive policy (a GRU over the space's decision sequence, with
   masks) that builds a cell decision by decision; every decision sequence is turned into a
   cell by the space's registered decoder (:mod:`archperf.nn.decoders`), so every sample is a
   valid cell by construction.  G is trained **without queries** by PPO (clipped objective,
   ``ppo_epochs`` passes over each sampled batch, an entropy bonus) with reward
   ``σ(s(g) − mean_t s(t))``: the probability, under D, that the sample ranks above a typical
   truth cell.  D and G alternate within an iteration (``g_rounds`` rounds: a fresh batch
   from G, ``d_steps`` D updates against it, then PPO on it), so D keeps up with G and G
   cannot exploit a stale D.  Samples the oracle cannot answer (infeasible under a
   constraint, or outside a partial benchmark) get reward 0 (a free look-up, no query).
4. ``samples_per_iter`` unique, never-evaluated cells (new functions: not equivalent to a
   queried cell under ``space.canonical``) are drawn from G and queried; a G concentrated on
   evaluated cells is sampled at rising temperature (``1 + temperature_step · batch``); when
   it cannot produce enough within ``max_sample_batches`` batches, random new cells fill in
   (counted in ``info["filled_random"]``), so the budget is spent exactly.

The first ``initial`` queries are uniform random cells.  Deviations from the paper, where its
details are not known here: by default G's state is a GRU over the previous decisions only
(``g_encoder=`` adds an encoder of the partial graph, as the paper's G has); NB101 edges are
independent yes/no decisions (the decoder keeps the cell connected and within 9 edges);
hyper-parameters are ours (see ``docs/ganas.md``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..benchmarks.base import Oracle
from ..cell import CellBatch
from ..errors import UsageError
from ..interfaces import SearchSpace
from ..progress import epoch, phase, search_bar
from ._common import Queried, space_of
from .base import SearchMethod, SearchOutcome, check_ints, require_budget

__all__ = ["GANAS", "REWARDS", "DecisionSchema", "PairwiseDiscriminator", "PolicyGenerator"]

_BIG = 10.0
#: G's reward from D's relativistic score ``d = s(g) − mean_t s(t)``: ``"sigmoid"`` σ(d) (the
#: probability that the sample ranks above a truth cell), ``"logit"`` d itself.
REWARDS = ("sigmoid", "logit")


# ------------------------------------------------------------------------ decision schema
@dataclass(frozen=True)
class _Step:
    kind: str  # "op", "edge", "in1", "in2", "pop"
    a: int
    b: int
    k: int  # number of choices


class DecisionSchema:
    """A space's cell as a sequence of categorical decisions, mapped to valid cells through the
    space's decoder (hard, noise-free logits → :meth:`SpaceDecoder.relax` → ``decode``).

    * decoders with per-node ops (NB101, NB201, plugin spaces of that form): for each vertex
      ``j`` in order, a yes/no decision per edge ``i → j`` (``i < j``; when the decoder
      ``uses_edges``), then the op of ``j`` (interior vertices);
    * DARTS (``pair_ops``): per cell and intermediate node, its first input, its second input
      (masked: distinct from the first) and the op on each of the two edges.
    """

    def __init__(self, space: SearchSpace[Any]) -> None:
        from ..nn.decoders import DartsDecoder, decoder_for

        self.space = space
        self.decoder = decoder_for(space)
        dec = self.decoder
        steps: list[_Step] = []
        if isinstance(dec, DartsDecoder):
            npc = dec.nodes_per_cell
            for c in range(dec.num_cells):
                for node in range(dec.first_node, npc):
                    base = c * npc
                    steps.append(_Step("in1", base, base + node, node))
                    steps.append(_Step("in2", base, base + node, node))
                    steps.append(_Step("pop", base, base + node, dec.op_dim))
                    steps.append(_Step("pop", base, base + node, dec.op_dim))
        elif dec.pair_ops:
            raise UsageError(
                f"ganas has no decision schema for the {space.name!r} decoder (per-edge ops "
                "other than DARTS)"
            )
        else:
            n = dec.num_nodes
            for j in range(1, n):
                if dec.uses_edges:
                    steps.extend(_Step("edge", i, j, 2) for i in range(j))
                if j < n - 1:
                    steps.append(_Step("op", j, 0, dec.op_dim))
        self.steps = steps
        self.max_k = max(s.k for s in steps)
        mask = torch.zeros(len(steps), self.max_k, dtype=torch.bool)
        for t, s in enumerate(steps):
            mask[t, : s.k] = True
        self.static_mask = mask
        #: for "in2" steps, the step whose choice is excluded (the node's first input)
        self.exclude_prev = torch.tensor([s.kind == "in2" for s in steps])

    def __len__(self) -> int:
        return len(self.steps)

    def mask(self, t: int, prev: Tensor | None) -> Tensor:
        """Allowed choices ``[B, max_k]`` at step ``t`` given the previous action ``prev``."""
        m = self.static_mask[t]
        if prev is None:
            return m[None, :]
        m = m[None, :].expand(prev.shape[0], -1)
        if bool(self.exclude_prev[t]):
            m = m & ~torch.nn.functional.one_hot(prev, self.max_k).bool()
        return m

    def masks(self, actions: Tensor) -> Tensor:
        """Allowed choices ``[B, T, max_k]`` for a batch of whole action sequences."""
        b = actions.shape[0]
        out = self.static_mask[None].expand(b, -1, -1).clone()
        for t in torch.nonzero(self.exclude_prev)[:, 0].tolist():
            out[:, t] &= ~torch.nn.functional.one_hot(actions[:, t - 1], self.max_k).bool()
        return out

    def _logits(
        self, actions: Tensor, decided: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Decoder logits for action sequences ``[B, T]``.  ``decided`` ``[B]``: only the
        first ``decided[b]`` steps of row ``b`` are applied, the others left undecided (zero
        logits: uniform ops, edges at probability ½); None: every step, the rest of the
        logits at ``−BIG`` (a complete cell)."""
        dec = self.decoder
        b, n = actions.shape[0], dec.num_nodes
        fill = -_BIG if decided is None else 0.0
        if dec.pair_ops:
            op_logits = torch.full((b, n, n, dec.op_dim), fill)
        else:
            op_logits = torch.full((b, n, dec.op_dim), fill)
        edge_logits = torch.full((b, n, n), fill) if dec.uses_edges else None
        ins: dict[int, Tensor] = {}
        slot = 0
        for t, s in enumerate(self.steps):
            rows = torch.arange(b) if decided is None else torch.nonzero(decided > t)[:, 0]
            act = actions[rows, t]
            if s.kind == "op":
                op_logits[rows, s.a] = -_BIG
                op_logits[rows, s.a, act] = _BIG
            elif s.kind == "edge":
                assert edge_logits is not None
                edge_logits[rows, s.a, s.b] = torch.where(act == 1, _BIG, -_BIG)
            elif s.kind in ("in1", "in2"):
                assert edge_logits is not None
                edge_logits[rows, s.a + act, s.b] = _BIG if s.kind == "in1" else _BIG / 2
                ins[0 if s.kind == "in1" else 1] = actions[:, t]
                slot = 0
            else:  # "pop": the op of the edge from the node's input of this slot
                op_logits[rows, s.a + ins[slot][rows], s.b] = -_BIG
                op_logits[rows, s.a + ins[slot][rows], s.b, act] = _BIG
                slot += 1
        return op_logits, edge_logits

    def to_archs(self, actions: np.ndarray) -> list[Any]:
        """Valid cells of the space for a batch of action sequences ``[B, T]``."""
        op_logits, edge_logits = self._logits(torch.from_numpy(actions.astype(np.int64)))
        relaxed = self.decoder.relax(op_logits, edge_logits, hard=True, gumbel=False)
        return list(self.decoder.decode(relaxed))

    def partial(self, actions: Tensor, decided: Tensor) -> CellBatch:
        """The partial cells (first ``decided[b]`` decisions of row ``b``) as relaxed graphs in
        the space's graph form: decided choices one-hot, undecided ones uniform."""
        op_logits, edge_logits = self._logits(actions, decided)
        return self.decoder.relax(op_logits, edge_logits, hard=False, gumbel=False)


# ------------------------------------------------------------------------------ networks
def _encoder(name: str, num_ops: int) -> tuple[nn.Module, int]:
    """The registered encoder ``name`` and its ``graph_dim``, with layer norm where the encoder
    offers a choice: batch statistics would differ between all-truth and all-generated batches
    and tell D which is which."""
    from .. import registry
    from ..nn.encoders import build_encoder

    cls = registry.get("encoder", name)
    kw: dict[str, Any] = {"norm": "layer"} if "norm" in inspect.signature(cls).parameters else {}
    enc, graph_dim, _ = build_encoder("ganas", None, num_ops, name=name, **kw)
    return enc, graph_dim


class PolicyGenerator(nn.Module):
    """G: an autoregressive policy over a :class:`DecisionSchema` (GRU over the decisions;
    input per step = a step embedding plus an embedding of the previous action, plus, with
    ``encoder`` (a registered encoder name), the encoder's embedding of the partial cell built
    so far, as the paper's G has)."""

    def __init__(
        self, schema: DecisionSchema, hidden_dim: int = 64, encoder: str | None = None
    ) -> None:
        super().__init__()
        self.schema = schema
        self.hidden_dim = hidden_dim
        t, k = len(schema), schema.max_k
        self.step_embed = nn.Embedding(t, hidden_dim)
        self.action_embed = nn.Embedding(k + 1, hidden_dim)  # index k: the start token
        self.rnn = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, k)
        self.encoder: nn.Module | None = None
        self.graph_in: nn.Module | None = None
        if encoder is not None:
            enc, graph_dim = _encoder(encoder, len(schema.space.op_names))
            self.encoder, self.graph_in = enc, nn.Linear(graph_dim, hidden_dim)

    def _inputs(self, prev: Tensor, steps: Tensor, actions: Tensor | None = None) -> Tensor:
        """Step inputs ``[B, L, H]`` for ``prev``/``steps`` ``[B, L]``; ``actions`` (the
        decisions so far, ``[B, ≥ steps]``) feed the partial-cell encoder when there is one."""
        x = self.step_embed(steps) + self.action_embed(prev)
        if self.encoder is None or self.graph_in is None or actions is None:
            return x
        b, length = steps.shape
        full = torch.zeros(b, len(self.schema), dtype=torch.long)
        full[:, : actions.shape[1]] = actions
        rep = full.repeat_interleave(length, 0)
        graphs = self.schema.partial(rep, steps.reshape(-1))
        emb = self.graph_in(self.encoder(graphs).graph).view(b, length, -1)
        return x + emb

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator, temperature: float = 1.0
    ) -> tuple[Tensor, Tensor]:
        """``n`` action sequences ``[n, T]`` and their log-probabilities ``[n]`` (under the
        policy's logits divided by ``temperature``)."""
        k = self.schema.max_k
        prev = torch.full((n,), k, dtype=torch.long)
        h: Tensor | None = None
        acts: list[Tensor] = []
        logp = torch.zeros(n)
        for t in range(len(self.schema)):
            steps = torch.full((n, 1), t, dtype=torch.long)
            so_far = torch.stack(acts, 1) if acts else torch.zeros(n, 0, dtype=torch.long)
            x = self._inputs(prev[:, None], steps, so_far)
            out, h = self.rnn(x, h)
            logits = self.head(out[:, 0]) / temperature
            mask = self.schema.mask(t, acts[-1] if acts else None)
            logits = logits.masked_fill(~mask, -torch.inf)
            probs = torch.softmax(logits, -1)
            a = torch.multinomial(probs, 1, generator=generator)[:, 0]
            logp += torch.log_softmax(logits, -1).gather(1, a[:, None])[:, 0]
            acts.append(a)
            prev = a
        return torch.stack(acts, 1), logp

    def log_prob(self, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Log-probability ``[B]`` and entropy ``[B]`` (summed over steps) of ``actions``."""
        b, t = actions.shape
        k = self.schema.max_k
        prev = torch.cat([torch.full((b, 1), k, dtype=torch.long), actions[:, :-1]], 1)
        steps = torch.arange(t)[None, :].expand(b, -1)
        out, _ = self.rnn(self._inputs(prev, steps, actions))
        logits = self.head(out).masked_fill(~self.schema.masks(actions), -torch.inf)
        logsm = torch.log_softmax(logits, -1)
        lp = logsm.gather(2, actions[..., None])[..., 0].sum(1)
        p = logsm.exp()
        ent = -(p * torch.where(p > 0, logsm, torch.zeros_like(logsm))).sum(-1).sum(1)
        return lp, ent


class PairwiseDiscriminator(nn.Module):
    """D: a graph encoder (any registered one) and an MLP giving one score ``s(x)`` per cell;
    used in pairs (Siamese): ``P(a ranks above b) = σ(s(a) − s(b))``."""

    def __init__(self, num_ops: int, encoder: str = "gin", hidden_dim: int = 64) -> None:
        super().__init__()
        self.encoder, graph_dim = _encoder(encoder, num_ops)
        self.head = nn.Sequential(
            nn.Linear(graph_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 1)
        )

    def forward(self, batch: CellBatch) -> Tensor:
        out: Tensor = self.head(self.encoder(batch).graph).squeeze(-1)
        return out


# ---------------------------------------------------------------------------- the method
class GANAS(SearchMethod):
    """GA-NAS under an exact query budget (see the module docstring for the loop).

    Args:
        initial: random cells queried first (default 20).
        top_k: size of the truth set, the best cells queried so far (default 5).
        samples_per_iter: cells drawn from G and queried per iteration (default 10).
        d_steps: discriminator updates per round, each on ``pair_batch`` pairs (default 5).
        pair_batch: (truth, generated) pairs per D update (default 64).
        g_rounds: alternating D/PPO rounds per iteration, each on a fresh batch of ``g_batch``
            samples from G (default 8).
        g_batch: samples per PPO round (default 64).
        ppo_epochs: passes over each PPO batch (default 4).
        clip: PPO clipping range ``ε`` (default 0.2).
        entropy: entropy bonus weight (default 0.01).
        lr_g, lr_d: Adam learning rates of G and D (default 1e-3 each).
        hidden_dim: width of G's GRU and D's head (default 64).
        encoder: registered encoder name of D (default ``"gin"``).
        max_sample_batches: batches of ``g_batch`` samples drawn from G per iteration to find
            new cells before random cells fill in (default 20).
        reward: ``"sigmoid"`` (default) or ``"logit"`` (see :data:`REWARDS`).
        temperature_step: sampling temperature added per batch while looking for new cells
            (default 0.25).
        uniform_negatives: fraction of D's negatives per round drawn uniformly from the space
            (free, nothing queried) on top of G's batch (default 0: G's samples only, as in
            the paper).
        g_encoder: a registered encoder name: G also sees that encoder's embedding of the
            partial cell at every step (the paper's G encodes the partial graph); default None
            (GRU over the decisions only; see ``docs/ganas.md``).
    """

    name = "ganas"

    def __init__(
        self,
        initial: int = 20,
        top_k: int = 5,
        samples_per_iter: int = 10,
        d_steps: int = 5,
        pair_batch: int = 64,
        g_rounds: int = 8,
        g_batch: int = 64,
        ppo_epochs: int = 4,
        clip: float = 0.2,
        entropy: float = 0.01,
        lr_g: float = 1e-3,
        lr_d: float = 1e-3,
        hidden_dim: int = 64,
        encoder: str = "gin",
        max_sample_batches: int = 20,
        reward: str = "sigmoid",
        temperature_step: float = 0.25,
        uniform_negatives: float = 0.0,
        g_encoder: str | None = None,
    ) -> None:
        check_ints(
            ("initial", initial, 1),
            ("top_k", top_k, 1),
            ("samples_per_iter", samples_per_iter, 1),
            ("d_steps", d_steps, 0),
            ("pair_batch", pair_batch, 1),
            ("g_rounds", g_rounds, 0),
            ("g_batch", g_batch, 2),
            ("ppo_epochs", ppo_epochs, 1),
            ("hidden_dim", hidden_dim, 1),
            ("max_sample_batches", max_sample_batches, 1),
        )
        for name, value, lo, hi in (
            ("clip", clip, 0.0, 1.0),
            ("entropy", entropy, 0.0, 10.0),
            ("lr_g", lr_g, 0.0, 1.0),
            ("lr_d", lr_d, 0.0, 1.0),
            ("temperature_step", temperature_step, 0.0, 10.0),
            ("uniform_negatives", uniform_negatives, 0.0, 1.0),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (lo <= float(value) <= hi)
            ):
                raise UsageError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
        if reward not in REWARDS:
            raise UsageError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        from .. import registry

        known = registry.names("encoder")
        for what, enc_name in (("encoder", encoder), ("g_encoder", g_encoder)):
            if enc_name is None and what == "g_encoder":
                continue
            if not isinstance(enc_name, str) or enc_name not in known:
                raise UsageError(f"unknown {what} {enc_name!r}; encoders: {', '.join(known)}")
        self.initial = int(initial)
        self.top_k = int(top_k)
        self.samples_per_iter = int(samples_per_iter)
        self.d_steps = int(d_steps)
        self.pair_batch = int(pair_batch)
        self.g_rounds = int(g_rounds)
        self.g_batch = int(g_batch)
        self.ppo_epochs = int(ppo_epochs)
        self.clip = float(clip)
        self.entropy = float(entropy)
        self.lr_g = float(lr_g)
        self.lr_d = float(lr_d)
        self.hidden_dim = int(hidden_dim)
        self.encoder = encoder
        self.max_sample_batches = int(max_sample_batches)
        self.reward = reward
        self.temperature_step = float(temperature_step)
        self.uniform_negatives = float(uniform_negatives)
        self.g_encoder = g_encoder

    def config(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "top_k": self.top_k,
            "samples_per_iter": self.samples_per_iter,
            "d_steps": self.d_steps,
            "pair_batch": self.pair_batch,
            "g_rounds": self.g_rounds,
            "g_batch": self.g_batch,
            "ppo_epochs": self.ppo_epochs,
            "clip": self.clip,
            "entropy": self.entropy,
            "lr_g": self.lr_g,
            "lr_d": self.lr_d,
            "hidden_dim": self.hidden_dim,
            "encoder": self.encoder,
            "max_sample_batches": self.max_sample_batches,
            "reward": self.reward,
            "temperature_step": self.temperature_step,
            "uniform_negatives": self.uniform_negatives,
            "g_encoder": self.g_encoder,
        }

    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):
            return self._search(oracle, seed)

    # ------------------------------------------------------------------------- the loop
    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        from ..nn.gin import init_seeded

        space = space_of(oracle, self.name)
        remaining = require_budget(oracle, self.name)
        schema = DecisionSchema(space)
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(int(seed))
        with init_seeded(int(seed)):
            policy = PolicyGenerator(schema, self.hidden_dim, self.g_encoder)
            disc = PairwiseDiscriminator(len(space.op_names), self.encoder, self.hidden_dim)
        opt_g = torch.optim.Adam(policy.parameters(), lr=self.lr_g)
        opt_d = torch.optim.Adam(disc.parameters(), lr=self.lr_d)
        queried = Queried(oracle, space)
        phase("initial random cells")
        init, _ = queried.random_fresh(min(self.initial, remaining), rng)
        queried.query(init)
        rounds: list[dict[str, Any]] = []
        filled = 0
        it = 0
        while not oracle.exhausted:
            it += 1
            truth = queried.top(self.top_k)
            phase(f"iteration {it}: D and G (PPO)")
            d_loss, reward = self._train(disc, opt_d, opt_g, space, truth, policy, gen, rng, oracle)
            phase(f"iteration {it}: sampling")
            n = min(self.samples_per_iter, int(oracle.remaining or 0))
            cells, batches = self._sample_new(policy, schema, queried, n, gen)
            got = queried.query(cells)
            fill, _ = queried.random_fresh(n - len(cells), rng)
            filled += len(fill)
            queried.query(fill)
            rounds.append(
                {
                    "best": float(max(queried.values)),
                    "d_loss": round(d_loss, 5),
                    "g_reward": round(reward, 5),
                    "from_generator": len(cells),
                    "generator_mean": round(float(np.mean(got)), 4) if got else None,
                    "filled_random": len(fill),
                    "sample_batches": batches,
                }
            )
        return SearchOutcome.from_oracle(
            oracle, iterations=len(rounds), filled_random=filled, per_iteration=rounds
        )

    def _graphs(self, space: SearchSpace[Any], archs: list[Any]) -> CellBatch:
        return CellBatch.from_cells([space.to_graph(a) for a in archs], len(space.op_names))

    def _train(
        self,
        disc: PairwiseDiscriminator,
        opt_d: torch.optim.Optimizer,
        opt_g: torch.optim.Optimizer,
        space: SearchSpace[Any],
        truth: list[Any],
        policy: PolicyGenerator,
        gen: torch.Generator,
        rng: np.random.Generator,
        oracle: Oracle[Any],
    ) -> tuple[float, float]:
        """``g_rounds`` alternating rounds, no queries: sample a batch from G; ``d_steps``
        pairwise D updates, ``−log σ(s(t) − s(g))`` over random (truth, negative) pairs, the
        negatives being that batch (plus ``uniform_negatives · g_batch`` uniform cells); then
        ``ppo_epochs`` clipped PPO passes of G over the batch with D's reward.  Returns D's
        last loss and the batch's mean reward."""
        schema = policy.schema
        real = self._graphs(space, truth)
        d_loss = reward = 0.0
        for rnd in range(self.g_rounds):
            actions, old_lp = policy.sample(self.g_batch, gen)
            archs = schema.to_archs(actions.numpy())
            n_uniform = round(self.uniform_negatives * self.g_batch)
            extra = list(space.sample(n_uniform, rng)) if n_uniform else []
            fake = self._graphs(space, archs + extra)
            disc.train()
            for _ in range(self.d_steps):
                ti = torch.from_numpy(rng.integers(len(truth), size=self.pair_batch))
                gi = torch.from_numpy(rng.integers(fake.batch_size, size=self.pair_batch))
                loss = nn.functional.softplus(-(disc(real)[ti] - disc(fake)[gi])).mean()
                opt_d.zero_grad()
                loss.backward()
                opt_d.step()
                d_loss = loss.item()
            disc.eval()
            with torch.no_grad():
                r = disc(self._graphs(space, archs)) - disc(real).mean()
            if self.reward == "sigmoid":
                r = torch.sigmoid(r)
            _, known, _ = oracle.status(archs)  # free look-up: infeasible cells get the least
            bad = torch.from_numpy(~known)
            if bool(bad.any()):
                floor = 0.0 if self.reward == "sigmoid" else float(r[~bad].min()) - 1.0
                r = r.masked_fill(bad, floor if bool((~bad).any()) else 0.0)
            reward = float(r.mean())
            adv = (r - r.mean()) / (r.std() + 1e-8)
            for _ in range(self.ppo_epochs):
                lp, ent = policy.log_prob(actions)
                ratio = torch.exp(lp - old_lp)
                clipped = torch.clamp(ratio, 1 - self.clip, 1 + self.clip)
                loss = -torch.min(ratio * adv, clipped * adv).mean() - self.entropy * ent.mean()
                opt_g.zero_grad()
                loss.backward()
                opt_g.step()
            epoch(rnd + 1, self.g_rounds, f"D loss {d_loss:.3f}, reward {reward:.3f}")
        return d_loss, reward

    def _sample_new(
        self,
        policy: PolicyGenerator,
        schema: DecisionSchema,
        queried: Queried,
        n: int,
        gen: torch.Generator,
    ) -> tuple[list[Any], int]:
        """Up to ``n`` new cells (new functions, answerable, unqueried) sampled from G."""
        out: list[Any] = []
        keys: set[str] = set()
        batches = 0
        while len(out) < n and batches < self.max_sample_batches:
            # a concentrated G repeats evaluated cells: widen it step by step (temperature
            # 1, 1.25, 1.5, ...), still sampling from G, before random cells fill in
            temperature = 1.0 + self.temperature_step * batches
            batches += 1
            actions, _ = policy.sample(self.g_batch, gen, temperature)
            for a in queried.fresh(schema.to_archs(actions.numpy())):
                k = queried.key(a)
                if k not in keys:
                    keys.add(k)
                    out.append(a)
                    if len(out) == n:
                        break
        return out, batches
