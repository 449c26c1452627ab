"""The query contract shared by every benchmark: oracles, exact query accounting, protocols.

A search method never gets a benchmark; it gets an :class:`Oracle` made by
``benchmark.oracle(budget=...)``.  The oracle answers with the *search* metric only and holds
no reference to test data (not even indirectly through attributes or numpy ``base`` arrays);
the experiment runner asks ``benchmark.report(archs)`` for the test metric after the search.

Accounting (the same for every benchmark, implemented once here):

- every architecture maps to a *record* (its row) through the benchmark's **record key**; NB201:
  the exact arch string (each of the 15,625 strings has its own record, so two isomorphic
  strings are two records and cost two queries); NB101: the graph hash; NB301: the canonical
  genotype.  A query costs 1 the first time a record is asked for; repeats are free;
- a budget caps the number of unique records.  A batch that would exceed it is rejected
  *as a whole before anything is evaluated*: it raises
  :class:`~archperf.errors.BudgetExhaustedError` (giving the budget, the count and what the
  batch needed) and leaves the oracle unchanged.  Use :meth:`Oracle.cost` to see what a batch
  would be charged, and :attr:`Oracle.remaining`;
- a batch holding an architecture the benchmark has no record of (valid but absent, e.g.
  outside the NB101 subset) raises :class:`~archperf.errors.UnknownCellError` and is *not
  charged*: nothing of the batch is evaluated or recorded.  Look-up helpers
  (:meth:`TabularBenchmark.lookup`) give NaN for such cells instead;
- invalid architectures raise :class:`~archperf.errors.InvalidCellError` from the space;
- the oracle keeps the ordered history of every answered query (repeats included, each marked
  whether it was charged).

Protocols: ``"honest"`` (default) searches on validation accuracy and reports test accuracy;
``"paper"`` uses the benchmark's paper metric (NB201: test accuracy) for both, as SemiGAN-NAD
did.  Every oracle and report says which in :meth:`describe`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple

import numpy as np

from ..cell import Cell
from ..errors import (
    BudgetExhaustedError,
    DataFileError,
    InfeasibleCellError,
    QueryContractError,
    UnknownCellError,
    UsageError,
)
from ..interfaces import Arch, Benchmark, SearchSpace

__all__ = [
    "PROTOCOLS",
    "ArrayMetric",
    "CellProperty",
    "GrowingRecordIndex",
    "MetricSource",
    "Oracle",
    "QueryLedger",
    "QueryRecord",
    "RecordIndex",
    "Report",
    "TableRecordIndex",
    "TabularBenchmark",
    "check_protocol",
]

PROTOCOLS: tuple[str, ...] = ("honest", "paper")
"""``honest``: search on validation, report test.  ``paper``: the paper's metric throughout."""

_CACHE_LIMIT = 1 << 20


def check_protocol(protocol: str) -> str:
    """Return ``protocol`` if it is one of :data:`PROTOCOLS`, else raise ``ValueError``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; protocols are: {', '.join(PROTOCOLS)}")
    return protocol


def _fast_key(arch: Any) -> Hashable:
    """A cheap exact cache key: the raw bytes of a :class:`Cell`, else the arch itself."""
    if type(arch) is Cell:
        # n*n + 2n bytes determine n, so equal bytes <=> equal cells.
        return arch.adjacency.tobytes() + arch.ops.tobytes()
    return arch


# --------------------------------------------------------------------------- record indices
class RecordIndex(abc.ABC, Generic[Arch]):
    """Maps architectures to record indices ``0..len-1`` through a record key.

    It holds keys only, never metric values, so an oracle may keep one.
    """

    key_name: str = "record key"
    #: True when records are created on first sight (no fixed number of cells).
    open_ended: bool = False

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of records known so far."""

    @abc.abstractmethod
    def indices(self, archs: Sequence[Arch]) -> np.ndarray:
        """``int64`` record index per arch, ``-1`` where the benchmark has no record."""

    @abc.abstractmethod
    def key_at(self, index: int) -> Hashable:
        """The record key of record ``index``."""

    @abc.abstractmethod
    def arch_at(self, index: int) -> Arch:
        """An architecture of record ``index``."""


