"""Every user error of the ``archperf`` command is one line on stderr and exit status 2.

The first tests run the real command in a subprocess; the sweep calls :func:`archperf.cli.main`
in-process (the same code path, faster) with one bad input each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archperf.cli import log_level, main
from archperf.errors import (
    ArchperfError,
    BudgetExhaustedError,
    DataFileError,
    InvalidCellError,
    NotEnoughCellsError,
    UnknownCellError,
    UnknownComponentError,
    UsageError,
)


def archperf(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archperf", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], command: str) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"archperf {command}: error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    return lines[0]


def test_budget_above_the_space_is_one_line() -> None:
    proc = archperf(
        "search", "--method", "re", "--benchmark", "nb201", "--budget", "20000", "--no-progress"
    )
    line = assert_one_line_error(proc, "search")
    assert "budget 20000 exceeds the 15625 cells of nb201" in line
    assert "--budget 15625 or less" in line


def test_nacg_budget_too_small_speaks_in_options() -> None:
    proc = archperf(
        "search", "--method", "nacg", "--benchmark", "nb201", "--budget", "5", "--no-progress"
    )
    line = assert_one_line_error(proc, "search")
    assert "nacg needs a budget of at least 7" in line
    assert "--budget" in line and "top_k" in line


def test_verbose_adds_the_traceback() -> None:
    proc = archperf("-v", "search", "--method", "rs", "--benchmark", "nb201", "--budget", "0")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert "archperf search: error: RunSpec.budget must be an integer >= 1" in proc.stderr


def test_every_user_error_derives_from_archperf_error() -> None:
    for cls in (
        BudgetExhaustedError,
        DataFileError,
        InvalidCellError,
        NotEnoughCellsError,
        UnknownCellError,
        UnknownComponentError,
        UsageError,
    ):
        assert issubclass(cls, ArchperfError)
    from archperf.nn.serialization import ComponentFormatError
    from archperf.search.base import NotEnoughCellsError as reexported

    assert issubclass(ComponentFormatError, ArchperfError) and reexported is NotEnoughCellsError


def test_log_levels() -> None:
    import logging

    assert log_level(0, 0) == logging.INFO
    assert log_level(1, 0) == logging.DEBUG
    assert log_level(0, 1) == logging.WARNING
    assert log_level(0, 2) == logging.ERROR
    assert log_level(0, 5) == logging.ERROR


SEARCH = ["search", "--benchmark", "nb201", "--budget", "10", "--no-progress"]


@pytest.fixture
def bad_text(tmp_path: Path) -> Path:
    p = tmp_path / "bad.txt"
    p.write_text("not a cell\n")
    return p


def _cases(tmp: Path, bad: Path) -> list[tuple[list[str], str]]:
    missing = str(tmp / "no" / "such" / "file")
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    return [
        ([*SEARCH, "--method", "nope"], "no search_method named 'nope'"),
        (["search", "--method", "rs", "--benchmark", "nope", "--budget", "5"], "no benchmark"),
        ([*SEARCH, "--method", "rs", "--dataset", "nope"], "unknown NB201 dataset 'nope'"),
        ([*SEARCH, "--method", "rs", "--seed", "-1"], "seed must be an integer >= 0"),
        ([*SEARCH, "--method", "rs", "--set", "foo=1"], "has no hyper-parameter foo"),
        ([*SEARCH, "--method", "nacg-mr", "--set", "foo=1"], "has no hyper-parameter foo"),
        ([*SEARCH, "--method", "rs", "--set", "batch_size=abc"], "batch_size must be an integer"),
        ([*SEARCH, "--method", "re", "--set", "mutation_kwargs=3"], "mutation_kwargs must be"),
        ([*SEARCH, "--method", "nacg", "--set", "trainer=3"], "trainer must be a table"),
        ([*SEARCH, "--method", "nacg-mr", "--set", "rounds=x"], "rounds must be an integer"),
        ([*SEARCH, "--method", "re", "--set", "sample_size=50"], "sample_size must be in"),
        (
            [*SEARCH, "--budget", "30", "--method", "re", "--set", 'mutation_kwargs={"bogus":1}'],
            "do not fit NB201Space.mutate, which takes: require_change",
        ),
        ([*SEARCH, "--method", "rs", "--source", missing], "does not exist"),
        ([*SEARCH, "--method", "rs", "--source", str(bad)], "unrecognised file format"),
        ([*SEARCH, "--method", "rs", "--data-dir", str(empty)], "has no nb201/nb201.csv"),
        (
            [
                "search",
                "--method",
                "rs",
                "--benchmark",
                "nb101",
                "--budget",
                "5",
                "--data-dir",
                str(empty),
            ],
            "no NB101 data under",
        ),
        (
            [
                "search",
                "--method",
                "rs",
                "--benchmark",
                "nb301",
                "--budget",
                "5",
                "--data-dir",
                str(empty),
            ],
            "surrogate file",
        ),
        (
            [
                "run",
                "--methods",
                "rs,rs",
                "--benchmark",
                "nb201",
                "--budget",
                "5",
                "--out",
                str(tmp / "o"),
            ],
            "give distinct method names",
        ),
        (
            [
                "run",
                "--methods",
                "rs",
                "--benchmark",
                "nb201",
                "--budget",
                "5",
                "--seeds",
                "x",
                "--out",
                str(tmp / "o"),
            ],
            "bad seed list",
        ),
        (["query", "nope", str(bad)], "no benchmark named 'nope'"),
        (["query", "nb201", missing], "No such file"),
        (["generate", "--space", "nope", "--untrained"], "no search_space named 'nope'"),
        (["generate", "--space", "nb201", "--model", missing], "component.json"),
        (["generate", "--space", "nb201", "--untrained", "--condition", "9"], "not a class id"),
        (["table", missing], "no such record file or folder"),
        (["table", str(bad)], "not a readable run record"),
        (["space", "enumerate", "darts"], "too large to enumerate"),
        (["space", "validate", "nb201", missing], "No such file"),
        (["analyze", "--space", "nb201", "--cells", missing, "--out", str(tmp / "a")], "No such"),
        (["reproduce", "table2", "--out", str(tmp / "r"), "--only", "nope"], "no method or label"),
        (["plugins", "--kind", "nope"], "unknown component kind"),
    ]


def test_bad_inputs_are_one_line_errors(
    tmp_path: Path, bad_text: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failures = []
    for argv, message in _cases(tmp_path, bad_text):
        rc = main(argv)
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ": error: " in ln]
        ok = rc == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err
        if not ok:
            failures.append(f"{argv}: rc={rc} stderr={err[-500:]!r}")
    assert not failures, "\n".join(failures)
