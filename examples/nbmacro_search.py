"""RS, RE and ``semigan-nad`` on NAS-Bench-Macro, a search space that comes from a plugin.

The space, the benchmark and the generator decoder ``nbmacro`` are registered by the separate
distribution ``plugins/archperf-nbmacro`` through the ``archperf`` entry-point group; nothing
here imports it: the registry finds it.  Install it with
``pip install -e plugins/archperf-nbmacro``.  The data is
``nbmacro/nas-bench-macro_cifar10.json`` in the data folder (../shared/data or
$ARCHPERF_DATA_DIR); without the plugin or the file the example says so and stops.

NAS-Bench-Macro has no validation split: the searches see the CIFAR-10 test accuracy of one
training (training 0) and the reported value is the mean of the other two trainings.
"""

from __future__ import annotations

import sys
import time

from archperf import registry
from archperf.errors import DataFileError, UnknownComponentError

try:
    bench = registry.create("benchmark", "nbmacro")
except (UnknownComponentError, DataFileError) as exc:
    print(f"skipped: {exc}")
    sys.exit(0)

info = bench.describe()
print(f"space {bench.space.name}: {len(bench.space):,} networks, plugin-registered")
print(f"search on {info['search_metric']}, report {info['report_metric']}")

methods = {
    "rs": registry.create("search_method", "rs"),
    "re": registry.create("search_method", "re"),
    "semigan-nad": registry.create("search_method", "semigan-nad"),
}
for name, method in methods.items():
    oracle = bench.oracle(budget=50)
    t0 = time.perf_counter()
    outcome = method.search(oracle, seed=0)
    seconds = time.perf_counter() - t0
    reported = bench.report([outcome.best])[0]  # read only now, after the search
    text = bench.space.to_text(outcome.best)
    print(
        f"{name:11s} found {text} (canonical {bench.space.canonical(outcome.best)})  "
        f"search {outcome.value:.2f}  reported {reported:.2f}  "
        f"queries {oracle.num_queries}  {seconds:.1f}s"
    )
