"""NAS-Bench-101 space: rules, pruning, the official hash, text forms, enumeration, sampling."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from archperf import Cell, InvalidCellError, UnknownCellError
from archperf.spaces import _nb101_enum as enum
from archperf.spaces.nb101 import NB101Space
from conftest import require_file

SPACE = NB101Space()
OPS = SPACE.op_names
SUBSET = "nb101/nb101_subset.csv.gz"
LABEL = {"input": -1, "output": -2, "conv3x3-bn-relu": 0, "conv1x1-bn-relu": 1, "maxpool3x3": 2}


# ------------------------------------------------------------------------ strategies


@st.composite
def valid_cells(draw: st.DrawFn) -> Cell:
    """Random pruned cells of 2..7 vertices, built from up to 9 edges and pruned."""
    n = draw(st.integers(2, 7))
    pairs = enum.pair_index(n)
    edges = draw(st.sets(st.sampled_from(pairs), min_size=1, max_size=9))
    ops = [0, *draw(st.lists(st.integers(1, 3), min_size=n - 2, max_size=n - 2)), 4]
    adj = np.zeros((n, n), dtype=np.uint8)
    for i, j in edges:
        adj[i, j] = 1
    try:
        return SPACE.from_spec(adj, ops, prune=True)
    except InvalidCellError as exc:
        assume(exc.rule != "no-path")
        raise


@st.composite
def topological_orders(draw: st.DrawFn, cell: Cell) -> list[int]:
    """A random topological order of a cell's vertices (input first, output last)."""
    adj = cell.adjacency
    n = cell.num_vertices
    indeg = adj.sum(axis=0).astype(int).tolist()
    ready = [v for v in range(n) if indeg[v] == 0]
    order: list[int] = []
    while ready:
        v = ready.pop(draw(st.integers(0, len(ready) - 1)))
        order.append(v)
        for w in np.flatnonzero(adj[v]).tolist():
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    return order


def reorder(cell: Cell, order: list[int]) -> Cell:
    idx = np.asarray(order)
    return Cell(cell.adjacency[np.ix_(idx, idx)], cell.ops[idx])


def labels(cell: Cell) -> list[int]:
    return [LABEL[OPS[o]] for o in cell.ops.tolist()]


# ------------------------------------------------------------------------ validity rules


def _text(matrix: object, ops: object) -> str:
    return json.dumps({"matrix": matrix, "ops": ops})


CHAIN8 = [[1 if j == i + 1 else 0 for j in range(8)] for i in range(8)]
# 7 vertices, 10 edges, all on input -> output paths.
TEN_EDGES = [
    [1 if j == i + 1 or (i == 0 and 2 <= j <= 5) else 0 for j in range(7)] for i in range(7)
]
INTERIOR5 = ["conv3x3-bn-relu"] * 5

BAD_TEXTS = [
    ("malformed", "{not json"),
    ("malformed", json.dumps([[0, 1], [0, 0]])),
    ("malformed", json.dumps({"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"], "x": 1})),
    ("square", _text([[0, 1, 0], [0, 0]], ["input", "conv1x1-bn-relu", "output"])),
    ("binary", _text([[0, 2], [0, 0]], ["input", "output"])),
    ("binary", _text([[0, 1.0], [0, 0]], ["input", "output"])),
    ("ops-length", _text([[0, 1], [0, 0]], ["input", "conv3x3-bn-relu", "output"])),
    ("unknown-op", _text([[0, 1], [0, 0]], ["input", "conv5x5"])),
    ("unknown-op", _text([[0, 1], [0, 0]], [0, 7])),
    ("min-vertices", _text([[0]], ["input"])),
    ("first-op-input", _text([[0, 1], [0, 0]], ["output", "output"])),
    ("last-op-output", _text([[0, 1], [0, 0]], ["input", "maxpool3x3"])),
    ("interior-op", _text([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "input", "output"])),
    ("interior-op", _text([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [0, 4, 4])),
    ("upper-triangular", _text([[0, 1, 0], [0, 0, 1], [0, 1, 0]], [0, 1, 4])),
    ("upper-triangular", _text([[1, 1], [0, 0]], [0, 4])),
    ("no-path", _text([[0, 1, 0], [0, 0, 0], [0, 0, 0]], [0, 1, 4])),
    ("max-vertices", _text(CHAIN8, ["input", *(["conv1x1-bn-relu"] * 6), "output"])),
    ("max-edges", _text(TEN_EDGES, ["input", *INTERIOR5, "output"])),
    (
        "hash-mismatch",
        json.dumps({"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"], "hash": "0" * 32}),
    ),
]


