"""What NASLib and NNI users expect: method aliases, log levels, config files, resuming a search.

The CLI tests run the real ``archperf`` command in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.paths import CACHE_ENV
from conftest import default_sigint

CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def archperf(
    *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archperf", *argv],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )


# ----------------------------------------------------------------------------- aliases
def test_aliases_in_python() -> None:
    assert registry.canonical_name("search_method", "random") == "rs"
    assert registry.canonical_name("search_method", "evolution") == "re"
    assert registry.canonical_name("search_method", "nacg") == "nacg"
    assert type(registry.create("search_method", "random")).__name__ == "RandomSearch"
    assert type(registry.create("search_method", "evolution")).__name__ == "RegularizedEvolution"
    reg = registry.Registry(load_entry_points=False)

    class Shadow:
        @staticmethod
        def archperf_search_methods() -> dict[str, str]:
            return {"random": "archperf.search.evolution:RegularizedEvolution"}

    from archperf.hookspecs import hookimpl

    hookimpl(Shadow.archperf_search_methods)
    reg.register(Shadow(), name="shadow")
    assert reg.canonical_name("search_method", "random") == "random"  # a real name wins
    assert "random" not in reg.aliases("search_method")


def test_aliases_on_the_command_line(tmp_path: Path) -> None:
    plugins = archperf("plugins", "--kind", "search_method")
    assert plugins.returncode == 0
    rows = {tuple(r.split()) for r in plugins.stdout.splitlines()}
    assert ("search_method", "random", "(alias)", "=", "rs") in rows
    assert ("search_method", "evolution", "(alias)", "=", "re") in rows
    out = tmp_path / "rec.json"
    argv = ["search", "--method", "evolution", "--benchmark", "nb201", "--budget", "6"]
    proc = archperf(
        *argv,
        "--set",
        "population_size=4",
        "--set",
        "sample_size=2",
        "--no-progress",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    assert rec["spec"]["method"] == "re" and rec["spec"]["label"] == "re"
    assert rec["method_config"]["population_size"] == 4


# --------------------------------------------------------------------------- log levels
def test_quiet_and_verbose(tmp_path: Path) -> None:
    cells = tmp_path / "cells.txt"
    cells.write_text(CELL + "\n")
    normal = archperf("query", "nb201", str(cells))
    assert normal.returncode == 0 and "archperf: query nb201" in normal.stderr
    quiet = archperf("query", "nb201", str(cells), "-q")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == normal.stdout
    assert archperf("-q", "query", "nb201", str(cells)).stderr == ""
    argv = ["search", "--method", "rs", "--benchmark", "nb201", "--budget", "5"]
    loud = archperf(*argv, "-v")
    assert loud.returncode == 0 and "DEBUG archperf.experiments.runner: run nb201" in loud.stderr
    silent = archperf(*argv, "-q")
    assert silent.returncode == 0 and silent.stderr == "", silent.stderr  # no progress bar
    assert "found:" in silent.stdout


@pytest.fixture
def private_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, CACHE_ENV: str(tmp_path / "cache")}


# -------------------------------------------------------------------------- config files
def _toml(value: object) -> str:
    """A TOML value (inline tables for dicts) for the types the strategies below make."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def write_config(path: Path, settings: dict[str, object]) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(settings))
    else:
        path.write_text("".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in settings.items()))
    return path


KEY = st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True)
SCALAR = st.one_of(
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=8),
)
VALUE = st.recursive(
    SCALAR, lambda inner: st.dictionaries(KEY, inner, max_size=3), max_leaves=6
) | st.lists(st.integers(0, 9), max_size=3)
SEARCH_SETTINGS = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["rs", "re", "nacg", "random"]),
        "benchmark": st.sampled_from(["nb201", "nb101", "nb301"]),
        "budget": st.integers(1, 10**6),
    },
    optional={
        "dataset": st.sampled_from(["cifar10", "cifar100"]),
        "protocol": st.sampled_from(["honest", "paper"]),
        "seed": st.integers(0, 10**6),
        "label": KEY,
        "data-dir": st.sampled_from(["none", "/data/x"]),
        "no-progress": st.booleans(),
        "threads": st.integers(1, 8),
        "set": st.dictionaries(KEY, VALUE, max_size=4),
    },
)


def _flags(settings: dict[str, object]) -> list[str]:
    argv = ["search"]
    for key, value in settings.items():
        if key == "set":
            assert isinstance(value, dict)
            for k, v in value.items():
                argv += ["--set", f"{k}={json.dumps(v)}"]
        elif isinstance(value, bool):
            argv += [f"--{key}"] if value else []
        else:
            argv += [f"--{key}", str(value)]
    return argv


