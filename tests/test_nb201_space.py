"""Tests of the NAS-Bench-201 search space (rules, text forms, canonical form, data)."""

from __future__ import annotations

import csv
import itertools
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import Cell, CellBatch
from archperf.errors import InvalidCellError
from archperf.spaces.nb201 import ADJACENCY, EDGE_OPS, OP_NAMES, NB201Space
from conftest import require_file

SPACE = NB201Space()
NONE, SKIP, C1, C3, AP = range(5)
CLASS_COUNT = 4930  # canonical classes over the 15,625 cells (measured; see docs/spaces/nb201.md)

op_tuples = st.tuples(*[st.integers(0, 4)] * 6)


def cell_of(ops: tuple[int, ...]) -> Cell:
    return SPACE.from_ops(ops)


# --------------------------------------------------------------------------------- structure
def test_registered_and_vocabulary() -> None:
    space = registry.create("search_space", "nb201")
    assert isinstance(space, NB201Space)
    assert space.name == "nb201"
    assert space.op_names == (
        "input",
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "output",
    )
    assert space.max_nodes == 8
    assert len(space) == 15625


def test_fixed_adjacency_by_hand() -> None:
    # 1←0: from input, feeds 2←1 and 3←1 | 2←0: from input, feeds 3←2 | 2←1: feeds 3←2
    # 3←0: from input, to output | 3←1, 3←2: to output
    expected = np.zeros((8, 8), dtype=np.uint8)
    for i, j in [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)]:
        expected[i, j] = 1
    assert np.array_equal(ADJACENCY, expected)
    assert not ADJACENCY.flags.writeable


def test_known_op_code() -> None:
    text = (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
        "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    )
    cell = SPACE.from_text(text)
    assert SPACE.to_op_code(cell) == "421211"  # cell 0 of the official index (data README)
    assert SPACE.to_ops(cell) == (
        "avg_pool_3x3",
        "nor_conv_1x1",
        "skip_connect",
        "nor_conv_1x1",
        "skip_connect",
        "skip_connect",
    )
    assert cell.ops.tolist() == [0, 5, 3, 2, 3, 2, 2, 6]


@given(op_tuples)
@settings(deadline=None)
def test_forms_round_trip(ops: tuple[int, ...]) -> None:
    cell = cell_of(ops)
    SPACE.validate(cell)
    assert SPACE.to_op_indices(cell) == ops
    text = SPACE.to_text(cell)
    assert SPACE.from_text(text) == cell
    assert SPACE.to_text(SPACE.from_text(text)) == text
    assert SPACE.from_op_code(SPACE.to_op_code(cell)) == cell
    assert SPACE.from_ops(SPACE.to_ops(cell)) == cell
    assert SPACE.to_graph(cell) is cell
    rec = SPACE.to_record(cell)
    assert rec["text"] == text and rec["canonical"] == SPACE.canonical(cell)
    assert len(rec["canonical_id"]) == 16


def test_cell_batch_builds() -> None:
    batch = CellBatch.from_cells(SPACE.sample(4, seed=0), num_ops=len(OP_NAMES))
    assert tuple(batch.adj.shape) == (4, 8, 8)


# ---------------------------------------------------------------------------- invalid input
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("|none~0|+|none~0|none~1|", "node-count"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "node-count"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "arch-string-format"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2", "arch-string-format"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "arch-string-format"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2~2|", "arch-string-format"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "edge-count"),
        ("|none~0|+|none~0|none~1|none~2|+|none~0|none~1|none~2|", "edge-count"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "node-index"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "node-index"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~x|", "node-index"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~02|", "node-index"),
        ("|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown-op"),
        ("|none~0|+|none~0|NONE~1|+|none~0|none~1|none~2|", "unknown-op"),
        ("", "node-count"),
    ],
)
def test_bad_arch_strings(text: str, rule: str) -> None:
    with pytest.raises(InvalidCellError) as info:
        SPACE.from_text(text)
    assert info.value.rule == rule
    assert f"[{rule}]" in str(info.value)


@pytest.mark.parametrize(
    ("code", "rule"),
    [("42121", "op-code"), ("4212111", "op-code"), ("42121x", "op-code"), ("421215", "unknown-op")],
)
def test_bad_op_codes(code: str, rule: str) -> None:
    with pytest.raises(InvalidCellError) as info:
        SPACE.from_op_code(code)
    assert info.value.rule == rule


