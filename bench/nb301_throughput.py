"""NB301 (YAHPO surrogate) throughput: DARTS cells per second at batch sizes 1, 64 and 1024.

Two numbers per batch size, each the median over repeats:

- ``surrogate``: the ONNX model alone on precomputed features (``YahpoNB301Surrogate``);
- ``oracle``: ``NB301Benchmark.predict`` on fresh genotypes (canonical form, features,
  surrogate; cache emptied before every repeat), what a search pays per new cell.

Run: ``python bench/nb301_throughput.py [--repeats N] [--threads T]``; writes
``bench/results/nb301_throughput.json``.  Needs ``<data dir>/nb301/yahpo_nb301_surrogate.onnx``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from archperf.benchmarks.nb301 import NB301Benchmark
from archperf.spaces.darts import DartsSpace

OUT = Path(__file__).resolve().parent / "results" / "nb301_throughput.json"
BATCH_SIZES = (1, 64, 1024)


def _median_rate(fn: object, n_cells: int, repeats: int, min_time: float) -> float:
    """Median cells/second over ``repeats`` timings, each looping until ``min_time`` s."""
    rates = []
    for _ in range(repeats):
        loops, start = 0, time.perf_counter()
        while True:
            fn()  # type: ignore[operator]
            loops += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        rates.append(loops * n_cells / elapsed)
    return statistics.median(rates)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per timing")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    space = DartsSpace()
    bench = NB301Benchmark(data_dir=args.data_dir, threads=args.threads)
    surrogate = bench._backend  # the raw ONNX surrogate, for the model-only numbers
    results = []
    for bs in BATCH_SIZES:
        archs = space.sample(bs, seed=bs)
        x = space.to_nb301_features(archs)
        surrogate.predict_features(x)  # warm-up

        def oracle_call(archs: list = archs) -> None:
            bench._cache.clear()
            bench.predict(archs)

        def model_call(x: object = x) -> None:
            surrogate.predict_features(x)

        rate_model = _median_rate(model_call, bs, args.repeats, args.min_time)
        rate_oracle = _median_rate(oracle_call, bs, args.repeats, args.min_time)
        results.append(
            {
                "batch_size": bs,
                "surrogate_cells_per_s": round(rate_model, 1),
                "oracle_cells_per_s": round(rate_oracle, 1),
            }
        )
        print(f"batch {bs:5d}: surrogate {rate_model:12.1f} cells/s, oracle {rate_oracle:10.1f}")
    report = {
        "benchmark": bench.label,
        "model": str(surrogate.path.name),
        "repeats": args.repeats,
        "statistic": "median cells/second over repeats",
        "threads": args.threads if args.threads is not None else "onnxruntime default",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
