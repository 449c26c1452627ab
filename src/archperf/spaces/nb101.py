"""The NAS-Bench-101 search space (Ying et al., 2019).

A cell is an upper-triangular adjacency matrix and one op per vertex (input first, output last,
interior ops from conv3x3, conv1x1 and maxpool3x3).  As in the official NB101 API, a spec is
judged after *pruning* (removing vertices on no input → output path): the pruned spec must have
at most 7 vertices and 9 edges.  Two cells are the same architecture iff their official NB101
graph hashes (:meth:`NB101Space.canonical`, computed on the pruned spec) are equal.
The whole space (423,624 cells) is enumerated once and cached on disk; see
``docs/spaces/nb101.md``.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..cell import Cell
from ..errors import InvalidCellError, UnknownCellError
from ..interfaces import EnumerableSpace, HasFeatures, as_rng
from . import _nb101_enum as _enum
from ._features import build_features

__all__ = ["NB101Space"]

INPUT, CONV3X3, CONV1X1, MAXPOOL, OUTPUT = 0, 1, 2, 3, 4
_INTERIOR = (CONV3X3, CONV1X1, MAXPOOL)
_HASH_LABEL = {INPUT: -1, OUTPUT: -2, CONV3X3: 0, CONV1X1: 1, MAXPOOL: 2}
_RECORD_EXTRAS = frozenset({"hash", "canonical", "text"})
_MAX_MUTATION_TRIES = 10_000
_MAX_PATH_OPS = 5  # interior vertices on the longest input → output path (7 vertices)
_PATH_OFFSET = [sum(3**i for i in range(length)) for length in range(_MAX_PATH_OPS + 2)]
NUM_PATH_FEATURES = _PATH_OFFSET[-1]  # 1 + 3 + 9 + 27 + 81 + 243 = 364
_UPPER = np.triu_indices(7, k=1)


class NB101Space(EnumerableSpace[Cell], HasFeatures[Cell]):
    """NAS-Bench-101: cells whose pruned spec has ≤ 7 vertices and ≤ 9 edges, ops on vertices.

    Everything this space produces (enumeration, sampling, mutation) is pruned; ``validate``,
    ``canonical`` and ``index_of`` also accept unpruned specs, judged by their pruned form.

    ``cache_file`` overrides where the enumeration is cached (default
    ``archperf.paths.cache_dir() / "nb101_cells_v1.npz"``); it is built on first use.
    """

    name: ClassVar[str] = "nb101"
    op_names: tuple[str, ...] = (
        "input",
        "conv3x3-bn-relu",
        "conv1x1-bn-relu",
        "maxpool3x3",
        "output",
    )
    max_nodes: int = 7
    max_edges: int = 9
    feature_kinds: ClassVar[tuple[str, ...]] = (
        "onehot",
        "adjacency",
        "onehot+adjacency",
        "path",
        "onehot+path",
        "onehot+adjacency+path",
    )
    tree_features: ClassVar[str] = "onehot+adjacency+path"  # bench/results/predictor_xgb.json

    def __init__(self, cache_file: str | os.PathLike[str] | None = None) -> None:
        self._cache_file = Path(cache_file) if cache_file is not None else None
        self._table: _enum.Enumeration | None = None
        self._keys: np.ndarray | None = None
        self.loaded_from: Path | None = None
        """The cache file the enumeration came from (None until it is loaded)."""

    # ---------------------------------------------------------------- building and validity

    def op_id(self, op: str | int) -> int:
        """The id of an op given by name or id; raises ``InvalidCellError("unknown-op")``."""
        if isinstance(op, bool) or not isinstance(op, (str, int, np.integer)):
            raise InvalidCellError("unknown-op", f"op {op!r} is neither an op name nor an id")
        if isinstance(op, str):
            try:
                return self.op_names.index(op)
            except ValueError:
                raise InvalidCellError(
                    "unknown-op", f"unknown op {op!r}; ops are {', '.join(self.op_names)}"
                ) from None
        if not 0 <= int(op) < len(self.op_names):
            raise InvalidCellError(
                "unknown-op", f"op id {int(op)} is out of range 0..{len(self.op_names) - 1}"
            )
        return int(op)

    def from_spec(self, matrix: Any, ops: Sequence[str | int], *, prune: bool = False) -> Cell:
        """A validated cell from an adjacency matrix and ops (names or ids).

        With ``prune=False`` the cell is exactly the spec given (dangling vertices included;
        :meth:`validate` judges its pruned form); with ``prune=True`` dangling vertices are
        removed, as the official NB101 ``ModelSpec`` does.
        """
        if isinstance(matrix, (str, bytes)):
            raise InvalidCellError("malformed", "matrix must be a list of rows, not a string")
        try:
            rows = [list(r) for r in matrix]
        except TypeError:
            raise InvalidCellError("malformed", "matrix must be a list of rows") from None
        n = len(rows)
        for i, row in enumerate(rows):
            if len(row) != n:
                raise InvalidCellError(
                    "square", f"matrix must be square: {n} rows but row {i} has {len(row)} entries"
                )
        for i, row in enumerate(rows):
            for j, x in enumerate(row):
                if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x not in (0, 1):
                    raise InvalidCellError(
                        "binary", f"matrix entries must be 0 or 1; entry [{i}][{j}] is {x!r}"
                    )
        if isinstance(ops, (str, bytes)):
            raise InvalidCellError("malformed", "ops must be a list of op names or ids")
        op_list = list(ops)
        if len(op_list) != n:
            raise InvalidCellError(
                "ops-length", f"{len(op_list)} ops for a {n}x{n} matrix: need one op per vertex"
            )
        ids = [self.op_id(o) for o in op_list]
        adjacency = np.array(rows, dtype=np.uint8).reshape(n, n)
        cell = Cell(adjacency, ids)
        if prune:
            cell = self.prune(cell)
        self.validate(cell)
        return cell

    def prune(self, cell: Cell) -> Cell:
        """Remove the vertices that are not on an input → output path (official NB101 rule).

        Raises ``InvalidCellError`` ("min-vertices", "upper-triangular" or "no-path") when the
        cell cannot be pruned.  Returns ``cell`` itself when nothing is dangling.
        """
        self._check_size_and_dag(cell)
        keep = self._on_path(cell)
        if keep.all():
            return cell
        idx = np.flatnonzero(keep)
        return Cell(cell.adjacency[np.ix_(idx, idx)], cell.ops[idx])

    def validate(self, cell: Cell, *, pruned: bool = False) -> None:
        """Raise ``InvalidCellError`` naming the first broken rule, or return None.

        Checked in order on the spec as given: min-vertices (≥ 2), unknown-op (ids 0..4),
        first-op-input, last-op-output, interior-op (conv3x3/conv1x1/maxpool only),
        upper-triangular (zero diagonal, hence a DAG), no-path (input reaches output); then,
        only with ``pruned=True``, dangling-vertex (every vertex on an input → output path);
        then on the *pruned* spec: max-vertices (≤ 7), max-edges (≤ 9).  This is the official
        NB101 ``is_valid``: a spec with dangling vertices is valid iff its pruned form is.
        """
        if not isinstance(cell, Cell):
            raise InvalidCellError("malformed", f"expected a Cell, got {type(cell).__name__}")
        n = cell.num_vertices
        if n < 2:
            raise InvalidCellError("min-vertices", f"a cell needs input and output; got {n} vertex")
        ops = cell.ops.tolist()
        for v, o in enumerate(ops):
            if not 0 <= o < len(self.op_names):
                raise InvalidCellError("unknown-op", f"vertex {v} has op id {o}, not in 0..4")
        if ops[0] != INPUT:
            raise InvalidCellError(
                "first-op-input", f"vertex 0 must be 'input', got {self.op_names[ops[0]]!r}"
            )
        if ops[-1] != OUTPUT:
            raise InvalidCellError(
                "last-op-output",
                f"vertex {n - 1} must be 'output', got {self.op_names[ops[-1]]!r}",
            )
        for v in range(1, n - 1):
            if ops[v] not in _INTERIOR:
                raise InvalidCellError(
                    "interior-op",
                    f"interior vertex {v} has op {self.op_names[ops[v]]!r}; interior ops are "
                    "conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3",
                )
        self._check_size_and_dag(cell)
        keep = self._on_path(cell)
        if not keep.all():
            if pruned:
                bad = np.flatnonzero(~keep).tolist()
                raise InvalidCellError(
                    "dangling-vertex",
                    f"vertices {bad} are not on any input → output path; prune the cell "
                    "(space.prune(cell) or from_spec(..., prune=True))",
                )
            idx = np.flatnonzero(keep)
            cell = Cell(cell.adjacency[np.ix_(idx, idx)], cell.ops[idx])
            n = cell.num_vertices
        if n > self.max_nodes:
            raise InvalidCellError(
                "max-vertices", f"{n} vertices after pruning; at most {self.max_nodes} allowed"
            )
        e = cell.num_edges
        if e > self.max_edges:
            raise InvalidCellError(
                "max-edges", f"{e} edges after pruning; at most {self.max_edges} allowed"
            )

    def _check_size_and_dag(self, cell: Cell) -> None:
        n = cell.num_vertices
        if n < 2:
            raise InvalidCellError("min-vertices", f"a cell needs input and output; got {n} vertex")
        lower = np.tril(cell.adjacency)
        if lower.any():
            i, j = (int(x) for x in np.argwhere(lower)[0])
            raise InvalidCellError(
                "upper-triangular",
                f"the matrix must be strictly upper triangular; edge {i} -> {j} is not",
            )

    @staticmethod
    def _on_path(cell: Cell) -> np.ndarray:
        """Bool mask of vertices on an input → output path (raises "no-path" if none)."""
        n = cell.num_vertices
        rows = cell.adjacency.tolist()
        fwd = [False] * n
        fwd[0] = True
        for i in range(n):
            if fwd[i]:
                for j in range(i + 1, n):
                    if rows[i][j]:
                        fwd[j] = True
        bwd = [False] * n
        bwd[n - 1] = True
        for i in range(n - 2, -1, -1):
            bwd[i] = any(rows[i][j] and bwd[j] for j in range(i + 1, n))
        if not fwd[n - 1]:
            raise InvalidCellError(
                "no-path", "there is no path from the input (vertex 0) to the output (last vertex)"
            )
        return np.array([f and b for f, b in zip(fwd, bwd, strict=True)], dtype=bool)

    # ---------------------------------------------------------------- identity and text forms

    def is_pruned(self, cell: Cell) -> bool:
        """Whether every vertex of a (structurally valid) cell is on an input → output path."""
        return bool(self._on_path(cell).all())

    def canonical(self, cell: Cell) -> str:
        """The official NB101 graph hash (32 hex digits) of a valid cell's pruned spec."""
        self.validate(cell)
        p = self.prune(cell)
        return _enum.nb101_hash(p.adjacency, [_HASH_LABEL[o] for o in p.ops.tolist()])

    def op_labels(self, cell: Cell) -> list[str]:
        """The op names of a cell's vertices."""
        return [self.op_names[o] for o in cell.ops.tolist()]

    def to_text(self, cell: Cell) -> str:
        """One-line JSON ``{"matrix": [[...]], "ops": ["input", ..., "output"]}``."""
        self.validate(cell)
        return json.dumps({"matrix": cell.adjacency.tolist(), "ops": self.op_labels(cell)})

    def from_text(self, text: str, *, prune: bool = False) -> Cell:
        """Parse :meth:`to_text` output (ops by name or id) or a :meth:`to_record` line.

        Record fields ``hash``/``canonical`` must match the cell and ``text`` must describe the
        same cell; any other extra key is an error.  ``prune`` as in :meth:`from_spec`.
        """
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise InvalidCellError("malformed", f"not valid JSON: {exc}") from None
        if not isinstance(obj, dict) or "matrix" not in obj or "ops" not in obj:
            raise InvalidCellError(
                "malformed", 'expected a JSON object {"matrix": [[...]], "ops": [...]}'
            )
        extra = set(obj) - {"matrix", "ops"} - _RECORD_EXTRAS
        if extra:
            raise InvalidCellError("malformed", f"unexpected keys {sorted(extra)}")
        if not isinstance(obj["matrix"], list) or not isinstance(obj["ops"], list):
            raise InvalidCellError("malformed", '"matrix" and "ops" must be JSON lists')
        cell = self.from_spec(obj["matrix"], obj["ops"], prune=prune)
        for key in ("hash", "canonical"):
            if key in obj:
                h = self.canonical(cell)
                if obj[key] != h:
                    raise InvalidCellError(
                        "hash-mismatch", f"{key} {obj[key]!r} does not match the cell's hash {h}"
                    )
        if "text" in obj and (
            not isinstance(obj["text"], str) or self.from_text(obj["text"]) != cell
        ):
            raise InvalidCellError("hash-mismatch", '"text" describes a different cell')
        return cell

    def to_record(self, cell: Cell) -> dict[str, Any]:
        """``text`` and ``canonical`` plus ``matrix``, ``ops`` (names) and ``hash``."""
        rec = super().to_record(cell)
        rec.update(matrix=cell.adjacency.tolist(), ops=self.op_labels(cell), hash=rec["canonical"])
        return rec

    def to_graph(self, cell: Cell) -> Cell:
        """The pruned cell: the cell itself when it is pruned (NB101 ops are on vertices)."""
        self.validate(cell)
        return self.prune(cell)

    # ---------------------------------------------------------------- features

    def features(self, archs: Sequence[Cell], kind: str = "onehot") -> np.ndarray:
        """Fixed-length ``float32`` features ``[len(archs), d]`` of the *pruned* cells.

        Cells are laid out on 7 vertices (interior vertices in order from slot 1, the output
        in slot 6), as in BANANAS' adjacency encoding.  ``"onehot"`` (d = 15): the op of each
        of the 5 interior slots, one-hot over conv3x3, conv1x1, maxpool3x3 (all zero for an
        empty slot).  ``"adjacency"`` (d = 21): the upper triangle of the 7 × 7 adjacency,
        row by row.  ``"path"`` (d = 364): one indicator per sequence of interior ops on an
        input → output path, of length 0 (input → output directly) to 5: 1 + 3 + ... + 243;
        the same for every cell of an isomorphism class (the other kinds depend on the vertex
        order).  ``"a+b"`` kinds put the parts side by side.
        """

        @functools.cache
        def pruned() -> list[Cell]:
            out = []
            for cell in archs:
                self.validate(cell)
                out.append(self.prune(cell))
            return out

        def onehot() -> np.ndarray:
            rows = np.zeros((len(archs), 5, 3), dtype=np.float32)
            for i, cell in enumerate(pruned()):
                ops = _padded(cell)[1]
                used = np.flatnonzero(ops)
                rows[i, used, ops[used] - CONV3X3] = 1.0
            return rows.reshape(len(archs), 15)

        def adjacency() -> np.ndarray:
            rows = np.zeros((len(archs), len(_UPPER[0])), dtype=np.float32)
            for i, cell in enumerate(pruned()):
                rows[i] = _padded(cell)[0][_UPPER]
            return rows

        def path() -> np.ndarray:
            rows = np.zeros((len(archs), NUM_PATH_FEATURES), dtype=np.float32)
            for i, cell in enumerate(pruned()):
                rows[i] = _path_row(cell)
            return rows

        parts = {"onehot": onehot, "adjacency": adjacency, "path": path}
        return build_features("NB101", archs, kind, self.feature_kinds, parts, Cell)

    # ---------------------------------------------------------------- enumeration

    def enumeration(self) -> _enum.Enumeration:
        """The cached table of all cells (built on first use, then loaded from disk)."""
        if self._table is None:
            path = self._cache_file if self._cache_file is not None else _enum.cache_path()
            self._table = _enum.load_or_build(path)
            self.loaded_from = path
            self._keys = self._table.hash_keys()
        return self._table

    def __len__(self) -> int:
        return _enum.NUM_CELLS

    def enumerate(self) -> Iterator[Cell]:
        """Every unique cell once, in index order (sorted by hash)."""
        step = 4096
        for s in range(0, len(self), step):
            yield from self.cells_at(range(s, min(s + step, len(self))))

    def cells_at(self, indices: Sequence[int] | np.ndarray) -> list[Cell]:
        """The cells at the given indices (0 ≤ i < 423,624)."""
        table = self.enumeration()
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(table)):
            raise IndexError(f"NB101 index out of range 0..{len(table) - 1}")
        nv = table.num_vertices[idx]
        out: list[Cell | None] = [None] * len(idx)
        for n in np.unique(nv).tolist():
            pos = np.flatnonzero(nv == n)
            adj = _enum.decode_adjacency(n, table.adj_bits[idx[pos]])
            ops = _enum.decode_ops(n, table.op_bits[idx[pos]])
            for p, a, o in zip(pos.tolist(), adj, ops, strict=True):
                out[p] = Cell(a, o)
        return out  # type: ignore[return-value]

    def cell_at(self, index: int) -> Cell:
        """The cell with index ``index``."""
        return self.cells_at([index])[0]

    def hash_at(self, index: int) -> str:
        """The hash of the cell with index ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"NB101 index {index} out of range 0..{len(self) - 1}")
        return self.enumeration().hashes[index].tobytes().hex()

    def index_of_hash(self, graph_hash: str) -> int:
        """The index of the cell with this hash; ``UnknownCellError`` if there is none."""
        try:
            key = bytes.fromhex(graph_hash)
        except (ValueError, TypeError):
            key = b""
        if len(key) != 16:
            raise UnknownCellError(f"{graph_hash!r} is not an NB101 hash (32 hex digits)")
        self.enumeration()
        assert self._keys is not None
        i = int(np.searchsorted(self._keys, np.array(key, dtype="S16")))
        if i >= len(self._keys) or self._table is None or self._table.hashes[i].tobytes() != key:
            raise UnknownCellError(f"no NB101 cell has hash {graph_hash}")
        return i

    def index_of(self, cell: Cell) -> int:
        """The index of a valid cell (of its isomorphism class)."""
        return self.index_of_hash(self.canonical(cell))

    def cell_of_hash(self, graph_hash: str) -> Cell:
        """The enumerated representative cell with this hash."""
        return self.cell_at(self.index_of_hash(graph_hash))

    # ---------------------------------------------------------------- sampling and mutation

    def sample(
        self,
        n: int,
        seed: int | np.random.Generator | None = None,
        *,
        method: Literal["uniform", "rejection"] = "uniform",
    ) -> list[Cell]:
        """``n`` valid cells drawn independently (with replacement).

        ``"uniform"`` (default): uniform over the 423,624 unique cells (uses the cached
        enumeration, built on first use).  ``"rejection"``: the official NB101 random spec — a
        7-vertex upper-triangular matrix with each of the 21 edges present with probability 1/2
        and uniform interior ops, pruned, kept if valid; cheap, needs no enumeration, but NOT
        uniform over unique cells.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        rng = as_rng(seed)
        if method == "uniform":
            return self.cells_at(rng.integers(0, len(self), size=n))
        if method == "rejection":
            return [self._random_spec(rng) for _ in range(n)]
        raise ValueError(f"unknown sampling method {method!r}; use 'uniform' or 'rejection'")

    def _random_spec(self, rng: np.random.Generator) -> Cell:
        v = self.max_nodes
        while True:
            adj = np.triu(rng.integers(0, 2, size=(v, v)), k=1)
            ops = rng.integers(1, 4, size=v)
            ops[0], ops[-1] = INPUT, OUTPUT
            try:
                cell = self.prune(Cell(adj, ops))
                self.validate(cell)
            except InvalidCellError:
                continue
            return cell

    def mutate(self, cell: Cell, seed: int | np.random.Generator | None = None) -> Cell:
        """A valid cell with a different hash, by NB101 / regularized-evolution mutation.

        One try: embed the pruned cell in 7 vertices (its interior vertices, in order, at
        random interior slots; the other slots get unconnected vertices with random ops), flip
        each of the 21 upper-triangle entries with probability 1/21, replace each of the 5
        interior ops with probability 1/5 by one of the two other ops (uniformly), then prune.
        Tries repeat until the result is valid and its hash differs from the original's.
        """
        old = self.canonical(cell)
        cell = self.prune(cell)
        rng = as_rng(seed)
        v = self.max_nodes
        n = cell.num_vertices
        n_pairs = v * (v - 1) // 2
        upper = np.triu(np.ones((v, v), dtype=bool), k=1)
        for _ in range(_MAX_MUTATION_TRIES):
            slots = np.sort(rng.choice(v - 2, size=n - 2, replace=False)) + 1
            pos = np.concatenate([[0], slots, [v - 1]])
            adj = np.zeros((v, v), dtype=np.uint8)
            adj[np.ix_(pos, pos)] = cell.adjacency
            ops = rng.integers(1, 4, size=v)
            ops[0], ops[-1] = INPUT, OUTPUT
            ops[pos] = cell.ops
            flip = (rng.random((v, v)) < 1.0 / n_pairs) & upper
            adj ^= flip.astype(np.uint8)
            change = rng.random(v - 2) < 1.0 / (v - 2)
            shift = rng.integers(1, 3, size=v - 2)
            interior = ops[1:-1]
            ops[1:-1] = np.where(change, (interior - 1 + shift) % 3 + 1, interior)
            try:
                new = self.prune(Cell(adj, ops))
                self.validate(new)
            except InvalidCellError:
                continue
            if self.canonical(new) != old:
                return new
        raise RuntimeError(f"no valid mutation found in {_MAX_MUTATION_TRIES} tries")


