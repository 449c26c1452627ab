"""`archperf space enumerate|sample|validate` end to end (in-process)."""

from __future__ import annotations

import io
import json
import sys

import pytest

from archperf.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_enumerate_nb201(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(["space", "enumerate", "nb201"], capsys)
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 15625
    recs = [json.loads(x) for x in lines[:3]]
    assert all("text" in r and "canonical" in r for r in recs)


def test_enumerate_darts_refused(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["space", "enumerate", "darts"], capsys)
    assert rc == 2 and "too large" in err


@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_sample_is_seeded(space: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, a, _ = _run(["space", "sample", space, "-n", "4", "--seed", "7"], capsys)
    _, b, _ = _run(["space", "sample", space, "-n", "4", "--seed", "7"], capsys)
    _, c, _ = _run(["space", "sample", space, "-n", "4", "--seed", "8"], capsys)
    assert a == b and a != c and len(a.splitlines()) == 4


def test_validate_reports_rules(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"
    bad_op = good.replace("avg_pool_3x3", "conv_9x9")
    f = tmp_path / "cells.txt"
    f.write_text(f"{good}\n\n{bad_op}\n")
    rc, out, _ = _run(["space", "validate", "nb201", str(f)], capsys)
    lines = out.splitlines()
    assert rc == 1 and lines[0] == "ok"
    assert lines[1] == "" and lines[2].startswith("line 3: invalid: [unknown-op]")
    monkeypatch.setattr(sys, "stdin", io.StringIO(good + "\n"))
    rc, out, _ = _run(["space", "validate", "nb201", "-"], capsys)
    assert rc == 0 and out.strip() == "ok"


def test_validate_nb101_json(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = {
        "matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]],
        "ops": ["input", "conv3x3-bn-relu", "output"],
    }
    too_many = {
        "matrix": [[0] * 8 for _ in range(8)],
        "ops": ["input"] + ["maxpool3x3"] * 6 + ["output"],
    }
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps(ok) + "\n" + json.dumps(too_many) + "\n")
    rc, out, _ = _run(["space", "validate", "nb101", str(f)], capsys)
    lines = out.splitlines()
    assert rc == 1 and lines[0] == "ok" and "invalid: [" in lines[1]


def test_unknown_space_lists_available(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["space", "sample", "nb999"], capsys)
    assert rc == 2 and "nb201" in err and "darts" in err
