"""The NAS-Bench-201 and DARTS search spaces: text forms, graph forms, canonical forms.

Run: python examples/nb201_darts_spaces.py   (needs no benchmark data)
"""

from __future__ import annotations

import sys

from archperf import registry
from archperf.errors import InvalidCellError


def nb201_tour() -> None:
    space = registry.create("search_space", "nb201")
    text = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
    cell = space.from_text(text)
    print(f"NB201: {len(space)} cells; op-on-node graph of {cell.num_vertices} vertices")
    print(f"  {text}")
    print(f"  op code {space.to_op_code(cell)}, ops {space.to_ops(cell)}")
    # the same function written directly: conv on the edge 3←0, every other edge none
    direct = space.from_op_code("000300")
    print(f"  canonical {space.canonical(cell)!r} == {space.canonical(direct)!r}")
    child = space.mutate(cell, seed=0)
    print(f"  a mutation: {space.to_text(child)} -> {space.canonical(child)!r}")
    try:
        space.from_text("|nor_conv_3x3~0|+|none~0|skip_connect~2|+|none~0|none~1|none~2|")
    except InvalidCellError as exc:
        print(f"  invalid: {exc}")


def darts_tour() -> None:
    space = registry.create("search_space", "darts")
    g = space.sample(1, seed=0)[0]
    print(
        f"DARTS: graph form of {space.to_graph(g).num_vertices} vertices, vocabulary "
        f"of {len(space.op_names)} names"
    )
    print(f"  {space.to_text(g)}")
    print(f"  compact {space.to_compact(g)}")
    same = space.canonical_genotype(g)  # a renumbered, equivalent genotype
    print(f"  canonical id {space.canonical_id(g)} == {space.canonical_id(same)}")
    x = space.to_nb301_features([g, same])
    print(f"  NB301 features {x.shape} {x.dtype}; rows equal: {bool((x[0] == x[1]).all())}")
    pool = space.sample(3, seed=1, same_cells=True)
    print(f"  same_cells pool: normal == reduce for all: {all(p.normal == p.reduce for p in pool)}")
    try:
        space.from_text("([(0, 3), (0, 3)] * 4, [])")
    except InvalidCellError as exc:
        print(f"  invalid: {exc}")


def main() -> int:
    nb201_tour()
    darts_tour()
    return 0


if __name__ == "__main__":
    sys.exit(main())