def _padded(cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    """A pruned cell in the 7-vertex layout of the features: interior vertices keep their
    order in slots 1..n-2, the output moves to slot 6; ``(adjacency [7, 7], interior op ids
    [5], 0 for an empty slot)``."""
    n = cell.num_vertices
    pos = np.array([*range(n - 1), 6])
    adj = np.zeros((7, 7), dtype=np.float32)
    adj[np.ix_(pos, pos)] = cell.adjacency
    ops = np.zeros(5, dtype=np.int64)
    ops[: n - 2] = cell.ops[1:-1]
    return adj, ops


def _path_row(cell: Cell) -> np.ndarray:
    """Indicators of the interior-op sequences of a pruned cell's input → output paths."""
    out = np.zeros(NUM_PATH_FEATURES, dtype=np.float32)
    n = cell.num_vertices
    succ = [np.flatnonzero(cell.adjacency[v]).tolist() for v in range(n)]
    ops = cell.ops.tolist()
    stack: list[tuple[int, int, int]] = [(0, 0, 0)]  # (vertex, ops so far, base-3 code)
    while stack:
        v, length, code = stack.pop()
        for w in succ[v]:
            if w == n - 1:
                out[_PATH_OFFSET[length] + code] = 1.0
            else:
                stack.append((w, length + 1, 3 * code + ops[w] - CONV3X3))
    return out
