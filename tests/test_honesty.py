"""The honesty contract (issue #13), for every registered benchmark, plugins included:

- *test-metric isolation*: the oracle a search gets reaches, through its object graph
  (attributes, ``__dict__``/``__slots__``, closures, defaults, bound methods' ``__self__``,
  containers, numpy ``base`` chains; not classes, modules or function globals), no
  :class:`~archperf.interfaces.Benchmark`, no column of the benchmark other than the search
  metric, and no object offering an uncounted evaluation API (``query``, ``predict``,
  ``lookup``, ``report``, ``column``, ...) other than the oracle itself;
- *budgets*: a search cannot rewrite the oracle's accounting (``_count``, ``_budget``), and
  when it forces a write anyway the runner refuses the record, checking the query log itself
  against the spec's budget.

Benchmarks whose data is absent are skipped with the reason.
"""

from __future__ import annotations

import gc
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from archperf import registry
from archperf.benchmarks.base import Oracle, QueryLedger, TabularBenchmark
from archperf.errors import BudgetExhaustedError, DataFileError, QueryContractError
from archperf.experiments.runner import check_log, run_one
from archperf.experiments.spec import RunSpec
from archperf.hookspecs import hookimpl
from archperf.interfaces import Benchmark
from archperf.registry import Registry
from test_benchmark_base import ToyBenchmark

#: Methods that evaluate without charging a query; only the oracle may offer query-like ones.
UNCOUNTED_API = (
    "query",
    "predict",
    "predict_features",
    "predict_genotypes",
    "lookup",
    "lookup_indices",
    "report",
    "report_result",
    "column",
    "oracle",
)


def reachable(root: object) -> Iterator[object]:
    """Every object reachable from ``root``: instance state, containers, closures, defaults,
    bound methods' ``__self__`` (Python and builtin), numpy ``base`` chains and whatever else
    ``gc.get_referents`` gives; never classes, modules, code objects or function globals
    (public code, which any search can import anyway)."""
    seen: set[int] = set()
    stack: list[object] = [root]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        yield o
        if isinstance(o, type | types.ModuleType | types.CodeType):
            continue
        if isinstance(o, types.FunctionType):
            stack.extend(c.cell_contents for c in (o.__closure__ or ()))
            stack.extend(o.__defaults__ or ())
            stack.extend((o.__kwdefaults__ or {}).values())
            continue
        if isinstance(o, types.MethodType):
            stack.extend((o.__self__, o.__func__))
            continue
        if isinstance(o, types.BuiltinFunctionType | types.BuiltinMethodType):
            owner = getattr(o, "__self__", None)
            if owner is not None and not isinstance(owner, types.ModuleType):
                stack.append(owner)
            continue
        if isinstance(o, np.ndarray):
            if o.base is not None:
                stack.append(o.base)
            continue
        stack.extend(gc.get_referents(o))


def _benchmark(name: str) -> Benchmark[Any]:
    try:
        return registry.create("benchmark", name)
    except (DataFileError, ImportError) as exc:
        pytest.skip(f"benchmark {name!r} cannot be built here: {type(exc).__name__}: {exc}")


def _cells(bench: Any, n: int) -> list[Any]:
    """``n`` distinct cells the benchmark can answer."""
    if isinstance(bench, TabularBenchmark):
        search = bench.column(bench.search_metric)
        rows = np.flatnonzero(np.isfinite(search))[:n]
        return [bench.arch_at(int(i)) for i in rows]
    return list(bench.space.sample(n, seed=0))


def _other_columns(bench: Any, search: str) -> dict[str, np.ndarray]:
    if not isinstance(bench, TabularBenchmark):
        return {}
    ref = bench.column(search)
    out = {}
    free = set(bench.property_columns)  # cell properties (params, FLOPs): offered on purpose
    assert not free & {bench.val_metric, bench.test_metric, bench.paper_metric}
    for name in bench.metrics:
        col = bench.column(name)
        if name != search and name not in free and not np.array_equal(col, ref, equal_nan=True):
            out[name] = col
    return out


