"""Two-objective regularized evolution (``re-pareto``): aging evolution whose tournaments pick
a parent on the Pareto front (search metric up, a cell property such as ``params`` down)."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from ..benchmarks.base import Oracle
from ..errors import UsageError
from ..pareto import non_dominated, pareto_front
from ..progress import phase, search_bar
from .base import NotEnoughCellsError, SearchOutcome, draw_new, require_budget
from .evolution import RegularizedEvolution, mutate_new

__all__ = ["ParetoEvolution"]


class ParetoEvolution(RegularizedEvolution):
    """Regularized evolution for two objectives: the search metric and the cell property
    ``cost`` (e.g. ``"params_mb"`` on NB201, see
    :meth:`~archperf.benchmarks.base.Oracle.property_values`).

    As ``re`` (population queue, one query per cycle, oldest removed), except that a tournament's
    parent is drawn uniformly among the sampled members that no other sampled member dominates
    (higher value and lower cost are better).  ``info["front"]`` lists the Pareto front of all
    queried cells; the final cell is the best by the search metric.
    """

    name = "re-pareto"

    def __init__(
        self,
        cost: str = "params",
        population_size: int = 20,
        sample_size: int = 5,
        mutation_kwargs: dict[str, Any] | None = None,
        max_redraws: int = 100,
    ) -> None:
        super().__init__(population_size, sample_size, mutation_kwargs, max_redraws)
        if not isinstance(cost, str) or not cost:
            raise UsageError(f"cost must be the name of a cell property, got {cost!r}")
        self.cost = cost

    def config(self) -> dict[str, Any]:
        return {"cost": self.cost, **super().config()}

    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):
            return self._search(oracle, seed)

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        space = oracle.space
        if space is None:
            raise ValueError("re-pareto needs the oracle's search space")
        if self.cost not in oracle.properties:
            have = ", ".join(oracle.properties) or "none"
            raise UsageError(
                f"re-pareto: the benchmark has no cell property {self.cost!r} (it has: {have})"
            )
        rng = np.random.default_rng(seed)
        remaining = require_budget(oracle, self.name)
        mkw = self._mutation_kwargs(space)
        phase("initial population")
        init = draw_new(oracle, min(self.population_size, remaining), rng)
        values = oracle.query(init) if init else np.zeros(0)
        costs = oracle.property_values(init, self.cost) if init else np.zeros(0)
        population: deque[tuple[Any, float, float]] = deque(
            zip(init, (float(v) for v in values), (float(c) for c in costs), strict=True)
        )
        failures = 0
        phase("evolution")
        while not oracle.exhausted and population:
            picks = rng.choice(
                len(population), size=min(self.sample_size, len(population)), replace=False
            )
            sample = [population[int(i)] for i in picks]
            acc = np.array([m[1] for m in sample])
            cost = np.array([m[2] for m in sample])
            cost = np.where(np.isnan(cost), np.inf, cost)  # unknown cost: never preferred
            front = np.flatnonzero(non_dominated(acc, np.minimum(cost, np.finfo(float).max)))
            parent = sample[int(front[rng.integers(len(front))])][0]
            child = mutate_new(space, oracle, parent, rng, mkw, self.max_redraws)
            if child is None:
                failures += 1
                if failures > 100 * self.population_size:
                    raise NotEnoughCellsError(
                        f"re-pareto found no new cell to query in {failures} tournaments after "
                        f"{oracle.num_queries} of its {oracle.budget} queries: lower the budget"
                    )
                continue
            c = float(oracle.property_values([child], self.cost)[0])
            population.append((child, oracle.query_one(child), c))
            if len(population) > self.population_size:
                population.popleft()
        history = [r for r in oracle.history if r.charged]
        archs = [r.arch for r in history]
        vals = np.array([r.value for r in history])
        cs = oracle.property_values(archs, self.cost)
        ok = np.flatnonzero(np.isfinite(cs))
        keep = ok[pareto_front(vals[ok], cs[ok])]
        front_info = [
            {"arch": space.to_text(archs[int(i)]), "value": float(vals[i]), self.cost: float(cs[i])}
            for i in keep
        ]
        return SearchOutcome.from_oracle(
            oracle, failed_tournaments=failures, cost=self.cost, front=front_info
        )
