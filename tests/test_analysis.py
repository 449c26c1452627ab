"""Tests of archperf.analysis (Table 4, signatures, structure, figures) and `archperf analyze`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf.analysis import (
    NB201_THRESHOLDS,
    Signature,
    Threshold,
    analyze,
    compare_signatures,
    nb101_slots,
    nb201_edge_adjacency,
    op_presence,
    path_length_histogram,
    path_lengths,
    quality_table,
    shortest_path_length,
    signature,
    thresholds_from_quantiles,
    top_generated,
    top_of_benchmark,
)
from archperf.analysis.quality import NB201_THRESHOLD_QUANTILES
from archperf.cell import Cell
from archperf.cli import main
from archperf.errors import DataFileError, InvalidCellError
from archperf.runtime import resolve_device
from archperf.spaces.darts import DartsSpace
from archperf.spaces.nb101 import NB101Space
from archperf.spaces.nb201 import EDGE_OPS, NB201Space
from conftest import require_file

NB201 = NB201Space()
NB101 = NB101Space()
NONE, SKIP, C1, C3, AP = range(5)
IN, CONV3, CONV1, POOL, OUT = range(5)


def nb201(ops: tuple[int, ...]) -> Cell:
    return NB201.from_ops(ops)


def nb101(matrix: list[list[int]], ops: list[int]) -> Cell:
    return NB101.from_spec(matrix, ops)


# NB101 cells with known structure.
CHAIN3 = nb101([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [IN, CONV3, OUT])  # in → conv3 → out
DIRECT2 = nb101([[0, 1], [0, 0]], [IN, OUT])  # in → out
FOUR = nb101(  # in → a → b → out and in → out; a = conv1, b = pool
    [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], [IN, CONV1, POOL, OUT]
)


class FakeBench:
    """A tiny tabular benchmark over given cells: val (and optionally test) per record."""

    name = "fake"
    dataset = "toy"

    def __init__(self, space, cells, val, test=None):
        self.space = space
        self._keys = [space.to_text(c) for c in cells]
        self._row = {k: i for i, k in enumerate(self._keys)}
        self._val = np.asarray(val, dtype=np.float64)
        self._test = None if test is None else np.asarray(test, dtype=np.float64)

    def index_of(self, archs):
        return np.array([self._row.get(self.space.to_text(a), -1) for a in archs], np.int64)

    def column(self, metric):
        if metric == "val":
            return self._val
        if self._test is None:
            raise DataFileError("no test column in this fake benchmark")
        return self._test

    def lookup(self, archs, metric="val"):
        col = self.column(metric)
        idx = self.index_of(archs)
        out = np.full(len(idx), np.nan)
        out[idx >= 0] = col[idx[idx >= 0]]
        return out

    def arch_at(self, i):
        return self.space.from_text(self._keys[i])

    def describe(self):
        return {"benchmark": "fake", "dataset": "toy", "search_metric": "val"}


# --------------------------------------------------------------------------- shortest path
def test_shortest_path_known_graphs() -> None:
    chain = np.eye(4, k=1, dtype=np.uint8)  # 0 → 1 → 2 → 3
    assert shortest_path_length(chain) == 3
    shortcut = chain.copy()
    shortcut[0, 3] = 1
    assert shortest_path_length(shortcut) == 1
    skip_one = chain.copy()
    skip_one[0, 2] = 1
    assert shortest_path_length(skip_one) == 2
    broken = chain.copy()
    broken[1, 2] = 0
    assert shortest_path_length(broken) is None
    assert shortest_path_length(chain, source=2, target=2) == 0
    assert shortest_path_length(chain, source=1) == 2
    with pytest.raises(ValueError, match="square"):
        shortest_path_length(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="target vertex 9"):
        shortest_path_length(chain, target=9)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8).flatmap(lambda n: st.lists(st.booleans(), min_size=n * n, max_size=n * n)))
def test_shortest_path_matches_scipy(bits: list[bool]) -> None:
    from scipy.sparse.csgraph import shortest_path

    n = round(len(bits) ** 0.5)
    adj = np.triu(np.array(bits, dtype=np.uint8).reshape(n, n), k=1)
    ref = shortest_path(adj, directed=True, unweighted=True)[0, n - 1]
    got = shortest_path_length(adj)
    assert (got is None) == bool(np.isinf(ref))
    if got is not None:
        assert got == int(ref)


def test_nb201_path_lengths_known_cells() -> None:
    cells = [
        nb201((NONE,) * 6),  # every edge none: disconnected
        nb201((NONE, NONE, NONE, SKIP, NONE, NONE)),  # only 3←0: length 1
        nb201((C3, NONE, C1, NONE, NONE, AP)),  # 0→1→2→3 only: length 3
        nb201((NONE, C3, NONE, NONE, NONE, SKIP)),  # 0→2→3: length 2
        nb201((C3, NONE, NONE, NONE, NONE, C3)),  # 1←0 and 3←2 only, 2 unreachable: None
        nb201((C3, C3, C3, C3, C3, C3)),  # everything: length 1
    ]
    assert path_lengths(NB201, cells) == [None, 1, 3, 2, None, 1]
    adj = nb201_edge_adjacency(NB201, cells[3])
    assert adj.tolist() == [[0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    with pytest.raises(ValueError, match="nb201"):
        nb201_edge_adjacency(NB101, CHAIN3)


@settings(max_examples=200, deadline=None)
@given(st.tuples(*[st.integers(0, 4)] * 6))
def test_nb201_path_length_properties(ops: tuple[int, ...]) -> None:
    """Against the four input→output paths listed by hand, and the canonical form: the output
    is unreachable exactly when the cell computes the zero function."""
    cell = nb201(ops)
    (length,) = path_lengths(NB201, [cell])
    # edges in arch-string order: 0: 1←0, 1: 2←0, 2: 2←1, 3: 3←0, 4: 3←1, 5: 3←2
    paths = {1: [[3]], 2: [[0, 4], [1, 5]], 3: [[0, 2, 5]]}
    expect = next(
        (n for n in (1, 2, 3) if any(all(ops[e] != NONE for e in p) for p in paths[n])), None
    )
    assert length == expect
    assert (length is None) == (NB201.canonical(cell) == "0")


def test_nb101_path_lengths() -> None:
    assert path_lengths(NB101, [DIRECT2, CHAIN3, FOUR]) == [1, 2, 1]
    dangling = Cell(  # vertex 2 is dangling; pruned: in → conv3 → out
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], [IN, CONV3, POOL, OUT]
    )
    assert path_lengths(NB101, [dangling]) == [2]


def test_path_length_histogram_order() -> None:
    h = path_length_histogram([2, None, 1, 10, 2, None])
    assert list(h.items()) == [("1", 1), ("2", 2), ("10", 1), ("disconnected", 2)]
    assert path_length_histogram([1, 1]) == {"1": 2}


# ------------------------------------------------------------------------------ op presence
def test_op_presence_known_cells() -> None:
    cells = [nb201((NONE,) * 6), nb201((C3, C3, SKIP, C3, NONE, C3)), nb201((AP,) * 6)]
    assert op_presence(NB201, cells) == {
        "none": 2,
        "skip_connect": 1,
        "nor_conv_1x1": 0,
        "nor_conv_3x3": 1,
        "avg_pool_3x3": 1,
    }
    assert op_presence(NB101, [DIRECT2, CHAIN3, FOUR]) == {
        "conv3x3-bn-relu": 1,
        "conv1x1-bn-relu": 1,
        "maxpool3x3": 1,
    }
    with pytest.raises(InvalidCellError):
        op_presence(NB201, [Cell([[0]], [0])])


# ------------------------------------------------------------------------------- signatures
def test_nb101_slots_convention() -> None:
    adj, ops = nb101_slots(NB101, FOUR)  # 4 vertices: in, a, b, out → slots 0, 1, 2, 6
    expect = np.zeros((7, 7), dtype=np.uint8)
    expect[0, 1] = expect[1, 2] = expect[2, 6] = expect[0, 6] = 1
    assert np.array_equal(adj, expect)
    assert ops.tolist() == [IN, CONV1, POOL, -1, -1, -1, OUT]
    adj2, ops2 = nb101_slots(NB101, DIRECT2)
    assert adj2.sum() == 1 and adj2[0, 6] == 1
    assert ops2.tolist() == [IN, -1, -1, -1, -1, -1, OUT]
    full = [[1 if j == i + 1 else 0 for j in range(7)] for i in range(7)]
    chain7 = nb101(full, [IN, CONV3, CONV1, POOL, CONV3, CONV1, OUT])
    adj7, ops7 = nb101_slots(NB101, chain7)
    assert np.array_equal(adj7, chain7.adjacency)
    assert ops7.tolist() == chain7.ops.tolist()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_nb101_slots_preserve_the_cell(seed: int) -> None:
    """Removing the empty slots gives back the pruned cell exactly."""
    (cell,) = NB101.sample(1, seed=seed, method="rejection")
    adj, ops = nb101_slots(NB101, cell)
    used = np.flatnonzero(ops >= 0)
    assert used[0] == 0 and used[-1] == 6
    back = Cell(adj[np.ix_(used, used)], ops[used])
    assert back == NB101.prune(cell)
    assert adj[:, ops < 0].sum() == 0 and adj[ops < 0, :].sum() == 0


def test_nb201_signature_counts() -> None:
    cells = [nb201((C3, C3, C3, SKIP, C3, C3)), nb201((C3, C1, NONE, SKIP, C3, AP))]
    sig = signature(NB201, cells)
    assert sig.n == 2 and sig.ops.shape == (6, 5)
    assert sig.row_labels == ("1←0", "2←0", "2←1", "3←0", "3←1", "3←2")
    assert sig.ops[0].tolist() == [0, 0, 0, 2, 0]
    assert sig.ops[2].tolist() == [1, 0, 0, 1, 0]
    assert sig.ops.sum(axis=1).tolist() == [2] * 6
    assert sig.most_likely_ops() == [
        "nor_conv_3x3",
        "nor_conv_1x1",  # tie 1:1 between conv1x1 (index 2) and conv3x3: first wins
        "none",
        "skip_connect",
        "nor_conv_3x3",
        "nor_conv_3x3",
    ]
    assert np.allclose(sig.normalized(), sig.ops / 2)
    assert np.allclose(sig.frequency(), sig.ops / 2)
    with pytest.raises(ValueError, match="no adjacency"):
        sig.normalized("adjacency")
    d = sig.to_dict()
    assert d["op_counts"][0] == [0, 0, 0, 2, 0] and "adjacency_counts" not in d


def test_nb101_signature_counts_and_likely_edges() -> None:
    sig = signature(NB101, [FOUR, FOUR, CHAIN3])
    assert sig.adjacency is not None
    assert sig.adjacency[0, 6] == 2 and sig.adjacency[0, 1] == 3 and sig.adjacency[1, 6] == 1
    assert sig.adjacency[1, 2] == 2 and sig.adjacency[2, 6] == 2
    assert sig.likely_edges() == [(0, 1), (0, 6), (1, 2), (2, 6)]
    assert sig.ops[1].tolist() == [0, 1, 2, 0, 0]  # slot 1: conv3 once, conv1 twice
    assert sig.ops[3].sum() == 0  # slot 3 never used
    assert sig.most_likely_ops()[3] is None
    assert np.isclose(sig.normalized("adjacency").max(), 1.0)
    assert np.isclose(sig.normalized("adjacency")[0, 6], 2 / 3)


def test_compare_signatures() -> None:
    a = signature(NB201, [nb201((C3,) * 6)])
    b = signature(NB201, [nb201((C1,) * 6)])
    same = compare_signatures(a, a)
    assert same["ops_mean_abs_diff"] == 0.0 and same["most_likely_op_agreement"] == 1.0
    diff = compare_signatures(a, b)
    assert np.isclose(diff["ops_mean_abs_diff"], 2 / 5)  # two entries of 1 per row of 5
    assert diff["most_likely_op_agreement"] == 0.0
    n1 = signature(NB101, [CHAIN3])
    n2 = signature(NB101, [DIRECT2])
    c = compare_signatures(n1, n2)
    assert np.isclose(c["adjacency_mean_abs_diff"], 3 / 21)  # 0→1, 1→6 vs 0→6
    # ops: interior slots 1..5 × 3 interior ops; slot 1 holds conv3 in n1, nothing in n2
    assert np.isclose(c["ops_mean_abs_diff"], 1 / 15)
    assert c["rows_compared"] == 0  # n2 uses no interior slot
    c4 = compare_signatures(signature(NB101, [FOUR]), signature(NB101, [CHAIN3]))
    assert c4["rows_compared"] == 1 and c4["most_likely_op_agreement"] == 0.0  # conv1 vs conv3
    with pytest.raises(ValueError, match="cannot compare"):
        compare_signatures(a, n1)
    with pytest.raises(ValueError, match="nb201 and nb101"):
        signature(DartsSpace(), [])


def test_signature_of_nothing_is_zero() -> None:
    sig = signature(NB201, [])
    assert isinstance(sig, Signature) and sig.n == 0
    assert sig.normalized().sum() == 0 and sig.frequency().sum() == 0


# --------------------------------------------------------------------------------- quality
def _toy() -> tuple[list[Cell], FakeBench]:
    """Ten cells with distinct canonical forms; val 85..94 and test = val + 1 in list order."""
    live = (C1, C3, AP)
    cells = [nb201((x, NONE, NONE, SKIP, y, NONE)) for x in live for y in live]
    cells.append(nb201((C3, NONE, NONE, SKIP, NONE, NONE)))
    assert len({NB201.canonical(c) for c in cells}) == 10
    val = np.arange(10, dtype=float) + 85.0  # 85..94
    test = val + 1.0
    return cells, FakeBench(NB201, cells, val, test)


def test_quality_table_known_answers() -> None:
    cells, bench = _toy()
    a, b, c = cells[9], cells[8], cells[0]  # val 94, 93, 85
    outside = nb201((C3, C3, C3, C3, C3, C3))  # not in the toy benchmark
    gen = [a, a, b, c, outside]
    q = quality_table(
        NB201,
        gen,
        bench,
        reference=[a],
        thresholds=[Threshold("val", 92.5), Threshold("test", 94.5)],
    )
    g = q["generation"]
    assert (g["n"], g["n_valid"], g["n_unique"], g["n_novel"]) == (5, 5, 4, 3)
    assert g["novelty"] == pytest.approx(3 / 5)
    cov = q["coverage"]
    assert cov["n_in_benchmark"] == 4 and cov["n_distinct_records"] == 3
    assert cov["n_known_val"] == 4 and cov["benchmark_records"] == 10
    val_row, test_row = q["thresholds"]
    assert val_row["generated"] == {"count": 3, "of": 4, "fraction": 0.75}  # a, a, b > 92.5
    assert val_row["generated_distinct"] == {"count": 2, "of": 3, "fraction": 2 / 3}
    assert val_row["space"] == {"count": 2, "of": 10, "fraction": 0.2}  # 93, 94
    # test = val + 1: a, a → 95, b → 94, c → 86; above 94.5: a, a
    assert test_row["generated"] == {"count": 2, "of": 4, "fraction": 0.5}
    assert test_row["space"]["count"] == 1  # only cells[9] (test 95)


def test_quality_table_strict_threshold_and_no_reference() -> None:
    cells, bench = _toy()
    q = quality_table(NB201, [cells[8]], bench, thresholds=[Threshold("val", 93.0)])
    assert q["generation"]["novelty"] is None  # no reference given
    assert q["thresholds"][0]["generated"]["count"] == 0  # 93 is not > 93
    assert q["thresholds"][0]["space"]["count"] == 1  # only 94


def test_quality_table_test_rows_unavailable() -> None:
    cells, _ = _toy()
    sparse = np.full(10, np.nan)
    sparse[0] = 90.0
    bench = FakeBench(NB201, cells, np.arange(10.0) + 85, sparse)
    q = quality_table(NB201, cells[:3], bench, thresholds=[Threshold("test", 80.0)])
    row = q["thresholds"][0]
    assert row["available"] is False
    assert "1 of the 10 records" in row["reason"]
    q2 = quality_table(
        NB201,
        cells[:3],
        FakeBench(NB201, cells, np.arange(10.0)),
        thresholds=[Threshold("test", 1)],
    )
    assert q2["thresholds"][0]["available"] is False
    assert "no test metric" in q2["thresholds"][0]["reason"]


def test_quality_table_counts_invalid_cells_and_leaves_them_out() -> None:
    cells, bench = _toy()
    bad = Cell([[0, 1], [0, 0]], [0, 6])
    q = quality_table(NB201, [cells[0], bad], bench, thresholds=[Threshold("val", 80.0)])
    assert q["generation"]["validity"] == 0.5
    assert q["coverage"]["n_invalid_left_out"] == 1
    assert q["thresholds"][0]["generated"] == {"count": 1, "of": 1, "fraction": 1.0}
    with pytest.raises(ValueError, match="metric must be"):
        Threshold("params", 1.0)


def test_thresholds_from_quantiles() -> None:
    values = np.arange(101, dtype=float)  # quantile q = 100 q
    assert thresholds_from_quantiles(values, (0.95, 0.99)) == [95.0, 99.0]
    assert thresholds_from_quantiles([1.234, np.nan, 1.234], (0.5,), decimals=2) == [1.23]
    with pytest.raises(ValueError, match="no finite"):
        thresholds_from_quantiles([np.nan])


def test_nb201_thresholds_are_the_stated_quantiles(data_dir: Path) -> None:
    import pandas as pd

    from archperf.benchmarks.nb201 import DATASETS

    csv = require_file(data_dir, "nb201/nb201.csv")
    df = pd.read_csv(csv)
    for dataset, (val_col, test_col) in DATASETS.items():
        expect = thresholds_from_quantiles(df[val_col], NB201_THRESHOLD_QUANTILES)
        expect += thresholds_from_quantiles(df[test_col], NB201_THRESHOLD_QUANTILES)
        assert [t.value for t in NB201_THRESHOLDS[dataset]] == expect, dataset
        assert [t.metric for t in NB201_THRESHOLDS[dataset]] == ["val", "val", "test", "test"]


# ------------------------------------------------------------------------------- selection
def test_top_generated_dedupes_and_ranks() -> None:
    cells, bench = _toy()
    outside = nb201((C3,) * 6)
    gen = [cells[2], cells[7], outside, cells[7], cells[5], cells[9]]
    top, vals = top_generated(bench, gen, k=3)
    assert vals.tolist() == [94.0, 92.0, 90.0]
    assert top == [cells[9], cells[7], cells[5]]
    top_all, vals_all = top_generated(bench, gen, k=64)  # fewer known than k
    assert len(top_all) == 4 and vals_all.tolist() == [94.0, 92.0, 90.0, 87.0]
    best, best_vals = top_of_benchmark(bench, 2)
    assert best == [cells[9], cells[8]] and best_vals.tolist() == [94.0, 93.0]


# -------------------------------------------------------------------------- whole analysis
def _links(md: Path) -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", md.read_text(encoding="utf-8"))


def test_analyze_toy_writes_json_markdown_and_figures(tmp_path: Path) -> None:
    cells, bench = _toy()
    space_sample = (cells, "the 10 toy cells")
    gen = [cells[9], cells[8], cells[8], cells[1]]
    res = analyze(
        NB201,
        gen,
        bench,
        reference=cells[:2],
        reference_name="first two",
        k=3,
        thresholds=None,
        space_sample=space_sample,
        seed=3,
    )
    d = res.data
    assert d["signatures"]["generated"]["n"] == 3
    # benchmark top-3 = cells 9, 8, 7, whose 1←0 ops are conv3x3, avg_pool, avg_pool
    assert d["signatures"]["benchmark"]["op_counts"][0] == [0, 0, 0, 1, 2]
    assert d["op_presence"]["generated"]["n"] == 4
    assert d["path_lengths"]["space"]["counts"] == {"1": 10}  # 3←0 = skip in every toy cell
    assert d["top_generated"][0]["val"] == 94.0
    assert d["most_common_generated"][0] == {
        "cell": NB201.to_text(cells[8]),
        "count": 2,
        "val": 93.0,
    }
    assert [m["count"] for m in d["most_common_generated"]] == [2, 1, 1]
    files = res.write(tmp_path / "out", figures_dir=tmp_path / "figs", formats=("png", "svg"))
    names = sorted(p.name for p in files)
    figs = [f"{stem}.{fmt}" for stem in ("signature", "structure") for fmt in ("png", "svg")]
    assert names == sorted(["analysis.json", "analysis.md", *figs])
    for p in files:
        assert p.stat().st_size > 0
    assert (tmp_path / "figs" / "signature.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = tmp_path / "out" / "analysis.md"
    for link in _links(md):
        assert (md.parent / link).is_file(), link
    back = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert back["quality"]["generation"]["n_novel"] == 3  # cells 9, 8, 8 (1 is a reference)
    assert back["setup"]["space_cells"] == "the 10 toy cells"


def test_analyze_is_deterministic_and_rejects_bad_input() -> None:
    cells, bench = _toy()
    kw = {"space_sample": (cells, "toy"), "seed": 1, "k": 2}
    a = analyze(NB201, cells[:5], bench, **kw).to_json()
    b = analyze(NB201, cells[:5], bench, **kw).to_json()
    assert a == b
    with pytest.raises(ValueError, match="no cells"):
        analyze(NB201, [], bench)
    with pytest.raises(ValueError, match="k must be"):
        analyze(NB201, cells, bench, k=0)
    with pytest.raises(ValueError, match="benchmark is for space"):
        analyze(NB101, [CHAIN3], bench)


def test_analyze_nb201_real_data(data_dir: Path, tmp_path: Path) -> None:
    from archperf.benchmarks.nb201 import NB201Benchmark

    require_file(data_dir, "nb201/nb201.csv")
    bench = NB201Benchmark("cifar10", data_dir=data_dir)
    res = analyze(NB201, NB201.sample(300, seed=4), bench, reference=NB201.sample(50, seed=5))
    d = res.data
    rows = d["quality"]["thresholds"]
    assert [r["threshold"] for r in rows] == [90.1, 91.0, 93.3, 93.8]
    assert all(r["available"] for r in rows)
    assert rows[0]["space"]["of"] == 15_625
    assert d["path_lengths"]["space"]["n"] == 15_625
    # The whole space: 3←0 is not none in 4/5 of the cells (length 1); the output is
    # unreachable exactly for the cells whose canonical form is '0' (counted independently).
    zero = sum(NB201.canonical(c) == "0" for c in NB201.enumerate())
    assert d["path_lengths"]["space"]["counts"]["1"] == 12_500
    assert d["path_lengths"]["space"]["counts"]["disconnected"] == zero
    assert d["op_presence"]["space"]["counts"]["none"] == 15_625 - 4**6
    # The benchmark's top-64 by validation: best first, and its value is the known maximum.
    assert d["signatures"]["benchmark_top_val"][0] == pytest.approx(91.6067, abs=1e-3)
    res.write(tmp_path, formats=("png",))
    assert (tmp_path / "structure.png").is_file()


# --------------------------------------------------------------------------------------- CLI
def test_cli_analyze_cells_file(data_dir: Path, tmp_path: Path) -> None:
    require_file(data_dir, "nb201/nb201.csv")
    cells = tmp_path / "cells.txt"
    ref = tmp_path / "ref.txt"
    cells.write_text("".join(NB201.to_text(c) + "\n" for c in NB201.sample(40, seed=1)))
    ref.write_text(NB201.to_text(NB201.sample(1, seed=1)[0]) + "\n")
    out = tmp_path / "out"
    args = ["analyze", "--space", "nb201", "--cells", str(cells), "--reference", str(ref)]
    rc = main(
        [*args, "--out", str(out), "--no-figures", "--top-k", "8", "--data-dir", str(data_dir)]
    )
    assert rc == 0
    data = json.loads((out / "analysis.json").read_text())
    assert data["quality"]["generation"]["n"] == 40
    assert data["quality"]["generation"]["reference_size"] == 1
    assert data["signatures"]["k"] == 8
    assert len((out / "generated.txt").read_text().splitlines()) == 40
    assert not (out / "signature.png").exists()


def test_cli_analyze_trains_deterministically(data_dir: Path, tmp_path: Path) -> None:
    require_file(data_dir, "nb201/nb201.csv")
    args = ["analyze", "--space", "nb201", "--labels", "8", "--epochs", "1", "-n", "30"]
    args += ["--seed", "3", "--data-dir", str(data_dir), "--formats", "png"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--no-figures"]) == 0
    gen_a = (tmp_path / "a" / "generated.txt").read_text()
    assert gen_a == (tmp_path / "b" / "generated.txt").read_text()
    assert len((tmp_path / "a" / "labeled.txt").read_text().splitlines()) == 8
    data = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert data["quality"]["generation"]["reference_size"] >= 1  # novelty vs. the labeled set
    assert data["setup"]["epochs"] == 1
    assert data["setup"]["torch_threads"] == 1  # the library default (no --threads)
    assert data["setup"]["device"] == str(resolve_device("auto"))
    assert (tmp_path / "a" / "signature.png").is_file()
    assert not (tmp_path / "a" / "signature.svg").exists()


def test_cli_analyze_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["analyze", "--space", "nb201", "--reference", "x", "--out", str(tmp_path)])
    assert rc == 2
    assert "--reference is for --model/--cells" in capsys.readouterr().err
    rc = main(["analyze", "--space", "nb201", "--formats", "gif", "--out", str(tmp_path)])
    assert rc == 2
    assert "--formats" in capsys.readouterr().err
    assert EDGE_OPS[0] == "none"


def test_cli_analyze_generation_recipe_keeps_nb101_vertices(data_dir: Path, tmp_path: Path) -> None:
    """``--trainer generation`` trains with TrainerConfig.for_generation: on NB101 its decoder
    keeps all 7 vertices (the default's cells are mostly smaller after pruning)."""
    require_file(data_dir, "nb101/nb101_subset.csv.gz")
    args = ["analyze", "--space", "nb101", "--labels", "20", "--epochs", "1", "-n", "200"]
    args += ["--unlabeled", "300", "--data-dir", str(data_dir), "--no-figures"]
    sevens = {}
    for trainer in ("default", "generation"):
        out = tmp_path / trainer
        assert main([*args, "--trainer", trainer, "--out", str(out)]) == 0
        data = json.loads((out / "analysis.json").read_text())
        assert data["setup"]["trainer"] == trainer
        space = NB101Space()
        cells = [space.from_text(t) for t in (out / "generated.txt").read_text().splitlines()]
        sevens[trainer] = np.mean([c.num_vertices == 7 for c in cells])
    assert sevens["generation"] >= 0.9 > sevens["default"]