def _comparable(args: object) -> dict[str, object]:
    from archperf.experiments.spec import parse_sets

    out = {k: v for k, v in vars(args).items() if k not in ("config", "set", "func")}
    out["set"] = parse_sets(vars(args)["set"])
    return out


@settings(max_examples=60, deadline=None)
@given(SEARCH_SETTINGS, st.sampled_from([".toml", ".json"]))
def test_config_file_equals_flags(settings_: dict[str, object], suffix: str) -> None:
    from archperf.cli import parse_args

    with tempfile.TemporaryDirectory() as tmp:
        path = write_config(Path(tmp) / f"c{suffix}", settings_)
        from_file = parse_args(["search", "--config", str(path)])
    from_flags = parse_args(_flags(settings_))
    assert _comparable(from_file) == _comparable(from_flags)


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    from archperf.cli import parse_args

    path = write_config(
        tmp_path / "c.toml",
        {"method": "re", "benchmark": "nb201", "budget": 50, "set": {"population_size": 10}},
    )
    args = parse_args(
        ["search", "--config", str(path), "--budget", "7", "--set", "population_size=4"]
    )
    assert args.budget == 7 and args.method == "re" and args.set == ["population_size=4"]
    args = parse_args(["search", "--budget", "7", "--config", str(path), "--set", "sample_size=2"])
    assert args.set == ["population_size=10", "sample_size=2"]


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"method": "rs", "bugdet": 5}, "unknown key 'bugdet'"),
        ({"method": "rs", "budget": "many"}, "budget must be an integer"),
        ({"method": "rs", "protocol": "fast"}, "protocol must be one of honest, paper"),
        ({"method": "rs", "no-progress": "yes"}, "no-progress must be true or false"),
        ({"method": "rs", "budget": 5, "set": 3}, "set must be a table"),
        ({"method": "rs", "seed": [1, 2]}, "seed must be a single value"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, settings_: dict[str, object], message: str) -> None:
    path = write_config(tmp_path / "c.toml", {"benchmark": "nb201", **settings_})
    proc = archperf("search", "--config", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("archperf search: error: config file") and message in line, line


def test_config_formats_agree(tmp_path: Path) -> None:
    from archperf.cli import parse_args

    settings_ = {"method": "re", "benchmark": "nb201", "budget": 9, "set": {"trainer": {"a": 1}}}
    parsed = [
        _comparable(parse_args(["search", "--config", str(write_config(tmp_path / f, settings_))]))
        for f in ("c.toml", "c.json")
    ]
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: YAML configs need it")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(settings_))
    parsed.append(_comparable(parse_args(["search", "--config", str(tmp_path / "c.yaml")])))
    assert parsed[0] == parsed[1] == parsed[2]


def test_search_and_run_read_a_config(tmp_path: Path, private_env: dict[str, str]) -> None:
    search_cfg = write_config(
        tmp_path / "search.toml",
        {
            "method": "evolution",
            "benchmark": "nb201",
            "budget": 8,
            "seed": 3,
            "no-progress": True,
            "set": {"population_size": 4, "sample_size": 2},
        },
    )
    out = tmp_path / "rec.json"
    proc = archperf("search", "--config", str(search_cfg), "-o", str(out), env=private_env)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads(out.read_text())["spec"]
    assert (spec["method"], spec["budget"], spec["seed"]) == ("re", 8, 3)
    assert spec["method_kwargs"] == {"population_size": 4, "sample_size": 2}

    run_cfg = write_config(
        tmp_path / "run.json",
        {
            "methods": ["rs", "evolution"],
            "benchmark": "nb201",
            "budget": 6,
            "seeds": [0, 2],
            "out": str(tmp_path / "runs"),
            "workers": 1,
            "no-progress": True,
            "set": {"evolution:population_size": 3, "re:sample_size": 2},
        },
    )
    proc = archperf("run", "--config", str(run_cfg), env=private_env)
    assert proc.returncode == 0, proc.stderr
    specs = [json.loads(p.read_text())["spec"] for p in (tmp_path / "runs").glob("*.json")]
    assert sorted((s["method"], s["seed"]) for s in specs) == [
        ("re", 0), ("re", 2), ("rs", 0), ("rs", 2)
    ]  # fmt: skip
    assert {json.dumps(s["method_kwargs"]) for s in specs if s["method"] == "re"} == {
        json.dumps({"population_size": 3, "sample_size": 2})
    }


# ---------------------------------------------------------------------- resuming a search
def test_journal_replays_instead_of_asking_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archperf.benchmarks import base
    from archperf.experiments.runner import comparable, run_one
    from archperf.experiments.spec import RunSpec

    spec = RunSpec("re", "nb201", "cifar10", 60, 4, method_kwargs={"population_size": 10})
    fresh = run_one(spec)
    journal = tmp_path / "q.jsonl"
    full = run_one(spec, journal=journal)
    assert comparable(full) == comparable(fresh)
    assert full["journal"] == {"path": str(journal), "resumed_from": 0, "replayed": 0, "asked": 60}
    lines = journal.read_text().splitlines(keepends=True)
    assert len(lines) == 61 and json.loads(lines[0])["key"] == fresh["key"]
    # an interruption after 25 answers, in the middle of writing the 26th line
    journal.write_text("".join(lines[:26]) + lines[26][:7])

    asked: list[int] = []
    real = base.ArrayMetric.values

    def spy(self: base.ArrayMetric, indices: Any, archs: Any) -> Any:
        asked.extend(int(i) for i in indices)
        return real(self, indices, archs)

    monkeypatch.setattr(base.ArrayMetric, "values", spy)
    resumed = run_one(spec, journal=journal)
    assert comparable(resumed) == comparable(fresh)  # same queries, same result, same budget
    assert resumed["journal"]["resumed_from"] == 25 and resumed["journal"]["replayed"] == 25
    assert resumed["journal"]["asked"] == 35 and len(set(asked)) == 35
    assert len(journal.read_text().splitlines()) == 61  # the cut line was dropped, then redone


def test_a_journal_of_another_run_is_refused(tmp_path: Path) -> None:
    from archperf.errors import DataMismatchError
    from archperf.experiments.runner import run_one
    from archperf.experiments.spec import RunSpec

    journal = tmp_path / "q.jsonl"
    run_one(RunSpec("rs", "nb201", "cifar10", 5, 0), journal=journal)
    with pytest.raises(DataMismatchError, match="belongs to run nb201-cifar10-honest-rs-b5-s0-"):
        run_one(RunSpec("rs", "nb201", "cifar10", 5, 1), journal=journal)
    other_data = RunSpec("rs", "nb201", "cifar10", 5, 0, benchmark_kwargs={"data_dir": "none"})
    with pytest.raises(DataMismatchError, match="another spec, or the same spec on other data"):
        run_one(other_data, journal=journal)
    proc = archperf(
        "search", "--method", "rs", "--benchmark", "nb201", "--budget", "5", "--seed", "2",
        "--journal", str(journal), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert "archperf search: error: query journal" in proc.stderr


def test_an_interrupted_search_resumes(tmp_path: Path, private_env: dict[str, str]) -> None:
    """Ctrl-C during NACG's training, then the same command again: the 25 labeled answers are
    replayed from the journal and the result equals an uninterrupted run's."""
    import signal
    import time

    argv = [sys.executable, "-m", "archperf", "search", "--method", "nacg", "--benchmark"]
    argv += ["nb201", "--budget", "30", "--seed", "1", "--no-progress"]
    for s in ("trainer.epochs=20", "unlabeled_size=300", "num_candidates=100"):
        argv += ["--set", s]
    journal = tmp_path / "q.jsonl"
    proc = subprocess.Popen(
        [*argv, "--journal", str(journal)],
        env=private_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 26:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # now NACG trains on its 25 labeled cells
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and "archperf search: interrupted" in err, err
    assert "found:" not in out and len(journal.read_text().splitlines()) == 26

    rec = tmp_path / "resumed.json"
    again = subprocess.run(
        [*argv, "--journal", str(journal), "-o", str(rec)],
        env=private_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    assert "25 answered queries in" in again.stderr and "replayed, not asked again" in again.stderr
    fresh = tmp_path / "fresh.json"
    ref = subprocess.run(
        [*argv, "--no-journal", "-o", str(fresh)],
        env=private_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ref.returncode == 0, ref.stderr
    from archperf.experiments.runner import comparable

    resumed, uninterrupted = (json.loads(p.read_text()) for p in (rec, fresh))
    assert resumed["journal"]["replayed"] == 25 and resumed["journal"]["asked"] == 5
    assert comparable(resumed) == comparable(uninterrupted)


def test_default_journal_is_removed_after_success(private_env: dict[str, str]) -> None:
    cache = Path(private_env[CACHE_ENV])
    proc = archperf(
        "search", "--method", "rs", "--benchmark", "nb201", "--budget", "5", env=private_env
    )
    assert proc.returncode == 0, proc.stderr
    assert (cache / "journals").is_dir() and not list((cache / "journals").iterdir())