def test_op_code_must_be_a_string() -> None:
    with pytest.raises(InvalidCellError, match="leading zeros") as info:
        SPACE.from_op_code(421211)  # type: ignore[arg-type]
    assert info.value.rule == "op-code"


@pytest.mark.parametrize(
    ("ops", "rule"),
    [
        ((0, 1, 2, 3, 4), "edge-count"),
        ((0, 1, 2, 3, 4, 0, 1), "edge-count"),
        ((0, 1, 2, 3, 4, 5), "unknown-op"),
        ((0, 1, 2, 3, 4, -1), "unknown-op"),
        (("none",) * 5 + ("conv",), "unknown-op"),
        ((0, 1, 2, 3, 4, 1.0), "unknown-op"),
    ],
)
def test_bad_op_tuples(ops: tuple[object, ...], rule: str) -> None:
    with pytest.raises(InvalidCellError) as info:
        SPACE.from_ops(ops)  # type: ignore[arg-type]
    assert info.value.rule == rule


@given(op_tuples, st.data())
@settings(deadline=None)
def test_invalid_cells_name_their_rule(ops: tuple[int, ...], data: st.DataObject) -> None:
    good = cell_of(ops)
    kind = data.draw(st.sampled_from(["size", "edge", "input", "output", "edge-op"]))
    adj = good.adjacency.copy()
    op_ids = good.ops.copy()
    if kind == "size":
        n = data.draw(st.integers(1, 10).filter(lambda v: v != 8))
        bad, rule = Cell(np.zeros((n, n)), [0] * n), "num-vertices"
    elif kind == "edge":
        i, j = data.draw(st.tuples(st.integers(0, 7), st.integers(0, 7)))
        adj[i, j] ^= 1
        bad, rule = Cell(adj, op_ids), "adjacency"
    elif kind == "input":
        op_ids[0] = data.draw(st.integers(1, 10))
        bad, rule = Cell(adj, op_ids), "input-op"
    elif kind == "output":
        op_ids[7] = data.draw(st.integers(0, 10).filter(lambda v: v != 6))
        bad, rule = Cell(adj, op_ids), "output-op"
    else:
        k = data.draw(st.integers(1, 6))
        op_ids[k] = data.draw(st.sampled_from([0, 6, 7, 100]))
        bad, rule = Cell(adj, op_ids), "edge-op"
    with pytest.raises(InvalidCellError) as info:
        SPACE.validate(bad)
    assert info.value.rule == rule
    assert not SPACE.is_valid(bad)
    with pytest.raises(InvalidCellError):
        SPACE.canonical(bad)
    with pytest.raises(InvalidCellError):
        SPACE.to_text(bad)


def test_non_cell_is_rejected() -> None:
    with pytest.raises(InvalidCellError) as info:
        SPACE.validate("|none~0|")  # type: ignore[arg-type]
    assert info.value.rule == "type"


# ---------------------------------------------------------------------------- canonical form
def test_canonical_examples() -> None:
    # all-none and a cell whose only path is cut are both the zero function
    assert SPACE.canonical(cell_of((NONE,) * 6)) == "0"
    assert SPACE.canonical(cell_of((C3, NONE, NONE, NONE, NONE, NONE))) == "0"
    # skip_connect is the identity: a conv reached through skips equals the direct conv
    direct = cell_of((NONE, NONE, NONE, C3, NONE, NONE))
    via_skips = cell_of((SKIP, NONE, C3, NONE, NONE, SKIP))
    assert SPACE.canonical(direct) == SPACE.canonical(via_skips) == "nor_conv_3x3(x)"
    # multiplicities are kept: two parallel convs are not one conv
    twice = cell_of((C3, NONE, NONE, C3, SKIP, NONE))
    assert SPACE.canonical(twice) == "nor_conv_3x3(x)+nor_conv_3x3(x)"
    assert SPACE.canonical(twice) != SPACE.canonical(direct)
    # nesting is kept: conv(conv(x)) differs from conv(x)
    nested = cell_of((C3, NONE, NONE, NONE, C3, NONE))
    assert SPACE.canonical(nested) == "nor_conv_3x3(nor_conv_3x3(x))"
    assert SPACE.canonical_id(direct) == SPACE.canonical_id(via_skips)
    assert SPACE.canonical_id(direct) != SPACE.canonical_id(nested)


