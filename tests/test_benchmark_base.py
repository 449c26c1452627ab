"""The query contract of ``archperf.benchmarks.base`` on a tiny *synthetic* table.

The numbers in this file are made up to exercise the accounting; they are not benchmark
results (real-data checks are in ``test_nb201_benchmark.py``).
"""

from __future__ import annotations

import gc
import types
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf.benchmarks.base import (
    ArrayMetric,
    GrowingRecordIndex,
    MetricSource,
    Oracle,
    TableRecordIndex,
    TabularBenchmark,
    check_protocol,
)
from archperf.cell import Cell
from archperf.errors import (
    BudgetExhaustedError,
    DataFileError,
    InvalidCellError,
    UnknownCellError,
)
from archperf.interfaces import SearchSpace

N = 20


class ToySpace(SearchSpace[str]):
    """Archs are strings ``c<k>`` for k in 0..99 (only 0..N-1 are in the toy table)."""

    name: ClassVar[str] = "toy"
    op_names = ("x",)
    max_nodes = 1

    def validate(self, arch: str) -> None:
        if not (isinstance(arch, str) and arch.startswith("c") and arch[1:].isdigit()):
            raise InvalidCellError("toy-format", f"expected c<digits>, got {arch!r}")
        if int(arch[1:]) >= 100:
            raise InvalidCellError("toy-range", f"{arch!r} is out of range")

    def canonical(self, arch: str) -> str:
        return self.to_text(arch)

    def to_text(self, arch: str) -> str:
        self.validate(arch)
        return arch

    def from_text(self, text: str) -> str:
        self.validate(text.strip())
        return text.strip()

    def to_graph(self, arch: str) -> Cell:
        return Cell([[0]], [0])

    def sample(self, n: int, seed: Any = None) -> list[str]:
        rng = np.random.default_rng(seed)
        return [f"c{int(k)}" for k in rng.integers(0, N, size=n)]

    def mutate(self, arch: str, seed: Any = None) -> str:
        return f"c{(int(arch[1:]) + 1) % N}"


class ToyBenchmark(TabularBenchmark[str]):
    name = "toy"

    def __init__(self, protocol: str = "honest", with_test: bool = True) -> None:
        space = ToySpace()
        val = np.arange(N, dtype=float)
        val[7] = np.nan  # a record without a search value: unknown
        test = 100.0 + np.arange(N)
        table = np.stack([val, test], axis=1)  # columns as views of one block (worst case)
        cols = {"val": table[:, 0], "test": table[:, 1]} if with_test else {"val": val}
        super().__init__(
            space=space,
            records=TableRecordIndex([f"c{k}" for k in range(N)], space.to_text, space.from_text),
            columns=cols,
            val_metric="val",
            test_metric="test" if with_test else None,
            paper_metric="test" if with_test else None,
            dataset="toy",
            source="synthetic",
            protocol=protocol,
            missing_test_hint="toy hint",
        )


KNOWN = [f"c{k}" for k in range(N) if k != 7]


