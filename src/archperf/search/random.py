"""Random search: uniform samples of new cells until the budget is spent."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..benchmarks.base import Oracle
from ..progress import search_bar
from .base import SearchMethod, SearchOutcome, check_ints, draw_new, require_budget

__all__ = ["RandomSearch"]


class RandomSearch(SearchMethod):
    """Query ``budget`` distinct cells drawn uniformly from the space (``space.sample``).

    Cells the oracle cannot answer (outside the NB101 subset) are skipped without charge, so
    on a partial benchmark this is uniform over the covered cells.  ``batch_size`` cells are
    queried per oracle call (the order of queries does not depend on it).
    """

    name = "rs"

    def __init__(self, batch_size: int = 16) -> None:
        check_ints(("batch_size", batch_size, 1))
        self.batch_size = int(batch_size)

    def config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):  # a bar on a terminal unless one is already shown
            return self._search(oracle, seed)

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        rng = np.random.default_rng(seed)
        remaining = require_budget(oracle, self.name)
        cells = draw_new(oracle, remaining, rng)
        for start in range(0, len(cells), self.batch_size):
            oracle.query(cells[start : start + self.batch_size])
        return SearchOutcome.from_oracle(oracle)
