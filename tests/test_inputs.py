"""Input limits (issue #13): every malformed input is one clear error naming what to fix."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from archperf.cell import Cell
from archperf.cli import main
from archperf.errors import DataFileError, InvalidCellError
from conftest import write_fake_nb201_csv


# ------------------------------------------------------------------------------- Cell values
@pytest.mark.parametrize(
    ("adj", "ops"),
    [
        ([[0, 0.9, 1], [0, 0, 1], [0, 0, 0]], [0, 1, 4]),  # 0.9 was truncated to 0: edge lost
        ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [0, 1.9, 4]),  # 1.9 was truncated to op 1
        ([[0, 1], [0, 0]], [0, float("nan")]),
        ([[0, "1"], [0, 0]], [0, 1]),
        ([[0, 2], [0, 0]], [0, 1]),
    ],
)
def test_cell_rejects_non_integer_or_non_binary(adj: object, ops: object) -> None:
    with pytest.raises(ValueError):
        Cell(adj, ops)  # type: ignore[arg-type]


def test_cell_accepts_whole_floats_and_bools() -> None:
    c = Cell(np.array([[0, 1.0], [0, 0]]), [0.0, 3])
    assert c == Cell([[False, True], [False, False]], [0, 3])


# ------------------------------------------------------------------------- DARTS nesting
@pytest.mark.parametrize(
    "inner", ["-" * 400 + "1", "[" * 400 + "]" * 400, "+".join(["1"] * 400), "a" + "[0]" * 400]
)
def test_darts_deep_nesting_is_an_invalid_line(
    inner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archperf.spaces.darts import DartsSpace

    darts = f"Genotype(normal={inner}, normal_concat=[2,3,4,5], reduce=[], reduce_concat=[2,3,4,5])"
    with pytest.raises(InvalidCellError, match="text-format"):
        DartsSpace().from_text(darts)
    good = DartsSpace().to_text(DartsSpace().sample(1, seed=0)[0])
    f = tmp_path / "deep.txt"
    f.write_text(f"{darts}\n({inner}, [])\n{good}\n")
    rc = main(["space", "validate", "darts", str(f)])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 1 and len(lines) == 3 and lines[2] == "ok"  # the file goes on
    assert all("invalid: [text-format]" in x for x in lines[:2])


# --------------------------------------------------------------------------------- query
@pytest.fixture(scope="module")
def fake_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_nb201_csv(tmp_path_factory.mktemp("nb201data"))


def _nb201_lines(n: int) -> list[str]:
    from archperf.spaces.nb201 import NB201Space

    space = NB201Space()
    return [space.to_text(c) for c in space.sample(n, seed=1)]


def test_query_streams_output(
    fake_csv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from archperf.cli import query_cmd

    cells = _nb201_lines(50)
    n_lines = 3 * query_cmd.CHUNK + 5
    consumed = {"n": 0}
    first_write_at: list[int] = []

    def lines(path: str):  # type: ignore[no-untyped-def]
        for i in range(n_lines):
            consumed["n"] = i + 1
            yield cells[i % len(cells)] + "\n"

    class Out(io.StringIO):
        def write(self, s: str) -> int:
            if not first_write_at:
                first_write_at.append(consumed["n"])
            return super().write(s)

    out = Out()
    monkeypatch.setattr(query_cmd, "read_lines", lines)
    monkeypatch.setattr(sys, "stdout", out)
    rc = main(["query", "nb201", "-q", "--source", str(fake_csv), "-"])
    assert rc == 0 and len(out.getvalue().splitlines()) == n_lines
    assert first_write_at and first_write_at[0] <= query_cmd.CHUNK  # not held until the end


def test_query_line_numbers_messages_and_blank_lines(
    fake_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _nb201_lines(2)
    f = tmp_path / "cells.txt"
    f.write_text(f"{good[0]}\n\n   \n|conv_9x9~0|+|x|\n{good[1]}\n")
    rc = main(["query", "nb201", "-q", "--source", str(fake_csv), str(f)])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 1 and len(lines) == 5  # output line N answers input line N
    assert lines[1] == lines[2] == ""
    assert lines[3].startswith("invalid: ") and ": line 4: " in lines[3]
    assert len(lines[3]) > len("invalid: node-count: line 4: ")  # the message is there
    assert float(lines[0]) > 0 and float(lines[4]) > 0


def test_validate_keeps_blank_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _nb201_lines(1)[0]
    f = tmp_path / "cells.txt"
    f.write_text(f"{good}\n\n{good}\n")
    assert main(["space", "validate", "nb201", str(f)]) == 0
    assert capsys.readouterr().out.splitlines() == ["ok", "", "ok"]


@pytest.mark.parametrize("cmd", ["query", "validate"])
def test_non_utf8_names_file_and_line(
    cmd: str, fake_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _nb201_lines(1)[0]
    f = tmp_path / "latin1.txt"
    f.write_bytes(good.encode() + b"\n" + b"caf\xe9\n")
    argv = (
        ["query", "nb201", "--source", str(fake_csv), str(f)]
        if cmd == "query"
        else ["space", "validate", "nb201", str(f)]
    )
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and str(f) in err and "line 2" in err and "UTF-8" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------ CSV accuracies
@pytest.mark.parametrize("bad", ["inf", "-5000", "1e308", "nan", "-inf"])
def test_nb201_csv_accuracy_out_of_range(bad: str, tmp_path: Path) -> None:
    from archperf.benchmarks import nb201 as nb

    path = write_fake_nb201_csv(tmp_path)
    lines = path.read_text().splitlines()
    fields = lines[7].split(",")
    fields[2] = bad  # cifar10_valid_val of record 6
    lines[7] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match=r"cifar10_valid_val.*row 6.*\[0, 100\]"):
        nb.read_csv(path)


@pytest.mark.parametrize("bad", ["inf", "-5000", "1e308"])
def test_nb101_subset_accuracy_out_of_range(bad: str, tmp_path: Path) -> None:
    from archperf.benchmarks.nb101 import load_subset_table

    p = tmp_path / "sub.csv"
    mat = '"[[0, 1], [0, 0]]"'
    p.write_text(
        "hash,matrix,ops,params,val_acc_108,mean_val_acc_108,mean_test_acc_108\n"
        f'a,{mat},"input,output",10,0.9,0.9,0.9\n'
        f'b,{mat},"input,output",10,{bad},0.9,0.9\n'
    )
    with pytest.raises(DataFileError, match=r"val_acc_108.*row 1.*\[0, 1\]"):
        load_subset_table(p)


# ------------------------------------------------------------------------- --source FILE
def test_query_source_file_nb101(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import require_data_file

    subset = require_data_file("nb101/nb101_subset.csv.gz")
    f = tmp_path / "c.txt"
    f.write_text('{"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}\n')
    rc = main(["query", "nb101", "--source", str(subset), str(f)])
    out, err = capsys.readouterr()
    assert rc == 0 and 0.0 < float(out) < 100.0 and "nb101_subset.csv.gz" in err


def test_query_source_file_nb301(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import require_data_file

    pytest.importorskip("onnxruntime")
    onnx = require_data_file("nb301/yahpo_nb301_surrogate.onnx")
    from archperf.spaces.darts import DartsSpace

    space = DartsSpace()
    f = tmp_path / "c.txt"
    f.write_text(space.to_text(space.sample(1, seed=0)[0]) + "\n")
    rc = main(["query", "nb301", "--source", str(onnx), str(f)])
    out, err = capsys.readouterr()
    assert rc == 0 and 80.0 < float(out) < 100.0 and str(onnx) in err


# ------------------------------------------------------------------------------ tfrecord
def _sample_records() -> list:  # type: ignore[type-arg]
    from conftest import require_data_file

    pytest.importorskip("google.protobuf")
    from archperf.benchmarks import tfrecord as tfr

    return list(tfr.iter_nb101_records(require_data_file("nb101/ecnas_4V9E_sample.tfrecord")))


def test_tfrecord_truncated_at_record_boundary_is_refused(tmp_path: Path) -> None:
    from archperf.benchmarks import tfrecord as tfr
    from archperf.benchmarks.nb101 import load_tfrecord_table

    recs = _sample_records()
    p = tmp_path / "cut.tfrecord"
    tfr.write_nb101_records(p, recs[:-2])  # framing intact: the last cell has 1 run of 3
    with pytest.raises(DataFileError, match=r"1 run\(s\) at \d+ epochs.*3 runs"):
        load_tfrecord_table(p, use_cache=False)


def test_tfrecord_cache_is_keyed_on_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import os
    import time

    from archperf.benchmarks import tfrecord as tfr
    from archperf.benchmarks.nb101 import load_tfrecord_table
    from archperf.paths import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    recs = _sample_records()
    p, other = tmp_path / "nb.tfrecord", tmp_path / "other.tfrecord"
    tfr.write_nb101_records(p, recs)
    first = load_tfrecord_table(p)  # fills the cache
    h, e = recs[0].hash, recs[0].epochs
    m = recs[0].metrics
    evals = list(m.evaluation_data)
    old = evals[2].validation_accuracy
    evals[2] = dataclasses.replace(evals[2], validation_accuracy=old / 2 if old else 0.5)
    first_rec = dataclasses.replace(
        recs[0], metrics=dataclasses.replace(m, evaluation_data=tuple(evals))
    )
    changed = [first_rec, *recs[1:]]
    tfr.write_nb101_records(other, changed)
    assert other.stat().st_size == p.stat().st_size
    st = p.stat()
    time.sleep(0.02)
    with open(p, "r+b") as fh:  # in place: same inode, same size
        fh.write(other.read_bytes())
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime
    assert (p.stat().st_size, p.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    second = load_tfrecord_table(p)
    i = first.hashes.index(h)
    col = f"mean_val_acc_{e}"
    assert second.columns[col][i] != pytest.approx(first.columns[col][i])
    assert second.columns[col][i] == pytest.approx(
        load_tfrecord_table(p, use_cache=False).columns[col][i]
    )


# ------------------------------------------------------------------------ NB301 damaged
def test_nb301_bit_flipped_surrogate_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import require_data_file

    pytest.importorskip("onnxruntime")
    from archperf.benchmarks.nb301 import YahpoNB301Surrogate

    onnx = require_data_file("nb301/yahpo_nb301_surrogate.onnx")
    YahpoNB301Surrogate(onnx)  # the intact file passes its check
    data = bytearray(onnx.read_bytes())
    data[1933815] ^= 0x40  # one exponent bit of a weight: loads, runs, predicts nonsense
    bad = tmp_path / "flipped.onnx"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match="damaged"):
        YahpoNB301Surrogate(bad)
    f = tmp_path / "c.txt"
    from archperf.spaces.darts import DartsSpace

    f.write_text(DartsSpace().to_text(DartsSpace().sample(1, seed=0)[0]) + "\n")
    rc = main(["query", "nb301", "--source", str(bad), str(f)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and "damaged" in err


# ------------------------------------------------------------------------ search -o DIR
def test_search_output_directory_keeps_the_run(
    fake_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from archperf.paths import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    out_dir = tmp_path / "records"
    out_dir.mkdir()
    argv = ["search", "--method", "rs", "--benchmark", "nb201", "--source", str(fake_csv)]
    argv += ["--budget", "5", "--no-progress", "-o", str(out_dir)]
    argv += ["--results-dir", str(tmp_path / "res")]
    rc = main(argv)
    out = capsys.readouterr().out
    files = list(out_dir.glob("*.json"))
    assert rc == 0 and len(files) == 1, out
    record = json.loads(files[0].read_text())
    assert files[0].name == f"{record['key']}.json" and str(files[0]) in out
    assert (tmp_path / "res" / record["key"] / "record.json").is_file()