@given(op_tuples)
@settings(deadline=None)
def test_canonical_invariant_under_swapping_nodes_1_and_2(ops: tuple[int, ...]) -> None:
    o = list(ops)
    o[2] = NONE  # no edge joins nodes 1 and 2
    swapped = [o[1], o[0], o[2], o[3], o[5], o[4]]
    assert SPACE.canonical(cell_of(tuple(o))) == SPACE.canonical(cell_of(tuple(swapped)))


@given(op_tuples, st.integers(0, 4), st.integers(0, 4))
@settings(deadline=None)
def test_canonical_ignores_dead_edges(ops: tuple[int, ...], a: int, b: int) -> None:
    # node 1 is zero when 1←0 is none: the edges leaving it (2←1, 3←1) are dead
    o = list(ops)
    o[0] = NONE
    p = o.copy()
    p[2], p[4] = a, b
    assert SPACE.canonical(cell_of(tuple(o))) == SPACE.canonical(cell_of(tuple(p)))
    # node 2 does not reach the output when 3←2 is none: its input edges are dead
    q = list(ops)
    q[5] = NONE
    r = q.copy()
    r[1], r[2] = a, b
    assert SPACE.canonical(cell_of(tuple(q))) == SPACE.canonical(cell_of(tuple(r)))


@given(op_tuples, st.integers(1, 4))
@settings(deadline=None)
def test_canonical_sees_the_direct_edge(ops: tuple[int, ...], new: int) -> None:
    # 3←0 always feeds the output from the input: none → an op adds a term
    o = list(ops)
    o[3] = NONE
    p = o.copy()
    p[3] = new
    assert SPACE.canonical(cell_of(tuple(o))) != SPACE.canonical(cell_of(tuple(p)))


_FUNCS = {
    C1: lambda v: math.tanh(1.3 * v + 0.7 * v * v),
    C3: lambda v: math.sin(2.1 * v) + 0.3 * v**3,
    AP: lambda v: math.atan(0.9 * v - 0.4 * v * v),
}


def _evaluate(ops: tuple[int, ...], x: float) -> float:
    """The cell output when every op is a fixed generic scalar function (f(0) = 0)."""
    nodes = [x]
    for node in (1, 2, 3):
        terms = []
        for k, (src, dst) in enumerate(((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))):
            if dst != node or ops[k] == NONE:
                continue
            v = nodes[src]
            terms.append(v if ops[k] == SKIP else _FUNCS[ops[k]](v))
        nodes.append(math.fsum(terms))  # exactly rounded: independent of the order of terms
    return nodes[3]


def test_canonical_partition_equals_functional_partition() -> None:
    """Two cells share a canonical form iff they compute the same function of generic ops.

    Every cell is evaluated at three inputs with fixed nonlinear scalar functions for the three
    parametric ops (none = 0, skip = identity); equal canonical forms must give identical
    outputs and different forms different outputs.
    """
    xs = (0.37, -1.21, 0.83)
    by_value: dict[tuple[float, ...], set[str]] = defaultdict(set)
    by_canonical: dict[str, set[tuple[float, ...]]] = defaultdict(set)
    for ops in itertools.product(range(5), repeat=6):
        value = tuple(round(_evaluate(ops, x), 12) for x in xs)
        canon = SPACE.canonical(cell_of(ops))
        by_value[value].add(canon)
        by_canonical[canon].add(value)
    assert all(len(v) == 1 for v in by_canonical.values())
    assert all(len(v) == 1 for v in by_value.values())
    assert len(by_canonical) == CLASS_COUNT


def test_canonical_classes_cover_the_space() -> None:
    classes = SPACE.canonical_classes()
    assert len(classes) == CLASS_COUNT
    assert sum(len(v) for v in classes.values()) == len(SPACE)
    assert len(classes["0"]) > 1


# ---------------------------------------------------------------------- sampling, mutation
@given(st.integers(0, 2**32 - 1), st.integers(0, 30))
@settings(max_examples=50, deadline=None)
def test_sample_valid_and_reproducible(seed: int, n: int) -> None:
    cells = SPACE.sample(n, seed=seed)
    assert len(cells) == n
    for c in cells:
        SPACE.validate(c)
    assert cells == SPACE.sample(n, seed=seed)