@pytest.mark.parametrize(("rule", "text"), BAD_TEXTS)
def test_each_rule_is_named(rule: str, text: str) -> None:
    with pytest.raises(InvalidCellError) as info:
        SPACE.from_text(text)
    assert info.value.rule == rule
    assert f"[{rule}]" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("rule", "cell"),
    [
        ("min-vertices", Cell([[0]], [0])),
        ("unknown-op", Cell([[0, 1], [0, 0]], [0, 9])),
        ("first-op-input", Cell([[0, 1], [0, 0]], [1, 4])),
        ("last-op-output", Cell([[0, 1], [0, 0]], [0, 1])),
        ("interior-op", Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [0, 0, 4])),
        ("upper-triangular", Cell([[0, 1], [1, 0]], [0, 4])),
        ("no-path", Cell([[0, 0], [0, 0]], [0, 4])),
        ("max-vertices", Cell(CHAIN8, [0, 2, 2, 2, 2, 2, 2, 4])),
        ("max-edges", Cell(TEN_EDGES, [0, 1, 1, 1, 1, 1, 4])),
    ],
)
def test_validate_cells(rule: str, cell: Cell) -> None:
    with pytest.raises(InvalidCellError, match=rf"\[{rule}\]"):
        SPACE.validate(cell)
    assert not SPACE.is_valid(cell)


def test_dangling_vertex_rule() -> None:
    """Unpruned specs are valid (judged pruned); ``pruned=True`` demands a pruned spec."""
    raw = Cell([[0, 0, 1], [0, 0, 1], [0, 0, 0]], [0, 2, 4])  # vertex 1 is unreachable
    SPACE.validate(raw)
    assert not SPACE.is_pruned(raw)
    with pytest.raises(InvalidCellError, match=r"\[dangling-vertex\].*\[1\]"):
        SPACE.validate(raw, pruned=True)
    pruned = SPACE.prune(raw)
    assert pruned == Cell([[0, 1], [0, 0]], [0, 4])
    SPACE.validate(pruned, pruned=True)
    assert SPACE.canonical(raw) == SPACE.canonical(pruned)
    assert SPACE.to_graph(raw) == pruned
    assert SPACE.from_text(SPACE.to_text(raw)) == raw  # nothing is dropped silently


def test_prune_then_limits() -> None:
    """Official semantics: prune first, then check ≤ 7 vertices / ≤ 9 edges on the result."""
    # 7 vertices, 10 edges; vertex 5 has no out-edge, so it and its 2 in-edges are pruned.
    m = np.zeros((7, 7), dtype=int)
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 6), (0, 2), (0, 3), (0, 4), (0, 5), (1, 5)]:
        m[i, j] = 1
    assert m.sum() == 10
    cell = SPACE.from_spec(m, ["input", *INTERIOR5, "output"], prune=True)
    assert cell.num_vertices == 6 and cell.num_edges == 8
    raw = SPACE.from_spec(m, ["input", *INTERIOR5, "output"])
    assert raw.num_vertices == 7 and raw.num_edges == 10  # valid: judged after pruning
    assert SPACE.canonical(raw) == SPACE.canonical(cell)
    m[1, 6] = m[2, 6] = 1  # two more edges on paths: 10 after pruning
    with pytest.raises(InvalidCellError, match="max-edges"):
        SPACE.from_spec(m, ["input", *INTERIOR5, "output"], prune=True)
    # 8 raw vertices with one dangling: valid after pruning.
    raw = np.zeros((8, 8), dtype=int)
    for i in range(6):
        raw[i, i + 1] = 1
    raw[5, 7] = 1  # 0 -> ... -> 5 -> 7 (output); vertex 6 dangles (no out-edge)
    pruned = SPACE.from_spec(raw, [0, 1, 1, 1, 1, 1, 1, 4], prune=True)
    assert pruned.num_vertices == 7
    SPACE.validate(Cell(raw, [0, 1, 1, 1, 1, 1, 1, 4]))  # 8 raw vertices, 7 after pruning
    with pytest.raises(InvalidCellError, match="no-path"):
        SPACE.prune(Cell([[0, 1, 0], [0, 0, 0], [0, 0, 0]], [0, 1, 4]))