def assert_isolated(oracle: Oracle[Any], bench: Any, search: str) -> None:
    others = _other_columns(bench, search)
    shared_cache = getattr(bench, "_cache", None)
    for obj in reachable(oracle):
        assert not isinstance(obj, Benchmark), f"the oracle reaches the benchmark ({obj!r})"
        if shared_cache is not None:
            assert obj is not shared_cache, "the oracle reaches the benchmark's shared cache"
        if obj is not oracle and not isinstance(obj, type):
            offered = [a for a in UNCOUNTED_API if callable(getattr(obj, a, None))]
            assert not offered, (
                f"the oracle reaches a {type(obj).__name__} offering uncounted {offered}"
            )
        if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
            for name, col in others.items():
                assert not np.shares_memory(obj, col), f"the oracle shares memory with {name}"
                if obj.shape == col.shape:
                    assert not np.array_equal(obj, col, equal_nan=True), (
                        f"the oracle holds column {name}"
                    )


BENCHMARKS = registry.names("benchmark")


def test_every_registered_benchmark_is_covered() -> None:
    assert {"nb101", "nb201", "nb301"} <= set(BENCHMARKS)


def check_isolation(bench: Any, protocol: str) -> None:
    try:
        oracle = bench.oracle(budget=10, protocol=protocol)
    except DataFileError as exc:  # e.g. the NB101 subset has no paper metric
        pytest.skip(f"{bench.name} has no {protocol!r} protocol here: {exc}")
    oracle.query(_cells(bench, 3))
    assert_isolated(oracle, bench, oracle.describe()["search_metric"])


def check_tamper(bench: Any, name: str) -> None:
    """A method that resets ``_count`` (or drops ``_budget``) to spend 5x its budget: the plain
    write is refused; a forced one is caught by the log check."""
    cells = _cells(bench, 50)
    budget = max(1, len(cells) // 5)
    spec = RunSpec(method="cheat", benchmark=name, dataset="cifar10", budget=budget, seed=0)
    for attr, value in (("_count", 0), ("_budget", None)):
        oracle = bench.oracle(budget=budget)
        ledger = QueryLedger()
        oracle.use_journal(ledger)
        with pytest.raises(AttributeError, match="read-only"):
            setattr(oracle, attr, value)
        with pytest.raises(AttributeError):
            delattr(oracle, attr)
        try:
            for k in range(0, 5 * budget, budget):
                oracle.query(cells[k : k + budget])
                object.__setattr__(oracle, attr, value)  # forced
        except BudgetExhaustedError:  # a model process keeps its own count: refused at once
            assert bench.evaluations(oracle) == budget
            continue
        assert len(oracle.history) == 5 * budget  # it did spend 5x the budget
        with pytest.raises(QueryContractError, match="'cheat' broke the query contract"):
            check_log(spec, oracle, ledger, bench.evaluations(oracle))


@pytest.mark.parametrize("name", BENCHMARKS)
@pytest.mark.parametrize("protocol", ["honest", "paper"])
def test_oracle_reaches_no_other_column_and_no_uncounted_evaluator(
    name: str, protocol: str
) -> None:
    check_isolation(_benchmark(name), protocol)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_accounting_is_read_only_and_forced_writes_are_caught(name: str) -> None:
    check_tamper(_benchmark(name), name)


class _LeakyToy(ToyBenchmark):
    """A plugin benchmark whose key-to-arch function closes over the benchmark (the NB101 bug
    this contract fixed): its oracle reaches the test column through a closure."""

    name = "leaky"

    def __init__(self, protocol: str = "honest") -> None:
        super().__init__(protocol)
        bench = self

        def arch_fn(key: Any) -> str:
            return str(bench.space.from_text(key))

        object.__setattr__(self._records, "_arch_fn", arch_fn)


class _Plugin:
    @hookimpl
    def archperf_benchmarks(self) -> dict[str, Any]:
        return {"toy": ToyBenchmark, "leaky": _LeakyToy}


def test_plugin_benchmarks_are_checked_the_same_way() -> None:
    """The checks above take any registered benchmark: a plugin's honest one passes, a leaky
    one is caught."""
    reg = Registry(load_entry_points=False)
    reg.register(_Plugin(), name="test-plugin")
    assert {"toy", "leaky"} <= set(reg.names("benchmark"))
    toy = reg.create("benchmark", "toy")
    for protocol in ("honest", "paper"):
        check_isolation(toy, protocol)
    check_tamper(toy, "toy")
    with pytest.raises(AssertionError, match="reaches the benchmark"):
        check_isolation(reg.create("benchmark", "leaky"), "honest")


# ------------------------------------------------------------------- through the runner
def nb201(budget: int = 10) -> RunSpec:
    return RunSpec(method="rs", benchmark="nb201", dataset="cifar10", budget=budget, seed=0)


def _cheat(tamper: Any) -> Any:
    from archperf.search.base import SearchOutcome
    from archperf.spaces.nb201 import NB201Space

    def search(self: Any, oracle: Any, seed: int) -> SearchOutcome:
        cells = NB201Space().sample(50, seed=seed)
        for k in range(0, 50, 10):
            if k:
                tamper(oracle)  # between batches: the last batch stays in the log
            oracle.query(cells[k : k + 10])
        return SearchOutcome.from_oracle(oracle)

    return search


def _reset_count(o: Any) -> None:
    object.__setattr__(o, "_count", 0)


def _drop_budget(o: Any) -> None:
    object.__setattr__(o, "_budget", None)


def _forget_seen(o: Any) -> None:
    o._seen[:] = False
    object.__setattr__(o, "_count", 0)


def _wipe_log(o: Any) -> None:  # history, counter and marks all reset consistently
    o._chunks.clear()
    o._seen[:] = False
    object.__setattr__(o, "_count", 0)


def test_an_oracle_cannot_be_copied() -> None:
    import copy
    import pickle

    oracle = _benchmark("nb201").oracle(budget=3)
    for clone in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="cannot be copied"):
            clone(oracle)


