"""A small resumable sweep: random search and regularized evolution on NAS-Bench-201.

Run: ``python examples/run_experiments.py``.  Needs ``nb201/nb201.csv`` (``$ARCHPERF_DATA_DIR``
or ``../shared/data``) for test accuracies; without it the example says so and exits.

It runs 2 methods x 3 seeds at 100 queries on two local worker processes, writes one JSON
record per run, runs the same sweep again (everything is skipped: the sweep is resumable) and
prints the summary table.  The CLI equivalent:
``archperf run --methods rs,re --benchmark nb201 --budget 100 --seeds 0-2 --out DIR``.
"""

from __future__ import annotations

import sys
import tempfile

from archperf.experiments import LocalExecutor, RunSpec, run_many, summarize, to_markdown
from archperf.paths import find_data_dir


def main() -> int:
    root = find_data_dir()
    if root is None or not (root / "nb201" / "nb201.csv").is_file():
        print("skipped: nb201/nb201.csv not found (set $ARCHPERF_DATA_DIR or use ../shared/data)")
        return 0
    specs = [
        RunSpec(method=m, benchmark="nb201", dataset="cifar10", budget=100, seed=s)
        for m in ("rs", "re")
        for s in range(3)
    ]
    with tempfile.TemporaryDirectory() as out:
        first = run_many(specs, out, LocalExecutor(workers=2))  # a bar on a terminal
        again = run_many(specs, out, LocalExecutor(workers=2), progress=False)
        print(f"first pass ran {len(first.ran)} runs; second pass skipped {len(again.skipped)}")
        if not first.ok:
            for failure in first.failures:
                print(failure.error, file=sys.stderr)
            return 1
        rec = first.record(specs[-1])  # records are filed under keys that name the data
        final = rec["final"]
        print(f"example record {rec['key']}: {final['arch']}")
        print(
            f"  {final['search_metric']} {final['value']:.2f} -> "
            f"{final['report_metric']} {final['reported']:.2f} ({rec['data_source']})"
        )
        print(to_markdown(summarize(first.records.values())), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
