"""Tests of the DARTS / NAS-Bench-301 search space (rules, text forms, canonical form, NB301)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import CellBatch
from archperf.errors import InvalidCellError
from archperf.spaces.darts import (
    DARTS_OPS,
    GRAPH_OP_NAMES,
    NB301_COLUMNS,
    NB301_EDGE_CODES,
    NB301_PREFIX,
    DartsSpace,
    Genotype,
)
from conftest import require_file

SPACE = DartsSpace()

# DARTS (second order) from the DARTS paper, as published in its genotypes file.
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


@st.composite
def cells(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    pairs: list[tuple[int, int]] = []
    for node in range(2, 6):
        inputs = draw(st.lists(st.integers(0, node - 1), min_size=2, max_size=2, unique=True))
        ops = draw(st.tuples(st.integers(0, 6), st.integers(0, 6)))
        pairs.extend(zip(inputs, ops, strict=True))
    return tuple(pairs)


genotypes = st.builds(Genotype, cells(), cells())


def valid_renumberings(pairs: tuple[tuple[int, int], ...]) -> list[tuple[int, ...]]:
    """Every permutation ``perm[old] = new`` of nodes 2..5 that keeps edges pointing forward."""
    out = []
    for p in itertools.permutations(range(2, 6)):
        perm = (0, 1, *p)
        if all(perm[src] < perm[2 + k // 2] for k, (src, _) in enumerate(pairs)):
            out.append(perm)
    return out


def renumber(pairs: tuple[tuple[int, int], ...], perm: tuple[int, ...]) -> tuple:
    nodes: list[list[tuple[int, int]]] = [[], [], [], []]
    for k, (src, op) in enumerate(pairs):
        nodes[perm[2 + k // 2] - 2].append((perm[src], op))
    return tuple(p for node in nodes for p in node)


# Generic scalar functions for the seven ops (a functional check of the canonical form).
_F = [
    lambda v: math.tanh(v + 0.3),
    lambda v: math.sin(1.7 * v) + 0.2,
    lambda v: v,  # skip_connect
    lambda v: math.atan(2.0 * v - 0.5),
    lambda v: math.exp(-v * v),
    lambda v: math.cos(0.9 * v + 0.1),
    lambda v: 0.3 * v**3 - v,
]


def signature(pairs: tuple[tuple[int, int], ...], inputs: tuple[float, float]) -> tuple:
    """Multiset of intermediate node values (the concat, up to channel order)."""
    vals = list(inputs)
    for node in range(4):
        (s0, o0), (s1, o1) = pairs[2 * node], pairs[2 * node + 1]
        vals.append(math.fsum((_F[o0](vals[s0]), _F[o1](vals[s1]))))
    return tuple(sorted(round(v, 12) for v in vals[2:]))


def cell_signature(pairs: tuple[tuple[int, int], ...]) -> tuple:
    return tuple(signature(pairs, x) for x in ((0.31, -0.77), (1.13, 0.45)))


# --------------------------------------------------------------------------------- structure
def test_registered_and_vocabularies() -> None:
    space = registry.create("search_space", "darts")
    assert isinstance(space, DartsSpace)
    assert space.name == "darts"
    assert space.ops == (
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    )
    assert space.op_names == GRAPH_OP_NAMES
    assert len(GRAPH_OP_NAMES) == 20 == len(set(GRAPH_OP_NAMES))
    assert GRAPH_OP_NAMES[0] == "normal:input0" and GRAPH_OP_NAMES[-1] == "reduce:output"
    assert "reduce:sep_conv_3x3" in GRAPH_OP_NAMES
    assert space.max_nodes == 22


def test_genotype_is_hashable_and_normalised() -> None:
    g = SPACE.from_text(DARTS_V2)
    h = Genotype([list(p) for p in g.normal], list(g.reduce))  # type: ignore[arg-type]
    assert g == h and hash(g) == hash(h)
    assert isinstance(h.normal, tuple) and isinstance(h.normal[0], tuple)
    with pytest.raises(AttributeError):
        g.normal = g.reduce  # type: ignore[misc]
    assert g.normal[0] == (0, 3)  # ('sep_conv_3x3', 0) → (input 0, op id 3)


# ---------------------------------------------------------------------------- text forms
def test_darts_v2_round_trips() -> None:
    g = SPACE.from_text(DARTS_V2)
    assert SPACE.to_text(g) == DARTS_V2
    compact = SPACE.to_compact(g)
    assert compact.startswith("([(0, 3), (1, 3), (0, 3), (1, 3), (1, 3), (0, 2), (0, 2), (2, 5)]")
    assert SPACE.from_text(compact) == g
    assert SPACE.from_text(DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")) == g
    assert SPACE.from_text(DARTS_V2.replace("[2, 3, 4, 5]", "(2, 3, 4, 5)")) == g
    positional = DARTS_V2.replace("normal=", "").replace("normal_concat=", "")
    positional = positional.replace("reduce=", "").replace("reduce_concat=", "")
    assert SPACE.from_text(positional) == g
    assert SPACE.from_text("  " + DARTS_V2 + "\n") == g


@given(genotypes)
@settings(deadline=None)
def test_text_forms_round_trip(g: Genotype) -> None:
    SPACE.validate(g)
    text = SPACE.to_text(g)
    assert SPACE.from_text(text) == g
    assert SPACE.to_text(SPACE.from_text(text)) == text
    compact = SPACE.to_compact(g)
    assert SPACE.from_text(compact) == g
    assert SPACE.from_compact(compact) == g
    assert SPACE.to_compact(SPACE.from_compact(compact)) == compact
    rec = SPACE.to_record(g)
    assert rec["text"] == text and rec["compact"] == compact
    assert rec["canonical"] == SPACE.canonical(g) and len(rec["canonical_id"]) == 16


# ---------------------------------------------------------------------------- invalid input
def _with_pair(g: Genotype, cell: str, k: int, pair: tuple[int, int]) -> Genotype:
    pairs = list(getattr(g, cell))
    pairs[k] = pair
    return Genotype(pairs, g.reduce) if cell == "normal" else Genotype(g.normal, pairs)


@given(genotypes, st.data())
@settings(deadline=None)
def test_invalid_genotypes_name_their_rule(g: Genotype, data: st.DataObject) -> None:
    cell = data.draw(st.sampled_from(["normal", "reduce"]))
    kind = data.draw(st.sampled_from(["length", "op", "range", "order", "duplicate"]))
    k = data.draw(st.integers(0, 7))
    node = 2 + k // 2
    src, op = getattr(g, cell)[k]
    if kind == "length":
        pairs = list(getattr(g, cell))
        n = data.draw(st.integers(0, 12).filter(lambda v: v != 8))
        pairs = (pairs * 2)[:n]
        bad = Genotype(pairs, g.reduce) if cell == "normal" else Genotype(g.normal, pairs)
        rule = "cell-length"
    elif kind == "op":
        bad = _with_pair(g, cell, k, (src, data.draw(st.sampled_from([-1, 7, 8, 1000]))))
        rule = "unknown-op"
    elif kind == "range":
        bad = _with_pair(g, cell, k, (data.draw(st.sampled_from([-3, -1, 6, 99])), op))
        rule = "input-range"
    elif kind == "order":
        bad = _with_pair(g, cell, k, (data.draw(st.integers(node, 5)), op))
        rule = "input-order"
    else:
        other = getattr(g, cell)[k ^ 1][0]
        bad = _with_pair(g, cell, k, (other, op))
        rule = "duplicate-input"
    with pytest.raises(InvalidCellError) as info:
        SPACE.validate(bad)
    assert info.value.rule == rule
    assert cell in str(info.value)
    assert not SPACE.is_valid(bad)
    for fn in (SPACE.canonical, SPACE.to_text, SPACE.to_compact, SPACE.to_graph):
        with pytest.raises(InvalidCellError):
            fn(bad)
    with pytest.raises(InvalidCellError):
        SPACE.to_nb301_features([bad])
    if kind != "length":  # the text forms parse, then the same rule fires
        pairs_text = [
            "[" + ", ".join(f"({s}, {o})" for s, o in c) + "]" for c in (bad.normal, bad.reduce)
        ]
        with pytest.raises(InvalidCellError) as info2:
            SPACE.from_text(f"({pairs_text[0]}, {pairs_text[1]})")
        assert info2.value.rule == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("hello", "text-format"),
        ("Genotype(normal=[", "text-format"),
        ("Genotype(", "text-format"),
        ("Genotypes(normal=[], normal_concat=[], reduce=[], reduce_concat=[])", "text-format"),
        (DARTS_V2.replace("reduce_concat", "reduce_cat"), "text-format"),
        (DARTS_V2.replace(", reduce_concat=[2, 3, 4, 5]", ""), "text-format"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4]"), "concat"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[5, 4, 3, 2]"), "concat"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 7)"), "concat"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(0, 10**9)"), "concat"),
        (DARTS_V2.replace("[2, 3, 4, 5]", "x"), "text-format"),
        (DARTS_V2.replace("'sep_conv_3x3', 0", "'conv_3x3', 0", 1), "unknown-op"),
        (DARTS_V2.replace("'sep_conv_3x3', 0", "'none', 0", 1), "unknown-op"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('sep_conv_3x3', 0, 1)", 1), "pair-format"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "(3, 0)", 1), "pair-format"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('sep_conv_3x3', '0')", 1), "pair-format"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('sep_conv_3x3', 0.0)", 1), "pair-format"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('sep_conv_3x3', -1)", 1), "input-range"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('sep_conv_3x3', 3)", 1), "input-order"),
        (DARTS_V2.replace("('sep_conv_3x3', 0)", "('sep_conv_3x3', 1)", 1), "duplicate-input"),
        (DARTS_V2.replace("('sep_conv_3x3', 0), ", "", 1), "cell-length"),
        (
            DARTS_V2.replace("('sep_conv_3x3', 0)", "__import__('os').system('true')", 1),
            "text-format",
        ),
        ("([(0, 3)] * 8, [(0, 3)] * 8)", "text-format"),
        ("([(0, 3), (1, 3)], )", "text-format"),
        ("[[(0, 1)], [(0, 1)], [(0, 1)]]", "text-format"),
        ("([(0, 1, 2)] + [], [])", "text-format"),
        ("([(0, 'x')], [(0, 1)])", "pair-format"),
        ("([(0, 1)], [(0, 1)])", "cell-length"),
        ("(" * 5000 + ")" * 5000, "text-format"),
        ("(" * 20000, "text-format"),
    ],
)
def test_bad_texts(text: str, rule: str) -> None:
    with pytest.raises(InvalidCellError) as info:
        SPACE.from_text(text)
    assert info.value.rule == rule, str(info.value)


def test_non_genotype_is_rejected() -> None:
    with pytest.raises(InvalidCellError) as info:
        SPACE.validate(((0, 1),) * 8)  # type: ignore[arg-type]
    assert info.value.rule == "type"
    with pytest.raises(InvalidCellError) as info:
        Genotype("abc", ())  # type: ignore[arg-type]
    assert info.value.rule == "pair-format"
    with pytest.raises(InvalidCellError) as info:
        Genotype([(0, 1.5)] * 8, [(0, 1)] * 8)  # type: ignore[list-item]
    assert info.value.rule == "pair-format"


# ---------------------------------------------------------------------------- canonical form
@given(genotypes, st.data())
@settings(deadline=None)
def test_canonical_invariant_under_renumbering_and_edge_swaps(
    g: Genotype, data: st.DataObject
) -> None:
    cells = []
    for pairs in g.cells():
        perm = data.draw(st.sampled_from(valid_renumberings(pairs)))
        new = list(renumber(pairs, perm))
        for node in range(4):
            if data.draw(st.booleans()):
                new[2 * node], new[2 * node + 1] = new[2 * node + 1], new[2 * node]
        cells.append(tuple(new))
    h = Genotype(cells[0], cells[1])
    SPACE.validate(h)
    assert SPACE.canonical(h) == SPACE.canonical(g)
    assert SPACE.canonical_id(h) == SPACE.canonical_id(g)
    assert SPACE.canonical(SPACE.canonical_genotype(g)) == SPACE.canonical(g)


def test_interchangeable_nodes_example() -> None:
    # nodes 2 and 3 both read only the cell inputs: swapping them is a renumbering
    a = Genotype(
        ((0, 3), (1, 4), (0, 0), (1, 1), (2, 2), (3, 5), (4, 6), (0, 3)), ((0, 1), (1, 1)) * 4
    )
    b = Genotype(
        ((0, 0), (1, 1), (0, 3), (1, 4), (3, 2), (2, 5), (4, 6), (0, 3)), ((0, 1), (1, 1)) * 4
    )
    assert a != b
    assert SPACE.canonical(a) == SPACE.canonical(b)
    # swapping the ops of node 2's two edges is a different function
    c = Genotype(
        ((0, 4), (1, 3), (0, 0), (1, 1), (2, 2), (3, 5), (4, 6), (0, 3)), ((0, 1), (1, 1)) * 4
    )
    assert SPACE.canonical(c) != SPACE.canonical(a)


@given(genotypes, genotypes, st.data())
@settings(max_examples=200, deadline=None)
def test_canonical_is_sound_for_generic_functions(
    g: Genotype, other: Genotype, data: st.DataObject
) -> None:
    """Equal canonical forms give the same concat multiset of node values for generic ops.

    (The converse fails only for degenerate weight sharing: two nodes with identical
    expressions read by different consumers; those are different networks and stay apart.)
    """
    pairs = g.normal
    choice = data.draw(st.sampled_from(["renumber", "mutate", "other"]))
    if choice == "renumber":
        q = renumber(pairs, data.draw(st.sampled_from(valid_renumberings(pairs))))
    elif choice == "mutate":
        q = SPACE.mutate(Genotype(pairs, pairs), data.draw(st.integers(0, 2**32 - 1))).normal
    else:
        q = other.normal
    same_canon = SPACE.canonical(Genotype(pairs, pairs)) == SPACE.canonical(Genotype(q, q))
    if same_canon:
        assert cell_signature(pairs) == cell_signature(q)
    if choice == "renumber":
        assert same_canon
    if cell_signature(pairs) != cell_signature(q):
        assert not same_canon


def test_degenerate_sharing_is_kept_apart() -> None:
    # nodes 2 and 3 compute the same expression; node 5 reads node 3 in `a`, node 2 in `b`
    head = ((0, 3), (1, 4), (0, 3), (1, 4), (2, 0), (0, 1))
    a = (*head, (3, 2), (1, 5))
    b = (*head, (2, 2), (1, 5))
    assert cell_signature(a) == cell_signature(b)
    assert SPACE.canonical(Genotype(a, a)) != SPACE.canonical(Genotype(b, b))


# ---------------------------------------------------------------------- sampling, mutation
@given(st.integers(0, 2**32 - 1), st.integers(0, 20), st.booleans())
@settings(max_examples=50, deadline=None)
def test_sample_valid_and_reproducible(seed: int, n: int, same: bool) -> None:
    gs = SPACE.sample(n, seed=seed, same_cells=same)
    assert len(gs) == n
    for g in gs:
        SPACE.validate(g)
        assert (g.normal == g.reduce) or not same
    assert gs == SPACE.sample(n, seed=seed, same_cells=same)


def test_sample_is_uniform() -> None:
    gs = SPACE.sample(4000, seed=11)
    ops = np.array([[op for _, op in g.normal + g.reduce] for g in gs])
    counts = np.bincount(ops.ravel(), minlength=7)
    expected = ops.size / 7
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))
    # node 5 picks each of the 10 unordered input pairs with probability 1/10
    pairs = [tuple(sorted((g.normal[6][0], g.normal[7][0]))) for g in gs]
    freq = {p: pairs.count(p) for p in itertools.combinations(range(5), 2)}
    assert all(abs(v - 400) < 5 * math.sqrt(400) for v in freq.values())
    assert sum(g.normal == g.reduce for g in gs) == 0


def test_sample_rejects_negative_n() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        SPACE.sample(-2)


@given(genotypes, st.integers(0, 2**32 - 1))
@settings(deadline=None)
def test_mutate_one_edge_valid_and_canonically_new(g: Genotype, seed: int) -> None:
    child = SPACE.mutate(g, seed=seed)
    SPACE.validate(child)
    assert SPACE.canonical(child) != SPACE.canonical(g)
    diffs = [
        (c, k)
        for c, (a, b) in enumerate(zip(g.cells(), child.cells(), strict=True))
        for k in range(8)
        if a[k] != b[k]
    ]
    assert len(diffs) == 1
    c, k = diffs[0]
    before, after = g.cells()[c][k], child.cells()[c][k]
    assert (before[0] == after[0]) != (before[1] == after[1])  # op or input, not both
    assert child == SPACE.mutate(g, seed=seed)


@given(cells(), st.integers(0, 2**32 - 1))
@settings(deadline=None)
def test_mutate_same_cells(pairs: tuple[tuple[int, int], ...], seed: int) -> None:
    g = Genotype(pairs, pairs)
    child = SPACE.mutate(g, seed=seed, same_cells=True)
    assert child.normal == child.reduce != g.normal
    assert SPACE.canonical(child) != SPACE.canonical(g)


def test_mutate_same_cells_needs_equal_cells() -> None:
    g = SPACE.sample(1, seed=3)[0]
    with pytest.raises(ValueError, match="normal == reduce"):
        SPACE.mutate(g, seed=0, same_cells=True)


def test_mutation_touches_both_cells_and_both_kinds() -> None:
    g = SPACE.from_text(DARTS_V2)
    rng = np.random.default_rng(5)
    kinds = set()
    for _ in range(400):
        child = SPACE.mutate(g, rng)
        for c in range(2):
            for k in range(8):
                a, b = g.cells()[c][k], child.cells()[c][k]
                if a != b:
                    kinds.add((c, "op" if a[0] == b[0] else "input"))
    assert kinds == {(0, "op"), (0, "input"), (1, "op"), (1, "input")}


# ------------------------------------------------------------------------------ graph form
@given(genotypes)
@settings(max_examples=50, deadline=None)
def test_graph_form(g: Genotype) -> None:
    cell = SPACE.to_graph(g)
    assert cell.num_vertices == 22
    adj, ops = cell.adjacency, cell.ops
    assert np.all(np.tril(adj) == 0)  # a DAG in vertex order
    assert not adj[:11, 11:].any() and not adj[11:, :11].any()  # block diagonal
    for c, pairs in enumerate(g.cells()):
        base = 11 * c
        names = [GRAPH_OP_NAMES[i] for i in ops[base : base + 11]]
        cell_name = ("normal", "reduce")[c]
        assert names[:2] == [f"{cell_name}:input0", f"{cell_name}:input1"]
        assert names[10] == f"{cell_name}:output"
        assert names[2:10] == [f"{cell_name}:{DARTS_OPS[op]}" for _, op in pairs]
        assert adj[base + 2 : base + 10, base + 10].all()
        assert adj[:, base + 10].sum() == 8
        for k, (src, _) in enumerate(pairs):
            preds = set(np.nonzero(adj[:, base + 2 + k])[0].tolist())
            if src < 2:
                assert preds == {base + src}
            else:
                assert preds == {base + 2 + 2 * (src - 2), base + 3 + 2 * (src - 2)}
    batch = CellBatch.from_cells([cell], num_ops=len(SPACE.op_names), max_nodes=SPACE.max_nodes)
    assert tuple(batch.ops.shape) == (1, 22)


# --------------------------------------------------------------------------- NB301 encoding
@given(st.lists(genotypes, min_size=1, max_size=5))
@settings(max_examples=50, deadline=None)
def test_nb301_features_shape_and_inverse(gs: list[Genotype]) -> None:
    x = SPACE.to_nb301_features(gs)
    assert x.dtype == np.int32 and x.shape == (len(gs), 34)
    assert np.count_nonzero(x[:, :28], axis=1).tolist() == [16] * len(gs)
    assert np.all(x[:, 28:] >= 1)
    back = SPACE.from_nb301_features(x)
    for g, h in zip(gs, back, strict=True):
        # the inverse lists each node's pairs by source: same genotype up to edge order
        assert SPACE.canonical(h) == SPACE.canonical(g)
        for a, b in zip(g.cells(), h.cells(), strict=True):
            for node in range(4):
                assert sorted(a[2 * node : 2 * node + 2]) == list(b[2 * node : 2 * node + 2])
    # swapping the two edges of a node leaves the row unchanged
    g = gs[0]
    n = list(g.normal)
    n[4], n[5] = n[5], n[4]
    assert np.array_equal(SPACE.to_nb301_features([Genotype(n, g.reduce)]), x[:1])


def test_nb301_known_row() -> None:
    x = SPACE.to_nb301_features([SPACE.from_text(DARTS_V2)])[0]
    col = {name: int(v) for name, v in zip(NB301_COLUMNS, x, strict=True)}
    assert col["edge_normal_0"] == col["edge_normal_1"] == NB301_EDGE_CODES["sep_conv_3x3"]
    assert col["edge_normal_11"] == NB301_EDGE_CODES["dil_conv_3x3"]  # node 5 from node 2
    assert col["edge_normal_9"] == NB301_EDGE_CODES["skip_connect"]  # node 5 from node 0
    assert col["edge_normal_10"] == 0 and col["edge_normal_12"] == 0
    assert col["inputs_node_normal_3"] == 1  # "0_1"
    assert col["inputs_node_normal_5"] == 2  # "0_2"
    assert col["inputs_node_reduce_3"] == 3  # "1_2"
    assert col["inputs_node_reduce_5"] == 5  # "1_2"


def test_nb301_features_rejects_single_genotype_and_bad_rows() -> None:
    g = SPACE.from_text(DARTS_V2)
    with pytest.raises(TypeError, match="sequence"):
        SPACE.to_nb301_features(g)  # type: ignore[arg-type]
    assert SPACE.to_nb301_features([]).shape == (0, 34)
    x = SPACE.to_nb301_features([g])
    for col, value in [(0, 0), (12, 5), (28, 3), (2, 9)]:
        bad = x.copy()
        bad[0, col] = value
        with pytest.raises(InvalidCellError) as info:
            SPACE.from_nb301_features(bad)
        assert info.value.rule == "nb301-encoding"
    with pytest.raises(InvalidCellError):
        SPACE.from_nb301_features(x[:, :33])


@pytest.mark.data
def test_nb301_constants_match_encoding_json(data_dir: Path) -> None:
    enc = json.loads(require_file(data_dir, "nb301/encoding.json").read_text())
    assert set(enc) == {NB301_PREFIX + c for c in NB301_COLUMNS}
    for c in NB301_COLUMNS:
        codes = enc[NB301_PREFIX + c]
        if c.startswith("edge_"):
            assert codes == NB301_EDGE_CODES
        else:
            node = int(c.rsplit("_", 1)[1])
            expected = {"#na#": 0}
            for code, (a, b) in enumerate(itertools.combinations(range(node), 2), 1):
                expected[f"{a}_{b}"] = code
            assert codes == expected


@pytest.mark.data
def test_nb301_columns_match_config_space(data_dir: Path) -> None:
    cs = json.loads(require_file(data_dir, "nb301/config_space.json").read_text())
    names = {h["name"] for h in cs["hyperparameters"]}
    assert names - {NB301_PREFIX + c for c in NB301_COLUMNS} == {"epoch"}
    for h in cs["hyperparameters"]:
        if "_edge_" in h["name"]:
            assert tuple(h["choices"]) == DARTS_OPS
    # the conditions say which input pair activates each edge slot: check the slot numbering
    g_slots = {}
    for cond in cs["conditions"]:
        child = cond["child"].removeprefix(NB301_PREFIX)
        parent = cond["parent"].removeprefix(NB301_PREFIX)
        g_slots[child] = (parent, set(cond["values"]))
    for cell in ("normal", "reduce"):
        for node in (3, 4, 5):
            for a, b in itertools.combinations(range(node), 2):
                pairs = [(0, 0), (1, 0), (0, 0), (1, 0), (0, 0), (1, 0), (0, 0), (1, 0)]
                pairs[2 * (node - 2)], pairs[2 * (node - 2) + 1] = (a, 0), (b, 0)
                cells = {"normal": tuple(pairs), "reduce": tuple(pairs)}
                x = SPACE.to_nb301_features([Genotype(cells["normal"], cells["reduce"])])[0]
                c0 = 0 if cell == "normal" else 14
                offset = {3: 2, 4: 5, 5: 9}[node]
                for j in range(node):
                    col = f"edge_{cell}_{offset + j}"
                    parent, values = g_slots[col]
                    assert parent == f"inputs_node_{cell}_{node}"
                    assert (x[c0 + offset + j] != 0) == (f"{a}_{b}" in values)


@pytest.mark.data
def test_nb301_surrogate_accepts_features(data_dir: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = require_file(data_dir, "nb301/yahpo_nb301_surrogate.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gs = [SPACE.from_text(DARTS_V2), *SPACE.sample(7, seed=0)]
    x = SPACE.to_nb301_features(gs)
    epoch = np.full((len(gs), 1), 98.0, dtype=np.float32)
    out = sess.run(None, {"x_cat": x, "x_cont": epoch})[0]
    assert out.shape == (len(gs), 2)
    assert np.all(np.isfinite(out)) and np.all((out[:, 0] > 0) & (out[:, 0] < 100))
