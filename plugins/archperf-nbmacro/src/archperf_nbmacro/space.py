"""The NAS-Bench-Macro search space (Su et al., CVPR 2021): rules only, no benchmark data.

A network is a chain of :data:`NUM_LAYERS` = 8 searchable layers in three stages of 2, 3 and 3
layers (:data:`STAGES`).  Each layer is one of three blocks (:data:`CHOICES`): ``0`` Identity,
``1`` a MobileNetV2 block with kernel 3 and expansion 3 (``mb3_k3``), ``2`` one with kernel 5 and
expansion 6 (``mb6_k5``).  The first layer of every stage (:data:`DOWNSAMPLE`: layers 0, 2, 5)
has stride 2 and doubles the channels; an Identity there is a strided 1×1 convolution.

Text form: the benchmark's key, 8 characters over ``0/1/2``, one a layer (``'22212220'``).

Graph form (native architecture, like NB201's): an op-on-node :class:`~archperf.cell.Cell` of 10
vertices, 0 = input, 1..8 = the layers in order, 9 = output, joined as a chain.  The op of a
layer vertex names what the layer computes (:data:`OP_NAMES`): ``identity``, ``mb3_k3`` and
``mb6_k5`` inside a stage, ``conv1x1_s2``, ``mb3_k3_s2`` and ``mb6_k5_s2`` at a stage's first
layer, so that an encoder sees the strided layers for what they are.

Functional equivalence (checked against the data: the benchmark file lists identical results
for all 6,561 strings of each class, 3,969 classes): inside a stage the non-first layers that
are Identity compute nothing, so only the order of the non-Identity blocks after the stage's
first layer matters.  :meth:`NBMacroSpace.canonical` moves those Identities to the end of the
stage (``'00001000'`` → ``'00010000'``).  An Identity at a stage's first layer is a real
(strided 1×1) convolution and is never moved.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from archperf.cell import Cell, check_fixed_graph
from archperf.errors import InvalidCellError
from archperf.interfaces import EnumerableSpace, HasFeatures, as_rng

__all__ = [
    "ADJACENCY",
    "CHOICES",
    "DOWNSAMPLE",
    "NUM_LAYERS",
    "OP_NAMES",
    "STAGES",
    "NBMacroSpace",
]

NUM_LAYERS = 8
CHOICES: tuple[str, ...] = ("identity", "mb3_k3", "mb6_k5")
"""The three blocks of a layer; the position is the digit of the text form."""

STAGES: tuple[tuple[int, int], ...] = ((0, 2), (2, 5), (5, 8))
"""``(first, end)`` layer of each stage (end exclusive)."""

DOWNSAMPLE: tuple[int, ...] = tuple(a for a, _ in STAGES)
"""The stride-2 layers (the first of each stage)."""

STRIDED_CHOICES: tuple[str, ...] = ("conv1x1_s2", "mb3_k3_s2", "mb6_k5_s2")
"""What the three choices compute at a stride-2 layer."""

OP_NAMES: tuple[str, ...] = ("input", *CHOICES, *STRIDED_CHOICES, "output")
"""The op vocabulary of the graph form."""

NUM_VERTICES = NUM_LAYERS + 2
_INPUT_ID = 0
_OUTPUT_ID = len(OP_NAMES) - 1
_DIGITS = "".join(str(i) for i in range(len(CHOICES)))


def layer_op_ids(layer: int) -> tuple[int, ...]:
    """The graph op ids that choices 0, 1, 2 give at ``layer`` (0..7)."""
    base = 1 + (len(CHOICES) if layer in DOWNSAMPLE else 0)
    return tuple(base + c for c in range(len(CHOICES)))


_LAYER_IDS: tuple[tuple[int, ...], ...] = tuple(layer_op_ids(k) for k in range(NUM_LAYERS))


def _build_adjacency() -> np.ndarray:
    adj = np.zeros((NUM_VERTICES, NUM_VERTICES), dtype=np.uint8)
    for v in range(NUM_VERTICES - 1):
        adj[v, v + 1] = 1
    adj.setflags(write=False)
    return adj


ADJACENCY: np.ndarray = _build_adjacency()
"""The chain input → layer 0 → ... → layer 7 → output (``uint8 [10, 10]``, read-only)."""


def _stage_of(layer: int) -> int:
    return next(s for s, (a, b) in enumerate(STAGES) if a <= layer < b)


def _layer_label(layer: int) -> str:
    stride = ", stride 2" if layer in DOWNSAMPLE else ""
    return f"layer {layer} (stage {_stage_of(layer) + 1}{stride})"


def canonical_choices(choices: Sequence[int]) -> tuple[int, ...]:
    """The canonical choice tuple: in each stage, the Identities after the first layer moved
    to the end (the order of the other blocks kept)."""
    out: list[int] = []
    for a, b in STAGES:
        rest = [c for c in choices[a + 1 : b] if c != 0]
        out += [choices[a], *rest, *([0] * (b - a - 1 - len(rest)))]
    return tuple(out)


@functools.cache
def _all_cells() -> tuple[Cell, ...]:
    """Every architecture in text order (``'00000000'``, ``'00000001'``, ...), built once."""
    return tuple(
        Cell(ADJACENCY, [_INPUT_ID, *(_LAYER_IDS[k][c] for k, c in enumerate(ch)), _OUTPUT_ID])
        for ch in itertools.product(range(len(CHOICES)), repeat=NUM_LAYERS)
    )


class NBMacroSpace(EnumerableSpace[Cell], HasFeatures[Cell]):
    """NAS-Bench-Macro: 6,561 networks, 8 layers with 3 blocks each, op-on-node chain cells."""

    name: ClassVar[str] = "nbmacro"
    op_names: tuple[str, ...] = OP_NAMES
    max_nodes: int = NUM_VERTICES
    feature_kinds: ClassVar[tuple[str, ...]] = ("onehot", "canonical")
    tree_features: ClassVar[str] = "canonical"  # bench/results/predictor_xgb.json
    choice_labels: tuple[str, ...] = tuple(
        f"L{k}" + ("/s2" if k in DOWNSAMPLE else "") for k in range(NUM_LAYERS)
    )
    """One label per choice of :meth:`to_op_indices` (the rows of a signature)."""
    choice_names: tuple[str, ...] = CHOICES
    """The names of the values :meth:`to_op_indices` gives (the columns of a signature)."""

    # ----------------------------------------------------------------------------- validity
    def validate(self, arch: Cell) -> None:
        """Raise :class:`InvalidCellError` unless ``arch`` is a NAS-Bench-Macro chain cell.

        Rules: ``type``, ``num-vertices`` (exactly 10), ``adjacency`` (the chain),
        ``input-op`` / ``output-op`` (vertex 0 / 9), ``layer-op`` (vertex k + 1 holds one of the
        three ops of layer k: the stride-2 ops at layers 0, 2 and 5).
        """
        ops = check_fixed_graph(
            arch,
            ADJACENCY,
            _INPUT_ID,
            _OUTPUT_ID,
            cell_name="a NAS-Bench-Macro cell",
            graph_name="is the chain 0 → 1 → ... → 9",
            size_note=" (input, 8 layers, output)",
        )
        for k in range(NUM_LAYERS):
            op = int(ops[k + 1])
            allowed = _LAYER_IDS[k]
            if op not in allowed:
                names = ", ".join(f"{OP_NAMES[i]} ({i})" for i in allowed)
                raise InvalidCellError(
                    "layer-op",
                    f"vertex {k + 1} ({_layer_label(k)}) has op id {op}; this layer takes {names}",
                )

    # ------------------------------------------------------------------------- choices
    def from_choices(self, choices: Sequence[int]) -> Cell:
        """The cell of eight choices (0 identity, 1 mb3_k3, 2 mb6_k5), layer 0 first."""
        if isinstance(choices, str | bytes):
            raise InvalidCellError(
                "layer-count", "choices must be a sequence of 8 integers, not a string"
            )
        ch = list(choices)
        if len(ch) != NUM_LAYERS:
            raise InvalidCellError(
                "layer-count", f"a NAS-Bench-Macro network has {NUM_LAYERS} layers, got {len(ch)}"
            )
        for k, c in enumerate(ch):
            if isinstance(c, bool) or not isinstance(c, int | np.integer):
                raise InvalidCellError(
                    "unknown-op", f"{_layer_label(k)}: a choice is an integer, got {c!r}"
                )
            if not 0 <= int(c) < len(CHOICES):
                raise InvalidCellError(
                    "unknown-op",
                    f"{_layer_label(k)}: choice {int(c)} is not in 0..{len(CHOICES) - 1} "
                    f"({', '.join(CHOICES)})",
                )
        return Cell(
            ADJACENCY,
            [_INPUT_ID, *(_LAYER_IDS[k][int(c)] for k, c in enumerate(ch)), _OUTPUT_ID],
        )

    def to_op_indices(self, arch: Cell) -> tuple[int, ...]:
        """The eight choices (0..2 into :data:`CHOICES`), layer 0 first (validates)."""
        self.validate(arch)
        return tuple(int(o) - _LAYER_IDS[k][0] for k, o in enumerate(arch.ops[1:-1]))

    def to_ops(self, arch: Cell) -> tuple[str, ...]:
        """What each of the eight layers computes (names from :data:`OP_NAMES`)."""
        self.validate(arch)
        return tuple(OP_NAMES[int(o)] for o in arch.ops[1:-1])

    # ------------------------------------------------------------------------- text forms
    def to_text(self, arch: Cell) -> str:
        """The benchmark key: 8 characters over ``0/1/2`` (e.g. ``'22212220'``)."""
        return "".join(str(c) for c in self.to_op_indices(arch))

    def from_text(self, text: str) -> Cell:
        """Parse a benchmark key strictly (surrounding whitespace is ignored).

        Rule ``text-format``: exactly 8 characters, each ``0``, ``1`` or ``2``.
        """
        if not isinstance(text, str):
            raise InvalidCellError(
                "text-format", f"a NAS-Bench-Macro key is a str, got {type(text).__name__}"
            )
        s = text.strip()
        if len(s) != NUM_LAYERS or any(ch not in _DIGITS for ch in s):
            raise InvalidCellError(
                "text-format",
                f"a NAS-Bench-Macro key is {NUM_LAYERS} characters over 0/1/2 (0 identity, "
                f"1 mb3_k3, 2 mb6_k5), got {s!r}",
            )
        return self.from_choices([int(ch) for ch in s])

    def to_graph(self, arch: Cell) -> Cell:
        """The op-on-node cell itself (validated)."""
        self.validate(arch)
        return arch

    # ---------------------------------------------------------------------- canonical form
    def canonical(self, arch: Cell) -> str:
        """The key of the class: per stage, Identities after the first layer moved to its end
        (identical for networks the benchmark trained as the same network)."""
        return "".join(str(c) for c in canonical_choices(self.to_op_indices(arch)))

    def canonical_arch(self, arch: Cell) -> Cell:
        """The representative cell of ``arch``'s class (the one whose key is canonical)."""
        return self.from_choices(canonical_choices(self.to_op_indices(arch)))

    def to_record(self, arch: Cell) -> dict[str, Any]:
        """Key, layer ops and canonical key."""
        return {
            "text": self.to_text(arch),
            "ops": list(self.to_ops(arch)),
            "canonical": self.canonical(arch),
        }

    def canonical_classes(self) -> dict[str, list[Cell]]:
        """Every cell grouped by canonical key (3,969 classes)."""
        classes: dict[str, list[Cell]] = {}
        for cell in self.enumerate():
            classes.setdefault(self.canonical(cell), []).append(cell)
        return classes

    # --------------------------------------------------------------------- enumeration
    def enumerate(self) -> Iterator[Cell]:
        """All 6,561 cells in key order (``'00000000'``, ``'00000001'``, ...), equivalent ones
        included (see :meth:`canonical_classes`)."""
        yield from _all_cells()

    def __len__(self) -> int:
        return len(CHOICES) ** NUM_LAYERS

    # ------------------------------------------------------------------ sampling, mutation
    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> list[Cell]:
        """``n`` cells drawn uniformly (with replacement) from the 6,561 keys."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        rng = as_rng(seed)
        draws = rng.integers(0, len(CHOICES), size=(int(n), NUM_LAYERS))
        cells = _all_cells()
        weights = len(CHOICES) ** np.arange(NUM_LAYERS - 1, -1, -1)
        return [cells[int(i)] for i in draws @ weights]

    def mutate(self, arch: Cell, seed: int | np.random.Generator | None = None) -> Cell:
        """Change the block of one uniformly chosen layer to a uniformly chosen other block.

        Every such change changes :meth:`canonical` (it changes a stage's first block or the
        multiset of its other blocks), so the child always computes another function.
        """
        ch = list(self.to_op_indices(arch))
        rng = as_rng(seed)
        k = int(rng.integers(NUM_LAYERS))
        new = int(rng.integers(len(CHOICES) - 1))
        ch[k] = new + (new >= ch[k])  # skip the current block
        return self.from_choices(ch)

    def neighbours(self, arch: Cell) -> list[Cell]:
        """The 16 one-edit neighbours: each layer's block changed to each of the two other
        blocks, in layer order (the neighbourhood of local search)."""
        ch = self.to_op_indices(arch)
        return [
            self.from_choices([*ch[:k], new, *ch[k + 1 :]])
            for k in range(NUM_LAYERS)
            for new in range(len(CHOICES))
            if new != ch[k]
        ]

    # ------------------------------------------------------------------------- features
    def features(self, archs: Sequence[Cell], kind: str = "onehot") -> np.ndarray:
        """``float32 [len(archs), 24]``: one-hot of the 8 choices (``"onehot"``), or of the
        canonical key's choices (``"canonical"``: equal rows for equivalent networks)."""
        if kind not in self.feature_kinds:
            raise ValueError(
                f"unknown feature kind {kind!r}; {self.name} offers: "
                f"{', '.join(self.feature_kinds)}"
            )
        out = np.zeros((len(archs), NUM_LAYERS, len(CHOICES)), dtype=np.float32)
        rows = np.arange(NUM_LAYERS)
        for i, a in enumerate(archs):
            ch = self.to_op_indices(a)
            if kind == "canonical":
                ch = canonical_choices(ch)
            out[i, rows, list(ch)] = 1.0
        return out.reshape(len(archs), NUM_LAYERS * len(CHOICES))
