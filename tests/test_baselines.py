"""The literature's baselines (``ls``, ``bananas``, ``npenas``, ``npenas-space``) on every space:
exact budgets through the runner, determinism, validity, and each method's own rules.

Spaces without data here get a synthetic benchmark (a deterministic value per function, from a
hash of ``space.canonical``); predictor-guided searches use a tiny test-only ``arch_predictor``
registered through a test plugin, so these tests depend on no other predictor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.benchmarks.base import (
    GrowingRecordIndex,
    MetricSource,
    Oracle,
    RecordIndex,
)
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.errors import UnknownComponentError, UsageError
from archperf.experiments.runner import comparable, run_one
from archperf.experiments.spec import RunSpec
from archperf.hookspecs import hookimpl
from archperf.interfaces import ArchPredictor, Benchmark, SearchSpace
from archperf.predictors.mlp import MLPPredictor, graph_features
from archperf.search.guided import NPENAS, Bananas, npenas_space
from archperf.search.local import LocalSearch
from archperf.spaces.nb201 import NB201Space

BASELINES = ("ls", "bananas", "npenas", "npenas-space")
TINY: dict[str, dict[str, Any]] = {
    "ls": {"initial": 5},
    "bananas": {"initial": 5, "top_k": 5, "predictor": "toy", "ensemble": 3},
    "npenas": {"initial": 5, "top_k": 5, "predictor": "toy"},
    "npenas-space": {"initial": 5, "top_k": 5, "predictor": "toy"},
}


# ----------------------------------------------------------------- test-only components
class ToyPredictor(ArchPredictor[Any]):
    """Ridge regression on the graph features plus a seed-dependent jitter (so ensemble
    members differ): fast, deterministic, needs no other branch's predictor."""

    name = "toy"

    def __init__(self, space: SearchSpace[Any], seed: int = 0, alpha: float = 1.0) -> None:
        self.space, self.seed, self.alpha = space, int(seed), float(alpha)
        self.w: np.ndarray | None = None

    def fit(self, archs: Sequence[Any], y: Sequence[float] | np.ndarray) -> ToyPredictor:
        x = graph_features(self.space, archs).astype(np.float64)
        x = np.hstack([x, np.ones((len(x), 1))])
        yy = np.asarray(y, dtype=np.float64)
        self.w = np.linalg.solve(x.T @ x + self.alpha * np.eye(x.shape[1]), x.T @ yy)
        self.w += np.random.default_rng(self.seed).normal(0, 0.01, self.w.shape)
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        assert self.w is not None, "predict before fit"
        x = graph_features(self.space, archs).astype(np.float64)
        return np.hstack([x, np.ones((len(x), 1))]) @ self.w

    def save(self, path: str | Path) -> None:  # pragma: no cover - not used
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path) -> ToyPredictor:  # pragma: no cover - not used
        raise NotImplementedError


class _HashMetric(MetricSource):
    """A value in [50, 100) per function: a hash of the record key (``space.canonical``)."""

    def __init__(self, records: RecordIndex[Any]) -> None:
        self.records = records

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        return np.array([_hash_value(str(self.records.key_at(int(i)))) for i in indices])


def _hash_value(key: str) -> float:
    return 50.0 + int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32 * 50.0


class SyntheticBenchmark(Benchmark[Any]):
    """Any space, every valid arch answerable; records by function (``space.canonical``)."""

    def __init__(self, space_name: str, dataset: str = "synthetic", **_: Any) -> None:
        self.space = registry.create("search_space", space_name)
        self.name = f"synthetic-{space_name}"  # type: ignore[misc]
        self.dataset = dataset

    def describe(self, protocol: str | None = None) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "dataset": self.dataset,
            "protocol": protocol or "honest",
            "source": "synthetic (hash of the canonical form)",
            "search_metric": "hash",
            "report_metric": "hash",
        }

    def oracle(self, budget: int | None = None, protocol: str | None = None) -> Oracle[Any]:
        records = GrowingRecordIndex(self.space.canonical, key_name="canonical")
        info = self.describe(protocol)
        info.pop("report_metric")
        return Oracle(self.space, records, _HashMetric(records), info, budget)

    def query(self, archs: Sequence[Any]) -> np.ndarray:
        return np.array([_hash_value(self.space.canonical(a)) for a in archs])

    def report(self, archs: Sequence[Any]) -> np.ndarray:
        return self.query(archs)


