"""Kendall τ of the performance predictor with each encoder: ``gin`` (core), ``transformer``
and ``mlp`` (plugin ``plugins/archperf-encoders``).  Issue #14, item 2 (a first, small table).

Protocol (the split of ``bench/predictor_recipes.py``): NB201 CIFAR-10 validation accuracy,
all 15,625 cells; for seed s the split is permutation ``1000 + s`` of the cells, the first N
(default 100) are labelled and PP is scored on all the others: Kendall τ, Spearman ρ.  PP is
trained alone (``BiArch2Perf`` with ``adversarial=False``: the stand-alone ``arch_predictor``
``gin`` takes no encoder argument) with the same settings for every encoder: the trainer's
defaults for PP (``hidden_dim`` 64, ``num_layers`` 4 where the encoder takes them), ``epochs``
40, labelled batch 16, the labelled cells as the (unused) pool, one torch thread, CPU.  Fit and
predict wall times are measured around ``fit`` and ``predict``; the machine was shared (2 busy
cores), so times compare encoders within this run only.

Run: python bench/encoders.py [--labels 100] [--seeds 5] [--encoders gin transformer mlp]
Data: ../shared/data (or $ARCHPERF_DATA_DIR); without nb201.csv the embedded NB201 data is used
(the same numbers to 4 decimals).  Writes bench/results/encoders.json and prints a Markdown
table (mean ± std over seeds).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.stats import kendall_tau, spearman_rho
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

EPOCHS = 40
BATCH = 16


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, nargs="+", default=[100])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--encoders", nargs="+", default=["gin", "transformer", "mlp"])
    ap.add_argument("--out", default="bench/results/encoders.json")
    args = ap.parse_args()
    known = registry.names("encoder")
    missing = [e for e in args.encoders if e not in known]
    if missing:
        print(f"encoders {missing} are not registered: pip install -e plugins/archperf-encoders")
        return 1
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    bench = NB201Benchmark(dataset="cifar10")
    cells = list(bench.space.enumerate())
    y = bench.lookup(cells, "val")
    runs: list[dict[str, Any]] = []
    for n in args.labels:
        for seed in range(args.seeds):
            order = np.random.default_rng(1000 + seed).permutation(len(cells))
            lab, rest = order[:n], order[n:]
            train = [cells[i] for i in lab]
            scored = [cells[i] for i in rest]
            for name in args.encoders:
                cfg = TrainerConfig(
                    space="nb201",
                    encoder=name,
                    epochs=EPOCHS,
                    labeled_batch_size=BATCH,
                    adversarial=False,
                    progress=False,
                    device="cpu",
                    seed=seed,
                )
                t0 = time.perf_counter()
                trainer = BiArch2Perf(cfg)
                trainer.fit(train, y[lab], unlabeled=train)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                pred = trainer.predict(scored)
                predict_s = time.perf_counter() - t0
                run = {
                    "encoder": name,
                    "labels": n,
                    "seed": seed,
                    "kendall_tau": kendall_tau(pred, y[rest]),
                    "spearman_rho": spearman_rho(pred, y[rest]),
                    "fit_seconds": round(fit_s, 3),
                    "predict_seconds": round(predict_s, 3),
                    "predicted_cells": len(rest),
                    "predictor_parameters": sum(p.numel() for p in trainer.predictor.parameters()),
                }
                runs.append(run)
                print(json.dumps(run), flush=True)
    summary = []
    lines = [
        "| encoder | labels | Kendall τ | Spearman ρ | fit s | predict s | PP parameters |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in args.labels:
        for name in args.encoders:
            rs = [r for r in runs if r["encoder"] == name and r["labels"] == n]
            row = {"encoder": name, "labels": n, "seeds": len(rs)}
            for key in ("kendall_tau", "spearman_rho", "fit_seconds", "predict_seconds"):
                vals = np.array([r[key] for r in rs], dtype=float)
                std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
                row[key] = {"mean": float(vals.mean()), "std": std}
            row["predictor_parameters"] = rs[0]["predictor_parameters"]
            summary.append(row)
            lines.append(
                f"| {name} | {n} | {row['kendall_tau']['mean']:.3f} ± "
                f"{row['kendall_tau']['std']:.3f} | {row['spearman_rho']['mean']:.3f} ± "
                f"{row['spearman_rho']['std']:.3f} | {row['fit_seconds']['mean']:.1f} | "
                f"{row['predict_seconds']['mean']:.1f} | {row['predictor_parameters']:,} |"
            )
    table = "\n".join(lines)
    print(table)
    doc = {
        "protocol": {
            "benchmark": "nb201 cifar10, validation accuracy (%), all 15,625 cells",
            "labels_source": bench.source,
            "split": "permutation 1000+seed; labelled = first N; scored on the rest",
            "trainer": f"BiArch2Perf(adversarial=False), epochs {EPOCHS}, labelled batch "
            f"{BATCH}, trainer defaults otherwise; pool = the labelled cells",
            "threads": "torch 1 thread, CPU; shared 2-core machine",
        },
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "summary": summary,
        "runs": runs,
        "table": table,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
