"""Does the semi-supervised GAN help? PP alone vs. full Bi-Arch2Perf on NB201 CIFAR-10.

For N labeled cells (drawn at random, validation accuracy from the real NB201 table) and several
seeds, train (a) PP alone on the labels (``adversarial=False``: γ2 only, same steps, same
architecture) and (b) the full Bi-Arch2Perf with all 15,625 cells as the unlabeled pool; report
Kendall τ and Spearman ρ of PP's predictions against the validation accuracy of all remaining
cells. Writes JSON (every run) and prints a Markdown table (mean ± std over seeds).

Run: python bench/bi_arch2perf_ablation.py [--labels 50 100 200] [--seeds 5] [--epochs 60]
Data: ../shared/data/nb201/nb201.csv (or $ARCHPERF_DATA_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.paths import find_data_dir
from archperf.runtime import THREADS_ENV
from archperf.stats import kendall_tau, spearman_rho
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="bench/results/bi_arch2perf_ablation.json")
    args = ap.parse_args()
    data = find_data_dir()
    if data is None or not (data / "nb201" / "nb201.csv").is_file():
        print("skipped: nb201/nb201.csv not found (set ARCHPERF_DATA_DIR)", file=sys.stderr)
        return 0
    os.environ[THREADS_ENV] = str(args.threads)  # every library call in this process
    bench = NB201Benchmark(dataset="cifar10", data_dir=data)
    cells = list(bench.space.enumerate())
    y_all = bench.lookup(cells, "val")
    runs = []
    for n in args.labels:
        for seed in range(args.seeds):
            order = np.random.default_rng(1000 + seed).permutation(len(cells))
            lab, rest = order[:n], order[n:]
            labeled = [cells[i] for i in lab]
            rest_cells = [cells[i] for i in rest]
            for method, adversarial in (("PP alone", False), ("Bi-Arch2Perf", True)):
                cfg = TrainerConfig(
                    space="nb201",
                    epochs=args.epochs,
                    seed=seed,
                    progress=False,
                    device="cpu",
                    adversarial=adversarial,
                )
                t0 = time.perf_counter()
                tr = BiArch2Perf(cfg)
                tr.fit(labeled, y_all[lab], cells)
                pred = tr.predict(rest_cells)
                rec = {
                    "labels": n,
                    "seed": seed,
                    "method": method,
                    "kendall_tau": kendall_tau(pred, y_all[rest]),
                    "spearman_rho": spearman_rho(pred, y_all[rest]),
                    "seconds": time.perf_counter() - t0,
                }
                runs.append(rec)
                print(json.dumps(rec), file=sys.stderr, flush=True)
    result = {
        "data": "NAS-Bench-201 CIFAR-10, cifar10_valid_val (nb201.csv)",
        "evaluated_on": "all cells not in the labeled set",
        "epochs": args.epochs,
        "seeds": args.seeds,
        "machine": f"{platform.processor() or platform.machine()}, {args.threads} torch thread(s)",
        "torch": torch.__version__,
        "runs": runs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print("| N | method | Kendall τ | Spearman ρ | seconds/run |")
    print("|---|---|---|---|---|")
    for n in args.labels:
        for method in ("PP alone", "Bi-Arch2Perf"):
            rs = [r for r in runs if r["labels"] == n and r["method"] == method]
            t = np.array([r["kendall_tau"] for r in rs])
            s = np.array([r["spearman_rho"] for r in rs])
            sec = np.median([r["seconds"] for r in rs])
            print(
                f"| {n} | {method} | {t.mean():.3f} ± {t.std():.3f} | "
                f"{s.mean():.3f} ± {s.std():.3f} | {sec:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