def _clone_and_spend(self: Any, oracle: Any, seed: int) -> Any:
    """Spends a second budget on a hand-made clone (fresh counter and log, same metric)."""
    from archperf.search.base import SearchOutcome
    from archperf.spaces.nb201 import NB201Space

    cells = NB201Space().sample(20, seed=seed)
    oracle.query(cells[:10])
    clone = object.__new__(Oracle)
    for slot in Oracle.__slots__:
        if slot != "__weakref__":
            object.__setattr__(clone, slot, getattr(oracle, slot))
    object.__setattr__(clone, "_count", 0)
    object.__setattr__(clone, "_seen", np.zeros_like(oracle._seen))
    object.__setattr__(clone, "_chunks", [])
    clone.query([c for c in cells[10:] if not oracle.queried([c])[0]])
    return SearchOutcome.from_oracle(oracle)


def test_run_one_refuses_evaluations_made_on_a_clone(monkeypatch: pytest.MonkeyPatch) -> None:
    from archperf.search.random import RandomSearch

    monkeypatch.setattr(RandomSearch, "search", _clone_and_spend)
    with pytest.raises(QueryContractError, match="evaluated that the query log does not hold"):
        run_one(nb201(10))


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (_reset_count, "holds 50 distinct cells, budget 10"),
        (_drop_budget, "holds 50 distinct cells, budget 10"),
        (_forget_seen, "holds 50 distinct cells, budget 10"),
        (_wipe_log, "evaluated that the query log does not hold"),
    ],
)
def test_run_one_refuses_a_search_that_rewrites_its_accounting(
    monkeypatch: pytest.MonkeyPatch, tamper: Any, says: str
) -> None:
    from archperf.search.random import RandomSearch

    monkeypatch.setattr(RandomSearch, "search", _cheat(tamper))
    with pytest.raises(QueryContractError, match=f"'rs' broke the query contract.*{says}"):
        run_one(nb201(10))


