"""The search-method interface and the helpers every method shares.

A search method gets an :class:`~archperf.benchmarks.base.Oracle` (the search metric, a budget
and a history) and a seed; it never sees a benchmark, so it cannot read test data.  It returns a
:class:`SearchOutcome`; the experiment runner reads the query history from the oracle and asks
the benchmark for the reported metric afterwards.

Methods are registered through the ``archperf_search_methods`` hook like every other component
(``registry.create("search_method", "re", population_size=20)``).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..benchmarks.base import Oracle, QueryRecord
from ..errors import NotEnoughCellsError, UsageError
from ..interfaces import SearchSpace
from ..runtime import threads

__all__ = [
    "NotEnoughCellsError",
    "SearchMethod",
    "SearchOutcome",
    "check_ints",
    "draw_new",
    "new_unique",
    "require_budget",
    "trainer_overrides",
]


@dataclass
class SearchOutcome:
    """What a search returns: its final architecture (best by the search metric) and extras.

    ``info`` must be JSON-ready (numbers, strings, lists, dicts); the runner stores it.
    """

    best: Any
    value: float
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_oracle(cls, oracle: Oracle[Any], **info: Any) -> SearchOutcome:
        """The oracle's best queried cell (first one on ties) as the outcome."""
        rec: QueryRecord = oracle.best()
        return cls(rec.arch, rec.value, dict(info))


class SearchMethod(abc.ABC):
    """A search method: ``search(oracle, seed)`` spends at most ``oracle.budget`` queries.

    Constructor arguments are the method's hyper-parameters, stored as given and returned by
    :meth:`config` (JSON-ready), so a run is described by ``(name, config, seed)``.

    Every subclass's ``search`` runs inside :func:`archperf.runtime.threads` (torch's thread
    count set for the search, the caller's restored afterwards): subclasses get the library's
    thread handling without doing anything.
    """

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        search = cls.__dict__.get("search")
        if callable(search) and not getattr(search, "__archperf_threads__", False):
            cls.search = _search_in_threads(search)  # type: ignore[method-assign]

    @abc.abstractmethod
    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        """Run the search on ``oracle`` with ``seed``; same seed → same queries (on CPU)."""

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """The hyper-parameters, JSON-ready."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _search_in_threads(search: Callable[..., SearchOutcome]) -> Callable[..., SearchOutcome]:
    """``search`` run inside ``threads()`` (see :class:`SearchMethod`)."""

    @functools.wraps(search)
    def wrapper(*args: Any, **kwargs: Any) -> SearchOutcome:
        with threads():
            return search(*args, **kwargs)

    wrapper.__archperf_threads__ = True  # type: ignore[attr-defined]
    return wrapper


def require_budget(oracle: Oracle[Any], method: str) -> int:
    """The oracle's remaining budget; a budget is required (a search must end)."""
    remaining = oracle.remaining
    if remaining is None:
        raise ValueError(f"{method} needs an oracle with a query budget (oracle(budget=...))")
    return remaining


def draw_new(
    oracle: Oracle[Any],
    n: int,
    rng: np.random.Generator,
    sampler: Callable[[int, np.random.Generator], Sequence[Any]] | None = None,
    exclude: np.ndarray | None = None,
    max_draws: int | None = None,
) -> list[Any]:
    """``n`` cells from ``sampler`` (default ``oracle.space.sample``) that the oracle can answer,
    that are not yet queried and that are pairwise distinct records, in draw order.

    ``exclude`` is an array of record indices to skip as well.  Raises
    :class:`NotEnoughCellsError` after ``max_draws`` sampled cells (default ``max(1000, 200·n)``).
    """
    if n <= 0:
        return []
    space: SearchSpace[Any] | None = oracle.space
    if sampler is None:
        if space is None:
            raise ValueError("the oracle has no search space to sample from; pass sampler=")
        sampler = space.sample
    limit = max(1000, 200 * n) if max_draws is None else max_draws
    taken: set[int] = set() if exclude is None else {int(i) for i in exclude}
    out: list[Any] = []
    drawn = 0
    while len(out) < n:
        if drawn >= limit:
            raise NotEnoughCellsError(
                f"found only {len(out)} of {n} new cells the benchmark can answer in {drawn} "
                f"random draws ({oracle.num_queries} queried so far): lower the budget"
            )
        chunk = list(sampler(max(2 * (n - len(out)), 16), rng))
        drawn += len(chunk)
        out += new_unique(oracle, chunk, taken)[0][: n - len(out)]
    return out


def new_unique(
    oracle: Oracle[Any], archs: Sequence[Any], taken: set[int] | None = None
) -> tuple[list[Any], np.ndarray]:
    """The archs the oracle can answer, not yet queried, one per record (first kept), with
    their record indices.  Records in ``taken`` are skipped, and the kept ones are added to it."""
    if not archs:
        return [], np.zeros(0, np.int64)
    records, known, queried = oracle.status(archs)
    seen: set[int] = set() if taken is None else taken
    keep: list[int] = []
    for j, (rec, good) in enumerate(zip(records.tolist(), known & ~queried, strict=True)):
        if good and rec not in seen:
            seen.add(rec)
            keep.append(j)
    return [archs[j] for j in keep], records[keep]


def check_ints(*specs: tuple[str, Any, int]) -> None:
    """:class:`~archperf.errors.UsageError` (a ``ValueError``) naming the first
    ``(name, value, low)`` that is not an integer ``>= low``."""
    for name, value, low in specs:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")


def trainer_overrides(trainer: dict[str, Any] | None) -> dict[str, Any]:
    """A search's ``trainer=`` fields, copied; ``seed`` and ``space`` belong to the search."""
    if trainer is not None and not isinstance(trainer, dict):
        raise UsageError(
            "trainer must be a table of TrainerConfig fields (e.g. --set trainer.epochs=30), "
            f"got {trainer!r}"
        )
    fields = dict(trainer or {})
    for forbidden in ("seed", "space"):
        if forbidden in fields:
            raise UsageError(
                f"trainer.{forbidden} is set by the search (the run's seed / the oracle's "
                "space); remove it"
            )
    return fields
