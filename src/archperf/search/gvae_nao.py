"""Graph-VAE NAO (Li et al., 2020): search by gradient ascent in a learned latent space.

Under an exact query budget:

1. Query ``initial`` random cells; sample ``pool`` unlabeled cells of the space (free: sampling
   a cell is not a query).
2. Train a :class:`~archperf.nn.gvae.GraphVAE` on the pool and the queried cells: every cell
   reconstructs, queried cells also train the performance predictor, and with a ``cost`` (a free
   cell property of the benchmark such as ``"params_mb"``, see
   :meth:`~archperf.benchmarks.base.Oracle.property_values`) every cell trains the complexity
   predictor.
3. Each round: encode the ``parents`` best queried cells (by the round's objective), add
   ``random_starts`` codes drawn from the prior, run
   ``steps`` steps of gradient ascent on ``predicted performance − λ · predicted complexity``
   (both standardised), decode the codes at ``checkpoints`` points along each path into valid
   cells, keep the new ones (not queried, not equivalent to a queried cell), rank them by the
   objective predicted from their own codes and query the ``top_k`` best; random new cells fill
   a round when decoding gives too few (``info["rounds"][i]["filled_random"]``).  Then train the
   model further (``round_epochs``) with the new labels.

``lam`` is the trade-off weight (0: accuracy only).  ``lambdas`` sweeps several: round ``r``
uses ``lambdas[r % len(lambdas)]``, and the outcome's ``info["front"]`` lists the Pareto front
(accuracy, cost) of all queried cells.  The returned best cell is the best by the search metric,
as for every method.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..benchmarks.base import Oracle
from ..errors import UsageError
from ..interfaces import SearchSpace
from ..pareto import pareto_front
from ..progress import phase, search_bar
from ._common import Queried, space_of
from .base import SearchMethod, SearchOutcome, check_ints, require_budget

__all__ = ["GVAENAO"]


def remaining_after_init(oracle: Oracle[Any]) -> int:
    """The oracle's remaining budget (it has one: checked before the first query)."""
    return int(oracle.remaining or 0)