class TableRecordIndex(RecordIndex[Arch]):
    """A fixed list of record keys (row ``i`` has key ``keys[i]``).

    ``key_fn`` maps an arch to its record key (it may raise
    :class:`~archperf.errors.InvalidCellError`); ``arch_fn`` maps a key back to an arch.  Both
    must be pure functions or methods of a data-free object such as a search space.  Results
    are cached by the exact arch, so repeated look-ups cost one dict access.
    """

    __slots__ = ("_arch_fn", "_cache", "_index", "_key_fn", "_keys", "key_name")

    def __init__(
        self,
        keys: Sequence[Hashable],
        key_fn: Callable[[Any], Hashable],
        arch_fn: Callable[[Any], Arch] | None = None,
        key_name: str = "record key",
    ) -> None:
        self._keys: tuple[Hashable, ...] = tuple(keys)
        self._index: dict[Hashable, int] = {k: i for i, k in enumerate(self._keys)}
        if len(self._index) != len(self._keys):
            raise ValueError(
                f"record keys must be unique: {len(self._keys)} keys but "
                f"{len(self._index)} distinct"
            )
        self._key_fn = key_fn
        self._arch_fn = arch_fn
        self._cache: dict[Hashable, int] = {}
        self.key_name = key_name

    def __len__(self) -> int:
        return len(self._keys)

    def index_of_key(self, key: Hashable) -> int:
        """The record index of ``key``, or -1."""
        return self._index.get(key, -1)

    def key_of(self, arch: Arch) -> Hashable:
        return self._key_fn(arch)

    def index_of(self, arch: Arch) -> int:
        fk = _fast_key(arch)
        i = self._cache.get(fk)
        if i is None:
            i = self._index.get(self._key_fn(arch), -1)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[fk] = i
        return i

    def indices(self, archs: Sequence[Arch]) -> np.ndarray:
        get = self._cache.get
        items: Sequence[Any] = archs
        found = [  # _fast_key inlined: this loop is the per-cell cost of every query
            get(a.adjacency.tobytes() + a.ops.tobytes() if type(a) is Cell else a, -2)
            for a in items
        ]
        for j, i in enumerate(found):
            if i == -2:  # cache miss: through the key function
                found[j] = self.index_of(archs[j])
        return np.array(found, dtype=np.int64)

    def key_at(self, index: int) -> Hashable:
        return self._keys[index]

    def arch_at(self, index: int) -> Arch:
        if self._arch_fn is None:
            raise NotImplementedError("this record index cannot turn keys back into archs")
        return self._arch_fn(self._keys[index])


class GrowingRecordIndex(RecordIndex[Arch]):
    """Record keys assigned on first sight, for open-ended spaces (e.g. a surrogate model).

    Every valid arch is known: it gets the next free index.
    """

    open_ended = True

    __slots__ = ("_archs", "_cache", "_index", "_key_fn", "_keys", "key_name")

    def __init__(self, key_fn: Callable[[Any], Hashable], key_name: str = "record key") -> None:
        self._key_fn = key_fn
        self._keys: list[Hashable] = []
        self._archs: list[Any] = []
        self._index: dict[Hashable, int] = {}
        self._cache: dict[Hashable, Hashable] = {}  # exact arch -> record key
        self.key_name = key_name

    def __len__(self) -> int:
        return len(self._keys)

    def _key(self, arch: Any) -> Hashable:
        fk = _fast_key(arch)
        key = self._cache.get(fk)
        if key is None:
            key = self._key_fn(arch)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[fk] = key
        return key

    def indices(self, archs: Sequence[Arch]) -> np.ndarray:
        keys = [self._key(a) for a in archs]  # validate all before assigning any
        out = np.empty(len(keys), dtype=np.int64)
        for j, (key, arch) in enumerate(zip(keys, archs, strict=True)):
            i = self._index.get(key)
            if i is None:
                i = len(self._keys)
                self._index[key] = i
                self._keys.append(key)
                self._archs.append(arch)
            out[j] = i
        return out

    def key_at(self, index: int) -> Hashable:
        return self._keys[index]

    def arch_at(self, index: int) -> Arch:
        return self._archs[index]


# ---------------------------------------------------------------------------- metric sources
class MetricSource(abc.ABC):
    """The search-metric side of an oracle: values for record indices (and their archs)."""

    @abc.abstractmethod
    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        """``float64`` metric per index; ``archs`` is given when the query came as archs."""

    def known(self, indices: np.ndarray) -> np.ndarray:
        """Boolean mask of indices that have a value (default: all)."""
        return np.ones(len(indices), dtype=bool)


