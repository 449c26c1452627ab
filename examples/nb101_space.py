"""A tour of the NAS-Bench-101 space: build, validate, prune, hash, sample, mutate.

Run: ``python examples/nb101_space.py`` (fast: no enumeration), or
``python examples/nb101_space.py --enumerate`` to also use the full enumeration (built and
cached under ``archperf.paths.cache_dir()`` on first use, about 40 s; then loads in < 0.1 s).
"""

from __future__ import annotations

import sys

from archperf import InvalidCellError, registry
from archperf.spaces.nb101 import NB101Space


def main(enumerate_space: bool) -> None:
    space: NB101Space = registry.create("search_space", "nb101")
    cell = space.from_spec(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
        ["input", "conv3x3-bn-relu", "maxpool3x3", "output"],
    )
    print("text :", space.to_text(cell))
    print("hash :", space.canonical(cell))

    # The same cell with its two branches swapped has the same hash.
    swapped = space.from_spec(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
        ["input", "maxpool3x3", "conv3x3-bn-relu", "output"],
    )
    print("same hash after swapping branches:", space.canonical(swapped) == space.canonical(cell))

    # A vertex on no input -> output path is pruned (official NB101 semantics).
    raw = space.from_spec(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
        ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "output"],
    )
    print("pruned:", space.to_text(space.prune(raw)))

    try:
        space.from_text('{"matrix": [[0, 0], [0, 0]], "ops": ["input", "output"]}')
    except InvalidCellError as exc:
        print("invalid:", exc.rule, "-", exc)

    cells = space.sample(3, seed=0, method="rejection")  # cheap, not uniform over cells
    child = space.mutate(cells[0], seed=1)
    print("sampled sizes:", [c.num_vertices for c in cells])
    print("mutant:", space.to_text(child))

    if enumerate_space:
        print("cells:", len(space))
        uniform = space.sample(3, seed=0)  # uniform over the 423,624 unique cells
        for c in uniform:
            print(space.index_of(c), space.canonical(c))


if __name__ == "__main__":
    main("--enumerate" in sys.argv[1:])