def test_op_order_is_fixed() -> None:
    assert OPS == ("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output")
    assert SPACE.max_nodes == 7 and NB101Space.name == "nb101"


# ------------------------------------------------------------------------ properties


@given(valid_cells())
@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
def test_generated_cells_valid_and_round_trip(cell: Cell) -> None:
    SPACE.validate(cell, pruned=True)
    assert SPACE.from_text(SPACE.to_text(cell)) == cell
    rec = SPACE.to_record(cell)
    assert rec["hash"] == rec["canonical"] == SPACE.canonical(cell)
    assert SPACE.from_text(json.dumps(rec)) == cell
    ids = json.dumps({"matrix": cell.adjacency.tolist(), "ops": cell.ops.tolist()})
    assert SPACE.from_text(ids) == cell
    assert SPACE.to_graph(cell) is cell
    assert SPACE.prune(cell) is cell


@given(st.data())
@settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
def test_hash_invariant_under_topological_reordering(data: st.DataObject) -> None:
    cell = data.draw(valid_cells())
    order = data.draw(topological_orders(cell))
    assert order[0] == 0 and order[-1] == cell.num_vertices - 1
    other = reorder(cell, order)
    SPACE.validate(other)  # still upper triangular
    assert SPACE.canonical(other) == SPACE.canonical(cell)


@given(valid_cells())
@settings(max_examples=60, suppress_health_check=[HealthCheck.filter_too_much])
def test_hash_changes_with_an_op(cell: Cell) -> None:
    assume(cell.num_vertices > 2)
    ops = cell.ops.copy()
    ops[1] = ops[1] % 3 + 1
    changed = Cell(cell.adjacency, ops)
    # The multiset of ops differs, so the cells cannot be isomorphic.
    assert SPACE.canonical(changed) != SPACE.canonical(cell)


@given(st.lists(valid_cells(), min_size=1, max_size=12))
@settings(max_examples=25, suppress_health_check=[HealthCheck.filter_too_much])
def test_batch_hash_matches_single(cells: list[Cell]) -> None:
    for n in {c.num_vertices for c in cells}:
        group = [c for c in cells if c.num_vertices == n]
        adj = np.stack([c.adjacency for c in group]).astype(bool)
        lab = np.array([labels(c) for c in group])
        got = [h.tobytes().hex() for h in enum.hash_cells(adj, lab)]
        assert got == [SPACE.canonical(c) for c in group]


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_rejection_sampler_valid_and_deterministic(seed: int) -> None:
    cells = SPACE.sample(3, seed=seed, method="rejection")
    for c in cells:
        SPACE.validate(c)
    assert cells == SPACE.sample(3, seed=seed, method="rejection")