class ArrayMetric(MetricSource):
    """A metric stored as one ``float64`` array over records (NaN = no value: unknown)."""

    __slots__ = ("_known", "_values")

    def __init__(self, values: np.ndarray) -> None:
        arr = np.array(values, dtype=np.float64, copy=True)  # own memory: no ``base`` to follow
        if arr.ndim != 1:
            raise ValueError(f"a metric array must be 1-D, got shape {arr.shape}")
        arr.setflags(write=False)
        known = ~np.isnan(arr)
        known.setflags(write=False)
        self._values = arr
        self._known = known

    def __len__(self) -> int:
        return int(self._values.shape[0])

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        return self._values[indices]

    def known(self, indices: np.ndarray) -> np.ndarray:
        return self._known[indices]


# ------------------------------------------------------------------------------ the oracle
class CellProperty(MetricSource):
    """A free cell property (parameters, FLOPs) as one ``float64`` array over records: what
    :meth:`Oracle.property_values` reads.  Kept apart from :class:`ArrayMetric`, whose reads are
    answers to queries."""

    __slots__ = ("_values",)

    def __init__(self, values: np.ndarray) -> None:
        arr = np.array(values, dtype=np.float64, copy=True)
        if arr.ndim != 1:
            raise ValueError(f"a property array must be 1-D, got shape {arr.shape}")
        arr.setflags(write=False)
        self._values = arr

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        return self._values[indices]

    def known(self, indices: np.ndarray) -> np.ndarray:
        return ~np.isnan(self._values[indices])


class QueryLedger:
    """The experiment's own log of what an oracle evaluated, kept apart from its counter.

    ``oracle.use_journal(ledger)`` (installed last, so it sees every answer) routes each
    evaluation through :meth:`wrap`'s metric source, which appends the evaluated record
    indices here before answering.  The runner compares :meth:`records` with the oracle's
    query log and the budget after the search (:func:`archperf.experiments.runner.check_log`).
    """

    __slots__ = ("_log",)

    def __init__(self) -> None:
        self._log: list[np.ndarray] = []

    def wrap(self, metric: MetricSource, records: RecordIndex[Any]) -> MetricSource:
        return _LedgerMetric(metric, self._log)

    def records(self) -> np.ndarray:
        """The distinct record indices evaluated so far (sorted)."""
        if not self._log:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(self._log))


class _LedgerMetric(MetricSource):
    __slots__ = ("_inner", "_log")

    def __init__(self, inner: MetricSource, log: list[np.ndarray]) -> None:
        self._inner = inner
        self._log = log

    def known(self, indices: np.ndarray) -> np.ndarray:
        return self._inner.known(indices)

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        self._log.append(np.array(indices, dtype=np.int64, copy=True))
        return self._inner.values(indices, archs)


class QueryRecord(NamedTuple):
    """One answered query: the arch, its metric, its record index, and whether it was charged."""

    arch: Any
    value: float
    record: int
    charged: bool


@dataclass
class _Chunk:
    indices: np.ndarray
    values: np.ndarray
    charged: np.ndarray
    archs: tuple[Any, ...] | None