def _number(name: str, value: Any, low: float = 0.0, strict: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and np.isfinite(value)
    if not ok or value < low or (strict and value == low):
        rel = ">" if strict else ">="
        raise UsageError(f"{name} must be a finite number {rel} {low}, got {value!r}")
    return float(value)


class GVAENAO(SearchMethod):
    """Graph-VAE NAO (see the module docstring); model settings are those of
    :class:`~archperf.nn.gvae.GraphVAE` (latent size 56, ``beta=0.005``, encoder ``"gin"``,
    ``decoder=None``: the space's default, autoregressive on NB101, MLP elsewhere)."""

    name = "gvae-nao"

    def __init__(
        self,
        initial: int = 10,
        top_k: int = 10,
        pool: int = 1000,
        parents: int = 10,
        steps: int = 100,
        step_size: float = 0.05,
        checkpoints: int = 10,
        max_doublings: int = 6,
        random_starts: int = 10,
        cost: str | None = None,
        lam: float = 0.0,
        lambdas: Sequence[float] | None = None,
        latent_dim: int = 56,
        encoder: str = "gin",
        encoder_kwargs: dict[str, Any] | None = None,
        hidden_dim: int = 128,
        decoder: str | None = None,
        beta: float = 0.005,
        perf_weight: float = 1.0,
        cost_weight: float = 1.0,
        epochs: int = 100,
        round_epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
    ) -> None:
        check_ints(
            ("initial", initial, 2),
            ("top_k", top_k, 1),
            ("pool", pool, 0),
            ("parents", parents, 1),
            ("steps", steps, 1),
            ("checkpoints", checkpoints, 1),
            ("max_doublings", max_doublings, 0),
            ("random_starts", random_starts, 0),
            ("latent_dim", latent_dim, 1),
            ("hidden_dim", hidden_dim, 1),
            ("epochs", epochs, 1),
            ("round_epochs", round_epochs, 0),
            ("batch_size", batch_size, 2),
        )
        if cost is not None and (not isinstance(cost, str) or not cost):
            raise UsageError(
                f"cost must be the name of a cell property (e.g. 'params'), got {cost!r}"
            )
        if lambdas is not None:
            if isinstance(lambdas, str | bytes) or not isinstance(lambdas, Sequence) or not lambdas:
                raise UsageError(
                    f"lambdas must be a non-empty list of numbers >= 0, got {lambdas!r}"
                )
            lambdas = [_number("lambdas[]", x) for x in lambdas]
        self.lam = _number("lam", lam)
        if (self.lam > 0 or (lambdas and max(lambdas) > 0)) and cost is None:
            raise UsageError("lam / lambdas > 0 trade accuracy against a cost: name it with cost=")
        if encoder_kwargs is not None and not isinstance(encoder_kwargs, dict):
            raise UsageError(f"encoder_kwargs must be a table of arguments, got {encoder_kwargs!r}")
        from .. import registry

        registry.default_registry().entry("encoder", encoder)  # unknown: names the known ones
        from ..nn.gvae import DECODERS

        if decoder is not None and decoder not in DECODERS:
            raise UsageError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        self.decoder = decoder
        self.initial, self.top_k, self.pool = int(initial), int(top_k), int(pool)
        self.parents, self.steps, self.checkpoints = int(parents), int(steps), int(checkpoints)
        self.step_size = _number("step_size", step_size, strict=True)
        self.max_doublings = int(max_doublings)
        self.random_starts = int(random_starts)
        self.cost = cost
        self.lambdas = None if lambdas is None else list(lambdas)
        self.latent_dim, self.encoder, self.hidden_dim = int(latent_dim), encoder, int(hidden_dim)
        self.encoder_kwargs = dict(encoder_kwargs or {})
        self.beta = _number("beta", beta)
        self.perf_weight = _number("perf_weight", perf_weight)
        self.cost_weight = _number("cost_weight", cost_weight)
        self.epochs, self.round_epochs = int(epochs), int(round_epochs)
        self.batch_size = int(batch_size)
        self.lr = _number("lr", lr, strict=True)

    def config(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "top_k": self.top_k,
            "pool": self.pool,
            "parents": self.parents,
            "steps": self.steps,
            "step_size": self.step_size,
            "checkpoints": self.checkpoints,
            "max_doublings": self.max_doublings,
            "random_starts": self.random_starts,
            "cost": self.cost,
            "lam": self.lam,
            "lambdas": self.lambdas,
            "latent_dim": self.latent_dim,
            "encoder": self.encoder,
            "encoder_kwargs": dict(self.encoder_kwargs),
            "hidden_dim": self.hidden_dim,
            "decoder": self.decoder,
            "beta": self.beta,
            "perf_weight": self.perf_weight,
            "cost_weight": self.cost_weight,
            "epochs": self.epochs,
            "round_epochs": self.round_epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
        }

    def model(self, space: SearchSpace[Any], seed: int) -> Any:
        """A fresh :class:`~archperf.nn.gvae.GraphVAE` with this method's settings."""
        from ..nn.gvae import GraphVAE

        return GraphVAE(
            space,
            latent_dim=self.latent_dim,
            encoder=self.encoder,
            encoder_kwargs=self.encoder_kwargs,
            hidden_dim=self.hidden_dim,
            decoder=self.decoder,
            beta=self.beta,
            perf_weight=self.perf_weight,
            cost_weight=self.cost_weight if self.cost is not None else 0.0,
            seed=seed,
        )

    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):
            return self._search(oracle, seed)

    def _costs(self, oracle: Oracle[Any], archs: Sequence[Any]) -> np.ndarray | None:
        if self.cost is None:
            return None
        return oracle.property_values(archs, self.cost)

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        space = space_of(oracle, self.name)
        remaining = require_budget(oracle, self.name)
        if self.cost is not None and self.cost not in oracle.properties:
            have = ", ".join(oracle.properties) or "none"
            raise UsageError(
                f"{self.name}: the benchmark has no cell property {self.cost!r} (it has: {have})"
            )
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        seen = Queried(oracle, space)
        phase(f"{min(self.initial, remaining)} random cells")
        init, repeats = seen.random_fresh(min(self.initial, remaining), rng)
        seen.query(init)
        if oracle.exhausted:
            return self._outcome(oracle, seen, init, [], repeats, 0.0, t0)
        pool = list(space.sample(self.pool, rng)) if self.pool else []
        model = self.model(space, int(np.random.default_rng([int(seed), 2]).integers(2**31 - 1)))
        opt = model.make_optimizer(self.lr)
        pool_cost = self._costs(oracle, pool) if pool else None
        rounds: list[dict[str, Any]] = []
        fit_seconds = 0.0
        r = 0
        n_rounds = -(-remaining_after_init(oracle) // self.top_k)
        while oracle.remaining:
            k = min(self.top_k, int(oracle.remaining))
            lam = self.lam if self.lambdas is None else self.lambdas[r % len(self.lambdas)]
            phase(f"round {r + 1}/{n_rounds}: training the graph VAE")
            t_fit = time.perf_counter()
            archs = pool + list(seen.archs)
            perf = np.concatenate([np.full(len(pool), np.nan), np.asarray(seen.values)])
            cost = None
            if pool_cost is not None or self.cost is not None:
                own = self._costs(oracle, seen.archs)
                assert own is not None
                cost = np.concatenate([pool_cost if pool_cost is not None else [], own])
            model.fit(
                archs,
                perf,
                cost,
                epochs=self.epochs if r == 0 else self.round_epochs,
                batch_size=self.batch_size,
                seed=int(rng.integers(2**31 - 1)),
                optimizer=opt,
            )
            fit_seconds += time.perf_counter() - t_fit
            phase(f"round {r + 1}/{n_rounds}: gradient ascent (lambda={lam:g})")
            chosen, predicted, n_cands, step = self._propose(model, seen, oracle, lam, k, rng)
            fill, rep = seen.random_fresh(k - len(chosen), rng)
            repeats += rep
            values = seen.query(chosen + fill)
            rounds.append(
                {
                    "lam": lam,
                    "step_size": step,
                    "new_candidates": n_cands,
                    "proposed": len(chosen),
                    "filled_random": len(fill),
                    "predicted": predicted,
                    "values": values,
                }
            )
            r += 1
        return self._outcome(oracle, seen, init, rounds, repeats, fit_seconds, t0)

    def _parents(self, seen: Queried, oracle: Oracle[Any], lam: float) -> list[Any]:
        """The ``parents`` best queried cells by standardised value − λ · standardised cost."""
        v = np.asarray(seen.values, dtype=np.float64)
        score = (v - v.mean()) / (v.std() or 1.0)
        if lam and self.cost is not None:
            c = oracle.property_values(seen.archs, self.cost)
            c = np.where(np.isnan(c), np.nanmean(c) if np.isfinite(c).any() else 0.0, c)
            score = score - lam * (c - c.mean()) / (c.std() or 1.0)
        order = np.argsort(-score, kind="stable")[: self.parents]
        return [seen.archs[int(i)] for i in order]

    def _propose(
        self,
        model: Any,
        seen: Queried,
        oracle: Oracle[Any],
        lam: float,
        k: int,
        rng: np.random.Generator,
    ) -> tuple[list[Any], list[float], int, float]:
        """Up to ``k`` new cells decoded along the ascent paths, best predicted first.

        When the paths decode to fewer than ``k`` new cells, the ascent is run again with twice
        the step size (at most ``max_doublings`` times); the last step size is returned too.
        """
        import torch

        starts = model.encode(self._parents(seen, oracle, lam))
        if self.random_starts:  # codes drawn from the prior N(0, I) start ascents too
            prior = rng.normal(size=(self.random_starts, starts.shape[1]))
            starts = np.concatenate([starts, prior])
        marks = np.unique(np.linspace(1, self.steps, self.checkpoints).round().astype(int))
        decoded: list[Any] = []
        cands: list[Any] = []
        step = self.step_size
        for attempt in range(self.max_doublings + 1):
            step = self.step_size * 2**attempt
            path, _ = model.ascend(starts, steps=self.steps, step_size=step, lam=lam)
            for s in marks[::-1]:  # the furthest points first: equal cells keep their first
                decoded += model.decode(path[int(s)])
            cands = seen.fresh(decoded)
            if len(cands) >= k:
                break
        if not cands:
            return [], [], 0, step
        with torch.no_grad():
            obj = model.objective(torch.as_tensor(model.encode(cands), dtype=torch.float32), lam)
        order = np.argsort(-obj.numpy(), kind="stable")[:k]
        chosen = [cands[int(i)] for i in order]
        perf, _ = model.predict(model.encode(chosen))
        return chosen, [round(float(p), 4) for p in perf], len(cands), step

    def _outcome(
        self,
        oracle: Oracle[Any],
        seen: Queried,
        init: list[Any],
        rounds: list[dict[str, Any]],
        repeats: int,
        fit_seconds: float,
        t0: float,
    ) -> SearchOutcome:
        info: dict[str, Any] = {
            "initial": len(init),
            "rounds": rounds,
            "filled_random": sum(r["filled_random"] for r in rounds),
            "repeated_functions": repeats,
            "fit_seconds": round(fit_seconds, 3),
            "search_seconds": round(time.perf_counter() - t0, 3),
        }
        if self.cost is not None:
            space = seen.space
            values = np.asarray(seen.values, dtype=np.float64)
            costs = oracle.property_values(seen.archs, self.cost)
            ok = np.flatnonzero(np.isfinite(costs))
            front = ok[pareto_front(values[ok], costs[ok])] if len(ok) else ok
            info["cost"] = self.cost
            info["front"] = [
                {
                    "arch": space.to_text(seen.archs[int(i)]),
                    "value": float(values[i]),
                    self.cost: float(costs[i]),
                }
                for i in front
            ]
        return SearchOutcome.from_oracle(oracle, **info)
