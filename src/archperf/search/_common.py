"""Helpers shared by the baseline searches (``ls``, ``bananas``, ``npenas``): a record of the
queried cells by function (``space.canonical``), filtering candidates down to new ones, random
fill-ins, and the neighbourhood of a cell under the space's one-edit mutation.

Everything here works through the space interface only (``sample``, ``mutate``, ``canonical``,
an optional ``neighbours``), so it serves every space, built-in or from a plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..benchmarks.base import Oracle
from ..errors import NotEnoughCellsError, UsageError
from ..interfaces import SearchSpace
from .base import draw_new

__all__ = ["Queried", "check_mutation_kwargs", "neighbours", "space_of"]


def space_of(oracle: Oracle[Any], method: str) -> SearchSpace[Any]:
    """The oracle's search space (a search that mutates or samples needs one)."""
    space = oracle.space
    if space is None:
        raise UsageError(f"{method} needs the oracle's search space (oracle.space is None)")
    return space


def check_mutation_kwargs(space: Any, kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """``kwargs`` (copied) after checking that ``space.mutate`` takes them; one clear line
    (:class:`~archperf.errors.UsageError`) when it does not."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict):
        raise UsageError(
            "mutation_kwargs must be a table of space.mutate arguments (e.g. --set "
            f"mutation_kwargs.require_change=true), got {kwargs!r}"
        )
    try:
        sig = inspect.signature(space.mutate)
    except (TypeError, ValueError):  # no signature to check against
        return dict(kwargs)
    try:
        sig.bind(None, None, **kwargs)
    except TypeError:
        takes = list(sig.parameters)[2:]
        raise UsageError(
            f"mutation_kwargs {kwargs} do not fit {type(space).__name__}.mutate, which takes: "
            f"{', '.join(takes) or '(nothing)'}"
        ) from None
    return dict(kwargs)


class Queried:
    """What a search has queried, by function: canonical key → (arch, value).

    An equivalent cell (same ``space.canonical``) computes the same function, so querying it
    would spend a query on what is already known; :meth:`fresh` drops such candidates.
    """

    def __init__(self, oracle: Oracle[Any], space: SearchSpace[Any]) -> None:
        self.oracle = oracle
        self.space = space
        self.by_key: dict[str, tuple[Any, float]] = {}
        self.archs: list[Any] = []
        self.values: list[float] = []
        self._keys: dict[Any, str] = {}

    def key(self, arch: Any) -> str:
        """``space.canonical(arch)``, cached per arch."""
        try:
            k = self._keys.get(arch)
        except TypeError:  # an unhashable arch: no cache
            return self.space.canonical(arch)
        if k is None:
            k = self.space.canonical(arch)
            if len(self._keys) > 200_000:
                self._keys.clear()
            self._keys[arch] = k
        return k

    def query(self, archs: Sequence[Any]) -> list[float]:
        """Query ``archs`` (one charged batch) and remember them."""
        if not archs:
            return []
        values = [float(v) for v in self.oracle.query(list(archs))]
        for a, v in zip(archs, values, strict=True):
            self.archs.append(a)
            self.values.append(v)
            self.by_key.setdefault(self.key(a), (a, v))
        return values

    def value(self, arch: Any) -> float | None:
        """The value of ``arch``'s function if a member of its class was queried, else None."""
        hit = self.by_key.get(self.key(arch))
        return None if hit is None else hit[1]

    def best(self) -> tuple[Any, float]:
        j = int(np.argmax(self.values))
        return self.archs[j], self.values[j]

    def top(self, n: int) -> list[Any]:
        """The ``n`` best queried archs by value (first queried first on ties)."""
        order = np.argsort(-np.asarray(self.values), kind="stable")[:n]
        return [self.archs[int(i)] for i in order]

    def fresh(self, cands: Sequence[Any], limit: int | None = None) -> list[Any]:
        """The candidates worth a query, in order: answerable, not queried, one per record,
        not equivalent to a queried cell nor to an earlier candidate (at most ``limit``)."""
        out: list[Any] = []
        keys: set[str] = set()
        records: set[int] = set()
        chunk = 512
        for start in range(0, len(cands), chunk):
            sub = []
            for a in cands[start : start + chunk]:
                k = self.key(a)
                if k not in self.by_key and k not in keys:
                    sub.append((a, k))
            if not sub:
                continue
            recs, known, queried = self.oracle.status([a for a, _ in sub])
            for (a, k), rec, good in zip(
                sub, recs.tolist(), (known & ~queried).tolist(), strict=True
            ):
                if good and rec not in records and k not in keys:
                    out.append(a)
                    keys.add(k)
                    records.add(rec)
                    if limit is not None and len(out) >= limit:
                        return out
        return out

    def random_fresh(self, n: int, rng: np.random.Generator) -> tuple[list[Any], int]:
        """``n`` random new cells, not equivalent to queried ones where the space allows;
        ``(cells, how many of them repeat a queried function)``.  The second part is non-zero
        only when equivalence classes run out (then new records of known functions fill in, so
        the budget is still spent exactly)."""
        if n <= 0:
            return [], 0
        out: list[Any] = []
        draws = 0
        limit = max(2000, 200 * n)
        while len(out) < n and draws < limit:
            batch = self.space.sample(max(2 * (n - len(out)), 32), rng)
            draws += len(batch)
            taken = {self.key(a) for a in out}
            for a in self.fresh(batch):
                if self.key(a) not in taken:
                    out.append(a)
                    taken.add(self.key(a))
                    if len(out) == n:
                        break
        if len(out) == n:
            return out, 0
        exclude = self.oracle.records_of(out) if out else None
        try:
            more = draw_new(self.oracle, n - len(out), rng, exclude=exclude)
        except NotEnoughCellsError as exc:
            raise NotEnoughCellsError(
                f"{exc} (after {len(out)} of {n} random cells of new functions)"
            ) from None
        return out + more, len(more)


def neighbours(
    space: SearchSpace[Any],
    arch: Any,
    rng: np.random.Generator,
    patience: int,
    mutation_kwargs: dict[str, Any],
    key: Callable[[Any], str],
    max_neighbours: int | None = None,
) -> tuple[list[Any], str]:
    """The one-edit neighbours of ``arch`` and how they were found.

    A space that offers ``neighbours(arch)`` (the whole one-edit neighbourhood) is asked, and
    the order is shuffled with ``rng``: ``"enumerated"``.  Otherwise ``space.mutate`` is drawn
    until ``patience`` draws in a row give no new function: ``"sampled"``.  Neighbours
    equivalent to ``arch`` or to each other are dropped; at most ``max_neighbours`` are kept.
    """
    own = key(arch)
    found: dict[str, Any] = {}
    fn = getattr(space, "neighbours", None)
    if callable(fn) and not mutation_kwargs:
        cands = list(fn(arch))
        for j in rng.permutation(len(cands)).tolist():
            k = key(cands[j])
            if k != own and k not in found:
                found[k] = cands[j]
        how = "enumerated"
    else:
        misses = 0
        while misses < patience:
            if max_neighbours is not None and len(found) >= max_neighbours:
                break
            child = space.mutate(arch, rng, **mutation_kwargs)
            k = key(child)
            if k == own or k in found:
                misses += 1
            else:
                found[k] = child
                misses = 0
        how = "sampled"
    out = list(found.values())
    return (out if max_neighbours is None else out[:max_neighbours]), how
