"""Search methods: exact budgets, no test data during search, determinism, method semantics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archperf import registry
from archperf.benchmarks.base import Oracle
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.errors import UsageError
from archperf.search.base import NotEnoughCellsError, SearchMethod, draw_new, new_unique
from archperf.search.evolution import RegularizedEvolution
from archperf.search.nacg import NACG, multi_round_nacg
from archperf.search.random import RandomSearch
from archperf.search.semigan import SemiGANNAD
from archperf.spaces.nb201 import NB201Space
from conftest import require_file

TINY_NACG: dict[str, Any] = {
    "trainer": {"epochs": 2, "unlabeled_batch_size": 32},
    "num_candidates": 64,
    "unlabeled_size": 500,
}


@pytest.fixture(scope="module")
def embedded() -> NB201Benchmark:
    """NB201 CIFAR-10 from the embedded source: validation only, no test data at all."""
    return NB201Benchmark("cifar10", data_dir="none")


@pytest.fixture(scope="module")
def nb201_csv(data_dir: Path) -> NB201Benchmark:
    require_file(data_dir, "nb201/nb201.csv")
    return NB201Benchmark("cifar10", data_dir=data_dir)


def _methods() -> Iterator[tuple[str, SearchMethod]]:
    yield "rs", RandomSearch()
    yield "re", RegularizedEvolution(population_size=10, sample_size=3)
    yield "nacg", NACG(**TINY_NACG)
    yield "nacg-mr", multi_round_nacg(rounds=2, finetune_epochs=1, **TINY_NACG)
    tiny = {"initial": 5, "top_k": 5, "finetune_epochs": 1, **TINY_NACG}
    yield "semigan-nad", SemiGANNAD(**tiny)
    yield "semigan-nad-generator", SemiGANNAD(candidates="generator", **tiny)
    yield "semigan-nad-pool", SemiGANNAD(candidates="pool", **tiny)


METHODS = dict(_methods())


def _trace(oracle: Oracle[Any]) -> list[tuple[int, float, bool]]:
    return [(r.record, r.value, r.charged) for r in oracle.history]


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("budget", [23, 40])
def test_budget_is_spent_exactly(embedded: NB201Benchmark, name: str, budget: int) -> None:
    oracle = embedded.oracle(budget=budget)
    out = METHODS[name].search(oracle, seed=1)
    assert oracle.num_queries == budget
    charged = [r for r in oracle.history if r.charged]
    assert len(charged) == budget
    assert len({r.record for r in charged}) == budget  # each record charged once
    assert out.value == max(r.value for r in oracle.history)
    assert oracle.records_of([out.best])[0] in {r.record for r in charged}


@pytest.mark.parametrize("name", list(METHODS))
def test_search_never_reads_test_data(
    nb201_csv: NB201Benchmark, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oracle is made first; afterwards every benchmark read path raises."""
    oracle = nb201_csv.oracle(budget=30)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a search method read the benchmark directly")

    for attr in ("report", "report_result", "lookup", "lookup_indices", "column", "query"):
        monkeypatch.setattr(nb201_csv, attr, forbidden)
    monkeypatch.setattr(type(nb201_csv), "_column_for", forbidden)
    METHODS[name].search(oracle, seed=0)
    assert oracle.num_queries == 30
    monkeypatch.undo()
    # every answer was the validation metric, never the test metric
    hist = oracle.history
    archs = [r.arch for r in hist]
    val = nb201_csv.lookup(archs, "val")
    test = nb201_csv.lookup(archs, "test")
    values = np.array([r.value for r in hist])
    np.testing.assert_array_equal(values, val)
    assert not np.array_equal(values, test)


def test_paper_protocol_searches_on_the_paper_metric(nb201_csv: NB201Benchmark) -> None:
    oracle = nb201_csv.oracle(budget=25, protocol="paper")
    RegularizedEvolution().search(oracle, seed=3)
    hist = oracle.history
    np.testing.assert_array_equal(
        [r.value for r in hist], nb201_csv.lookup([r.arch for r in hist], "test")
    )