def _cheat_anywhere(self: Any, oracle: Any, seed: int) -> Any:
    """Spends 5x the budget on any benchmark, resetting the counter between batches."""
    from archperf.search.base import SearchOutcome

    cells, seen = [], set()
    for cell in oracle.space.sample(3000, seed=seed):  # NB101 subset: 7% of cells are known
        rec = int(oracle.records_of([cell])[0])
        if rec not in seen and oracle.known([cell])[0]:
            seen.add(rec)
            cells.append(cell)
        if len(cells) == 5 * oracle.budget:
            break
    for k in range(0, len(cells), oracle.budget):
        if k:
            object.__setattr__(oracle, "_count", 0)
        oracle.query(cells[k : k + oracle.budget])
    return SearchOutcome.from_oracle(oracle)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_run_one_refuses_it_on_every_benchmark(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    from archperf.search.random import RandomSearch

    _benchmark(name)  # skips without data
    monkeypatch.setattr(RandomSearch, "search", _cheat_anywhere)
    spec = RunSpec(method="rs", benchmark=name, dataset="cifar10", budget=4, seed=0)
    # a model process (NB301) refuses the 5th evaluation outright; tables leave it to the log
    refused = r"'rs' broke the query contract.*budget 4|evaluated 4 of its budget of 4"
    with pytest.raises((QueryContractError, BudgetExhaustedError), match=refused):
        run_one(spec)


class _Forger:
    """A metric wrapper that answers 10 points more than the benchmark."""

    def wrap(self, metric: Any, records: Any) -> Any:
        class Forged(type(metric)):  # type: ignore[misc]
            def __init__(self) -> None:
                pass

            def known(self, indices: Any) -> Any:
                return metric.known(indices)

            def values(self, indices: Any, archs: Any) -> Any:
                return metric.values(indices, archs) + 10.0

        return Forged()


def _forge(force: bool) -> Any:
    from archperf.search.base import SearchOutcome
    from archperf.spaces.nb201 import NB201Space

    def search(self: Any, oracle: Any, seed: int) -> SearchOutcome:
        if force:
            object.__setattr__(oracle, "_sealed", False)
        oracle.use_journal(_Forger())
        oracle.query(NB201Space().sample(5, seed=seed))
        return SearchOutcome.from_oracle(oracle)

    return search


@pytest.mark.parametrize(
    ("force", "says"), [(False, "oracle is sealed"), (True, "'rs' was answered .* search metric")]
)
def test_run_one_refuses_answers_put_in_front_of_the_metric(
    monkeypatch: pytest.MonkeyPatch, force: bool, says: str
) -> None:
    from archperf.search.random import RandomSearch

    monkeypatch.setattr(RandomSearch, "search", _forge(force))
    with pytest.raises(QueryContractError, match=says):
        run_one(nb201(10))


def test_run_one_accepts_an_honest_search_with_a_journal(tmp_path: Any) -> None:
    """The runner's ledger sits on top of a journal: replayed answers count as usual."""
    spec = nb201(12)
    first = run_one(spec, journal=tmp_path / "j.jsonl")
    again = run_one(spec, journal=tmp_path / "j.jsonl")
    assert first["num_queries"] == again["num_queries"] == 12
    assert again["journal"]["replayed"] == 12 and again["journal"]["asked"] == 0
    assert first["queries"] == again["queries"]


def test_a_surrogate_runs_out_of_the_search_s_reach() -> None:
    """NB301's model runs in its own process: the oracle holds an account that is counted
    there, so going around the oracle is charged (and refused beyond the budget), and the
    runner refuses a run whose model process evaluated more cells than its query log holds."""
    bench: Any = _benchmark("nb301")
    cells = _cells(bench, 12)
    oracle = bench.oracle(budget=10)
    account = next(o for o in reachable(oracle) if type(o).__name__ == "Account")
    reps = [bench.space.canonical_genotype(c) for c in cells]
    keys = [bench.space.canonical(c) for c in cells]
    account.evaluate(keys[:6], reps[:6])  # around the oracle: counted all the same
    assert bench.evaluations(oracle) == 6 and oracle.num_queries == 0
    with pytest.raises(BudgetExhaustedError, match="budget of 10"):
        account.evaluate(keys[6:12], reps[6:12])
    oracle.query(cells[:2])  # two of the six, paid for
    spec = RunSpec(method="cheat", benchmark="nb301", dataset="cifar10", budget=10, seed=0)
    with pytest.raises(QueryContractError, match="evaluated 6 distinct cells for it, its query"):
        check_log(spec, oracle, None, bench.evaluations(oracle))
    honest = bench.oracle(budget=10)
    honest.query(cells[:4])
    check_log(spec, honest, None, bench.evaluations(honest))  # an honest run passes
    account._conn.send((account.token, "evaluate", reps[:1]))  # uncounted: admin only
    status, _, text = account._conn.recv()
    assert status == "error" and "refused" in text
