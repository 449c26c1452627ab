"""The DARTS search space (Liu et al., 2019), as used by NAS-Bench-301: rules only.

A DARTS architecture is a :class:`Genotype`: a *normal* and a *reduce* cell, each with two
input nodes (0 = c_{k-2}, 1 = c_{k-1}) and four intermediate nodes 2..5.  Intermediate node i
takes two edges from distinct earlier nodes; each edge carries one of seven ops (no ``none``).
The cell output concatenates nodes 2..5.

A cell is stored as 8 ``(input_node, op_id)`` pairs: node i uses pairs ``2(i-2)`` and
``2(i-2)+1``; op ids index :data:`DARTS_OPS` (the order of the NB301 / arch2vec compact
encoding).  Text forms: the DARTS ``Genotype(normal=[...], ...)`` string and the compact
``([(input, op_id), ...], [...])`` form.  :meth:`DartsSpace.to_nb301_features` gives the
integer input of the NB301 (YAHPO) surrogate.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, ClassVar

import numpy as np

from ..cell import Cell
from ..errors import InvalidCellError
from ..interfaces import HasFeatures, SearchSpace, as_rng
from ._features import build_features

__all__ = [
    "CELL_NAMES",
    "DARTS_OPS",
    "GRAPH_OP_NAMES",
    "NB301_COLUMNS",
    "NB301_EDGE_CODES",
    "NB301_PREFIX",
    "NUM_PAIRS",
    "DartsSpace",
    "Genotype",
]

DARTS_OPS: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The seven genotype ops; an op id is a position in this tuple."""

CELL_NAMES: tuple[str, str] = ("normal", "reduce")
NUM_INTERMEDIATE = 4
NUM_PAIRS = 2 * NUM_INTERMEDIATE
FIRST_NODE = 2  # nodes 0, 1 are the cell inputs
LAST_NODE = FIRST_NODE + NUM_INTERMEDIATE - 1
CONCAT: tuple[int, ...] = tuple(range(FIRST_NODE, LAST_NODE + 1))

GRAPH_OP_NAMES: tuple[str, ...] = tuple(
    f"{cell}:{name}" for cell in CELL_NAMES for name in ("input0", "input1", *DARTS_OPS, "output")
)
"""The vocabulary of :meth:`DartsSpace.to_graph` (10 names per cell, normal first)."""

_VERTICES_PER_CELL = 2 + NUM_PAIRS + 1
_VOCAB_PER_CELL = 2 + len(DARTS_OPS) + 1
_OP_INDEX = {name: i for i, name in enumerate(DARTS_OPS)}
_MAX_TEXT = 10_000

# --- NB301 surrogate encoding (facts from nb301/encoding.json and config_space.json) -------
NB301_PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
"""The prefix of the NB301 ConfigSpace hyperparameter names."""

NB301_COLUMNS: tuple[str, ...] = (
    *(f"edge_{cell}_{e}" for cell in CELL_NAMES for e in range(14)),
    *(f"inputs_node_{cell}_{node}" for cell in CELL_NAMES for node in (3, 4, 5)),
)
"""The 34 ``x_cat`` columns of the surrogate, without :data:`NB301_PREFIX`."""

NB301_EDGE_CODES: dict[str, int] = {
    "#na#": 0,
    "avg_pool_3x3": 1,
    "dil_conv_3x3": 2,
    "dil_conv_5x5": 3,
    "max_pool_3x3": 4,
    "sep_conv_3x3": 5,
    "sep_conv_5x5": 6,
    "skip_connect": 7,
}
"""Integer code of each op in an ``edge_*`` column (``#na#`` = edge not used)."""

_EDGE_CODE_BY_OP = np.array([NB301_EDGE_CODES[name] for name in DARTS_OPS], dtype=np.int32)
_OP_BY_EDGE_CODE = {code: _OP_INDEX[name] for name, code in NB301_EDGE_CODES.items() if code}
_EDGE_OFFSET = {node: sum(range(FIRST_NODE, node)) for node in range(FIRST_NODE, LAST_NODE + 1)}
"""First edge slot of each node: edge slot of (node i, source j) is ``offset[i] + j``."""
_INPUT_PAIR_CODES: dict[int, dict[tuple[int, int], int]] = {
    node: {pair: code for code, pair in enumerate(itertools.combinations(range(node), 2), 1)}
    for node in (3, 4, 5)
}
"""``inputs_node_*_i`` code of each (low, high) source pair: 1 + lexicographic position."""

