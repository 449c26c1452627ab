"""``HasFeatures`` on the built-in spaces: shapes, values, determinism, equivalent cells."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.interfaces import HasFeatures
from archperf.spaces.darts import DartsSpace, Genotype
from archperf.spaces.nb101 import NB101Space
from archperf.spaces.nb201 import NB201Space

WIDTHS = {
    "nb201": {
        "onehot": 30,
        "path": 84,
        "canonical-path": 40,
        "onehot+path": 114,
        "onehot+path+canonical-path": 154,
    },
    "nb101": {
        "onehot": 15,
        "adjacency": 21,
        "onehot+adjacency": 36,
        "path": 364,
        "onehot+path": 379,
        "onehot+adjacency+path": 400,
    },
    "darts": {"onehot": 196, "adjacency": 28, "path": 1596, "onehot+path": 1792},
}


def _sample(space: HasFeatures, n: int, seed: int) -> list:
    if isinstance(space, NB101Space):
        return space.sample(n, seed, method="rejection")  # needs no enumeration cache
    return space.sample(n, seed)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_every_builtin_space_has_features_with_fixed_widths(name: str) -> None:
    space = registry.create("search_space", name)
    assert isinstance(space, HasFeatures)
    assert set(space.feature_kinds) == set(WIDTHS[name])
    assert "onehot" in space.feature_kinds
    archs = _sample(space, 20, 0)
    for kind, width in WIDTHS[name].items():
        x = space.features(archs, kind)
        assert x.dtype == np.float32 and x.shape == (20, width)
        assert set(np.unique(x)) <= ({0.0, 1.0} if "canonical" not in kind else set(range(5)))
        assert np.array_equal(x, space.features(list(archs), kind))  # deterministic
        assert space.features([], kind).shape == (0, width)
    assert np.array_equal(space.features(archs), space.features(archs, "onehot"))
    combined = space.features(archs, "onehot+path")
    parts = np.concatenate([space.features(archs, "onehot"), space.features(archs, "path")], 1)
    assert np.array_equal(combined, parts)


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_bad_kind_and_single_arch_are_clear_errors(name: str) -> None:
    space = registry.create("search_space", name)
    archs = _sample(space, 2, 1)
    with pytest.raises(ValueError, match=r"unknown .* feature kind 'ops'; kinds are onehot"):
        space.features(archs, "ops")
    with pytest.raises(ValueError, match="kinds are"):
        space.features(archs, "path+onehot")  # only the listed combinations
    with pytest.raises(TypeError, match="wrap one"):
        space.features(archs[0], "onehot")


def test_invalid_archs_are_refused() -> None:
    from archperf.cell import Cell
    from archperf.errors import InvalidCellError

    with pytest.raises(InvalidCellError):
        NB201Space().features([Cell(np.zeros((3, 3)), [0, 1, 2])])
    with pytest.raises(InvalidCellError):
        NB101Space().features([Cell(np.zeros((3, 3)), [0, 1, 4])], "path")  # no path
    with pytest.raises(InvalidCellError):
        DartsSpace().features([Genotype([(0, 0)] * 8, [(0, 0)] * 8)], "path")


# --------------------------------------------------------------------------------- NB201
def test_nb201_values_of_one_cell() -> None:
    space = NB201Space()
    # edges 1←0, 2←0, 2←1, 3←0, 3←1, 3←2
    cell = space.from_ops(["nor_conv_3x3", "none", "skip_connect", "none", "none", "avg_pool_3x3"])
    onehot = space.features([cell], "onehot")[0].reshape(6, 5)
    assert onehot.argmax(1).tolist() == [3, 0, 1, 0, 0, 4]
    # only the route 0→1→2→3 is live: ops (conv3x3, skip, avg_pool) = path ops (3, 1, 4)
    # (path op p = edge op index; "none" cannot be on a path) → 4 + 16 + base-4 "2,0,3"
    path = space.features([cell], "path")[0]
    assert np.flatnonzero(path).tolist() == [4 + 16 + 2 * 16 + 0 * 4 + 3]


def test_nb201_path_features_agree_on_equivalent_cells_without_skip() -> None:
    """Exhaustive over the 15,625 cells: two cells with the same canonical form and no
    skip_connect have equal path features (ops on dead edges never reach a path).  With skips
    this is false (a skip is an op of the path encoding, the identity of the canonical form),
    and the test checks that too, so the docstring's claim stays honest."""
    space = NB201Space()
    cells = list(space.enumerate())
    x = space.features(cells, "path")
    classes: dict[str, list[int]] = defaultdict(list)
    for i, cell in enumerate(cells):
        classes[space.canonical(cell)].append(i)
    split_with_skip = 0
    for members in classes.values():
        no_skip = [i for i in members if 1 not in space.to_op_indices(cells[i])]
        if no_skip:
            assert (x[no_skip] == x[no_skip[0]]).all()
        split_with_skip += not (x[members] == x[members[0]]).all()
    assert len(classes) == 4930 and split_with_skip == 1070  # quoted in docs/predictors.md


def test_nb201_canonical_path_features_are_equal_exactly_within_classes_or_coarser() -> None:
    """Exhaustive: every canonical class has one canonical-path row; the rows are coarser than
    the classes (different functions can share a row), and the counts are counts."""
    space = NB201Space()
    cells = list(space.enumerate())
    x = space.features(cells, "canonical-path")
    rows: dict[str, bytes] = {}
    for cell, row in zip(cells, x, strict=True):
        assert rows.setdefault(space.canonical(cell), row.tobytes()) == row.tobytes()
    assert len(set(rows.values())) == 4120 < len(rows) == 4930  # quoted in docs/predictors.md
    assert x.max() == 4  # all four routes all skip_connect: four identity routes
    all_skip = space.from_ops(["skip_connect"] * 6)
    assert space.features([all_skip], "canonical-path")[0].tolist() == [4.0] + [0.0] * 39


