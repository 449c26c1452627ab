"""The literature's baselines on NAS-Bench-201 CIFAR-10 at 100 queries: local search, BANANAS
and NPENAS, next to random search and regularized evolution.

Uses the real NB201 table from ../shared/data (or $ARCHPERF_DATA_DIR) for the reported test
accuracy; without it, the embedded validation-only data is searched and no test accuracy is
shown.  BANANAS runs with a small ensemble here (2 MLPs of 50 epochs) to stay within seconds;
``npenas`` ranks with the ``feedforward`` predictor where no ``gin`` arch_predictor is registered.
See docs/search.md for the settings behind the results.
"""

from __future__ import annotations

import time

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark

bench = NB201Benchmark("cifar10")  # the data rule: nb201.csv, else the embedded data
print("data:", bench.describe()["source"])

ranker = "gin" if "gin" in registry.names("arch_predictor") else "feedforward"
fast = {"epochs": 50} if ranker == "feedforward" else {"epochs": 20}
methods = {
    "rs": registry.create("search_method", "rs"),
    "re": registry.create("search_method", "re"),
    "ls": registry.create("search_method", "ls"),
    "bananas": registry.create(
        "search_method", "bananas", ensemble=2, predictor_settings={"epochs": 50}
    ),
    f"npenas ({ranker})": registry.create(
        "search_method", "npenas", predictor=ranker, predictor_settings=fast
    ),
}
for name, method in methods.items():
    oracle = bench.oracle(budget=100)  # the search sees validation accuracy only
    t0 = time.perf_counter()
    outcome = method.search(oracle, seed=0)
    seconds = time.perf_counter() - t0
    assert oracle.num_queries == 100  # every method spends the budget exactly
    line = f"{name:13s} val {outcome.value:.2f}  {seconds:5.1f}s"
    if bench.report_metric is not None:  # test accuracy is read only now, after the search
        line += f"  test {bench.report([outcome.best])[0]:.2f}"
    print(line, " ", bench.space.to_text(outcome.best))
    if name == "ls":
        info = outcome.info
        print(f"{'':13s} {info['moves']} moves, {info['restarts']} restarts")
