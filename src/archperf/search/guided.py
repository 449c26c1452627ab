"""Predictor-guided baselines: ``bananas`` (White, Neiswanger & Savani, AAAI 2021) and
``npenas`` / ``npenas-space`` (Wei et al., IEEE TNNLS 2022, "NPENAS: neural predictor guided
evolution for neural architecture search").

Both work in rounds under an exact query budget: query ``initial`` random cells, then each
round fit an ensemble of ``arch_predictor`` models (by name from the registry, each member with
its own seed) on every queried cell, score candidates with an acquisition over the ensemble,
and query the ``top_k`` best new ones.  They differ in their candidates and defaults:

- ``bananas``: ``num_candidates`` mutants of the ``parents`` best queried cells, scored by
  independent Thompson sampling over an ensemble of 5 MLPs (path features where the space has
  them);
- ``npenas``: ``mutations`` mutants of each of the ``parents`` best queried cells, ranked by one
  GIN predictor's prediction (NPENAS-NP);
- ``npenas-space``: the same, but every cell of an enumerable space is a candidate.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..benchmarks.base import Oracle
from ..errors import UsageError
from ..interfaces import EnumerableSpace, SearchSpace, SemiSupervised
from ..progress import phase, search_bar
from ._common import Queried, check_mutation_kwargs, space_of
from .base import SearchMethod, SearchOutcome, check_ints, require_budget

__all__ = ["ACQUISITIONS", "CANDIDATES", "NPENAS", "Bananas", "PredictorGuided", "npenas_space"]

#: Acquisition functions over an ensemble's predictions.
ACQUISITIONS = ("its", "ucb", "mean")
#: Where a round's candidates come from.
CANDIDATES = ("mutation", "space")


def _check_predictor(name: Any, settings: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise UsageError(f"predictor must be the name of an arch_predictor, got {name!r}")
    if settings is not None and not isinstance(settings, dict):
        raise UsageError(
            "predictor_settings must be a table of the predictor's arguments (e.g. --set "
            f"predictor_settings.epochs=100), got {settings!r}"
        )
    for forbidden in ("space", "seed"):
        if settings and forbidden in settings:
            raise UsageError(
                f"predictor_settings.{forbidden} is set by the search (the oracle's space / a "
                "seed per ensemble member); remove it"
            )
    return dict(settings or {})


class PredictorGuided(SearchMethod):
    """The shared loop of ``bananas`` and ``npenas`` (see the module docstring).

    Parameters
    ----------
    initial:
        Random queries before the first fit (at least 2).
    top_k:
        Queries per round.
    predictor, predictor_settings:
        The ``arch_predictor`` name and its settings (``space`` and ``seed`` are set here).
    ensemble:
        Members of the ensemble, each a fresh predictor with its own seed, refitted every round.
    acquisition:
        ``"its"``: independent Thompson sampling (one draw from ``N(mean, std)`` per candidate);
        ``"ucb"``: ``mean + ucb_beta · std``; ``"mean"``: the ensemble mean.
    candidates:
        ``"mutation"``: ``mutations`` mutants (``space.mutate``) of each of the ``parents``
        best queried cells; ``"space"``: every cell of an enumerable space (at most
        ``max_space`` cells).
    mutation_kwargs:
        Passed to ``space.mutate``.

    A predictor with the :class:`~archperf.interfaces.SemiSupervised` ability (``ssa``) gets
    the round's new candidates as its ``unlabeled`` cells.

    Candidates are filtered to new cells: answerable, not queried, not equivalent
    (``space.canonical``) to a queried cell or to each other.  When fewer than a round needs are
    left, random new cells fill the round (``info["rounds"][i]["filled_random"]``), so the
    budget is always spent exactly.
    """

    name = "predictor-guided"

    def __init__(
        self,
        initial: int = 10,
        top_k: int = 10,
        predictor: str = "feedforward",
        predictor_settings: dict[str, Any] | None = None,
        ensemble: int = 5,
        acquisition: str = "its",
        ucb_beta: float = 1.0,
        candidates: str = "mutation",
        parents: int = 10,
        mutations: int = 10,
        max_space: int = 100_000,
        mutation_kwargs: dict[str, Any] | None = None,
    ) -> None:
        check_ints(
            ("initial", initial, 2),
            ("top_k", top_k, 1),
            ("ensemble", ensemble, 1),
            ("parents", parents, 1),
            ("mutations", mutations, 1),
            ("max_space", max_space, 1),
        )
        if acquisition not in ACQUISITIONS:
            raise UsageError(
                f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}"
            )
        if candidates not in CANDIDATES:
            raise UsageError(
                f"candidates must be one of {', '.join(CANDIDATES)}, got {candidates!r}"
            )
        if isinstance(ucb_beta, bool) or not isinstance(ucb_beta, int | float) or ucb_beta < 0:
            raise UsageError(f"ucb_beta must be a number >= 0, got {ucb_beta!r}")
        if mutation_kwargs is not None and not isinstance(mutation_kwargs, dict):
            raise UsageError(
                "mutation_kwargs must be a table of space.mutate arguments, got "
                f"{mutation_kwargs!r}"
            )
        self.predictor_settings = _check_predictor(predictor, predictor_settings)
        from .. import registry

        registry.default_registry().entry("arch_predictor", predictor)  # unknown: names them
        self.initial, self.top_k = int(initial), int(top_k)
        self.predictor = registry.canonical_name("arch_predictor", predictor)
        self.ensemble = int(ensemble)
        self.acquisition, self.ucb_beta = acquisition, float(ucb_beta)
        self.candidates = candidates
        self.parents, self.mutations = int(parents), int(mutations)
        self.max_space = int(max_space)
        self.mutation_kwargs = None if mutation_kwargs is None else dict(mutation_kwargs)

    def config(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "top_k": self.top_k,
            "predictor": self.predictor,
            "predictor_settings": dict(self.predictor_settings),
            "ensemble": self.ensemble,
            "acquisition": self.acquisition,
            "ucb_beta": self.ucb_beta,
            "candidates": self.candidates,
            "parents": self.parents,
            "mutations": self.mutations,
            "max_space": self.max_space,
            "mutation_kwargs": self.mutation_kwargs,
        }

    # ------------------------------------------------------------------------ pieces
    def _members(self, space: SearchSpace[Any], seeds: Sequence[int]) -> list[Any]:
        """Fresh ensemble members; a bad setting is one line before any query is spent."""
        from .. import registry

        factory = registry.get("arch_predictor", self.predictor)
        try:
            sig = inspect.signature(factory)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            try:
                sig.bind(space=space, seed=0, **self.predictor_settings)
            except TypeError as exc:
                raise UsageError(
                    f"predictor {self.predictor!r} does not take these predictor_settings: {exc}"
                ) from None
        return [factory(space=space, seed=int(s), **self.predictor_settings) for s in seeds]

    def _space_cells(self, space: SearchSpace[Any]) -> list[Any]:
        if not isinstance(space, EnumerableSpace):
            raise UsageError(
                f"{self.name} with candidates='space' needs an enumerable space; "
                f"{space.name} cannot be listed (use candidates='mutation', i.e. npenas)"
            )
        if len(space) > self.max_space:
            raise UsageError(
                f"{self.name} with candidates='space' ranks every cell each round, and "
                f"{space.name} has {len(space):,} (max_space={self.max_space:,}); raise "
                "max_space or use candidates='mutation'"
            )
        return list(space.enumerate())

    def _draw(
        self, space: SearchSpace[Any], seen: Queried, rng: np.random.Generator, mkw: dict[str, Any]
    ) -> list[Any]:
        return [
            space.mutate(parent, rng, **mkw)
            for parent in seen.top(self.parents)
            for _ in range(self.mutations)
        ]

    def _score(self, preds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean = preds.mean(axis=0)
        if self.acquisition == "mean":
            return mean
        std = preds.std(axis=0)
        if self.acquisition == "ucb":
            return mean + self.ucb_beta * std
        return rng.normal(mean, std)  # independent Thompson sampling (std 0: the mean)

    # ------------------------------------------------------------------------ search
    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):
            return self._search(oracle, seed)

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        space = space_of(oracle, self.name)
        mkw = check_mutation_kwargs(space, self.mutation_kwargs)
        remaining = require_budget(oracle, self.name)
        rng = np.random.default_rng(seed)
        member_seeds = np.random.default_rng([int(seed), 1]).integers(0, 2**31 - 1, self.ensemble)
        self._members(space, member_seeds.tolist())  # settings checked before any query
        pool = self._space_cells(space) if self.candidates == "space" else None
        t0 = time.perf_counter()
        seen = Queried(oracle, space)
        phase(f"{min(self.initial, remaining)} random cells")
        init, repeats = seen.random_fresh(min(self.initial, remaining), rng)
        seen.query(init)
        rounds: list[dict[str, Any]] = []
        fit_seconds = 0.0
        n_rounds = -(-max(remaining - self.initial, 0) // self.top_k)
        r = 0
        while oracle.remaining:
            k = min(self.top_k, int(oracle.remaining))
            phase(f"round {r + 1}/{n_rounds}: fitting {self.ensemble} {self.predictor}")
            seeds = (member_seeds + r * 7919) % (2**31 - 1)
            # candidates first (fitting draws nothing from rng): a SemiSupervised predictor
            # learns from them as its unlabeled cells
            drawn = pool if pool is not None else self._draw(space, seen, rng, mkw)
            cands = seen.fresh(drawn)
            t_fit = time.perf_counter()
            members = [
                m.fit(list(seen.archs), np.asarray(seen.values), unlabeled=cands)
                if isinstance(m, SemiSupervised)
                else m.fit(list(seen.archs), np.asarray(seen.values))
                for m in self._members(space, seeds.tolist())
            ]
            fit_seconds += time.perf_counter() - t_fit
            phase(f"round {r + 1}/{n_rounds}: ranking candidates")
            if cands:
                preds = np.stack([np.asarray(m.predict(cands), dtype=np.float64) for m in members])
                score = self._score(preds, rng)
                order = np.argsort(-score, kind="stable")[:k]
                chosen = [cands[int(i)] for i in order]
                predicted = [round(float(preds[:, int(i)].mean()), 4) for i in order]
            else:
                chosen, predicted = [], []
            fill, rep = seen.random_fresh(k - len(chosen), rng)
            repeats += rep
            values = seen.query(chosen + fill)
            rounds.append(
                {
                    "drawn": len(drawn),
                    "new_candidates": len(cands),
                    "proposed": len(chosen),
                    "filled_random": len(fill),
                    "predicted": predicted,
                    "values": values,
                }
            )
            r += 1
        return SearchOutcome.from_oracle(
            oracle,
            initial=len(init),
            rounds=rounds,
            repeated_functions=repeats,
            fit_seconds=round(fit_seconds, 3),
            search_seconds=round(time.perf_counter() - t0, 3),
        )


class Bananas(PredictorGuided):
    """BANANAS (White, Neiswanger & Savani, 2021): an ensemble of 5 MLPs
    (``predictor="feedforward"``, path features where the space has them), independent
    Thompson sampling, candidates by mutating the best queried cells (10 mutants of each of the
    10 best: 100 per round), 10 queries per round after 10 random ones."""

    name = "bananas"

    def __init__(
        self,
        initial: int = 10,
        top_k: int = 10,
        predictor: str = "feedforward",
        predictor_settings: dict[str, Any] | None = None,
        ensemble: int = 5,
        acquisition: str = "its",
        ucb_beta: float = 1.0,
        parents: int = 10,
        mutations: int = 10,
        mutation_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            initial=initial,
            top_k=top_k,
            predictor=predictor,
            predictor_settings=predictor_settings,
            ensemble=ensemble,
            acquisition=acquisition,
            ucb_beta=ucb_beta,
            candidates="mutation",
            parents=parents,
            mutations=mutations,
            mutation_kwargs=mutation_kwargs,
        )

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        for key in ("candidates", "max_space"):
            cfg.pop(key)
        return cfg


class NPENAS(PredictorGuided):
    """NPENAS-NP (Wei et al., 2022): evolution whose children are chosen by a predictor.  Each
    round the ``parents`` best queried cells give ``mutations`` mutants each; one ``"gin"``
    predictor ranks them by prediction (``acquisition="mean"``) and the ``top_k`` best new ones
    are queried.  ``candidates="space"`` (registered as ``npenas-space``) ranks every cell of an
    enumerable space instead."""

    name = "npenas"

    def __init__(
        self,
        initial: int = 10,
        top_k: int = 10,
        predictor: str = "gin",
        predictor_settings: dict[str, Any] | None = None,
        ensemble: int = 1,
        acquisition: str = "mean",
        ucb_beta: float = 1.0,
        candidates: str = "mutation",
        parents: int = 10,
        mutations: int = 10,
        max_space: int = 100_000,
        mutation_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            initial=initial,
            top_k=top_k,
            predictor=predictor,
            predictor_settings=predictor_settings,
            ensemble=ensemble,
            acquisition=acquisition,
            ucb_beta=ucb_beta,
            candidates=candidates,
            parents=parents,
            mutations=mutations,
            max_space=max_space,
            mutation_kwargs=mutation_kwargs,
        )


def npenas_space(**kwargs: Any) -> NPENAS:
    """``npenas`` ranking the whole enumerable space each round (``candidates="space"``)."""
    if "candidates" in kwargs:
        raise UsageError("npenas-space sets candidates='space' itself; use npenas to choose")
    method = NPENAS(candidates="space", **kwargs)
    return method
