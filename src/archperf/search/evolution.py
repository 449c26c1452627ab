"""Regularized evolution (Real et al., 2019, "aging evolution")."""

from __future__ import annotations

import inspect
from collections import deque
from typing import Any, ClassVar

import numpy as np

from ..benchmarks.base import Oracle
from ..errors import UsageError
from ..progress import phase, search_bar
from .base import (
    NotEnoughCellsError,
    SearchMethod,
    SearchOutcome,
    check_ints,
    draw_new,
    require_budget,
)

__all__ = ["RegularizedEvolution", "mutate_new"]


def mutate_new(
    space: Any,
    oracle: Oracle[Any],
    parent: Any,
    rng: np.random.Generator,
    mutation_kwargs: dict[str, Any],
    tries: int,
) -> Any | None:
    """A mutant of ``parent`` the oracle can answer and has not queried, from at most ``tries``
    draws of ``space.mutate`` (None when every draw missed): the child step of an evolution."""
    for _ in range(tries):
        cand = space.mutate(parent, rng, **mutation_kwargs)
        _, known, queried = oracle.status([cand])
        if known[0] and not queried[0]:
            return cand
    return None


class RegularizedEvolution(SearchMethod):
    """Aging evolution under an exact query budget.

    1. Query ``population_size`` distinct random cells; they form the population (a queue).
    2. Each cycle: draw ``sample_size`` members uniformly without replacement, take the best
       by the search metric as parent, mutate it (``space.mutate``) into a child the oracle can
       answer and has not queried yet, query it, append it and remove the *oldest* member.
    3. Stop when the budget is spent; return the best queried cell.

    Every cycle therefore costs exactly one query.  A child that repeats an already queried
    cell (or lies outside a partial benchmark) is redrawn from the same parent, up to
    ``max_redraws`` times, then the cycle starts over with a new tournament.

    ``mutation_kwargs`` are passed to ``space.mutate``; by default the mutation of the space's
    original RE setup is used (NB201: one edge gets a different op, as in the NB201 paper's
    REA, even where that does not change the computed function, i.e. ``require_change=False``).
    """

    name = "re"

    ORIGINAL_MUTATION: ClassVar[dict[str, dict[str, Any]]] = {"nb201": {"require_change": False}}

    def __init__(
        self,
        population_size: int = 20,
        sample_size: int = 5,
        mutation_kwargs: dict[str, Any] | None = None,
        max_redraws: int = 100,
    ) -> None:
        check_ints(
            ("population_size", population_size, 1),
            ("sample_size", sample_size, 1),
            ("max_redraws", max_redraws, 1),
        )
        if sample_size > population_size:
            raise UsageError(
                f"sample_size must be in 1..population_size={population_size}, got {sample_size}"
            )
        if mutation_kwargs is not None and not isinstance(mutation_kwargs, dict):
            raise UsageError(
                "mutation_kwargs must be a table of space.mutate arguments (e.g. --set "
                f"mutation_kwargs.require_change=true), got {mutation_kwargs!r}"
            )
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.mutation_kwargs = None if mutation_kwargs is None else dict(mutation_kwargs)
        self.max_redraws = int(max_redraws)

    def config(self) -> dict[str, Any]:
        return {
            "population_size": self.population_size,
            "sample_size": self.sample_size,
            "mutation_kwargs": self.mutation_kwargs,
            "max_redraws": self.max_redraws,
        }

    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):  # a bar on a terminal unless one is already shown
            return self._search(oracle, seed)

    def _mutation_kwargs(self, space: Any) -> dict[str, Any]:
        """``mutation_kwargs``, else the space's original mutation, checked against
        ``space.mutate``."""
        mkw = self.mutation_kwargs
        if mkw is None:
            mkw = self.ORIGINAL_MUTATION.get(getattr(space, "name", ""), {})
        _check_mutation_kwargs(space, mkw)
        return mkw

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        space = oracle.space
        if space is None:
            raise ValueError("regularized evolution needs the oracle's search space")
        rng = np.random.default_rng(seed)
        remaining = require_budget(oracle, self.name)
        mkw = self._mutation_kwargs(space)
        phase("initial population")
        init = draw_new(oracle, min(self.population_size, remaining), rng)
        values = oracle.query(init) if init else np.zeros(0)
        population: deque[tuple[Any, float]] = deque(
            zip(init, (float(v) for v in values), strict=True)
        )
        failures = 0
        phase("evolution")
        while not oracle.exhausted and population:
            picks = rng.choice(
                len(population), size=min(self.sample_size, len(population)), replace=False
            )
            parent = max((population[int(i)] for i in picks), key=lambda pv: pv[1])[0]
            child = mutate_new(space, oracle, parent, rng, mkw, self.max_redraws)
            if child is None:
                failures += 1
                if failures > 100 * self.population_size:
                    raise NotEnoughCellsError(
                        f"regularized evolution found no new cell to query in {failures} "
                        f"tournaments after {oracle.num_queries} of its {oracle.budget} queries "
                        "(the cells left are too far from the population): lower the budget"
                    )
                continue
            population.append((child, oracle.query_one(child)))
            if len(population) > self.population_size:
                population.popleft()
        return SearchOutcome.from_oracle(oracle, failed_tournaments=failures)


def _check_mutation_kwargs(space: Any, kwargs: dict[str, Any]) -> None:
    """:class:`~archperf.errors.UsageError` when ``space.mutate`` does not take ``kwargs``."""
    try:
        sig = inspect.signature(space.mutate)
    except (TypeError, ValueError):  # no signature to check against
        return
    try:
        sig.bind(None, None, **kwargs)
    except TypeError:
        takes = list(sig.parameters)[2:]  # after the arch and the seed
        raise UsageError(
            f"mutation_kwargs {kwargs} do not fit {type(space).__name__}.mutate, which takes: "
            f"{', '.join(takes) or '(nothing)'}"
        ) from None
