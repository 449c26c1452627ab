"""How GA-NAS's defaults were chosen: NB201 CIFAR-10, honest protocol (the oracle answers
validation accuracy; no test accuracy is read), 100 queries, seeds 100-104 (disjoint from the
seeds 0-9 of bench/ganas_search.py), one variant of the settings per line.

Run: python bench/ganas_tune.py '{"defaults": {}, "d10": {"d_steps": 10}}'
Prints one JSON line per variant: the mean and the per-seed search metric of the final cell.
The numbers in bench/results/ganas_nb201_tuning.json were printed by this script.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from archperf import registry
from archperf.errors import ArchperfError
from archperf.search.ganas import GANAS


def main(variants: dict[str, dict[str, object]]) -> int:
    try:
        bench = registry.create("benchmark", "nb201", dataset="cifar10")
    except ArchperfError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    for name, kw in variants.items():
        vals = []
        t0 = time.time()
        for seed in range(100, 105):
            oracle = bench.oracle(budget=100)
            vals.append(GANAS(**kw).search(oracle, seed=seed).value)  # type: ignore[arg-type]
        line = {
            "variant": name,
            "kw": kw,
            "search_mean": round(float(np.mean(vals)), 4),
            "vals": vals,
            "sec": round(time.time() - t0, 1),
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {"defaults": {}}))
