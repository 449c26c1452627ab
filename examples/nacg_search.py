"""NACG search on NAS-Bench-201 CIFAR-10 with a 60-query budget, next to regularized evolution.

Uses the real NB201 table from ../shared/data (or $ARCHPERF_DATA_DIR) for the reported test
accuracy; without it, the embedded validation-only data is searched and no test accuracy is shown.
Short training (15 epochs) keeps this example under a minute; see docs/search.md for the settings
used in the results.
"""

from __future__ import annotations

import time

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark

bench = NB201Benchmark("cifar10")  # the data rule: nb201.csv, else the embedded data
print("data:", bench.describe()["source"])

methods = {
    "nacg": registry.create(
        "search_method", "nacg", trainer={"epochs": 15}, num_candidates=500, top_k=5
    ),
    "re": registry.create("search_method", "re", population_size=20, sample_size=5),
}
for name, method in methods.items():
    oracle = bench.oracle(budget=60)  # the search sees validation accuracy only
    t0 = time.perf_counter()
    outcome = method.search(oracle, seed=0)
    seconds = time.perf_counter() - t0
    assert oracle.num_queries == 60
    line = (
        f"{name:5s} {bench.space.to_text(outcome.best)}  val {outcome.value:.2f}  "
        f"queries {oracle.num_queries}  {seconds:.1f}s"
    )
    if bench.report_metric is not None:  # test accuracy is read only now, after the search
        line += f"  test {bench.report([outcome.best])[0]:.2f}"
    print(line)
    if name == "nacg":
        rnd = outcome.info["rounds"][0]
        print(
            f"      generated {rnd['generated']} cells, {rnd['new_answerable']} new; "
            f"top-{len(rnd['values'])} by PP got val {', '.join(f'{v:.2f}' for v in rnd['values'])}"
        )
