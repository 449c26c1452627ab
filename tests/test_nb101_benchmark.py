"""NB101 oracle: the subset table (real cells, one-run search metric) and tfrecord sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf.cell import Cell
from archperf.errors import DataFileError, UnknownCellError
from conftest import require_file

pytest.importorskip("archperf.spaces.nb101", reason="archperf.spaces.nb101 not available yet")

from archperf.benchmarks import tfrecord as tfr
from archperf.benchmarks.nb101 import NB101_NUM_CELLS, NB101Benchmark
from archperf.spaces.nb101 import NB101Space

SUBSET = "nb101/nb101_subset.csv.gz"
SAMPLE = "nb101/ecnas_4V9E_sample.tfrecord"
SPACE = NB101Space()
OPS = {name: i for i, name in enumerate(SPACE.op_names)}


@pytest.fixture(scope="module")
def table(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(require_file(data_dir, SUBSET))


@pytest.fixture(scope="module")
def bench(data_dir: Path) -> NB101Benchmark:
    require_file(data_dir, SUBSET)
    return NB101Benchmark(source="subset", data_dir=data_dir)


def _cell(matrix: str | list, ops: str) -> Cell:
    m = json.loads(matrix) if isinstance(matrix, str) else matrix
    return Cell(m, [OPS[o] for o in ops.split(",")])


def _row_cell(table: pd.DataFrame, i: int) -> Cell:
    return _cell(table["matrix"].iloc[i], table["ops"].iloc[i])


# ------------------------------------------------------------------------------ subset table


def test_known_row(bench: NB101Benchmark, table: pd.DataFrame) -> None:
    row = table.iloc[0]
    assert row["hash"] == "00005c142e6f48ac74fdcf73e3439874"
    cell = _row_cell(table, 0)
    assert SPACE.canonical(cell) == row["hash"]
    v = bench.query([cell])[0]
    assert v == pytest.approx(100 * row["val_acc_108"], abs=1e-9)
    assert v == pytest.approx(93.0489, abs=1e-3)  # percent, not a fraction
    assert bench.lookup([cell], "params")[0] == 8555530


@settings(max_examples=60, deadline=None)
@given(i=st.integers(0, 30_295))
def test_every_row_answers_its_value(i: int, data_dir: Path) -> None:
    b, t = _shared(data_dir)
    cell = _cell(t["matrix"][i], t["ops"][i])
    assert b.lookup([cell])[0] == pytest.approx(100 * t["val_acc_108"][i], abs=1e-9)


_SHARED: dict[str, tuple] = {}


def _shared(data_dir: Path) -> tuple[NB101Benchmark, dict]:
    if "x" not in _SHARED:
        path = require_file(data_dir, SUBSET)
        t = pd.read_csv(path)
        _SHARED["x"] = (
            NB101Benchmark(source="subset", data_dir=data_dir),
            {c: t[c].tolist() for c in ("hash", "matrix", "ops", "val_acc_108")},
        )
    return _SHARED["x"]


def test_coverage_units_and_one_run_are_stated(bench: NB101Benchmark) -> None:
    d = bench.describe()
    assert len(bench) == 30_296
    assert "30,296 of 423,624" in d["coverage"] and "7.2%" in d["coverage"]
    assert bench.coverage == pytest.approx(30_296 / NB101_NUM_CELLS)
    assert d["search_metric"] == "val_acc_108"
    assert "ONE training run" in d["search_metric_note"]
    assert "percent" in d["units"]
    assert "30 cells" in d["report_metric_note"]
    o = bench.oracle(budget=5)
    assert "ONE training run" in o.describe()["search_metric_note"]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_sampled_cells_known_iff_in_subset(seed: int, data_dir: Path) -> None:
    """Every valid cell is either in the table (its value) or unknown (NaN), never guessed."""
    b, t = _shared(data_dir)
    index = {h: k for k, h in enumerate(t["hash"])}
    cell = SPACE.sample(1, seed=seed)[0]
    h = SPACE.canonical(cell)
    v = b.lookup([cell])[0]
    if h in index:
        assert v == pytest.approx(100 * t["val_acc_108"][index[h]], abs=1e-9)
    else:
        assert np.isnan(v)


def _unknown_cell(table: pd.DataFrame) -> Cell:
    known = set(table["hash"])
    for seed in range(1000):
        c = SPACE.sample(1, seed=seed)[0]
        if SPACE.canonical(c) not in known:
            return c
    raise AssertionError("no unknown cell found")  # pragma: no cover


def test_unknown_cell_is_unknown(bench: NB101Benchmark, table: pd.DataFrame) -> None:
    c = _unknown_cell(table)
    assert np.isnan(bench.lookup([c])[0])
    with pytest.raises(UnknownCellError):
        bench.query([c])
    o = bench.oracle(budget=10)
    with pytest.raises(UnknownCellError, match="nothing in this batch"):
        o.query([_row_cell(table, 0), c])
    assert o.num_queries == 0  # not charged
    with pytest.raises(UnknownCellError):
        bench.report([c])


def _add_dangling(cell: Cell, src: int, op: int, to_output: bool) -> Cell:
    """Insert a vertex before the output that reads ``src`` and feeds nothing (or only
    comes from nowhere but feeds the output): pruning removes it again."""
    n = cell.num_vertices
    adj = np.zeros((n + 1, n + 1), dtype=np.uint8)
    adj[: n - 1, : n - 1] = cell.adjacency[: n - 1, : n - 1]
    adj[: n - 1, n] = cell.adjacency[: n - 1, n - 1]
    if to_output:
        adj[n - 1, n] = 1  # no input reaches it: not on an input->output path
    else:
        adj[src, n - 1] = 1  # it reaches no output
    ops = [*cell.ops[: n - 1].tolist(), op, int(cell.ops[n - 1])]
    return Cell(adj, ops)


@settings(max_examples=40, deadline=None)
@given(i=st.integers(0, 30_295), data=st.data())
def test_unpruned_cell_same_value(i: int, data: st.DataObject, data_dir: Path) -> None:
    b, t = _shared(data_dir)
    cell = _cell(t["matrix"][i], t["ops"][i])
    n = cell.num_vertices
    if n >= 7 or cell.num_edges >= 9:
        return  # no room for an extra vertex/edge within NB101's limits
    src = data.draw(st.integers(0, n - 2), label="src")
    op = data.draw(st.sampled_from([1, 2, 3]), label="op")
    big = _add_dangling(cell, src, op, data.draw(st.booleans(), label="to_output"))
    assert big.num_vertices == n + 1
    SPACE.validate(big)
    assert SPACE.canonical(big) == t["hash"][i]
    assert b.lookup([big])[0] == b.lookup([cell])[0]
    o = b.oracle()
    o.query([cell, big])
    assert o.num_queries == 1  # one record: one hash


def test_report_test_metric_only_where_present(bench: NB101Benchmark, table: pd.DataFrame) -> None:
    with_test = np.flatnonzero(table["mean_test_acc_108"].notna().to_numpy())
    assert len(with_test) == 30
    cells = [_row_cell(table, int(i)) for i in with_test]
    r = bench.report(cells)
    np.testing.assert_allclose(r, 100 * table["mean_test_acc_108"].to_numpy()[with_test])
    no_test = _row_cell(table, 0)
    assert np.isnan(bench.lookup([no_test], "test")[0])
    with pytest.raises(DataFileError, match="only 30 cells"):
        bench.report([cells[0], no_test])


def test_subset_has_no_paper_protocol(bench: NB101Benchmark) -> None:
    with pytest.raises(DataFileError, match="paper"):
        bench.oracle(protocol="paper")


# --------------------------------------------------------------------------- tfrecord source
# The EC-NAS sample has the official layout; its accuracies are EC-NAS's own retraining,
# used here only to check the reading and averaging, never reported as NB101 results.


def _ecnas(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NB101Benchmark:
    monkeypatch.setenv("ARCHPERF_CACHE_DIR", str(tmp_path / "cache"))
    return NB101Benchmark(path=require_file(data_dir, SAMPLE))


def test_tfrecord_means_over_runs(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = _ecnas(data_dir, tmp_path, monkeypatch)
    assert len(b) == 91 and b.table_source == "full"
    recs = list(tfr.iter_nb101_records(require_file(data_dir, SAMPLE)))
    by = {}
    for r in recs:
        by.setdefault((r.hash, r.epochs), []).append(r)
    some = sorted({r.hash for r in recs})[:10]
    for h in some:
        rs = by[(h, 108)]
        assert len(rs) == 3
        cell = _cell(rs[0].adjacency.tolist(), ",".join(rs[0].ops))
        assert SPACE.canonical(cell) == h
        val = 100 * np.mean([r.metrics.final.validation_accuracy for r in rs])
        test = 100 * np.mean([r.metrics.final.test_accuracy for r in rs])
        assert b.query([cell])[0] == pytest.approx(val, abs=1e-9)
        assert b.report([cell])[0] == pytest.approx(test, abs=1e-9)
        v12 = 100 * np.mean([r.metrics.final.validation_accuracy for r in by[(h, 12)]])
        assert b.lookup([cell], "mean_val_acc_12")[0] == pytest.approx(v12, abs=1e-9)
    assert "mean over the 3 runs" in b.describe()["search_metric_note"]
    assert b.describe(protocol="paper")["search_metric"] == "mean_test_acc_108"
    # the cache gives the same table
    again = _ecnas(data_dir, tmp_path, monkeypatch)
    for m in again.metrics:
        np.testing.assert_array_equal(again.column(m), b.column(m))
    assert list((tmp_path / "cache" / "nb101").glob("*.npz"))


def test_tfrecord_errors(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHPERF_CACHE_DIR", str(tmp_path / "cache"))
    sample = require_file(data_dir, SAMPLE)
    recs = [r for r in tfr.iter_nb101_records(sample)]
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    with pytest.raises(DataFileError, match="no NB101 records"):
        NB101Benchmark(path=empty)
    only12 = tmp_path / "only12.tfrecord"
    tfr.write_nb101_records(only12, [r for r in recs if r.epochs == 12])
    with pytest.raises(DataFileError, match="no 108-epoch records"):
        NB101Benchmark(path=only12)
    cut = tmp_path / "cut.tfrecord"
    raw = sample.read_bytes()
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataFileError, match=r"record \d+ at byte offset \d+: truncated"):
        NB101Benchmark(path=cut, use_cache=False)


def test_missing_data_names_the_official_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nasbench_only108\.tfrecord"):
        NB101Benchmark(data_dir=tmp_path)
    with pytest.raises(DataFileError, match=r"nasbench_only108\.tfrecord"):
        NB101Benchmark(source="only108", data_dir=tmp_path)
    bad = tmp_path / "t.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match="missing columns"):
        NB101Benchmark(path=bad)
    with pytest.raises(ValueError, match="unknown NB101 source"):
        NB101Benchmark(source="nb201", data_dir=tmp_path)
    with pytest.raises(ValueError, match="cifar10"):
        NB101Benchmark(dataset="cifar100", data_dir=tmp_path)