@given(valid_cells(), st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_mutation_valid_different_deterministic(cell: Cell, seed: int) -> None:
    child = SPACE.mutate(cell, seed=seed)
    SPACE.validate(child)
    assert SPACE.canonical(child) != SPACE.canonical(cell)
    assert child == SPACE.mutate(cell, seed=seed)


def test_mutation_can_grow_the_smallest_cell() -> None:
    tiny = SPACE.from_spec([[0, 1], [0, 0]], ["input", "output"])
    sizes = {SPACE.mutate(tiny, seed=s).num_vertices for s in range(20)}
    assert sizes and min(sizes) >= 3


def test_sample_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n must be"):
        SPACE.sample(-1, method="rejection")
    with pytest.raises(ValueError, match="unknown sampling method"):
        SPACE.sample(1, method="nope")  # type: ignore[arg-type]


def test_import_stays_light() -> None:
    code = "import sys, archperf.spaces.nb101; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------ real data


@pytest.fixture(scope="session")
def subset_rows(data_dir: Path) -> list[dict[str, str]]:
    import csv

    path = require_file(data_dir, SUBSET)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.data
def test_hash_matches_every_subset_row(subset_rows: list[dict[str, str]]) -> None:
    assert len(subset_rows) == 30_296
    by_n: dict[int, list[int]] = {}
    mats = [json.loads(r["matrix"]) for r in subset_rows]
    for i, m in enumerate(mats):
        by_n.setdefault(len(m), []).append(i)
    for n, idx in by_n.items():
        adj = np.array([mats[i] for i in idx], dtype=bool).reshape(len(idx), n, n)
        lab = np.array([[LABEL[o] for o in subset_rows[i]["ops"].split(",")] for i in idx])
        got = enum.hash_cells(adj, lab)
        want = np.array([bytes.fromhex(subset_rows[i]["hash"]) for i in idx], dtype="S16")
        assert np.array_equal(got.view("S16").ravel(), want), f"{n}-vertex hashes differ"


@pytest.mark.data
def test_subset_rows_valid_and_canonical(subset_rows: list[dict[str, str]]) -> None:
    """Every row is a valid pruned cell; the public ``canonical`` agrees on a spread sample."""
    for k, row in enumerate(subset_rows):
        cell = SPACE.from_spec(json.loads(row["matrix"]), row["ops"].split(","))
        if k % 15 == 0:
            assert SPACE.canonical(cell) == row["hash"]


# ------------------------------------------------------------------------ enumeration


@pytest.fixture(scope="session")
def full_space(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NB101Space]:
    """The whole space, enumerated once per session into a temporary cache dir."""
    cache = tmp_path_factory.mktemp("nb101_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARCHPERF_CACHE_DIR", str(cache))
        space = NB101Space()
        space.enumeration()
        assert enum.cache_path().exists()
        yield space


@pytest.mark.slow
def test_enumeration_counts(full_space: NB101Space) -> None:
    table = full_space.enumeration()
    assert len(table) == len(full_space) == 423_624
    counts = np.bincount(table.num_vertices, minlength=8)
    assert {n: int(counts[n]) for n in range(2, 8)} == {
        2: 1,
        3: 6,
        4: 84,
        5: 2_441,
        6: 62_010,
        7: 359_082,
    }
    keys = table.hash_keys()
    assert np.all(keys[1:] > keys[:-1])  # sorted and distinct
    assert table.nbytes < 100 * 2**20


@pytest.mark.slow
@pytest.mark.data
def test_every_subset_hash_is_enumerated(
    full_space: NB101Space, subset_rows: list[dict[str, str]]
) -> None:
    keys = full_space.enumeration().hash_keys()
    want = np.array([bytes.fromhex(r["hash"]) for r in subset_rows], dtype="S16")
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    assert np.array_equal(keys[pos], want)
    row = subset_rows[0]
    cell = SPACE.from_spec(json.loads(row["matrix"]), row["ops"].split(","))
    assert full_space.hash_at(full_space.index_of(cell)) == row["hash"]


@pytest.mark.slow
@given(st.integers(0, 423_623))
@settings(max_examples=200, deadline=None)
def test_index_cell_hash_round_trip(full_space: NB101Space, i: int) -> None:
    cell = full_space.cell_at(i)
    full_space.validate(cell)
    h = full_space.canonical(cell)
    assert h == full_space.hash_at(i)
    assert full_space.index_of(cell) == i == full_space.index_of_hash(h)
    assert full_space.cell_of_hash(h) == cell


@pytest.mark.slow
@given(valid_cells())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_every_valid_cell_is_enumerated(full_space: NB101Space, cell: Cell) -> None:
    i = full_space.index_of(cell)
    assert full_space.canonical(full_space.cell_at(i)) == full_space.canonical(cell)


@pytest.mark.slow
def test_lookup_errors(full_space: NB101Space) -> None:
    with pytest.raises(UnknownCellError, match="no NB101 cell"):
        full_space.index_of_hash("0" * 32)
    with pytest.raises(UnknownCellError, match="32 hex"):
        full_space.index_of_hash("xyz")
    with pytest.raises(IndexError):
        full_space.cell_at(423_624)
    first = list(__import__("itertools").islice(full_space.enumerate(), 5))
    assert first == full_space.cells_at(range(5))


@pytest.mark.slow
@given(st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_uniform_sample(full_space: NB101Space, seed: int) -> None:
    cells = full_space.sample(10, seed=seed)
    assert len(cells) == 10
    for c in cells:
        full_space.validate(c)
    assert cells == full_space.sample(10, seed=seed)


@pytest.mark.slow
def test_uniform_sample_covers_sizes(full_space: NB101Space) -> None:
    cells = full_space.sample(20_000, seed=0)
    sizes = np.bincount([c.num_vertices for c in cells], minlength=8)
    # Expected share of 7-vertex cells: 359,082 / 423,624 = 0.8477.
    assert abs(sizes[7] / 20_000 - 359_082 / 423_624) < 0.015
    assert abs(sizes[6] / 20_000 - 62_010 / 423_624) < 0.015


@pytest.mark.slow
def test_cache_reload_fast_and_equal(full_space: NB101Space) -> None:
    path = _cache_of(full_space)
    t = time.perf_counter()
    loaded = enum.load(path)
    assert time.perf_counter() - t < 1.0
    table = full_space.enumeration()
    for a, b in zip(
        (loaded.num_vertices, loaded.adj_bits, loaded.op_bits, loaded.hashes),
        (table.num_vertices, table.adj_bits, table.op_bits, table.hashes),
        strict=True,
    ):
        assert np.array_equal(a, b)


def _cache_of(space: NB101Space) -> Path:
    assert space.loaded_from is not None
    return space.loaded_from


@pytest.mark.slow
def test_corrupt_cache_detected_and_rebuilt(
    full_space: NB101Space, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _cache_of(full_space).read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(enum.CacheError, match="unreadable"):
        enum.load(truncated)
    flipped = tmp_path / "flipped.npz"
    data = bytearray(good)
    data[-5000] ^= 0xFF  # inside the last array (hashes): only the checksum can tell
    flipped.write_bytes(bytes(data))
    with pytest.raises(enum.CacheError, match=r"unreadable.*CRC"):
        enum.load(flipped)  # the zip's own CRC catches it
    # A well-formed file whose content was changed: only the checksum can tell.
    table = full_space.enumeration()
    hashes = table.hashes.copy()
    hashes[123, 0] ^= 1
    forged = tmp_path / "forged.npz"
    np.savez(
        forged,
        format_version=np.array(enum.FORMAT_VERSION, dtype=np.int64),
        checksum=np.array(table.checksum()),
        num_vertices=table.num_vertices,
        adj_bits=table.adj_bits,
        op_bits=table.op_bits,
        hashes=hashes,
    )
    with pytest.raises(enum.CacheError, match="checksum mismatch"):
        enum.load(forged)
    old = tmp_path / "old.npz"
    np.savez(old, format_version=np.array(0, dtype=np.int64))
    with pytest.raises(enum.CacheError, match="format version 0"):
        enum.load(old)
    # load_or_build warns and rebuilds (the rebuild is stubbed with the known table).
    monkeypatch.setattr(enum, "enumerate_space", lambda: table)
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        rebuilt = enum.load_or_build(flipped)
    assert rebuilt is table
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(enum.load(flipped).hashes, table.hashes)