Pair = tuple[int, int]
CellPairs = tuple[Pair, ...]


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidCellError(
            "pair-format", f"{what} must be an integer, got {type(value).__name__} {value!r}"
        )
    return int(value)


def _as_cell(value: Any, cell: str) -> CellPairs:
    if type(value) is tuple and all(
        type(p) is tuple and len(p) == 2 and type(p[0]) is int and type(p[1]) is int for p in value
    ):
        return value  # already normalised
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise InvalidCellError(
            "pair-format",
            f"{cell}: a cell is a sequence of (input_node, op_id) pairs, "
            f"got {type(value).__name__}",
        )
    pairs: list[Pair] = []
    for k, pair in enumerate(value):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence | np.ndarray):
            raise InvalidCellError(
                "pair-format", f"{cell} pair {k}: expected (input_node, op_id), got {pair!r}"
            )
        if len(pair) != 2:
            raise InvalidCellError(
                "pair-format",
                f"{cell} pair {k}: expected 2 values (input_node, op_id), got {len(pair)}",
            )
        pairs.append(
            (
                _as_int(pair[0], f"{cell} pair {k} input node"),
                _as_int(pair[1], f"{cell} pair {k} op id"),
            )
        )
    return tuple(pairs)


@dataclass(frozen=True)
class Genotype:
    """A DARTS architecture: ``normal`` and ``reduce`` cells of 8 ``(input_node, op_id)`` pairs.

    Construction normalises sequences to tuples of int pairs (``pair-format`` errors for
    anything else); the rules of the space are checked by :meth:`DartsSpace.validate`.
    """

    normal: CellPairs
    reduce: CellPairs

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _as_cell(self.normal, "normal"))
        object.__setattr__(self, "reduce", _as_cell(self.reduce, "reduce"))

    def cells(self) -> tuple[CellPairs, CellPairs]:
        """``(normal, reduce)``."""
        return (self.normal, self.reduce)


def _validate_cell(pairs: CellPairs, cell: str) -> None:
    if len(pairs) != NUM_PAIRS:
        raise InvalidCellError(
            "cell-length",
            f"{cell}: a cell has {NUM_PAIRS} (input_node, op_id) pairs, got {len(pairs)}",
        )
    for k, (src, op) in enumerate(pairs):
        node = FIRST_NODE + k // 2
        if not 0 <= op < len(DARTS_OPS):
            raise InvalidCellError(
                "unknown-op",
                f"{cell} pair {k} (node {node}): op id {op} is not in 0..{len(DARTS_OPS) - 1} "
                f"({', '.join(DARTS_OPS)})",
            )
        if not 0 <= src <= LAST_NODE:
            raise InvalidCellError(
                "input-range",
                f"{cell} pair {k} (node {node}): input node {src} is not in 0..{LAST_NODE}",
            )
        if src >= node:
            raise InvalidCellError(
                "input-order",
                f"{cell} pair {k}: node {node} can only read earlier nodes 0..{node - 1}, "
                f"got input {src}",
            )
    for node in range(FIRST_NODE, LAST_NODE + 1):
        a, b = pairs[2 * (node - FIRST_NODE)][0], pairs[2 * (node - FIRST_NODE) + 1][0]
        if a == b:
            raise InvalidCellError(
                "duplicate-input",
                f"{cell}: the two edges of node {node} both read node {a}; inputs must differ",
            )


# --- canonical form -------------------------------------------------------------------------
_PERMUTATIONS: tuple[tuple[int, ...], ...] = tuple(
    (0, 1, *p) for p in itertools.permutations(range(FIRST_NODE, LAST_NODE + 1))
)


@cache
def _valid_permutations(intra: frozenset[tuple[int, int]]) -> tuple[tuple[int, ...], ...]:
    """Renumberings ``perm[old] = new`` keeping every edge ``src → dst`` between intermediate
    nodes forward (at most 64 distinct ``intra`` sets)."""
    return tuple(p for p in _PERMUTATIONS if all(p[a] < p[b] for a, b in intra))


