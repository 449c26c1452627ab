"""Kendall τ of the performance predictor with each encoder and graph backend: ``gin`` (dense
torch, core), ``gin-pyg`` and ``gin-dgl`` (the same GIN on torch-geometric / DGL, plugins
``plugins/archperf-pyg`` and ``-dgl``), ``transformer`` and ``mlp`` (plugin
``plugins/archperf-encoders``).  Issue #14, item 2.

Protocol (the split of ``bench/predictor_recipes.py``): the population of a benchmark
(``bench/predictor_xgb.py``'s ``load_population``: NB201 all 15,625 cells with one dataset's
validation accuracy; the NB101 subset's 30,296 cells with ``val_acc_108``; 5,000 uniform DARTS
genotypes with the NB301 YAHPO surrogate's validation accuracy).  For seed s the split is
permutation ``1000 + s`` of the population, the first N are labelled and PP is scored on all the
others: Kendall τ, Spearman ρ.  PP is trained alone (``BiArch2Perf`` with ``adversarial=False``)
with the same settings for every encoder: the trainer's defaults for PP (``hidden_dim`` 64,
``num_layers`` 4 where the encoder takes them), ``epochs`` 40, labelled batch 16, the labelled
cells as the (unused) pool, one torch thread, CPU.  Fit and predict wall times are measured
around ``fit`` and ``predict``; the machine was shared (2 busy cores), so times compare encoders
within this run only.

Run: python bench/encoders.py [--benchmarks nb201-cifar10 nb101 nb301] [--labels 50 100 200]
     [--seeds 5] [--encoders gin gin-pyg gin-dgl transformer mlp]
Data: ../shared/data (or $ARCHPERF_DATA_DIR).  Writes bench/results/encoders.json after every
run (a stopped run keeps what finished) and prints a Markdown table (mean ± std over seeds).
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
from archperf.paths import find_data_dir
from archperf.stats import kendall_tau, spearman_rho
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predictor_xgb import load_population  # the same populations and sources

EPOCHS = 40
BATCH = 16
ENCODERS = ["gin", "gin-pyg", "gin-dgl", "transformer", "mlp"]


def _run(
    space: Any,
    name: str,
    train: list[Any],
    y_train: np.ndarray,
    scored: list[Any],
    y_scored: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    cfg = TrainerConfig(
        space=space.name,
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
    trainer.fit(train, y_train, unlabeled=train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = trainer.predict(scored)
    predict_s = time.perf_counter() - t0
    return {
        "kendall_tau": kendall_tau(pred, y_scored),
        "spearman_rho": spearman_rho(pred, y_scored),
        "fit_seconds": round(fit_s, 3),
        "predict_seconds": round(predict_s, 3),
        "predicted_cells": len(scored),
        "predictor_parameters": sum(p.numel() for p in trainer.predictor.parameters()),
    }


def _table(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    summary: list[dict[str, Any]] = []
    lines = [
        "| benchmark | encoder | labels | seeds | Kendall τ | Spearman ρ | fit s | predict s "
        "| PP parameters |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted(
        {(r["benchmark"], r["labels"], r["encoder"]) for r in runs},
        key=lambda k: (k[0], k[1], ENCODERS.index(k[2]) if k[2] in ENCODERS else 99),
    )
    for bench_name, n, name in keys:
        rs = [
            r for r in runs if (r["benchmark"], r["labels"], r["encoder"]) == (bench_name, n, name)
        ]
        row: dict[str, Any] = {
            "benchmark": bench_name,
            "encoder": name,
            "labels": n,
            "seeds": len(rs),
        }
        for key in ("kendall_tau", "spearman_rho", "fit_seconds", "predict_seconds"):
            vals = np.array([r[key] for r in rs], dtype=float)
            std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            row[key] = {"mean": float(vals.mean()), "std": std}
        row["predictor_parameters"] = rs[0]["predictor_parameters"]
        summary.append(row)
        lines.append(
            f"| {bench_name} | {name} | {n} | {len(rs)} | {row['kendall_tau']['mean']:.3f} ± "
            f"{row['kendall_tau']['std']:.3f} | {row['spearman_rho']['mean']:.3f} ± "
            f"{row['spearman_rho']['std']:.3f} | {row['fit_seconds']['mean']:.1f} | "
            f"{row['predict_seconds']['mean']:.1f} | {row['predictor_parameters']:,} |"
        )
    return summary, "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", nargs="+", default=["nb201-cifar10", "nb101", "nb301"])
    ap.add_argument("--labels", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--encoders", nargs="+", default=ENCODERS)
    ap.add_argument("--out", default="bench/results/encoders.json")
    args = ap.parse_args()
    known = registry.names("encoder")
    missing = [e for e in args.encoders if e not in known]
    if missing:
        print(
            f"encoders {missing} are not registered: pip install -e plugins/archperf-encoders "
            "-e plugins/archperf-pyg -e plugins/archperf-dgl"
        )
        return 1
    data = find_data_dir()
    if data is None:
        print("no benchmark data: set ARCHPERF_DATA_DIR or put it in ../shared/data")
        return 1
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    runs: list[dict[str, Any]] = []
    sources: dict[str, str] = {}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for bench_name in args.benchmarks:
        space, cells, y, source = load_population(bench_name, data)
        sources[bench_name] = source
        for seed in range(args.seeds):
            order = np.random.default_rng(1000 + seed).permutation(len(cells))
            for n in args.labels:
                lab, rest = order[:n], order[n:]
                train = [cells[i] for i in lab]
                scored = [cells[i] for i in rest]
                for name in args.encoders:
                    run = {"benchmark": bench_name, "encoder": name, "labels": n, "seed": seed}
                    run |= _run(space, name, train, y[lab], scored, y[rest], seed)
                    runs.append(run)
                    print(json.dumps(run), flush=True)
                    summary, table = _table(runs)
                    doc = {
                        "protocol": {
                            "data": sources,
                            "split": "permutation 1000+seed of the population; labelled = "
                            "first N; scored on the rest",
                            "trainer": f"BiArch2Perf(adversarial=False), epochs {EPOCHS}, "
                            f"labelled batch {BATCH}, trainer defaults otherwise; pool = the "
                            "labelled cells",
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
                    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(_table(runs)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