def test_nb201_canonical_path_values_of_one_cell() -> None:
    space = NB201Space()
    ops = ["skip_connect", "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "none", "avg_pool_3x3"]
    x = space.features([space.from_ops(ops)], "canonical-path")[0]
    # routes: 3←0 skip → (); 1←0→3 dead (none); 0→2→3 (conv3, pool); 0→1→2→3 (conv1, pool)
    # sequences over conv1x1=0, conv3x3=1, pool=2; offsets 0, 1, 4, 13 for lengths 0..3
    assert {int(i): float(x[i]) for i in np.flatnonzero(x)} == {0: 1.0, 4 + 5: 1.0, 4 + 2: 1.0}


@given(st.lists(st.integers(0, 4), min_size=6, max_size=6), st.integers(0, 4))
@settings(deadline=None, max_examples=200)
def test_nb201_op_on_a_dead_edge_does_not_change_path_features(ops: list[int], new: int) -> None:
    """An edge on no live route (every route through it has a ``none`` elsewhere) can take any
    op without changing the path features."""
    from archperf.spaces.nb201 import PATH_ROUTES

    space = NB201Space()
    x = space.features([space.from_ops(ops)], "path")
    for edge in range(6):
        routes = [r for r in PATH_ROUTES if edge in r]
        if all(any(ops[e] == 0 for e in r if e != edge) for r in routes):
            changed = list(ops)
            changed[edge] = new
            assert np.array_equal(space.features([space.from_ops(changed)], "path"), x)


# --------------------------------------------------------------------------------- NB101
def test_nb101_values_of_one_cell() -> None:
    space = NB101Space()
    matrix = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    cell = space.from_spec(matrix, ["input", "conv1x1-bn-relu", "maxpool3x3", "output"])
    x = space.features([cell], "onehot+adjacency+path")[0]
    onehot, adj, path = x[:15].reshape(5, 3), x[15:36], x[36:]
    assert onehot.argmax(1)[:2].tolist() == [1, 2] and onehot[2:].sum() == 0
    padded = np.zeros((7, 7))
    padded[np.triu_indices(7, 1)] = adj
    expected = {(0, 1), (0, 2), (1, 6), (2, 6)}
    assert {(int(i), int(j)) for i, j in zip(*np.nonzero(padded), strict=True)} == expected
    assert np.flatnonzero(path).tolist() == [1 + 1, 1 + 2]  # (conv1x1), (maxpool)


def test_nb101_unpruned_spec_has_the_features_of_its_pruned_form() -> None:
    space = NB101Space()
    matrix = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]  # vertex 2 dangles
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]
    loose = space.from_spec(matrix, ops)
    pruned = space.from_spec(matrix, ops, prune=True)
    for kind in space.feature_kinds:
        assert np.array_equal(space.features([loose], kind), space.features([pruned], kind))


@given(st.integers(0, 2**32 - 1), st.data())
@settings(deadline=None, max_examples=60)
def test_nb101_path_features_are_isomorphism_invariant(seed: int, data: st.DataObject) -> None:
    """Renumbering the interior vertices (keeping the matrix upper triangular) gives a cell
    with the same hash and the same path features."""
    space = NB101Space()
    cell = space.sample(1, seed, method="rejection")[0]
    n = cell.num_vertices
    perm = [0, *data.draw(st.permutations(range(1, n - 1))), n - 1]  # new vertex k = old perm[k]
    adj = cell.adjacency[np.ix_(perm, perm)]
    if np.tril(adj).any():
        return  # not a topological order
    other = space.from_spec(adj.tolist(), cell.ops[perm].tolist())
    assert space.canonical(other) == space.canonical(cell)
    assert np.array_equal(space.features([other], "path"), space.features([cell], "path"))


# --------------------------------------------------------------------------------- DARTS
def test_darts_values_of_one_genotype() -> None:
    space = DartsSpace()
    cell = ((0, 2), (1, 3), (2, 0), (0, 1), (3, 4), (1, 5), (4, 6), (0, 0))
    x = space.features([Genotype(cell, cell)], "onehot")[0].reshape(2, 14, 7)
    assert np.array_equal(x[0], x[1])
    # node 2: slots 0, 1; node 3: slots 2..4; node 4: 5..8; node 5: 9..13 (slot = offset + src)
    used = {(int(s), int(o)) for s, o in zip(*np.nonzero(x[0]), strict=True)}
    assert used == {(0, 2), (1, 3), (4, 0), (2, 1), (8, 4), (6, 5), (13, 6), (9, 0)}
    path = space.features([Genotype(cell, cell)], "path")[0].reshape(2, 2, 399)
    # from input 1: (sep3) into node 2, then (max_pool) into 3 via node 2, then (sep5) via 3
    assert path[0, 1, 3] == 1 and path[0, 1, 7 + 3 * 7 + 0] == 1
    assert path[0, 1, 56 + (3 * 7 + 0) * 7 + 4] == 1


@given(st.integers(0, 2**32 - 1))
@settings(deadline=None, max_examples=50)
def test_darts_path_features_agree_on_equivalent_genotypes(seed: int) -> None:
    space = DartsSpace()
    g = space.sample(1, seed)[0]
    canon = space.canonical_genotype(g)
    swapped = Genotype(
        tuple(p for k in range(4) for p in (g.normal[2 * k + 1], g.normal[2 * k])), g.reduce
    )
    x = space.features([g], "path")
    assert np.array_equal(space.features([canon], "path"), x)
    assert np.array_equal(space.features([swapped], "path"), x)
    assert np.array_equal(space.features([swapped], "onehot"), space.features([g], "onehot"))
