"""Add a search space to archperf as a plugin, then use it through the registry.

A plugin is any object with pluggy hook implementations; a distribution exposes it through the
entry-point group ``archperf`` (see docs/plugins.md). Here we register it at run time.

Run: python examples/custom_space_plugin.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np

from archperf import Cell, InvalidCellError
from archperf.hookspecs import hookimpl
from archperf.interfaces import EnumerableSpace, as_rng
from archperf.registry import Registry


class ChainSpace(EnumerableSpace[Cell]):
    """Chains input → op_1 → ... → op_L → output with L in 1..3 and ops from three choices."""

    name = "chain"
    op_names = ("input", "conv3x3", "conv1x1", "pool", "output")
    max_nodes = 5

    def validate(self, arch: Cell) -> None:
        n = arch.num_vertices
        if not 3 <= n <= self.max_nodes:
            raise InvalidCellError("length", f"a chain has 3..5 vertices, got {n}")
        expected = np.eye(n, k=1, dtype=np.uint8)
        if not np.array_equal(arch.adjacency, expected):
            raise InvalidCellError("chain", "edges must form input → ... → output")
        ops = arch.ops.tolist()
        if ops[0] != 0 or ops[-1] != 4 or any(o not in (1, 2, 3) for o in ops[1:-1]):
            raise InvalidCellError("ops", f"ops must be input, 1..3 interior ops, output: {ops}")

    def canonical(self, arch: Cell) -> str:
        self.validate(arch)
        return "-".join(self.op_names[o] for o in arch.ops[1:-1])

    def to_text(self, arch: Cell) -> str:
        return self.canonical(arch)

    def from_text(self, text: str) -> Cell:
        names = text.strip().split("-")
        try:
            ids = [self.op_names.index(n) for n in names]
        except ValueError as exc:
            raise InvalidCellError("ops", f"unknown op in {text!r}") from exc
        cell = self._make(ids)
        self.validate(cell)
        return cell

    def to_graph(self, arch: Cell) -> Cell:
        return arch

    def _make(self, interior: list[int]) -> Cell:
        n = len(interior) + 2
        return Cell(np.eye(n, k=1, dtype=np.uint8), [0, *interior, 4])

    def enumerate(self) -> Iterator[Cell]:
        for length in (1, 2, 3):
            for code in range(3**length):
                yield self._make([1 + (code // 3**i) % 3 for i in range(length)])

    def __len__(self) -> int:
        return 3 + 9 + 27

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> list[Cell]:
        rng = as_rng(seed)
        everything = list(self.enumerate())
        return [everything[i] for i in rng.integers(0, len(everything), size=n)]

    def mutate(self, arch: Cell, seed: int | np.random.Generator | None = None) -> Cell:
        rng = as_rng(seed)
        interior = arch.ops[1:-1].tolist()
        i = int(rng.integers(len(interior)))
        interior[i] = int(rng.choice([o for o in (1, 2, 3) if o != interior[i]]))
        return self._make(interior)


class ChainPlugin:
    """The plugin object: one hook implementation per component kind it provides."""

    @hookimpl
    def archperf_search_spaces(self) -> dict[str, object]:
        return {"chain": ChainSpace}


def main() -> None:
    registry = Registry()
    registry.register(ChainPlugin(), name="chain-plugin")
    space = registry.create("search_space", "chain")
    cells = space.sample(3, seed=0)
    for cell in cells:
        print(json.dumps(space.to_record(cell)))
    print("mutated:", space.to_text(space.mutate(cells[0], seed=1)))
    print("size:", len(space), "registered spaces:", registry.names("search_space"))


if __name__ == "__main__":
    main()
