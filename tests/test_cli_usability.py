"""What NASLib and NNI users expect: method aliases, log levels, config files, resuming a search.

The CLI tests run the real ``archperf`` command in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archperf import registry
from archperf.paths import CACHE_ENV

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