class _TestPlugin:
    @hookimpl
    def archperf_arch_predictors(self) -> dict[str, Any]:
        return {"toy": ToyPredictor}

    @hookimpl
    def archperf_benchmarks(self) -> dict[str, Any]:
        return {
            f"synthetic-{name}": (lambda name=name, **kw: SyntheticBenchmark(name, **kw))
            for name in ("nb101", "darts", "nb201", "nbmacro")
        }


@pytest.fixture(autouse=True)
def test_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[registry.Registry]:
    """The default registry with the test plugin added, for this module only."""
    reg = registry.Registry()
    reg.register(_TestPlugin(), name="test-baselines")
    monkeypatch.setattr(registry, "_default", reg)
    yield reg


def _spaces() -> list[str]:
    names = ["nb201", "nb101", "darts"]
    if "nbmacro" in registry.Registry().names("search_space"):
        names.append("nbmacro")
    return names


SPACES = _spaces()
ENUMERABLE_SMALL = {"nb201", "nbmacro"}


def _method(name: str, **extra: Any) -> Any:
    return registry.create("search_method", name, **{**TINY[name], **extra})


def _cases() -> list[tuple[str, str]]:
    return [
        (m, s) for m in BASELINES for s in SPACES if m != "npenas-space" or s in ENUMERABLE_SMALL
    ]


# ------------------------------------------------------------------------------ contracts
@pytest.mark.parametrize(("method", "space"), _cases())
def test_budget_is_spent_exactly_through_the_runner(method: str, space: str) -> None:
    spec = RunSpec(
        method=method,
        method_kwargs=TINY[method],
        benchmark=f"synthetic-{space}",
        dataset="synthetic",
        budget=23,
        seed=1,
    )
    rec = run_one(spec)
    assert rec["num_queries"] == 23
    charged = [q for q in rec["queries"] if q["charged"]]
    assert len(charged) == 23 and len({q["arch"] for q in charged}) == 23
    assert rec["final"]["value"] == max(q["value"] for q in rec["queries"])
    again = run_one(spec)
    assert comparable(again) == comparable(rec)  # same seed, same record


@pytest.mark.parametrize(("method", "space"), _cases())
def test_valid_distinct_functions_and_seeded(method: str, space: str) -> None:
    bench = SyntheticBenchmark(space)
    a, b, c = (bench.oracle(budget=30) for _ in range(3))
    _method(method).search(a, seed=4)
    _method(method).search(b, seed=4)
    _method(method).search(c, seed=5)
    trace = [(r.record, r.value) for r in a.history]
    assert trace == [(r.record, r.value) for r in b.history]
    assert trace != [(r.record, r.value) for r in c.history]
    for r in a.history:
        bench.space.validate(r.arch)
    keys = [bench.space.canonical(r.arch) for r in a.history if r.charged]
    assert len(keys) == len(set(keys)) == 30  # never two cells of one function


