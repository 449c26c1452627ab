"""GA-NAS on NAS-Bench-201 CIFAR-10 at 100 queries, beside random search and regularized
evolution, then GA-NAS again under a parameter constraint (params_mb <= 0.5): no cell above the
bound is ever queried or returned.

Uses the real NB201 table from ../shared/data (or $ARCHPERF_DATA_DIR) for the reported test
accuracy; without it, the embedded validation-only data is searched and no test accuracy is
shown.  See docs/ganas.md for the algorithm, its settings and what it reaches.
"""

from __future__ import annotations

import time
from typing import Any

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.constraints import constrain

bench = NB201Benchmark("cifar10")  # the data rule: nb201.csv, else the embedded data
print("data:", bench.describe()["source"])


def show(name: str, outcome: Any, seconds: float) -> None:
    line = f"{name:22s} val {outcome.value:.2f}  {seconds:4.1f}s"
    if bench.report_metric is not None:  # test accuracy is read only now, after the search
        line += f"  test {bench.report([outcome.best])[0]:.2f}"
    print(line)


for name in ("rs", "re", "ganas"):
    oracle = bench.oracle(budget=100)  # the search sees validation accuracy only
    t0 = time.perf_counter()
    outcome = registry.create("search_method", name).search(oracle, seed=0)
    assert oracle.num_queries == 100  # every method spends the budget exactly
    show(name, outcome, time.perf_counter() - t0)
    if name == "ganas":
        info = outcome.info
        print(f"{'':22s} {info['iterations']} iterations, {info['filled_random']} random fill-ins")

oracle = bench.oracle(budget=100)
constrain(oracle, bench, ["params_mb<=0.5"])  # infeasible cells: never asked, never charged
t0 = time.perf_counter()
outcome = registry.create("search_method", "ganas").search(oracle, seed=0)
show("ganas, params_mb<=0.5", outcome, time.perf_counter() - t0)
params = bench.lookup([r.arch for r in oracle.history], "params_mb")
print(f"{'':22s} largest queried cell {params.max():.2f} MB")
print(f"{'':22s} found {bench.space.to_text(outcome.best)}")