@lru_cache(maxsize=65536)
def _canonical_cell(pairs: CellPairs) -> tuple[tuple[Pair, Pair], ...]:
    """The least renumbered form of a valid cell (nodes in order, each node's pairs sorted)."""
    nodes = [
        (pairs[2 * i], pairs[2 * i + 1]) for i in range(NUM_INTERMEDIATE)
    ]  # node FIRST_NODE + i
    intra = frozenset(
        (src, FIRST_NODE + i) for i, node in enumerate(nodes) for src, _ in node if src >= 2
    )
    best: tuple[tuple[Pair, Pair], ...] | None = None
    for perm in _valid_permutations(intra):  # perm[old] = new
        renamed: list[tuple[Pair, Pair]] = [((0, 0), (0, 0))] * NUM_INTERMEDIATE
        for i, ((s0, o0), (s1, o1)) in enumerate(nodes):
            p0, p1 = (perm[s0], o0), (perm[s1], o1)
            renamed[perm[FIRST_NODE + i] - FIRST_NODE] = (p0, p1) if p0 <= p1 else (p1, p0)
        form = tuple(renamed)
        if best is None or form < best:
            best = form
    assert best is not None  # the identity is always a valid renumbering
    return best


def _format_canonical_cell(form: tuple[tuple[Pair, Pair], ...]) -> str:
    return ";".join("+".join(f"{DARTS_OPS[op]}({src})" for src, op in node) for node in form)