@pytest.mark.parametrize("method", BASELINES)
def test_nb201_table_without_data(method: str) -> None:
    """On the real NB201 records (embedded validation values, no data folder needed), where
    equivalent cells are separate records: exact budget, no two queried cells equivalent."""
    bench = NB201Benchmark("cifar10", data_dir="none")
    oracle = bench.oracle(budget=40)
    out = _method(method).search(oracle, seed=0)
    charged = [r for r in oracle.history if r.charged]
    assert oracle.num_queries == 40 == len(charged)
    space = NB201Space()
    assert len({space.canonical(r.arch) for r in charged}) == 40
    assert out.value == max(r.value for r in oracle.history)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=st.integers(min_value=1, max_value=60),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    initial=st.integers(min_value=1, max_value=12),
)
def test_ls_spends_any_budget_exactly(budget: int, seed: int, initial: int) -> None:
    bench = SyntheticBenchmark("nb201")
    oracle = bench.oracle(budget=budget)
    out = LocalSearch(initial=initial).search(oracle, seed=seed)
    assert oracle.num_queries == budget
    best = max(r.value for r in oracle.history)
    assert out.value == best


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=st.integers(min_value=3, max_value=40),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    top_k=st.integers(min_value=1, max_value=9),
)
def test_guided_spends_any_budget_exactly(budget: int, seed: int, top_k: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        reg = registry.Registry()
        reg.register(_TestPlugin(), name="test-baselines")
        mp.setattr(registry, "_default", reg)
        oracle = SyntheticBenchmark("darts").oracle(budget=budget)
        method = Bananas(initial=2, top_k=top_k, predictor="toy", ensemble=2)
        out = method.search(oracle, seed=seed)
        assert oracle.num_queries == budget
        assert sum(len(r["values"]) for r in out.info["rounds"]) == budget - 2


# ------------------------------------------------------------------------ local search
def _one_edit(space: NB201Space, a: Any, b: Any) -> bool:
    return (
        sum(x != y for x, y in zip(space.to_op_indices(a), space.to_op_indices(b), strict=True))
        == 1
    )


def test_ls_walks_one_edit_neighbourhoods_and_counts_restarts() -> None:
    """After the initial cells, every queried cell is a one-edit neighbour of a cell queried
    before it, except one random cell per restart."""
    bench = NB201Benchmark("cifar10", data_dir="none")
    oracle = bench.oracle(budget=150)
    out = LocalSearch(initial=10).search(oracle, seed=3)
    space = NB201Space()
    cells = [r.arch for r in oracle.history if r.charged]
    jumps = sum(
        not any(_one_edit(space, c, p) for p in cells[:i]) for i, c in enumerate(cells) if i >= 10
    )
    assert jumps == out.info["restarts"]
    assert out.info["neighbourhood"] == "enumerated"
    assert out.info["moves"] >= 1


def test_ls_moves_only_uphill_and_restarts_at_a_local_optimum() -> None:
    """On a landscape with one optimum reachable by single edits (value = number of edges that
    hold nor_conv_3x3), LS climbs to the all-conv cell and queries nothing it does not need."""

    class Climb(MetricSource):
        def __init__(self, records: RecordIndex[Any]) -> None:
            self.records = records

        def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
            space = NB201Space()
            out = []
            for i in indices:
                ops = space.to_op_indices(self.records.arch_at(int(i)))
                out.append(float(sum(o == 3 for o in ops)))
            return np.array(out)

    space = NB201Space()
    records = GrowingRecordIndex(space.to_text)
    oracle = Oracle(space, records, Climb(records), {"benchmark": "climb"}, budget=140)
    out = LocalSearch(initial=1).search(oracle, seed=0)
    assert out.value == 6.0
    assert out.info["moves"] >= 1


def test_nb201_neighbours_are_the_24_one_edit_changes() -> None:
    space = NB201Space()
    cell = space.from_op_code("421211")
    nbrs = space.neighbours(cell)
    assert len(nbrs) == 24 == len({space.to_op_code(c) for c in nbrs})
    assert all(_one_edit(space, cell, c) for c in nbrs)


def test_nbmacro_neighbours_are_the_16_one_edit_changes() -> None:
    if "nbmacro" not in SPACES:
        pytest.skip("the archperf-nbmacro plugin is not installed")
    space = registry.create("search_space", "nbmacro")
    cell = space.from_text("01201221")
    nbrs = space.neighbours(cell)
    codes = {space.to_text(c) for c in nbrs}
    assert len(nbrs) == 16 == len(codes)
    assert all(sum(x != y for x, y in zip(code, "01201221", strict=True)) == 1 for code in codes)


@pytest.mark.parametrize("space", SPACES)
def test_first_improvement_ls_moves_at_the_first_better_neighbour(space: str) -> None:
    """Exact budget, the same queries for the same seed, and it moves."""
    bench = SyntheticBenchmark(space)
    a, b = bench.oracle(budget=40), bench.oracle(budget=40)
    out = LocalSearch(initial=3, improvement="first").search(a, seed=2)
    LocalSearch(initial=3, improvement="first").search(b, seed=2)
    assert a.num_queries == 40
    assert [r.record for r in a.history] == [r.record for r in b.history]
    assert out.info["moves"] >= 1
    assert LocalSearch(improvement="first").config()["improvement"] == "first"


def test_first_improvement_ls_on_a_climb() -> None:
    space = NB201Space()
    records = GrowingRecordIndex(space.to_text)

    class Climb(MetricSource):
        def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
            return np.array(
                [
                    float(sum(o == 3 for o in space.to_op_indices(records.arch_at(int(i)))))
                    for i in indices
                ]
            )

    def queries_to_optimum(improvement: str) -> int:
        oracle = Oracle(space, records, Climb(), {"benchmark": "climb"}, budget=140)
        LocalSearch(initial=1, improvement=improvement).search(oracle, seed=0)
        return [r.value for r in oracle.history].index(6.0) + 1

    # the same start (seed); moving at the first better neighbour needs fewer queries than
    # querying each whole neighbourhood first
    first, best = queries_to_optimum("first"), queries_to_optimum("best")
    assert first < best, (first, best)


def test_ls_samples_neighbours_where_a_space_lists_none() -> None:
    out = LocalSearch(initial=3, patience=10).search(
        SyntheticBenchmark("darts").oracle(budget=40), seed=0
    )
    assert out.info["neighbourhood"] == "sampled"


# ------------------------------------------------------------------ predictor-guided
def test_guided_rounds_are_recorded() -> None:
    out = _method("bananas").search(SyntheticBenchmark("nb201").oracle(budget=23), seed=0)
    rounds = out.info["rounds"]
    assert [len(r["values"]) for r in rounds] == [5, 5, 5, 3]
    assert all(r["proposed"] + r["filled_random"] == len(r["values"]) for r in rounds)
    assert [r["drawn"] for r in rounds] == [5 * 10, 10 * 10, 10 * 10, 10 * 10]  # parents: top 10


def test_npenas_space_ranks_the_whole_space() -> None:
    out = _method("npenas-space").search(SyntheticBenchmark("nb201").oracle(budget=15), seed=0)
    assert [r["drawn"] for r in out.info["rounds"]] == [15_625, 15_625]
    assert isinstance(npenas_space(predictor="toy"), NPENAS)


def test_guided_ranking_beats_random_on_a_learnable_landscape() -> None:
    """With a predictor that can learn the landscape, npenas-space's first pick after its
    random cells is the optimum of a linear NB201 landscape (number of conv-3x3 edges)."""

    class Linear(MetricSource):
        def __init__(self, records: RecordIndex[Any]) -> None:
            self.records = records

        def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
            space = NB201Space()
            return np.array(
                [
                    float(sum(o == 3 for o in space.to_op_indices(self.records.arch_at(int(i)))))
                    for i in indices
                ]
            )

    space = NB201Space()
    records = GrowingRecordIndex(space.to_text)
    oracle = Oracle(space, records, Linear(records), {"benchmark": "linear"}, budget=41)
    out = npenas_space(initial=40, top_k=1, predictor="toy").search(oracle, seed=0)
    assert max(r.value for r in oracle.history[:40]) < 6.0  # random cells: not the optimum
    assert out.info["rounds"][0]["values"] == [6.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"acquisition": "ei"}, "acquisition must be one of its, ucb, mean"),
        ({"ensemble": 0}, "ensemble must be an integer >= 1"),
        ({"initial": 1}, "initial must be an integer >= 2"),
        ({"predictor_settings": {"seed": 3}}, "predictor_settings.seed is set by the search"),
        ({"predictor_settings": [1]}, "predictor_settings must be a table"),
        ({"ucb_beta": -1}, "ucb_beta must be a number >= 0"),
    ],
)
def test_guided_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Bananas(**{"predictor": "toy", **kwargs})