def _reachable(root: object) -> Iterator[object]:
    """Every object reachable from ``root`` through instances, containers, closures, bound
    methods and numpy ``base`` chains (not through classes, modules or function globals)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        yield o
        if isinstance(o, type | types.ModuleType | types.CodeType | types.BuiltinFunctionType):
            continue
        if isinstance(o, types.FunctionType):
            stack.extend(c.cell_contents for c in (o.__closure__ or ()))
            continue
        if isinstance(o, types.MethodType):
            stack.append(o.__self__)
            continue
        if isinstance(o, np.ndarray):
            if o.base is not None:
                stack.append(o.base)
            continue
        stack.extend(gc.get_referents(o))


def assert_no_test_data(oracle: Oracle[Any], bench: TabularBenchmark[Any]) -> None:
    test = bench.column("test")
    for obj in _reachable(oracle):
        assert not isinstance(obj, TabularBenchmark), "oracle reaches the benchmark"
        if isinstance(obj, np.ndarray):
            assert not np.shares_memory(obj, test), "oracle shares memory with test data"
            if obj.shape == test.shape:
                assert not np.array_equal(obj, test, equal_nan=True), "oracle holds test data"
    assert not hasattr(oracle, "report")


def test_oracle_holds_no_test_data() -> None:
    bench = ToyBenchmark()
    oracle = bench.oracle(budget=5)
    oracle.query(["c1", "c2", "c1"])
    assert_no_test_data(oracle, bench)
    test_values = set(bench.column("test").tolist())  # toy: no val value equals a test value
    for obj in _reachable(oracle):
        if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
            assert not test_values & set(obj.ravel().tolist())
        if isinstance(obj, float):
            assert obj not in test_values
    with pytest.raises(AttributeError):
        oracle.extra = 1  # type: ignore[attr-defined]


def test_paper_protocol_switches_metric_and_says_so() -> None:
    honest = ToyBenchmark()
    paper = ToyBenchmark(protocol="paper")
    assert honest.oracle().query(["c3"])[0] == 3.0
    assert paper.oracle().query(["c3"])[0] == 103.0
    assert honest.oracle(protocol="paper").query(["c3"])[0] == 103.0
    d = paper.oracle().describe()
    assert d["protocol"] == "paper" and d["search_metric"] == "test"
    assert honest.oracle().describe()["protocol"] == "honest"
    assert honest.describe()["report_metric"] == "test"
    assert paper.report_result(["c3"]).describe()["protocol"] == "paper"


def test_repeats_are_free() -> None:
    o = ToyBenchmark().oracle(budget=2)
    v = o.query(["c1", "c1", "c2", "c1"])
    assert v.tolist() == [1.0, 1.0, 2.0, 1.0]
    assert o.num_queries == 2 and o.remaining == 0 and o.exhausted
    o.query(["c2", "c1"])  # still free at an exhausted budget
    assert o.num_queries == 2
    assert [r.charged for r in o.history] == [True, False, True, False, False, False]
    assert [r.arch for r in o.history][:3] == ["c1", "c1", "c2"]
    with pytest.raises(BudgetExhaustedError, match=r"budget 2 .* 2 used"):
        o.query(["c3"])


def test_batch_over_budget_is_rejected_whole() -> None:
    o = ToyBenchmark().oracle(budget=3)
    o.query(["c0"])
    assert o.cost(["c0", "c1", "c2", "c3"]) == 3
    with pytest.raises(BudgetExhaustedError, match="needs 3 new"):
        o.query(["c0", "c1", "c2", "c3"])
    assert o.num_queries == 1 and len(o.history) == 1
    o.query(["c1", "c2"])
    assert o.num_queries == 3


def test_unknown_not_charged_and_nan_in_lookup() -> None:
    bench = ToyBenchmark()
    o = bench.oracle(budget=10)
    for bad in (["c1", "c50"], ["c7"]):  # c50: no record; c7: record without a value
        with pytest.raises(UnknownCellError, match="nothing in this batch"):
            o.query(bad)
    assert o.num_queries == 0 and o.history == []
    vals = bench.lookup(["c1", "c50", "c7"])
    assert vals[0] == 1.0 and np.isnan(vals[1:]).all()
    with pytest.raises(UnknownCellError):
        bench.report(["c50"])
    with pytest.raises(InvalidCellError):
        o.query(["x1"])
    with pytest.raises(InvalidCellError):
        bench.lookup(["c100"])


def test_index_fast_path_and_history_arrays() -> None:
    o = ToyBenchmark().oracle()
    v = o.query_indices(np.array([3, 3, 4]))
    assert v.tolist() == [3.0, 3.0, 4.0] and o.num_queries == 2
    o.query(["c4", "c5"])
    idx, vals, charged = o.history_arrays()
    assert idx.tolist() == [3, 3, 4, 4, 5] and vals.tolist() == [3.0, 3.0, 4.0, 4.0, 5.0]
    assert charged.tolist() == [True, False, True, False, True]
    assert o.history[0].arch == "c3"  # archs recovered from keys for the index path
    assert o.best().arch == "c5"
    with pytest.raises(IndexError):
        o.query_indices([N])
    with pytest.raises(TypeError):
        o.query_indices([1.5])
    with pytest.raises(ValueError):
        o.query_indices([[1]])
    with pytest.raises(TypeError):
        o.query("c1")  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    bench = ToyBenchmark()
    with pytest.raises(ValueError, match="protocols are"):
        bench.oracle(protocol="cheat")
    with pytest.raises(ValueError):
        check_protocol("Honest")
    with pytest.raises(ValueError, match="budget"):
        bench.oracle(budget=-1)
    with pytest.raises(TypeError):
        bench.oracle(budget=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown metric"):
        bench.lookup(["c1"], "nope")
    no_test = ToyBenchmark(with_test=False)
    with pytest.raises(DataFileError, match="toy hint"):
        no_test.report(["c1"])
    with pytest.raises(DataFileError, match="toy hint"):
        no_test.oracle(protocol="paper")
    with pytest.raises(ValueError, match="unique"):
        TableRecordIndex(["a", "a"], str)


def test_same_queries_same_answers() -> None:
    bench = ToyBenchmark()
    a, b = bench.oracle(budget=8), bench.oracle(budget=8)
    archs = ToySpace().sample(30, seed=1)
    archs = [x for x in archs if x != "c7"]
    for o in (a, b):
        try:
            o.query(archs)
        except BudgetExhaustedError:
            o.query(archs[:3])
    assert a.history == b.history and a.num_queries == b.num_queries


batches = st.lists(st.lists(st.integers(0, N - 1), min_size=0, max_size=8), max_size=12)


@settings(max_examples=150, deadline=None)
@given(batches=batches, budget=st.integers(0, N), as_archs=st.booleans())
def test_budget_never_exceeded(batches: list[list[int]], budget: int, as_archs: bool) -> None:
    bench = ToyBenchmark()
    o = bench.oracle(budget=budget)
    accepted: set[int] = set()
    n_hist = 0
    for batch in batches:
        batch = [k for k in batch if k != 7]
        before = (o.num_queries, len(o.history))
        new = set(batch) - accepted
        try:
            out = o.query([f"c{k}" for k in batch]) if as_archs else o.query_indices(batch)
        except BudgetExhaustedError as exc:
            assert len(accepted) + len(new) > budget
            assert f"budget {budget}" in str(exc) and f"{len(accepted)} used" in str(exc)
            assert (o.num_queries, len(o.history)) == before  # rejected whole
            continue
        assert out.tolist() == [float(k) for k in batch]
        accepted |= new
        n_hist += len(batch)
        assert o.num_queries == len(accepted) <= budget
    idx, _, charged = o.history_arrays()
    assert len(idx) == n_hist and int(charged.sum()) == o.num_queries
    assert set(idx[charged].tolist()) == accepted


class FlakySquare(MetricSource):
    """A surrogate-like source computing values from archs; fails on request."""

    def __init__(self) -> None:
        self.fail = False

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        if self.fail:
            raise RuntimeError("surrogate failed")
        assert archs is not None
        return np.array([float(int(a[1:]) ** 2) for a in archs])


def test_growing_index_and_failed_evaluation_change_nothing() -> None:
    space = ToySpace()
    metric = FlakySquare()
    o: Oracle[str] = Oracle(space, GrowingRecordIndex(space.to_text), metric, {}, budget=3)
    assert o.query(["c50", "c3", "c50"]).tolist() == [2500.0, 9.0, 2500.0]
    assert o.num_queries == 2
    metric.fail = True
    with pytest.raises(RuntimeError):
        o.query(["c4"])
    assert o.num_queries == 2 and len(o.history) == 3
    metric.fail = False
    o.query(["c4"])
    with pytest.raises(BudgetExhaustedError):
        o.query(["c5"])
    assert o.num_queries == 3


def test_array_metric_owns_its_memory() -> None:
    block = np.arange(6.0).reshape(3, 2)
    m = ArrayMetric(block[:, 0])
    assert not np.shares_memory(m._values, block) and m._values.base is None
