"""Which PP recipe ranks best, and do the unlabeled cells help? NB201 CIFAR-10, validation.

For N random labeled cells (seeds 0..S-1; the split of seed s is permutation ``1000 + s`` of the
15,625 cells) every variant below is trained with :class:`BiArch2Perf` on the same labels, with
all 15,625 cells as the unlabeled pool, and scored on the other cells: Kendall τ, Spearman ρ,
and Kendall τ among the cells of the space's top 10 % (by validation accuracy) that are not
labeled — the ranking a search lives on.

Variants (every one 60 epochs; ``adversarial=False`` is PP alone, trained on γ2 only):

* ``pp-old``: PP alone as on main before issue #11 (GIN width 32, sum pooling, batch norm,
  batches of 16 labels, no weight decay);
* ``pp``: PP alone with the new defaults (width 64, mean pooling, no norm, all labels per step,
  weight decay 1e-5);
* ``pp+avg``: ``pp`` with pool averaging (mean prediction over each cell's equivalence class
  in the unlabeled pool, ``space.canonical``);
* ``bi-paper``: Bi-Arch2Perf with the paper's α = α_p = 0.5, no pool averaging;
* ``bi-noavg``: Bi-Arch2Perf defaults (α_p = 0) without pool averaging;
* ``bi``: Bi-Arch2Perf with its defaults (α_p = 0, pool averaging).

Run: python bench/predictor_recipes.py [--labels 50 100 200] [--seeds 5] [--variants ...]
Data: ../shared/data/nb201/nb201.csv (or $ARCHPERF_DATA_DIR).  Writes
bench/results/predictor_recipes.json and prints a Markdown table (mean ± std over seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.paths import find_data_dir
from archperf.stats import kendall_tau, spearman_rho
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by importlib
import _table

_OLD_PP = {"hidden_dim": 32, "pooling": "sum", "norm": "batch"}
VARIANTS: dict[str, dict[str, Any]] = {
    "pp-old": {
        "adversarial": False,
        "predictor_kwargs": _OLD_PP,
        "predictor_batch_size": 16,
        "weight_decay": 0.0,
        "pool_averaging": False,
    },
    "pp": {"adversarial": False, "pool_averaging": False},
    "pp+avg": {"adversarial": False},
    "bi-paper": {"alpha_p": 0.5, "pool_averaging": False},
    "bi-noavg": {"pool_averaging": False},
    "bi": {},
}


def summarize(
    runs: list[dict[str, Any]], labels: list[int], variants: list[str]
) -> tuple[list[dict[str, Any]], str]:
    """The summary (one dict per label count and variant) and the Markdown table."""
    keys = ("kendall_tau", "spearman_rho", "top10_kendall_tau")
    summary: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for n in labels:
        for name in variants:
            sel = _table.select(runs, labels=n, variant=name)
            s: dict[str, Any] = {"variant": name, "labels": n}
            for key in keys:
                s[key] = list(_table.mean_std(r[key] for r in sel))
            s["fit_seconds_median"] = _table.median((r["fit_seconds"] for r in sel), None)
            summary.append(s)
            rows.append(
                [name, n]
                + [_table.pm(s[key][0], s[key][1], ".3f") for key in keys]
                + [f"{s['fit_seconds_median']:.1f}"]
            )
    header = "variant | labels | Kendall τ | Spearman ρ | τ in top 10 % | fit s (median)"
    return summary, _table.markdown_table(header, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", default="bench/results/predictor_recipes.json")
    args = ap.parse_args()
    data = find_data_dir()
    if data is None or not (data / "nb201" / "nb201.csv").is_file():
        print("skipped: nb201/nb201.csv not found (set ARCHPERF_DATA_DIR)", file=sys.stderr)
        return 0
    torch.set_num_threads(1)
    bench = NB201Benchmark(dataset="cifar10", data_dir=data)
    cells = list(bench.space.enumerate())
    y_all = np.asarray(bench.lookup(cells, "val"), dtype=np.float64)
    top_cut = float(np.quantile(y_all, 0.9))
    runs: list[dict[str, Any]] = []
    for n in args.labels:
        for seed in range(args.seeds):
            order = np.random.default_rng(1000 + seed).permutation(len(cells))
            lab, rest = order[:n], order[n:]
            top = rest[y_all[rest] >= top_cut]
            labeled = [cells[i] for i in lab]
            rest_cells = [cells[i] for i in rest]
            for name in args.variants:
                cfg = TrainerConfig.from_dict(
                    {
                        "space": "nb201",
                        "epochs": args.epochs,
                        "seed": seed,
                        "progress": False,
                        "device": "cpu",
                        **VARIANTS[name],
                    }
                )
                trainer = BiArch2Perf(cfg)
                t0 = time.perf_counter()
                trainer.fit(labeled, y_all[lab], cells)
                seconds = time.perf_counter() - t0
                pred = trainer.predict(rest_cells)
                pos = {int(c): k for k, c in enumerate(rest)}
                ptop = pred[[pos[int(c)] for c in top]]
                run = {
                    "variant": name,
                    "labels": n,
                    "seed": seed,
                    "kendall_tau": kendall_tau(pred, y_all[rest]),
                    "spearman_rho": spearman_rho(pred, y_all[rest]),
                    "top10_kendall_tau": kendall_tau(ptop, y_all[top]),
                    "fit_seconds": round(seconds, 2),
                }
                runs.append(run)
                print(json.dumps(run), flush=True)
    summary, table = summarize(runs, args.labels, args.variants)
    print(table)
    about = {
        "data": str(data / "nb201" / "nb201.csv") + " (cifar10 validation accuracy)",
        "protocol": {
            "labels": args.labels,
            "seeds": args.seeds,
            "epochs": args.epochs,
            "split": "permutation 1000+seed; labeled = first N; scored on the rest",
            "unlabeled_pool": "all 15,625 cells",
            "top10_cut": top_cut,
        },
        "variants": VARIANTS,
        "machine": _table.machine(threads=False),
    }
    _table.write_results(args.out, about, summary=summary, runs=runs, table=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