def test_unknown_predictor_names_the_registered_ones() -> None:
    with pytest.raises(UnknownComponentError, match=r"available: .*feedforward.*toy"):
        Bananas(predictor="nope")


def test_bad_predictor_setting_costs_no_query() -> None:
    oracle = SyntheticBenchmark("nb201").oracle(budget=20)
    with pytest.raises(UsageError, match="does not take these predictor_settings"):
        Bananas(predictor="toy", predictor_settings={"depth": 3}).search(oracle, seed=0)
    assert oracle.num_queries == 0


@pytest.mark.parametrize("space", ["darts", "nb101"])
def test_npenas_space_needs_a_small_enumerable_space(space: str) -> None:
    oracle = SyntheticBenchmark(space).oracle(budget=20)
    match = "needs an enumerable space" if space == "darts" else "max_space"
    with pytest.raises(UsageError, match=match):
        npenas_space(predictor="toy").search(oracle, seed=0)
    assert oracle.num_queries == 0


def test_ls_arguments_are_checked() -> None:
    with pytest.raises(UsageError, match="patience must be an integer >= 1"):
        LocalSearch(patience=0)
    with pytest.raises(UsageError, match="improvement must be 'best' or 'first'"):
        LocalSearch(improvement="steepest")
    with pytest.raises(UsageError, match=r"do not fit NB201Space\.mutate"):
        LocalSearch(mutation_kwargs={"bogus": 1}).search(
            SyntheticBenchmark("nb201").oracle(budget=5), seed=0
        )


def test_registered_as_builtins() -> None:
    entries = {e.name: e for e in registry.Registry().entries("search_method")}
    for name in BASELINES:
        assert entries[name].plugin == "archperf.builtin"
    assert "feedforward" in registry.Registry().names("arch_predictor")