@pytest.mark.parametrize("name", list(METHODS))
def test_same_seed_same_queries(embedded: NB201Benchmark, name: str) -> None:
    a, b, c = (embedded.oracle(budget=25) for _ in range(3))
    METHODS[name].search(a, seed=7)
    METHODS[name].search(b, seed=7)
    METHODS[name].search(c, seed=8)
    assert _trace(a) == _trace(b)
    assert _trace(a) != _trace(c)


def test_registry_creates_every_method() -> None:
    assert {"nacg", "nacg-mr", "rs", "re"} <= set(registry.names("search_method"))
    re = registry.create("search_method", "re", population_size=7, sample_size=2)
    assert isinstance(re, RegularizedEvolution) and re.config()["population_size"] == 7
    mr = registry.create("search_method", "nacg-mr")
    assert isinstance(mr, NACG) and mr.rounds == 5


def test_random_search_is_uniform_over_records(embedded: NB201Benchmark) -> None:
    """Distinct records, and the mean validation accuracy matches the space's mean."""
    oracle = embedded.oracle(budget=3000)
    RandomSearch(batch_size=500).search(oracle, seed=0)
    idx, values, charged = oracle.history_arrays()
    assert charged.all() and len(set(idx.tolist())) == 3000
    space_mean = float(np.nanmean(embedded.column("val")))
    assert abs(values.mean() - space_mean) < 1.0


def test_evolution_beats_random_search(embedded: NB201Benchmark) -> None:
    """Over 10 seeds at 100 queries, RE's final validation accuracy beats RS's on average."""
    re_vals, rs_vals = [], []
    for seed in range(10):
        re_vals.append(RegularizedEvolution().search(embedded.oracle(budget=100), seed).value)
        rs_vals.append(RandomSearch().search(embedded.oracle(budget=100), seed).value)
    assert np.mean(re_vals) > np.mean(rs_vals) + 0.2


def test_evolution_mutates_tournament_winners(embedded: NB201Benchmark) -> None:
    """After the initial population, every child is one edge away from an earlier query."""
    space = NB201Space()
    oracle = embedded.oracle(budget=60)
    RegularizedEvolution(population_size=10, sample_size=10).search(oracle, seed=2)
    hist = [r for r in oracle.history if r.charged]
    ops = [np.array(space.to_ops(r.arch)) for r in hist]
    for j in range(10, len(hist)):
        # sample_size == population_size: the parent is the best of the last 10 queries
        window = hist[j - 10 : j]
        parent = max(range(10), key=lambda i: (window[i].value, -i))
        assert int((ops[j] != ops[j - 10 + parent]).sum()) == 1


def test_evolution_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="sample_size"):
        RegularizedEvolution(population_size=5, sample_size=6)
    with pytest.raises(ValueError, match="population_size"):
        RegularizedEvolution(population_size=0)


def test_a_search_needs_a_budget(embedded: NB201Benchmark) -> None:
    with pytest.raises(ValueError, match="budget"):
        RandomSearch().search(embedded.oracle(), seed=0)


def test_draw_new_skips_queried_and_duplicate_records(embedded: NB201Benchmark) -> None:
    oracle = embedded.oracle(budget=50)
    first = draw_new(oracle, 10, np.random.default_rng(0))
    oracle.query(first)
    again = draw_new(oracle, 20, np.random.default_rng(0))
    recs = oracle.records_of(again)
    assert len(set(recs.tolist())) == 20
    assert not set(recs.tolist()) & set(oracle.records_of(first).tolist())
    # a sampler that can only give the 10 queried cells cannot supply anything new
    with pytest.raises(NotEnoughCellsError, match="0 of 1"):
        draw_new(oracle, 1, np.random.default_rng(0), sampler=lambda n, rng: first)
    kept, kept_recs = new_unique(oracle, [*first, *again[:3], again[0]])
    assert kept == again[:3] and len(kept_recs) == 3
    records, known, queried = oracle.status([*first, *again])
    np.testing.assert_array_equal(records, oracle.records_of([*first, *again]))
    assert known.all() and queried.tolist() == [True] * 10 + [False] * 20
    taken = {int(recs[0])}
    assert new_unique(oracle, again[:2], taken)[0] == again[1:2] and len(taken) == 2