def test_sample_is_uniform_over_ops() -> None:
    cells = SPACE.sample(5000, seed=123)
    counts = np.zeros((6, 5))
    for c in cells:
        for k, op in enumerate(SPACE.to_op_indices(c)):
            counts[k, op] += 1
    # each (edge, op) frequency is 1000 ± 5 sigma (sigma ≈ 28)
    assert np.all(np.abs(counts - 1000) < 5 * math.sqrt(5000 * 0.2 * 0.8))


def test_sample_rejects_negative_n() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        SPACE.sample(-1)


@given(op_tuples, st.integers(0, 2**32 - 1))
@settings(deadline=None)
def test_mutate_changes_one_edge_and_the_canonical_form(ops: tuple[int, ...], seed: int) -> None:
    cell = cell_of(ops)
    child = SPACE.mutate(cell, seed=seed)
    SPACE.validate(child)
    diff = [k for k in range(6) if SPACE.to_op_indices(child)[k] != ops[k]]
    assert len(diff) == 1
    assert SPACE.canonical(child) != SPACE.canonical(cell)
    assert child == SPACE.mutate(cell, seed=seed)


@given(op_tuples, st.integers(0, 2**32 - 1))
@settings(deadline=None)
def test_plain_mutation_changes_exactly_one_edge(ops: tuple[int, ...], seed: int) -> None:
    cell = cell_of(ops)
    child = SPACE.mutate(cell, seed=seed, require_change=False)
    diff = [k for k in range(6) if SPACE.to_op_indices(child)[k] != ops[k]]
    assert len(diff) == 1


def test_plain_mutation_is_uniform_over_neighbours() -> None:
    cell = cell_of((C3, NONE, SKIP, AP, C1, NONE))
    rng = np.random.default_rng(7)
    counts: dict[tuple[int, ...], int] = defaultdict(int)
    for _ in range(4800):
        counts[SPACE.to_op_indices(SPACE.mutate(cell, rng, require_change=False))] += 1
    assert len(counts) == 24  # 6 edges x 4 other ops
    assert all(abs(v - 200) < 5 * math.sqrt(4800 / 24) for v in counts.values())


# ------------------------------------------------------------------------------------- data
def _csv_arch_strings(data_dir: Path) -> list[str]:
    path = require_file(data_dir, "nb201/nb201.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        return [row["arch_str"] for row in csv.DictReader(fh)]


@pytest.mark.data
def test_enumeration_equals_benchmark_arch_strings(data_dir: Path) -> None:
    strings = _csv_arch_strings(data_dir)
    assert len(strings) == 15625
    mine = [SPACE.to_text(c) for c in SPACE.enumerate()]
    assert len(mine) == len(set(mine)) == len(SPACE)
    assert set(mine) == set(strings)
    for s in strings[:200]:  # the official strings parse and print back identically
        assert SPACE.to_text(SPACE.from_text(s)) == s


@pytest.mark.data
def test_first_csv_row_has_the_readme_op_code(data_dir: Path) -> None:
    strings = _csv_arch_strings(data_dir)
    assert SPACE.to_op_code(SPACE.from_text(strings[0])) == "421211"


def test_edge_ops_order() -> None:
    assert EDGE_OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def _nb201_paper_string(ops: tuple[str, ...]) -> str:
    """The NB201 paper's own 'unique topology' notion, as described in docs/spaces/nb201.md."""
    srcs = ((0,), (0, 1), (0, 1, 2))  # edges into nodes 1, 2, 3 in arch-string order
    nodes = ["x"]
    k = 0
    for ins in srcs:
        terms = []
        for s in ins:
            op = ops[k]
            k += 1
            if op == "none" or nodes[s] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[s])
            else:
                terms.append(f"({nodes[s]})@{op}")
        nodes.append("+".join(sorted(terms)))
    return nodes[3]


def test_paper_notion_gives_6466_classes_nested_in_ours() -> None:
    """The docs' claims: the paper's notion yields 6,466 classes (the NB201 paper's number) and
    each of them lies inside one canonical class of ours."""
    space = NB201Space()
    ours: dict[str, str] = {}
    for cell in space.enumerate():
        paper = _nb201_paper_string(tuple(space.to_ops(cell)))
        ours.setdefault(paper, space.canonical(cell))
        assert ours[paper] == space.canonical(cell)  # nested: one paper class -> one of ours
    assert len(ours) == 6466
    assert len(set(ours.values())) == CLASS_COUNT