# ------------------------------------------------------------------------ the mlp model
@pytest.mark.parametrize("space_name", SPACES)
def test_mlp_fits_predicts_saves_and_loads(space_name: str, tmp_path: Path) -> None:
    space = registry.create("search_space", space_name)
    archs = space.sample(24, 0)
    y = np.array([_hash_value(space.canonical(a)) for a in archs])
    model = MLPPredictor(space, seed=3, layers=2, width=8, epochs=5)
    pred = model.fit(archs, y).predict(archs)
    assert pred.dtype == np.float64 and pred.shape == (24,)
    again = MLPPredictor(space, seed=3, layers=2, width=8, epochs=5).fit(archs, y).predict(archs)
    np.testing.assert_array_equal(pred, again)  # same seed, same model
    model.save(tmp_path / "m")
    loaded = MLPPredictor.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(archs), pred, rtol=0, atol=1e-9)
    assert loaded.to_config() == model.to_config()


def test_mlp_learns_a_simple_target() -> None:
    space = NB201Space()
    cells = list(space.enumerate())[::50]
    y = np.array([float(sum(o == 3 for o in space.to_op_indices(c))) for c in cells])
    model = MLPPredictor(space, seed=0, features="graph", epochs=100).fit(cells[:200], y[:200])
    err = np.abs(model.predict(cells[200:]) - y[200:]).mean()
    assert err < 0.5, err


def test_mlp_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    space = NB201Space()
    with pytest.raises(UsageError, match="features 'zzz' is not offered"):
        MLPPredictor(space, features="zzz")
    with pytest.raises(UsageError, match="loss must be one of"):
        MLPPredictor(space, loss="huber")
    with pytest.raises(UsageError, match="predict before fit"):
        MLPPredictor(space).predict(space.sample(2, 0))
    with pytest.raises(UsageError, match="targets of shape"):
        MLPPredictor(space).fit(space.sample(3, 0), [1.0, 2.0])
    with pytest.raises(UsageError, match="cannot read"):
        MLPPredictor.load(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"format": "other"}')
    with pytest.raises(UsageError, match="is not an archperf mlp model"):
        MLPPredictor.load(tmp_path / "bad")


def test_anytime_plot_takes_the_new_methods(tmp_path: Path) -> None:
    """`archperf plot`'s curves and figure from real run records of every baseline beside RS
    and RE: one curve per method, ending at each run's final value."""
    pytest.importorskip("matplotlib")
    from archperf.experiments.anytime import anytime_curves, plot_anytime

    recs = []
    for method in (*BASELINES, "rs", "re"):
        for seed in (0, 1):
            spec = RunSpec(
                method=method,
                method_kwargs=TINY.get(method, {}),
                benchmark="synthetic-nb201",
                dataset="synthetic",
                budget=20,
                seed=seed,
            )
            recs.append(run_one(spec))
    curves = anytime_curves(recs)
    assert sorted(c.label for c in curves) == sorted((*BASELINES, "rs", "re"))
    assert all(c.runs.shape == (2, 20) for c in curves)
    for c in curves:  # the curve ends at each run's final value
        finals = [r["final"]["value"] for r in recs if r["spec"]["label"] == c.label]
        np.testing.assert_allclose(c.runs[:, -1], finals)
    out = plot_anytime(curves, tmp_path / "anytime.png")
    assert out.read_bytes().startswith(b"\x89PNG")


REAL = {
    "nb201": "nb201/nb201.csv",
    "nb101": "nb101/nb101_subset.csv.gz",
    "nb301": "nb301/yahpo_nb301_surrogate.onnx",
    "nbmacro": "nbmacro/nas-bench-macro_cifar10.json",
}


@pytest.mark.parametrize("bench_name", list(REAL))
def test_on_the_real_benchmarks(bench_name: str) -> None:
    """Every baseline through the runner on the real data (skipped without it): the exact
    budget, every queried cell valid, no two of one function, and a reported value where the
    benchmark has one."""
    from conftest import require_data_file

    require_data_file(REAL[bench_name])
    if bench_name not in registry.Registry().names("benchmark"):
        pytest.skip(f"{bench_name} is not registered (its plugin is not installed)")
    for method in BASELINES:
        if method == "npenas-space" and bench_name in ("nb101", "nb301"):
            continue
        spec = RunSpec(
            method=method,
            method_kwargs=TINY[method],
            benchmark=bench_name,
            dataset="cifar10",
            budget=20,
            seed=0,
        )
        rec = run_one(spec)
        assert rec["num_queries"] == 20
        space = registry.create("search_space", "darts" if bench_name == "nb301" else bench_name)
        archs = [space.from_text(q["arch"]) for q in rec["queries"] if q["charged"]]
        assert len(archs) == 20
        assert len({space.canonical(a) for a in archs}) == 20
        if bench_name != "nb101":
            assert rec["final"]["reported"] is not None