class DartsSpace(SearchSpace[Genotype], HasFeatures[Genotype]):
    """The DARTS / NAS-Bench-301 space of :class:`Genotype` (normal + reduce cell).

    ``ops`` are the seven genotype ops; ``op_names`` is the 20-name vocabulary of the
    block-diagonal graph form (:meth:`to_graph`).
    """

    name: ClassVar[str] = "darts"
    ops: tuple[str, ...] = DARTS_OPS
    op_names: tuple[str, ...] = GRAPH_OP_NAMES
    max_nodes: int = 2 * _VERTICES_PER_CELL
    feature_kinds: ClassVar[tuple[str, ...]] = (
        "onehot",
        "adjacency",
        "path",
        "onehot+path",
    )
    tree_features: ClassVar[str] = "onehot+path"  # bench/results/predictor_xgb.json

    # ----------------------------------------------------------------------------- validity
    def validate(self, arch: Genotype) -> None:
        """Raise :class:`InvalidCellError` unless ``arch`` is a valid genotype.

        Rules: ``type``, ``cell-length`` (8 pairs per cell), ``unknown-op`` (op id not in
        0..6), ``input-range`` (input node not in 0..5), ``input-order`` (input not earlier
        than its node), ``duplicate-input`` (a node's two inputs are equal).
        """
        if not isinstance(arch, Genotype):
            raise InvalidCellError(
                "type", f"a DARTS architecture is a Genotype, got {type(arch).__name__}"
            )
        for cell, pairs in zip(CELL_NAMES, arch.cells(), strict=True):
            _validate_cell(pairs, cell)

    # ------------------------------------------------------------------------- text forms
    def to_text(self, arch: Genotype) -> str:
        """The DARTS string ``Genotype(normal=[('op', input), ...], normal_concat=[2, 3, 4, 5],
        reduce=[...], reduce_concat=[2, 3, 4, 5])``."""
        self.validate(arch)

        def cell_text(pairs: CellPairs) -> str:
            return "[" + ", ".join(f"('{DARTS_OPS[op]}', {src})" for src, op in pairs) + "]"

        concat = "[" + ", ".join(str(n) for n in CONCAT) + "]"
        return (
            f"Genotype(normal={cell_text(arch.normal)}, normal_concat={concat}, "
            f"reduce={cell_text(arch.reduce)}, reduce_concat={concat})"
        )

    def to_compact(self, arch: Genotype) -> str:
        """The compact form ``([(input_node, op_id), ...], [(input_node, op_id), ...])``."""
        self.validate(arch)

        def cell_text(pairs: CellPairs) -> str:
            return "[" + ", ".join(f"({src}, {op})" for src, op in pairs) + "]"

        return f"({cell_text(arch.normal)}, {cell_text(arch.reduce)})"

    def from_text(self, text: str) -> Genotype:
        """Parse a DARTS string or a compact form (auto-detected), without ``eval``.

        Parse errors use the rules ``text-format`` and ``concat`` (only ``[2, 3, 4, 5]`` or
        ``range(2, 6)`` is valid); the result is then validated.
        """
        if not isinstance(text, str):
            raise InvalidCellError(
                "text-format", f"a genotype text is a str, got {type(text).__name__}"
            )
        s = text.strip()
        if s.startswith("Genotype"):
            return self.from_darts_string(s)
        if s.startswith(("(", "[")):
            return self.from_compact(s)
        raise InvalidCellError(
            "text-format",
            "expected a DARTS string 'Genotype(normal=[...], ...)' or a compact form "
            f"'([(input, op_id), ...], [...])', got {_short(s)!r}",
        )

    def from_darts_string(self, text: str) -> Genotype:
        """Parse ``Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)``."""
        call = _parse_expression(text)
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "Genotype"
        ):
            raise InvalidCellError("text-format", f"expected 'Genotype(...)', got {_short(text)!r}")
        fields = ("normal", "normal_concat", "reduce", "reduce_concat")
        if len(call.args) > len(fields):
            raise InvalidCellError(
                "text-format", f"Genotype takes {len(fields)} fields, got {len(call.args)}"
            )
        values: dict[str, ast.expr] = dict(zip(fields, call.args, strict=False))
        for kw in call.keywords:
            if kw.arg is None or kw.arg not in fields:
                raise InvalidCellError(
                    "text-format",
                    f"unknown Genotype field {kw.arg!r}; fields are {', '.join(fields)}",
                )
            if kw.arg in values:
                raise InvalidCellError("text-format", f"Genotype field {kw.arg!r} given twice")
            values[kw.arg] = kw.value
        missing = [f for f in fields if f not in values]
        if missing:
            raise InvalidCellError(
                "text-format", f"Genotype is missing field(s) {', '.join(missing)}"
            )
        cells: list[CellPairs] = []
        for cell in CELL_NAMES:
            concat = _concat_nodes(values[f"{cell}_concat"], f"{cell}_concat")
            if concat != CONCAT:
                raise InvalidCellError(
                    "concat",
                    f"{cell}_concat must be {list(CONCAT)} (all intermediate nodes), "
                    f"got {list(concat)}",
                )
            items = _sequence(values[cell], cell)
            pairs: list[Pair] = []
            for k, item in enumerate(items):
                elts = _sequence(item, f"{cell} pair {k}")
                if len(elts) != 2:
                    raise InvalidCellError(
                        "pair-format",
                        f"{cell} pair {k}: expected ('op_name', input_node), "
                        f"got {len(elts)} values",
                    )
                op_name = _literal(elts[0], f"{cell} pair {k} op")
                src = _literal(elts[1], f"{cell} pair {k} input node")
                if not isinstance(op_name, str):
                    raise InvalidCellError(
                        "pair-format",
                        f"{cell} pair {k}: the op must be a quoted name, got {op_name!r}",
                    )
                if op_name not in _OP_INDEX:
                    raise InvalidCellError(
                        "unknown-op",
                        f"{cell} pair {k}: unknown op {op_name!r}; ops are {', '.join(DARTS_OPS)}",
                    )
                pairs.append((_as_int(src, f"{cell} pair {k} input node"), _OP_INDEX[op_name]))
            cells.append(tuple(pairs))
        g = Genotype(cells[0], cells[1])
        self.validate(g)
        return g

    def from_compact(self, text: str) -> Genotype:
        """Parse ``([(input_node, op_id), ...], [(input_node, op_id), ...])`` (normal, reduce)."""
        node = _parse_expression(text)
        cells = _sequence(node, "compact form")
        if len(cells) != 2:
            raise InvalidCellError(
                "text-format",
                f"the compact form is (normal, reduce): 2 lists of pairs, got {len(cells)} items",
            )
        parsed: list[list[tuple[Any, Any]]] = []
        for cell, cell_node in zip(CELL_NAMES, cells, strict=True):
            pairs = []
            for k, item in enumerate(_sequence(cell_node, cell)):
                elts = _sequence(item, f"{cell} pair {k}")
                if len(elts) != 2:
                    raise InvalidCellError(
                        "pair-format",
                        f"{cell} pair {k}: expected (input_node, op_id), got {len(elts)} values",
                    )
                pairs.append(
                    (
                        _literal(elts[0], f"{cell} pair {k} input node"),
                        _literal(elts[1], f"{cell} pair {k} op id"),
                    )
                )
            parsed.append(pairs)
        g = Genotype(parsed[0], parsed[1])  # type: ignore[arg-type]  # normalised in __post_init__
        self.validate(g)
        return g

    # ---------------------------------------------------------------------- canonical form
    def canonical(self, arch: Genotype) -> str:
        """Identical for genotypes equal up to edge order within a node and renumbering.

        Per cell: the minimum over all renumberings of nodes 2..5 that keep every edge pointing
        forward of the form "nodes in order, each node's two (input, op) pairs sorted"; written
        ``normal[...]|reduce[...]`` with op names.
        """
        self.validate(arch)
        return "|".join(
            f"{cell}[{_format_canonical_cell(_canonical_cell(pairs))}]"
            for cell, pairs in zip(CELL_NAMES, arch.cells(), strict=True)
        )

    def canonical_id(self, arch: Genotype) -> str:
        """A 16-hex-digit digest of :meth:`canonical`."""
        return hashlib.sha1(self.canonical(arch).encode()).hexdigest()[:16]

    def canonical_genotype(self, arch: Genotype) -> Genotype:
        """The genotype written in its canonical numbering (a member of its own class)."""
        self.validate(arch)
        cells = [
            tuple(p for node in _canonical_cell(pairs) for p in node) for pairs in arch.cells()
        ]
        return Genotype(cells[0], cells[1])

    def to_record(self, arch: Genotype) -> dict[str, Any]:
        """DARTS string, compact form, canonical form and its digest."""
        return {
            "text": self.to_text(arch),
            "compact": self.to_compact(arch),
            "canonical": self.canonical(arch),
            "canonical_id": self.canonical_id(arch),
        }

    # ------------------------------------------------------------------------ graph form
    def to_graph(self, arch: Genotype) -> Cell:
        """Both cells as one block-diagonal op-on-node :class:`Cell` of 22 vertices.

        Per cell (normal at 0..10, reduce at 11..21): vertex 0 = input0 (c_{k-2}), 1 = input1
        (c_{k-1}), 2 + k = pair k, 10 = output.  A pair reading input 0/1 has an edge from that
        vertex; a pair reading node j >= 2 has edges from both pair vertices of node j; the
        output reads all 8 pair vertices.  Op ids index :attr:`op_names` (``"normal:..."``
        then ``"reduce:..."``).
        """
        self.validate(arch)
        n = _VERTICES_PER_CELL
        adj = np.zeros((2 * n, 2 * n), dtype=np.uint8)
        ops = np.zeros(2 * n, dtype=np.int64)
        for c, pairs in enumerate(arch.cells()):
            base, vocab = c * n, c * _VOCAB_PER_CELL
            out = base + n - 1
            ops[base + 0] = vocab + 0
            ops[base + 1] = vocab + 1
            ops[out] = vocab + _VOCAB_PER_CELL - 1
            for k, (src, op) in enumerate(pairs):
                v = base + 2 + k
                ops[v] = vocab + 2 + op
                if src < FIRST_NODE:
                    adj[base + src, v] = 1
                else:
                    first = base + 2 + 2 * (src - FIRST_NODE)
                    adj[first, v] = 1
                    adj[first + 1, v] = 1
                adj[v, out] = 1
        return Cell(adj, ops)

    # ---------------------------------------------------------------------------- features
    def features(self, archs: Sequence[Genotype], kind: str = "onehot") -> np.ndarray:
        """Fixed-length ``float32`` features ``[len(archs), d]``, normal cell then reduce cell.

        ``"onehot"`` (d = 2 × 14 × 7 = 196): for each of a cell's 14 possible edges (node i
        from source j, the slots of :meth:`to_nb301_features`) the op one-hot over
        :data:`DARTS_OPS`, all zero where the cell does not use the edge.  ``"adjacency"``
        (d = 2 × 14): which edges the cell uses.  ``"path"`` (d = 2 × 2 × 399 = 1,596): per
        cell and per cell input (c_{k-2}, c_{k-1}), one indicator per op sequence of length
        1 to 3 on a path from that input into an intermediate node (every intermediate node
        feeds the output, so each is a path end): 7 + 49 + 343 sequences.  Sequences of 4
        ops (a chain through all four intermediate nodes) would add 2,401 columns per input
        for very few cells; such a chain still sets the indicators of its 3-op prefixes.
        Path features are the same for every genotype of a canonical class; the other kinds
        depend on the node numbering.  ``"onehot+path"`` is both, side by side.
        """
        if isinstance(archs, Genotype):
            raise TypeError("features takes a sequence of genotypes; wrap one in a list")
        for g in archs:
            self.validate(g)

        def edges(one_hot: bool) -> np.ndarray:
            width = len(DARTS_OPS) if one_hot else 1
            out = np.zeros((len(archs), 2, _NUM_EDGE_SLOTS, width), dtype=np.float32)
            for b, g in enumerate(archs):
                for c, pairs in enumerate(g.cells()):
                    for k, (src, op) in enumerate(pairs):
                        slot = _EDGE_OFFSET[FIRST_NODE + k // 2] + src
                        out[b, c, slot, op if one_hot else 0] = 1.0
            return out.reshape(len(archs), 2 * _NUM_EDGE_SLOTS * width)

        def path() -> np.ndarray:
            out = np.zeros((len(archs), 2, 2, _PATHS_PER_INPUT), dtype=np.float32)
            for b, g in enumerate(archs):
                for c, pairs in enumerate(g.cells()):
                    _set_paths(pairs, out[b, c])
            return out.reshape(len(archs), 2 * 2 * _PATHS_PER_INPUT)

        parts = {"onehot": lambda: edges(True), "adjacency": lambda: edges(False), "path": path}
        return build_features("DARTS", archs, kind, self.feature_kinds, parts, Genotype)

    # ---------------------------------------------------------------------- NB301 encoding
    def to_nb301_features(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """The NB301 (YAHPO) surrogate's ``x_cat`` input, ``int32 [B, 34]``.

        Columns follow :data:`NB301_COLUMNS`: the 14 edge slots of each cell (slot of node i,
        source j = ``offset(i) + j``; value = :data:`NB301_EDGE_CODES` of the op, 0 if unused),
        then the input pair of nodes 3..5 of each cell (1 + lexicographic position of the pair).
        Two genotypes in the same canonical class may get different rows (renumbered nodes use
        other slots); swapping a node's two edges does not change the row.
        """
        if isinstance(genotypes, Genotype):
            raise TypeError("to_nb301_features takes a sequence of genotypes; wrap one in a list")
        x = np.zeros((len(genotypes), len(NB301_COLUMNS)), dtype=np.int32)
        for b, g in enumerate(genotypes):
            self.validate(g)
            for c, pairs in enumerate(g.cells()):
                for k, (src, op) in enumerate(pairs):
                    node = FIRST_NODE + k // 2
                    x[b, 14 * c + _EDGE_OFFSET[node] + src] = _EDGE_CODE_BY_OP[op]
                for node in (3, 4, 5):
                    i = 2 * (node - FIRST_NODE)
                    lo, hi = sorted((pairs[i][0], pairs[i + 1][0]))
                    x[b, 28 + 3 * c + node - 3] = _INPUT_PAIR_CODES[node][(lo, hi)]
        return x

    def from_nb301_features(self, x: np.ndarray) -> list[Genotype]:
        """Inverse of :meth:`to_nb301_features` (each node's pairs in source order).

        Raises :class:`InvalidCellError` (rule ``nb301-encoding``) for a row that no genotype
        produces (wrong width, unknown code, edges that disagree with the input columns).
        """
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[1] != len(NB301_COLUMNS):
            raise InvalidCellError(
                "nb301-encoding", f"expected an array [B, {len(NB301_COLUMNS)}], got {arr.shape}"
            )
        out: list[Genotype] = []
        for b, row in enumerate(arr.tolist()):
            cells: list[CellPairs] = []
            for c, cell in enumerate(CELL_NAMES):
                pairs: list[Pair] = []
                for node in range(FIRST_NODE, LAST_NODE + 1):
                    used = [j for j in range(node) if row[14 * c + _EDGE_OFFSET[node] + j] != 0]
                    if node > FIRST_NODE:
                        code = row[28 + 3 * c + node - 3]
                        expect = [list(p) for p, v in _INPUT_PAIR_CODES[node].items() if v == code]
                        if not expect or expect[0] != used:
                            raise InvalidCellError(
                                "nb301-encoding",
                                f"row {b} {cell} node {node}: input code {code} disagrees with "
                                f"the used edge slots (sources {used})",
                            )
                    elif used != [0, 1]:
                        raise InvalidCellError(
                            "nb301-encoding",
                            f"row {b} {cell} node 2: edges from 0 and 1 must be set, got {used}",
                        )
                    for j in used:
                        code = row[14 * c + _EDGE_OFFSET[node] + j]
                        if code not in _OP_BY_EDGE_CODE:
                            raise InvalidCellError(
                                "nb301-encoding", f"row {b} {cell}: unknown edge code {code}"
                            )
                        pairs.append((j, _OP_BY_EDGE_CODE[code]))
                cells.append(tuple(pairs))
            out.append(Genotype(cells[0], cells[1]))
        return out

    # ------------------------------------------------------------------ sampling, mutation
    def sample(
        self,
        n: int,
        seed: int | np.random.Generator | None = None,
        same_cells: bool = False,
    ) -> list[Genotype]:
        """``n`` genotypes, uniform over the genotype description.

        For each node of each cell: two distinct earlier inputs drawn uniformly (in random
        order) and two ops drawn uniformly.  ``same_cells=True`` makes ``reduce == normal``
        (the arch2vec / SemiGAN-NAD unlabeled pool).
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        rng = as_rng(seed)
        normal = _sample_cells(rng, n)
        reduce = normal if same_cells else _sample_cells(rng, n)
        return [Genotype(a, b) for a, b in zip(normal, reduce, strict=True)]

    def mutate(
        self,
        arch: Genotype,
        seed: int | np.random.Generator | None = None,
        same_cells: bool = False,
    ) -> Genotype:
        """NB301-style mutation: change the op or the input of one edge of one cell.

        Draw the cell (normal/reduce), one of its 8 edges, and whether to change the op (to a
        different op) or the input (to another earlier node that is not the node's other input),
        all uniformly; draws that are impossible (node 2 has no other input) or leave the
        canonical form unchanged are redrawn.  ``same_cells=True`` applies the same change to
        both cells (requires ``normal == reduce``).
        """
        self.validate(arch)
        if same_cells and arch.normal != arch.reduce:
            raise ValueError("same_cells=True needs a genotype with normal == reduce")
        rng = as_rng(seed)
        before = self.canonical(arch)
        while True:
            c = 0 if same_cells else int(rng.integers(2))
            pairs = [list(p) for p in arch.cells()[c]]
            k = int(rng.integers(NUM_PAIRS))
            node = FIRST_NODE + k // 2
            if rng.integers(2) == 0:
                new_op = int(rng.integers(len(DARTS_OPS) - 1))
                pairs[k][1] = new_op + (new_op >= pairs[k][1])
            else:
                other = pairs[k ^ 1][0]
                choices = [j for j in range(node) if j not in (pairs[k][0], other)]
                if not choices:
                    continue
                pairs[k][0] = choices[int(rng.integers(len(choices)))]
            cell: CellPairs = tuple((p[0], p[1]) for p in pairs)
            if same_cells:
                child = Genotype(cell, cell)
            else:
                child = Genotype(cell, arch.reduce) if c == 0 else Genotype(arch.normal, cell)
            if self.canonical(child) != before:
                return child


_NUM_EDGE_SLOTS = _EDGE_OFFSET[LAST_NODE] + LAST_NODE  # 14
_MAX_PATH_OPS = 3
_PATH_OFFSET = [sum(len(DARTS_OPS) ** i for i in range(1, length)) for length in range(1, 5)]
"""``_PATH_OFFSET[L - 1]``: first column of the sequences of L ops; the last entry is the width."""
_PATHS_PER_INPUT = _PATH_OFFSET[-1]  # 7 + 49 + 343 = 399


def _set_paths(pairs: CellPairs, out: np.ndarray) -> None:
    """Set ``out[input, index]`` for every op sequence (1 to 3 ops) on a path of the cell
    ``pairs`` from cell input 0 or 1."""
    succ: dict[int, list[tuple[int, int]]] = {}
    for k, (src, op) in enumerate(pairs):
        succ.setdefault(src, []).append((FIRST_NODE + k // 2, op))
    for start in (0, 1):
        stack: list[tuple[int, int, int]] = [(start, 0, 0)]  # (node, ops so far, base-7 code)
        while stack:
            node, length, code = stack.pop()
            for dst, op in succ.get(node, ()):
                new = code * len(DARTS_OPS) + op
                out[start, _PATH_OFFSET[length] + new] = 1.0  # offset of length + 1 ops
                if length + 1 < _MAX_PATH_OPS:
                    stack.append((dst, length + 1, new))


def _sample_cells(rng: np.random.Generator, n: int) -> list[CellPairs]:
    """``n`` cells: per node two distinct inputs (uniform ordered pair) and two uniform ops."""
    columns: list[np.ndarray] = []
    for node in range(FIRST_NODE, LAST_NODE + 1):
        first = rng.integers(node, size=n)
        second = rng.integers(node - 1, size=n)
        second += second >= first  # uniform over the inputs other than `first`
        ops = rng.integers(len(DARTS_OPS), size=(n, 2))
        columns += [first, ops[:, 0], second, ops[:, 1]]
    table = np.stack(columns, axis=1).tolist() if n else []
    return [
        tuple((int(row[2 * k]), int(row[2 * k + 1])) for k in range(NUM_PAIRS)) for row in table
    ]


# --- safe parsing helpers (ast nodes are inspected, never evaluated) -------------------------
def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _parse_expression(text: str) -> ast.expr:
    if len(text) > _MAX_TEXT:
        raise InvalidCellError(
            "text-format", f"genotype text is {len(text)} characters; at most {_MAX_TEXT}"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise InvalidCellError("text-format", f"cannot parse {_short(text)!r}: {exc}") from None
    depth = _nesting_depth(tree.body)
    if depth > _MAX_DEPTH:
        raise InvalidCellError(
            "text-format",
            f"genotype text is nested more than {_MAX_DEPTH} levels deep "
            f"({_short(text.strip())!r})",
        )
    return tree.body


#: Deepest expression tree accepted (a genotype needs 4: call, list, pair, constant).  Deeper
#: trees (``-(-(-...1))`` 400 times) would overflow the recursion of ``ast.unparse`` in messages.
_MAX_DEPTH = 32


def _nesting_depth(root: ast.AST) -> int:
    """Depth of an ast tree, walked without recursion."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > _MAX_DEPTH:
            return depth  # enough to refuse; do not walk the rest
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _sequence(node: ast.expr, what: str) -> list[ast.expr]:
    if isinstance(node, ast.List | ast.Tuple):
        return list(node.elts)
    raise InvalidCellError(
        "text-format", f"{what}: expected a list or tuple, got {ast.unparse(node)[:60]!r}"
    )


def _literal(node: ast.expr, what: str, rule: str = "pair-format") -> Any:
    """An int or str constant (``-n`` allowed so that range errors name the right rule)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | str):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    raise InvalidCellError(rule, f"{what}: expected a constant, got {ast.unparse(node)[:60]!r}")


def _concat_nodes(node: ast.expr, what: str) -> tuple[int, ...]:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
    ):
        args = [_literal(a, what, "concat") for a in node.args]
        if not 1 <= len(args) <= 3 or not all(type(a) is int for a in args):
            raise InvalidCellError("concat", f"{what}: malformed {ast.unparse(node)!r}")
        if len(args) == 3 and args[2] == 0:
            raise InvalidCellError("concat", f"{what}: range step must not be zero")
        r = range(*args)
        if len(r) > len(CONCAT):
            raise InvalidCellError(
                "concat", f"{what}: {ast.unparse(node)!r} lists {len(r)} nodes, at most 4"
            )
        return tuple(r)
    values = [_literal(e, what, "concat") for e in _sequence(node, what)]
    if not all(type(v) is int for v in values):
        raise InvalidCellError("concat", f"{what}: node numbers must be integers, got {values}")
    return tuple(values)
