"""Fit a stand-alone performance predictor, scikit-learn style: fit, predict, save, load.

On real NAS-Bench-201 data when the data rule finds ``nb201/nb201.csv`` (docs/benchmarks.md):
100 labeled cells (CIFAR-10 validation accuracy), the other 15,525 cells predicted, with the
whole space as the unlabeled pool (pool averaging).  Without a data folder it runs on a small
SYNTHETIC set instead (NB201 cells with a made-up score), which shows the mechanics only: its
numbers are not results.  Run from anywhere: ``python examples/predictor_fit.py``
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from archperf import registry
from archperf.paths import find_data_dir
from archperf.predictors.gin import GINArchPredictor
from archperf.spaces.nb201 import NB201Space
from archperf.stats import kendall_tau, spearman_rho


def real_data() -> tuple[list, np.ndarray, str] | None:
    data = find_data_dir()
    if data is None or not (data / "nb201" / "nb201.csv").is_file():
        return None
    from archperf.benchmarks.nb201 import NB201Benchmark

    bench = NB201Benchmark(dataset="cifar10", data_dir=data)
    cells = list(bench.space.enumerate())
    return cells, np.asarray(bench.lookup(cells, "val")), f"real NB201 ({bench.source})"


def synthetic() -> tuple[list, np.ndarray, str]:
    cells = NB201Space().sample(600, seed=0)
    ops = np.array([c.ops[1:7] for c in cells], dtype=float)
    y = 70 + 3.0 * (ops == 4).sum(1) + 1.5 * (ops == 3).sum(1) - 4.0 * (ops == 1).sum(1)
    return cells, y, "SYNTHETIC NB201 scores (mechanics only, not results)"


if __name__ == "__main__":
    cells, y, source = real_data() or synthetic()
    print(f"data: {source}, {len(cells)} cells")
    order = np.random.default_rng(0).permutation(len(cells))
    labeled, others = order[:100], order[100:]

    t0 = time.perf_counter()
    model = registry.create("arch_predictor", "gin", space="nb201", seed=0)
    model.fit([cells[i] for i in labeled], y[labeled], pool=cells)  # pool: unlabeled cells
    pred = model.predict([cells[i] for i in others])
    print(
        f"fit on 100 labels and predicted {len(others)} cells in {time.perf_counter() - t0:.1f} s"
    )
    print(
        f"Kendall tau {kendall_tau(pred, y[others]):.3f}, "
        f"Spearman rho {spearman_rho(pred, y[others]):.3f}"
    )

    with tempfile.TemporaryDirectory(prefix="archperf-model-") as folder:
        model.save(folder)  # safetensors + JSON, nothing pickled
        again = GINArchPredictor.load(folder)
        same = np.array_equal(again.predict([cells[i] for i in others]), pred)
        print(f"saved and loaded from {folder}: same predictions: {same}")