class Oracle(Generic[Arch]):
    """What a search method gets: the search metric, a query counter, a budget and a history.

    It holds the space (rules only), the record index (keys only), the search metric and its
    own accounting: nothing else, in particular no test data (unless the protocol is
    ``"paper"``, where the search metric *is* the paper's test metric, as :meth:`describe` says).
    """

    __slots__ = (
        "__weakref__",
        "_budget",
        "_chunks",
        "_constraint",
        "_count",
        "_feasible",
        "_info",
        "_listeners",
        "_metric",
        "_properties",
        "_records",
        "_sealed",
        "_seen",
        "space",
    )
    space: SearchSpace[Arch] | None
    _records: RecordIndex[Arch]
    _metric: MetricSource
    _info: dict[str, Any]
    _budget: int | None
    _count: int
    _seen: np.ndarray
    _chunks: list[_Chunk]
    _listeners: list[Callable[[Oracle[Arch]], None]]
    _sealed: bool
    _feasible: Callable[[RecordIndex[Arch], np.ndarray], np.ndarray] | None
    _constraint: str | None
    _properties: dict[str, MetricSource]

    def __init__(
        self,
        space: SearchSpace[Arch] | None,
        records: RecordIndex[Arch],
        metric: MetricSource,
        info: Mapping[str, Any],
        budget: int | None = None,
        properties: Mapping[str, MetricSource] | None = None,
    ) -> None:
        if budget is not None:
            if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
                raise TypeError(f"budget must be an int or None, got {type(budget).__name__}")
            if budget < 0:
                raise ValueError(f"budget must be >= 0, got {budget}")
            budget = int(budget)
        init = object.__setattr__  # the oracle's own state is read-only from outside
        init(self, "space", space)
        init(self, "_records", records)
        init(self, "_metric", metric)
        init(self, "_info", dict(info))
        init(self, "_budget", budget)
        init(self, "_count", 0)
        init(self, "_seen", np.zeros(max(len(records), 1), dtype=bool))
        init(self, "_chunks", [])
        init(self, "_listeners", [])
        init(self, "_sealed", False)
        init(self, "_feasible", None)
        init(self, "_constraint", None)
        init(self, "_properties", dict(properties or {}))

    def __setattr__(self, name: str, value: Any) -> None:
        """Refused: a search must not rewrite the oracle's accounting (``_count = 0``,
        ``_budget = None``, ...).  The runner also checks the query log, so a search that
        forces a write through ``object.__setattr__`` is caught there."""
        raise AttributeError(
            f"Oracle attributes are read-only (tried to set {name!r}); the budget, counter and "
            "query log belong to the experiment, not to the search"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Oracle attributes cannot be deleted (tried {name!r})")

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Refused (``copy``, ``deepcopy``, ``pickle``): a copy would have a budget and query
        log of its own, outside the experiment's."""
        raise TypeError(
            "an Oracle cannot be copied or pickled: its budget and query log belong to one search"
        )

    def use_journal(self, journal: Any) -> None:
        """Answer through ``journal`` (e.g. :class:`archperf.experiments.journal.QueryJournal`):
        ``journal.wrap(metric, records)`` gives the metric source to use from now on, which
        replays journalled answers and journals new ones.  Accounting is unchanged.

        Any object with such a ``wrap`` works, e.g. the runner's query ledger
        (:class:`QueryLedger`).  Refused after :meth:`seal`."""
        if self._sealed:
            raise QueryContractError(
                "this oracle is sealed: its answers cannot be rerouted (use_journal) once the "
                "search has it"
            )
        object.__setattr__(self, "_metric", journal.wrap(self._metric, self._records))

    def seal(self) -> None:
        """Refuse :meth:`use_journal` from now on (the runner seals an oracle before handing
        it to a search, so the search cannot put its own answers in front of the metric)."""
        object.__setattr__(self, "_sealed", True)

    def constrain(
        self, feasible: Callable[[RecordIndex[Arch], np.ndarray], np.ndarray], description: str
    ) -> None:
        """Answer feasible cells only: ``feasible(records, indices)`` gives a boolean mask per
        record index.  Infeasible cells are never evaluated nor charged: :meth:`status` says
        they are not known (so every search skips them for free) and :meth:`query` raises
        :class:`~archperf.errors.InfeasibleCellError`.  Set once, before any query and before
        :meth:`seal` (see :func:`archperf.constraints.constrain`)."""
        if self._sealed or self._chunks or self._feasible is not None:
            raise QueryContractError(
                "a constraint is set once, on a fresh oracle, before the search gets it"
            )
        object.__setattr__(self, "_feasible", feasible)
        object.__setattr__(self, "_constraint", str(description))

    @property
    def constraint(self) -> str | None:
        """The oracle's constraint, as text (None: unconstrained)."""
        return self._constraint

    def _feasible_mask(self, idx: np.ndarray) -> np.ndarray:
        """Feasibility per record index (indices must be valid, ``>= 0``)."""
        if self._feasible is None or not len(idx):
            return np.ones(len(idx), dtype=bool)
        mask = np.asarray(self._feasible(self._records, idx), dtype=bool)
        if mask.shape != idx.shape:
            raise RuntimeError(f"constraint returned shape {mask.shape} for {idx.shape}")
        return mask

    def subscribe(self, listener: Callable[[Oracle[Arch]], None]) -> None:
        """Call ``listener(oracle)`` after every answered query batch (e.g. a progress bar)."""
        self._listeners.append(listener)

    # ---------------------------------------------------------------------- accounting
    @property
    def budget(self) -> int | None:
        """The maximum number of unique records (None: unlimited)."""
        return self._budget

    @property
    def num_queries(self) -> int:
        """Unique records evaluated so far (what the budget counts)."""
        return self._count

    @property
    def remaining(self) -> int | None:
        """Unique records still allowed (None: unlimited)."""
        return None if self._budget is None else self._budget - self._count

    @property
    def capacity(self) -> int | None:
        """How many distinct records the oracle can answer (None: open-ended, e.g. a surrogate).

        A budget above it can never be spent.
        """
        if self._records.open_ended:
            return None
        n = len(self._records)
        if not n:
            return 0
        every = np.arange(n, dtype=np.int64)
        return int((self._metric.known(every) & self._feasible_mask(every)).sum())

    @property
    def exhausted(self) -> bool:
        return self._budget is not None and self._count >= self._budget

    def _is_seen(self, uniq: np.ndarray) -> np.ndarray:
        out = np.zeros(len(uniq), dtype=bool)
        inside = uniq < len(self._seen)
        out[inside] = self._seen[uniq[inside]]
        return out

    def records_of(self, archs: Sequence[Arch]) -> np.ndarray:
        """Record index per arch (``-1``: the benchmark has no record); free, nothing charged.

        Two archs with the same record index are one query (e.g. isomorphic NB101 graphs).
        """
        return self._records.indices(tuple(archs))

    def status(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(records, known, queried)`` per arch from one record look-up; free, nothing charged.

        ``records`` as :meth:`records_of`; ``known``: can the oracle answer (always true on
        complete benchmarks; on a partial one, such as the NB101 subset, a search that filters
        with it is restricted to the covered cells, which results must state); ``queried``: was
        the record already charged in this session.
        """
        idx = self.records_of(archs)
        known = idx >= 0
        if known.any():
            known[known] = self._metric.known(idx[known])
        if known.any() and self._feasible is not None:
            known[known] = self._feasible_mask(idx[known])
        queried = np.zeros(len(idx), dtype=bool)
        ok = idx >= 0
        queried[ok] = self._is_seen(idx[ok])
        return idx, known, queried

    def known(self, archs: Sequence[Arch]) -> np.ndarray:
        """Boolean mask: can the oracle answer for each arch?  (See :meth:`status`.)"""
        return self.status(archs)[1]

    def queried(self, archs: Sequence[Arch]) -> np.ndarray:
        """Boolean mask: was each arch's record already charged?  (See :meth:`status`.)"""
        return self.status(archs)[2]

    def cost(self, archs: Sequence[Arch]) -> int:
        """How many unique records the batch would be charged now (nothing is evaluated)."""
        idx = self._records.indices(archs)
        uniq = np.unique(idx[idx >= 0])
        return int((~self._is_seen(uniq)).sum())

    # ----------------------------------------------------------------- cell properties
    @property
    def properties(self) -> tuple[str, ...]:
        """Names of the free cell properties (e.g. ``"params"``): what a cell *is*, not how it
        trained, so reading them charges nothing and reveals no accuracy."""
        return tuple(self._properties)

    def property_values(self, archs: Sequence[Arch], name: str) -> np.ndarray:
        """Property ``name`` per arch (``float64``, NaN where the benchmark has no record);
        free, nothing charged.  A name the oracle lacks is a ``UsageError`` naming the ones
        it has."""
        source = self._properties.get(name)
        if source is None:
            have = ", ".join(self._properties) or "none"
            raise UsageError(f"unknown cell property {name!r}; this benchmark has: {have}")
        idx = self._records.indices(tuple(archs))
        out = np.full(len(idx), np.nan)
        ok = idx >= 0
        if ok.any():
            out[ok] = np.asarray(source.values(idx[ok], None), dtype=np.float64)
        return out

    # -------------------------------------------------------------------------- queries
    def query(self, archs: Sequence[Arch]) -> np.ndarray:
        """The search metric per arch (``float64``), charging each new record once.

        Raises :class:`~archperf.errors.UnknownCellError` (nothing charged) if the benchmark
        lacks a record, :class:`~archperf.errors.BudgetExhaustedError` (nothing evaluated) if
        the batch would exceed the budget, :class:`~archperf.errors.InvalidCellError` for
        invalid archs.
        """
        if isinstance(archs, str | bytes | Cell):
            raise TypeError("query takes a sequence of archs; use query_one for a single arch")
        archs = tuple(archs)
        idx = self._records.indices(archs)
        return self._answer(idx, archs)

    def query_one(self, arch: Arch) -> float:
        """The search metric of one arch (see :meth:`query`)."""
        return float(self.query([arch])[0])

    def query_indices(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Fast path: the search metric for record indices (same accounting as :meth:`query`).

        For tabular benchmarks with an official order (NB201 from ``nb201.csv`` or the
        ``.pth``) record indices are the official indices.
        """
        idx = np.asarray(indices)
        if idx.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {idx.shape}")
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64, copy=True)
        n = len(self._records)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = int(idx[(idx < 0) | (idx >= n)][0])
            raise IndexError(f"record index {bad} is out of range 0..{n - 1}")
        return self._answer(idx, None)

    def _describe_unknown(
        self, idx: np.ndarray, archs: tuple[Any, ...] | None, bad: np.ndarray
    ) -> str:
        pos = np.flatnonzero(bad)
        shown = []
        for p in pos[:3]:
            if archs is not None and self.space is not None:
                try:
                    shown.append(self.space.to_text(archs[p]))
                    continue
                except Exception:  # the arch is valid per the index; fall back to repr
                    pass
            shown.append(repr(archs[p]) if archs is not None else f"record {int(idx[p])}")
        more = f" (and {len(pos) - 3} more)" if len(pos) > 3 else ""
        return (
            f"{self._info.get('benchmark', 'the benchmark')} has no "
            f"{self._info.get('search_metric', 'metric')} record for {len(pos)} queried "
            f"arch(s): {'; '.join(shown)}{more}; nothing in this batch was evaluated or charged"
        )

    def _answer(self, idx: np.ndarray, archs: tuple[Any, ...] | None) -> np.ndarray:
        unknown = idx < 0
        if idx.size and not unknown.all():
            unknown[~unknown] = ~self._metric.known(idx[~unknown])
        if unknown.any():
            raise UnknownCellError(self._describe_unknown(idx, archs, unknown))
        if self._feasible is not None and idx.size:
            bad = ~self._feasible_mask(idx)
            if bad.any():
                raise InfeasibleCellError(
                    f"{int(bad.sum())} queried arch(s) break the constraint {self._constraint}; "
                    "nothing in this batch was evaluated or charged"
                )
        uniq, first = np.unique(idx, return_index=True)
        new = ~self._is_seen(uniq)
        n_new = int(new.sum())
        if self._budget is not None and self._count + n_new > self._budget:
            raise BudgetExhaustedError(
                f"query budget exhausted: budget {self._budget} unique cells, {self._count} "
                f"used, this batch needs {n_new} new cell(s) but only "
                f"{self._budget - self._count} remain; nothing in the batch was evaluated"
            )
        values = np.array(self._metric.values(idx, archs), dtype=np.float64, copy=True)
        if values.shape != idx.shape:
            raise RuntimeError(f"metric source returned shape {values.shape} for {idx.shape}")
        # commit: only after evaluation succeeded
        if len(uniq) and uniq[-1] >= len(self._seen):
            grown = np.zeros(max(2 * len(self._seen), int(uniq[-1]) + 1), dtype=bool)
            grown[: len(self._seen)] = self._seen
            object.__setattr__(self, "_seen", grown)
        self._seen[uniq[new]] = True
        object.__setattr__(self, "_count", self._count + n_new)
        charged = np.zeros(len(idx), dtype=bool)
        charged[first[new]] = True
        self._chunks.append(_Chunk(idx, values.copy(), charged, archs))
        for listener in self._listeners:
            listener(self)
        return values

    # -------------------------------------------------------------------------- history
    @property
    def history(self) -> list[QueryRecord]:
        """Every answered query in order (repeats included; ``charged`` marks new records)."""
        out: list[QueryRecord] = []
        for ch in self._chunks:
            for j in range(len(ch.indices)):
                rec = int(ch.indices[j])
                arch = ch.archs[j] if ch.archs is not None else self._records.arch_at(rec)
                out.append(QueryRecord(arch, float(ch.values[j]), rec, bool(ch.charged[j])))
        return out

    def history_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The history as arrays ``(record indices, values, charged)`` (fast, no archs)."""
        if not self._chunks:
            return np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, bool)
        return (
            np.concatenate([c.indices for c in self._chunks]),
            np.concatenate([c.values for c in self._chunks]),
            np.concatenate([c.charged for c in self._chunks]),
        )

    def best(self) -> QueryRecord:
        """The queried record with the highest search metric (first one on ties)."""
        idx, values, _ = self.history_arrays()
        if not len(values):
            raise ValueError("no query answered yet")
        j = int(np.argmax(values))
        hist_j = 0
        for ch in self._chunks:
            if j < hist_j + len(ch.indices):
                k = j - hist_j
                arch = ch.archs[k] if ch.archs is not None else self._records.arch_at(int(idx[j]))
                return QueryRecord(arch, float(values[j]), int(idx[j]), bool(ch.charged[k]))
            hist_j += len(ch.indices)
        raise AssertionError("unreachable")  # pragma: no cover

    def describe(self) -> dict[str, Any]:
        """Benchmark, dataset, protocol, source, metric names, budget and count."""
        return {
            **self._info,
            "budget": self._budget,
            "queries": self._count,
            "record_key": self._records.key_name,
            **({} if self._constraint is None else {"constraint": self._constraint}),
        }

    def __repr__(self) -> str:
        d = self._info
        return (
            f"Oracle({d.get('benchmark')}, {d.get('dataset')}, metric={d.get('search_metric')}, "
            f"protocol={d.get('protocol')}, queries={self._count}/{self._budget})"
        )


# ------------------------------------------------------------------------ tabular benchmarks
@dataclass(frozen=True)
class Report:
    """Reported (test) metrics of final architectures, with where they came from."""

    values: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return dict(self.info)


class TabularBenchmark(Benchmark[Arch]):
    """A benchmark over an in-memory table: record key → row, one ``float64`` array per column.

    Subclasses load the data and call ``super().__init__`` with:

    - ``records``: a :class:`TableRecordIndex` over the rows;
    - ``columns``: column name → array (NaN = no value); each is copied into its own memory;
    - ``val_metric`` / ``test_metric``: the honest protocol's search and report columns
      (``test_metric`` may be None when the source has no test data: :meth:`report` then
      raises :class:`~archperf.errors.DataFileError` with ``missing_test_hint``);
    - ``paper_metric``: the column the ``"paper"`` protocol uses throughout (None: unsupported).

    Construction convention for the registry and ``archperf query``: benchmark factories accept
    the keyword arguments ``dataset``, ``source`` and ``data_dir`` (``None`` = default).
    """

    name = "tabular"
    #: Columns that are cell properties (parameters, FLOPs), not trained metrics: oracles
    #: expose them for free through :meth:`Oracle.property_values` (multi-objective search),
    #: and constraints may bound them (:mod:`archperf.constraints`).
    property_columns: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        space: SearchSpace[Arch],
        records: TableRecordIndex[Arch],
        columns: Mapping[str, np.ndarray],
        val_metric: str,
        test_metric: str | None,
        paper_metric: str | None,
        dataset: str,
        source: str,
        protocol: str = "honest",
        missing_test_hint: str = "",
    ) -> None:
        self.space = space
        self.dataset = dataset
        self.source = source
        self.protocol = check_protocol(protocol)
        self._records = records
        self._columns: dict[str, np.ndarray] = {}
        for col, arr in columns.items():
            a = np.array(arr, dtype=np.float64, copy=True)
            if a.shape != (len(records),):
                raise ValueError(
                    f"column {col!r} has shape {a.shape}, expected ({len(records)},) "
                    "(one value per record)"
                )
            a.setflags(write=False)
            self._columns[col] = a
        roles: tuple[tuple[str, str | None], ...] = (
            ("val", val_metric),
            ("test", test_metric),
            ("paper", paper_metric),
        )
        for role, metric_col in roles:
            if metric_col is not None and metric_col not in self._columns:
                raise ValueError(f"{role} metric column {metric_col!r} is not among the columns")
        self.val_metric = val_metric
        self.test_metric = test_metric
        self.paper_metric = paper_metric
        self._missing_test_hint = missing_test_hint
        self.search_metric, self.report_metric = self._metrics_for(self.protocol)

    # ------------------------------------------------------------------------- metadata
    def _metrics_for(self, protocol: str) -> tuple[str, str | None]:
        check_protocol(protocol)
        if protocol == "honest":
            return self.val_metric, self.test_metric
        if self.paper_metric is None:
            raise DataFileError(
                f"{self.name} from {self.source} has no paper-protocol metric. "
                f"{self._missing_test_hint}"
            )
        return self.paper_metric, self.paper_metric

    @property
    def records(self) -> TableRecordIndex[Arch]:
        return self._records

    @property
    def metrics(self) -> tuple[str, ...]:
        """The available column names."""
        return tuple(self._columns)

    def __len__(self) -> int:
        return len(self._records)

    def describe(self, protocol: str | None = None) -> dict[str, Any]:
        """Benchmark, dataset, protocol, source and metric names."""
        protocol = self.protocol if protocol is None else protocol
        search, report = self._metrics_for(protocol)
        return {
            "benchmark": self.name,
            "dataset": self.dataset,
            "protocol": protocol,
            "source": self.source,
            "search_metric": search,
            "report_metric": report,
            "records": len(self._records),
        }

    # --------------------------------------------------------------------------- oracle
    def oracle(self, budget: int | None = None, protocol: str | None = None) -> Oracle[Arch]:
        """A fresh query session for one search (its own counter, budget and history)."""
        protocol = self.protocol if protocol is None else protocol
        search, _ = self._metrics_for(protocol)
        info = self.describe(protocol)
        info.pop("report_metric")  # the oracle only knows what it answers with
        cols = [c for c in self.property_columns if c in self._columns]
        props = {c: CellProperty(self._columns[c]) for c in cols}
        return Oracle(
            self.space,
            self._records,
            ArrayMetric(self._columns[search]),
            info,
            budget,
            properties=props,
        )

    # ----------------------------------------------------------------------- look-ups
    def index_of(self, archs: Sequence[Arch]) -> np.ndarray:
        """Record index per arch (-1 where the benchmark has no record)."""
        return self._records.indices(tuple(archs))

    def arch_at(self, index: int) -> Arch:
        """The arch of record ``index``."""
        return self._records.arch_at(int(index))

    def _column_for(self, metric: str) -> np.ndarray:
        name: str | None = {"val": self.val_metric, "test": self.test_metric}.get(metric, metric)
        if name is None:
            raise DataFileError(
                f"{self.name} from {self.source} has no test metric. {self._missing_test_hint}"
            )
        if name not in self._columns:
            raise ValueError(
                f"unknown metric {metric!r}; use 'val', 'test' or one of: "
                f"{', '.join(self._columns)}"
            )
        return self._columns[name]

    def column(self, metric: str) -> np.ndarray:
        """A read-only column over all records (``'val'``, ``'test'`` or a column name)."""
        return self._column_for(metric)

    def lookup(self, archs: Sequence[Arch], metric: str = "val") -> np.ndarray:
        """Uncounted look-up: the metric per arch, NaN where the benchmark has no record.

        For analysis and reporting tools, never for a search (searches get an :meth:`oracle`).
        Invalid archs raise :class:`~archperf.errors.InvalidCellError`.
        """
        col = self._column_for(metric)
        idx = self.index_of(archs)
        out = np.full(len(idx), np.nan)
        ok = idx >= 0
        out[ok] = col[idx[ok]]
        return out

    def lookup_indices(
        self, indices: Sequence[int] | np.ndarray, metric: str = "val"
    ) -> np.ndarray:
        """Uncounted look-up by record index."""
        return self._column_for(metric)[np.asarray(indices, dtype=np.int64)]

    def _strict(self, archs: Sequence[Arch], metric: str, what: str) -> np.ndarray:
        archs = tuple(archs)
        values = self.lookup(archs, metric)
        bad = np.flatnonzero(np.isnan(values))
        if len(bad):
            shown = "; ".join(self.space.to_text(archs[j]) for j in bad[:3])
            raise UnknownCellError(
                f"{self.name} ({self.source}) has no {what} for {len(bad)} arch(s): {shown}"
            )
        return values

    def query(self, archs: Sequence[Arch]) -> np.ndarray:
        """Uncounted search-metric look-up (raises for unknown archs); searches use an oracle."""
        return self._strict(archs, self.search_metric, self.search_metric)

    def report(self, archs: Sequence[Arch]) -> np.ndarray:
        """The report (test) metric per arch: for the experiment runner after a search ends."""
        if self.report_metric is None:
            raise DataFileError(
                f"{self.name} from {self.source} has no test accuracy to report. "
                f"{self._missing_test_hint}"
            )
        return self._strict(archs, self.report_metric, self.report_metric)

    def report_result(self, archs: Sequence[Arch]) -> Report:
        """:meth:`report` with :meth:`describe` attached."""
        return Report(self.report(archs), self.describe())
