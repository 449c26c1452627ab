"""How GA-NAS's defaults were chosen: NB201 CIFAR-10, honest protocol (the oracle answers
validation accuracy; no test accuracy is read), 100 queries, seeds 100-104 (disjoint from the
seeds 0-9 of bench/ganas_search.py), one variant of the settings per line.

Run: python bench/ganas_tune.py '{"defaults": {}, "d10": {"d_steps": 10}}'
     [--datasets cifar10 cifar100 imagenet16-120] [--seeds 100-104]
Prints one JSON line per variant and dataset: the mean and the per-seed search metric of the
final cell (validation accuracy; no test accuracy is read).
The numbers in bench/results/ganas_nb201_tuning.json were printed by this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from archperf import registry
from archperf.errors import ArchperfError
from archperf.search.ganas import GANAS


def main(
    variants: dict[str, dict[str, object]],
    datasets: list[str],
    seeds: range = range(100, 105),
) -> int:
    for dataset in datasets:
        try:
            bench = registry.create("benchmark", "nb201", dataset=dataset)
        except ArchperfError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            return 0
        for name, kw in variants.items():
            vals = []
            t0 = time.time()
            for seed in seeds:
                oracle = bench.oracle(budget=100)
                vals.append(GANAS(**kw).search(oracle, seed=seed).value)  # type: ignore[arg-type]
            line = {
                "variant": name,
                "dataset": dataset,
                "kw": kw,
                "search_mean": round(float(np.mean(vals)), 4),
                "vals": vals,
                "sec": round(time.time() - t0, 1),
            }
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="?", default='{"defaults": {}}', help="JSON: name -> kwargs")
    ap.add_argument("--datasets", nargs="+", default=["cifar10"])
    ap.add_argument("--seeds", default="100-104", help="first-last, inclusive")
    args = ap.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    sys.exit(main(json.loads(args.variants), args.datasets, seeds))
