"""CLI smoke tests: ``archperf search``, ``run``, ``table`` and ``reproduce`` with tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archperf.cli import main
from archperf.experiments.runner import resolve_spec
from archperf.experiments.spec import RunSpec
from conftest import require_file


def test_search_prints_the_result_and_writes_a_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec.json"
    argv = ["search", "--method", "re", "--benchmark", "nb201", "--budget", "12", "--seed", "3"]
    rc = main([*argv, "--set", "population_size=5", "--no-progress", "-o", str(out), "--no-save"])
    text = capsys.readouterr().out
    assert rc == 0
    rec = json.loads(out.read_text())
    spec = RunSpec("re", "nb201", "cifar10", 12, 3, "honest", {"population_size": 5})
    assert rec["spec"] == resolve_spec(spec).to_dict() and rec["key"] == resolve_spec(spec).key()
    assert rec["spec"]["data"]["sha256"] == rec["data"]["sha256"] is not None
    assert rec["method_config"]["population_size"] == 5
    assert f"found:        {rec['final']['arch']}" in text
    assert "queries:      12 of budget 12" in text
    assert f"data source:  {rec['data_source']}" in text
    if rec["final"]["reported"] is None:
        assert "reported:     none (" in text
    else:
        assert f"reported:     {rec['final']['reported']:.4f} (cifar10_test)" in text


def test_semigan_nad_search_prints_rounds(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["search", "--method", "semigan-nad", "--benchmark", "nb201", "--budget", "16"]
    sets = ['candidates="uniform"', "top_k=3", "initial=4", "trainer.epochs=2"]
    sets_argv = [x for v in sets for x in ("--set", v)]
    rc = main([*argv, "--seed", "1", "--no-progress", "--no-save", *sets_argv])
    text = capsys.readouterr().out
    assert rc == 0
    assert "queries:      16 of budget 16" in text
    assert "round 1:     2000 uniform candidates + 80 mutants (3 picked, 0 filled)" in text
    assert "round 4:" in text
    assert "reported:     " in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "population_size"], "expected key=value"),
        (
            ["--set", "no_such_arg=1"],
            "has no hyper-parameter no_such_arg; it takes: population_size",
        ),
        (["--protocol", "honest", "--seed", "-1"], "seed"),
    ],
)
def test_search_reports_bad_options(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--method", "re", "--benchmark", "nb201", "--budget", "5", "--no-progress"]
    assert main([*argv, "--no-save", *extra]) == 2
    assert message in capsys.readouterr().err


def test_run_sweeps_resumes_and_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    argv = [
        "run", "--methods", "rs,re", "--benchmark", "nb201", "--dataset", "cifar100",
        "--budget", "10", "--seeds", "0-1", "--out", str(out), "--workers", "1",
        "--set", "re:population_size=6", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "4 run(s) done, 0 already" in captured.err
    assert "| nb201 | cifar100 | honest | re | 10 | 2 |" in captured.out
    files = sorted(out.glob("*.json"))
    assert len(files) == 4
    specs = [RunSpec.from_dict(json.loads(f.read_text())["spec"]) for f in files]
    assert {s.method: s.method_kwargs for s in specs} == {"rs": {}, "re": {"population_size": 6}}

    assert main(argv) == 0  # resumed: nothing runs again
    assert "0 run(s) done, 4 already" in capsys.readouterr().err

    assert main(["table", str(out)]) == 0
    md = capsys.readouterr().out
    assert md.startswith("| Benchmark |") and md.count("| nb201 | cifar100 |") == 2
    csv_file = tmp_path / "t.csv"
    assert main(["table", str(out), "--format", "csv", "-o", str(csv_file)]) == 0
    lines = csv_file.read_text().splitlines()
    assert lines[0].startswith("benchmark,dataset,protocol,label") and len(lines) == 3
    assert main(["table", str(out), "--format", "runs", "-o", str(csv_file)]) == 0
    lines = csv_file.read_text().splitlines()  # one line per run, the records' own keys
    assert lines[0].startswith("key,benchmark,dataset") and len(lines) == 5
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(f.stem for f in files)


def test_run_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["run", "--benchmark", "nb201", "--budget", "5", "--out", str(tmp_path)]
    assert main([*base, "--methods", "rs,rs"]) == 2
    assert "distinct" in capsys.readouterr().err
    assert main([*base, "--methods", "rs", "--ray-address", "x:1"]) == 2
    assert "--executor ray" in capsys.readouterr().err
    assert main([*base, "--methods", "rs", "--seeds", "3-1"]) == 2
    assert "seed" in capsys.readouterr().err
    assert main(["table", str(tmp_path / "empty")]) == 2
    assert "no such record" in capsys.readouterr().err


def test_run_exit_status_reports_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "run", "--methods", "rs", "--benchmark", "nb201", "--budget", "5", "--seeds", "0",
        "--out", str(tmp_path), "--workers", "1", "--no-progress",
    ]  # fmt: skip
    key = resolve_spec(RunSpec("rs", "nb201", "cifar10", 5, 0)).key()
    (tmp_path / f"{key}.json").write_text("[]")  # a broken record file: refused, named
    assert main(argv) == 2
    assert f"{key}.json: not a run record" in capsys.readouterr().err


def test_reproduce_writes_tables(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_file(data_dir, "nb201/nb201.csv")
    argv = [
        "reproduce", "table2", "--out", str(tmp_path), "--seeds", "1", "--only", "rs",
        "--workers", "1", "--no-progress", "--data-dir", str(data_dir),
    ]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    md = (tmp_path / "table2.md").read_text()
    assert captured.out == md
    assert "12 run(s) done" in captured.err  # 3 datasets x 2 protocols x rs@160, rs@400
    assert len(list(tmp_path.glob("*.json"))) == 12
    assert "nb201/nb201.csv" in md and "protocols honest, paper" in md
    for ds in ("cifar10", "cifar100", "imagenet16-120"):
        for proto in ("honest", "paper"):
            for budget in (160, 400):
                assert f"| nb201 | {ds} | {proto} | rs | {budget} | 1 |" in md
    csv_text = (tmp_path / "table2.csv").read_text()
    assert csv_text.startswith("# Table 2: NAS-Bench-201")
    assert main(argv) == 0  # resumed
    assert "0 run(s) done, 12 already there" in capsys.readouterr().err