def test_nacg_queries_labeled_then_top_k(embedded: NB201Benchmark) -> None:
    oracle = embedded.oracle(budget=40)
    out = NACG(top_k=4, **TINY_NACG).search(oracle, seed=0)
    info = out.info
    assert info["num_labeled"] == 36 and len(info["rounds"]) == 1
    rnd = info["rounds"][0]
    assert rnd["generated"] >= 64 and len(rnd["values"]) == 4
    hist = [r for r in oracle.history if r.charged]
    assert [r.value for r in hist[36:]] == rnd["values"]
    # the generated queries are new cells, predicted in descending order
    assert rnd["predicted"] == sorted(rnd["predicted"], reverse=True)
    assert rnd["new_answerable"] >= 4 - rnd["filled_from_pool"]


def test_multi_round_nacg_adds_rounds(embedded: NB201Benchmark) -> None:
    oracle = embedded.oracle(budget=30)
    out = multi_round_nacg(rounds=3, top_k=2, finetune_epochs=1, **TINY_NACG).search(oracle, 0)
    assert out.info["num_labeled"] == 24 and len(out.info["rounds"]) == 3
    assert oracle.num_queries == 30


def test_nacg_uniform_candidates_only_change_the_proposals(embedded: NB201Benchmark) -> None:
    """candidates="uniform" (the ablation of AG): the same labeled cells and the same budget,
    candidates drawn from the space, ranked by PP; the config names it, the default does not."""
    runs = {}
    for source in ("generator", "uniform"):
        oracle = embedded.oracle(budget=30)
        method = multi_round_nacg(
            rounds=2, top_k=3, finetune_epochs=1, candidates=source, **TINY_NACG
        )
        out = method.search(oracle, seed=1)
        assert oracle.num_queries == 30 and len(out.info["rounds"]) == 2
        runs[source] = ([r.record for r in oracle.history], method.config())
        said = {r.get("candidates") for r in out.info["rounds"]}
        assert said == ({"uniform"} if source == "uniform" else {None})
    gen, uni = runs["generator"], runs["uniform"]
    assert gen[0][:24] == uni[0][:24]  # the same random labeled cells
    assert gen[0][24:] != uni[0][24:]  # other proposals
    assert "candidates" not in gen[1] and uni[1]["candidates"] == "uniform"
    again = embedded.oracle(budget=30)
    multi_round_nacg(
        rounds=2, top_k=3, finetune_epochs=1, candidates="uniform", **TINY_NACG
    ).search(again, seed=1)
    assert [r.record for r in again.history] == uni[0]
    with pytest.raises(UsageError, match="candidates must be one of generator, uniform"):
        NACG(candidates="pool")


def test_nacg_arguments_are_checked(embedded: NB201Benchmark) -> None:
    with pytest.raises(ValueError, match=r"trainer\.seed"):
        NACG(trainer={"seed": 3})
    with pytest.raises(ValueError, match="top_k"):
        NACG(top_k=0)
    with pytest.raises(ValueError, match="rounds >= 2"):
        multi_round_nacg(rounds=1)
    with pytest.raises(UsageError, match=r"nacg needs a budget of at least 7 .*--budget.*top_k"):
        NACG(top_k=5).search(embedded.oracle(budget=6), seed=0)
    with pytest.raises(UsageError, match=r"at least 12 \(num_labeled=10 \+"):
        NACG(top_k=2, num_labeled=10).search(embedded.oracle(budget=11), seed=0)
    with pytest.raises(ValueError, match="no_such_field"):
        NACG(trainer={"no_such_field": 1})


@pytest.mark.parametrize("method", ["rs", "re"])
def test_nb101_subset_search_stays_inside_the_subset(data_dir: Path, method: str) -> None:
    from archperf.benchmarks.nb101 import NB101Benchmark

    require_file(data_dir, "nb101/nb101_subset.csv.gz")
    bench = NB101Benchmark(data_dir=data_dir)
    oracle = bench.oracle(budget=40)
    registry.create("search_method", method).search(oracle, seed=0)
    assert oracle.num_queries == 40
    assert not np.isnan(bench.lookup([r.arch for r in oracle.history], "val")).any()
