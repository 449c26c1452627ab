"""The recommended SemiGAN-NAD search (``semigan-nad``) on NAS-Bench-201 CIFAR-10, beside RE.

Both get 100 queries; the search sees validation accuracy only.  The real NB201 table in
../shared/data (or $ARCHPERF_DATA_DIR) gives the reported test accuracy; without it the embedded
validation-only data is searched and no test accuracy is shown.  ``candidates="uniform"`` (what
the default, ``"auto"``, picks on NB201: PP ranks uniform samples, no adversarial training)
keeps it short; ``"generator"`` lets the trained AG propose the candidates, as ``"auto"`` does
on DARTS (docs/search.md compares the two).
"""

from __future__ import annotations

import time

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark

bench = NB201Benchmark("cifar10")  # the data rule: nb201.csv, else the embedded data
print("data:", bench.describe()["source"])

methods = {
    "semigan-nad": registry.create("search_method", "semigan-nad", candidates="uniform"),
    "re": registry.create("search_method", "re"),
}
for name, method in methods.items():
    oracle = bench.oracle(budget=100)
    t0 = time.perf_counter()
    outcome = method.search(oracle, seed=0)
    seconds = time.perf_counter() - t0
    assert oracle.num_queries == 100
    line = f"{name:11s} val {outcome.value:.2f}  queries {oracle.num_queries}  {seconds:.1f}s"
    if bench.report_metric is not None:  # test accuracy is read only now, after the search
        line += f"  test {bench.report([outcome.best])[0]:.2f}"
    print(line)
    if name == "semigan-nad":
        best_round = [max(r["values"]) for r in outcome.info["rounds"]]
        print("            best value per round:", ", ".join(f"{v:.2f}" for v in best_round))
