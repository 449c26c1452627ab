"""The generator recipe of a space (TrainerConfig.for_generation) beside the default trainer.

On NB101 the default generator's class-0 cells are mostly 5- and 6-vertex cells (pruning after
the 9-edge cap); the NB101 recipe's decoder keeps all 7 vertices.  This trains both on 100
labeled cells of the NB101 subset (a short run: --epochs, default 8) and prints, for 500
class-0 samples each, the vertex counts, the distinct share and the mean validation accuracy
of the samples the subset holds.  Without ../shared/data it trains on made-up labels of
random cells and prints the structure only.

Run: python examples/generation_recipe.py [--epochs 60]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from archperf import registry
from archperf.paths import find_data_dir
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    root = find_data_dir()
    bench = None
    if root is not None and (root / "nb101" / "nb101_subset.csv.gz").is_file():
        from archperf.benchmarks.nb101 import NB101Benchmark

        bench = NB101Benchmark(data_dir=root)
        pool = [bench.records.arch_at(i) for i in range(0, len(bench.records), 6)]
        space = bench.space
        source = f"NB101 subset ({len(pool)} of its cells as the pool), val_acc_108"
    else:
        space = registry.search_space("nb101")
        pool = space.sample(3000, seed=0)
        source = "no data: random cells, made-up labels (edges + conv3x3 count)"
    rng = np.random.default_rng(0)
    labeled = [pool[i] for i in rng.choice(len(pool), 100, replace=False)]
    if bench is not None:
        y = bench.lookup(labeled, "val")
    else:
        y = np.array([80.0 + c.num_edges + 2.0 * int(np.sum(c.ops == 1)) for c in labeled])
    print(f"data: {source}; {args.epochs} epochs")
    for name in ("default", "generation"):
        kw = {"space": "nb101", "epochs": args.epochs, "seed": 0, "progress": False}
        cfg = TrainerConfig.for_generation(**kw) if name == "generation" else TrainerConfig(**kw)
        trainer = BiArch2Perf(cfg, space=space)
        trainer.fit(labeled, y, pool)
        assert trainer.generator is not None
        cells = trainer.generator.sample(0, 500, seed=1)
        vertices = sorted(Counter(int(c.num_vertices) for c in cells).items())
        distinct = len({space.canonical(c) for c in cells}) / len(cells)
        line = f"{name:10s} vertices {vertices}  distinct {distinct:.0%}"
        if bench is not None:
            vals = bench.lookup(cells, "val")
            known = vals[~np.isnan(vals)]
            line += f"  in subset {len(known)}, mean val {known.mean():.2f} %"
        print(line)


if __name__ == "__main__":
    main()
