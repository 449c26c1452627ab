"""Local search (White, Nolen & Savani, 2020: "Local search is state of the art for
neural architecture search benchmarks")."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..benchmarks.base import Oracle
from ..errors import UsageError
from ..progress import phase, search_bar
from ._common import Queried, check_mutation_kwargs, neighbours, space_of
from .base import SearchMethod, SearchOutcome, check_ints, require_budget

__all__ = ["LocalSearch"]


class LocalSearch(SearchMethod):
    """Best-improvement local search with random restarts, under an exact query budget.

    1. Query ``initial`` random cells; the best is the current cell.
    2. Query every neighbour of the current cell that is new (answerable, not queried, not
       equivalent to a queried cell), in random order. The neighbours are the space's one-edit
       changes: ``space.neighbours(arch)`` where the space offers it (NB201, plugin spaces),
       else distinct ``space.mutate`` draws until ``patience`` draws in a row give nothing new
       (at most ``max_neighbours``).
    3. If the best neighbour (queried now or before) beats the current cell, move to it and go
       to 2. Otherwise the current cell is a local optimum: query one new random cell, make it
       the current cell (a restart) and go to 2.

    ``improvement="first"`` queries the new neighbours one at a time instead and moves to the
    first that beats the current cell (first-improvement hill climbing: cheaper steps where a
    neighbourhood is large, as on DARTS).
    4. Stop when the budget is spent; return the best queried cell.

    The last neighbourhood is cut to the queries left, so the budget is spent exactly.
    ``mutation_kwargs`` go to ``space.mutate`` (and switch a space's ``neighbours`` off, since
    they change what a neighbour is).
    """

    name = "ls"

    def __init__(
        self,
        initial: int = 10,
        patience: int = 20,
        max_neighbours: int | None = 100,
        mutation_kwargs: dict[str, Any] | None = None,
        improvement: str = "best",
    ) -> None:
        check_ints(("initial", initial, 1), ("patience", patience, 1))
        if improvement not in ("best", "first"):
            raise UsageError(f"improvement must be 'best' or 'first', got {improvement!r}")
        if max_neighbours is not None:
            check_ints(("max_neighbours", max_neighbours, 1))
        if mutation_kwargs is not None and not isinstance(mutation_kwargs, dict):
            raise UsageError(
                "mutation_kwargs must be a table of space.mutate arguments, got "
                f"{mutation_kwargs!r}"
            )
        self.initial = int(initial)
        self.patience = int(patience)
        self.max_neighbours = None if max_neighbours is None else int(max_neighbours)
        self.mutation_kwargs = None if mutation_kwargs is None else dict(mutation_kwargs)
        self.improvement = improvement

    def config(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "patience": self.patience,
            "max_neighbours": self.max_neighbours,
            "mutation_kwargs": self.mutation_kwargs,
            "improvement": self.improvement,
        }

    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):
            return self._search(oracle, seed)

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        space = space_of(oracle, self.name)
        mkw = check_mutation_kwargs(space, self.mutation_kwargs)
        rng = np.random.default_rng(seed)
        remaining = require_budget(oracle, self.name)
        seen = Queried(oracle, space)
        phase("initial cells")
        init, repeats = seen.random_fresh(min(self.initial, remaining), rng)
        seen.query(init)
        current, value = seen.best()
        steps = restarts = 0
        how = ""
        while oracle.remaining:
            phase(f"local search: {steps} moves, {restarts} restarts")
            nbrs, how = neighbours(
                space, current, rng, self.patience, mkw, seen.key, self.max_neighbours
            )
            new = seen.fresh(nbrs, limit=int(oracle.remaining))
            if self.improvement == "first":
                better = None
                for cell in new:
                    if seen.query([cell])[0] > value:
                        better = cell
                        break
                if better is not None:
                    current, value = better, seen.values[-1]
                    steps += 1
                    continue
            else:
                seen.query(new)
            scored = [(v, a) for a in nbrs if (v := seen.value(a)) is not None]
            best_v, best_a = max(scored, key=lambda va: va[0], default=(None, None))
            if best_v is not None and best_v > value:
                current, value = best_a, best_v
                steps += 1
                continue
            if not oracle.remaining:
                break
            restart, r = seen.random_fresh(1, rng)  # a local optimum: start again elsewhere
            repeats += r
            seen.query(restart)
            current, value = restart[0], seen.values[-1]
            restarts += 1
        return SearchOutcome.from_oracle(
            oracle, moves=steps, restarts=restarts, neighbourhood=how, repeated_functions=repeats
        )
