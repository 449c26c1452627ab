"""Exploratory NACG measurements on NB201 CIFAR-10 (validation accuracy), quoted in docs/search.md.

1. PP's Kendall τ on generated cells, with and without γ3 (α_p = 0.5 vs 0): 100 random labels,
   30 epochs, 1,000 class-0 samples.
2. Mean validation accuracy of 1,000 generated cells per condition class (150 labels, α_p = 0).
3. Multi-round NACG variants at 100 queries over 3 seeds, next to RE at 100 over 20 seeds.
4. Generator collapse under the trainer's defaults (100 labels, 60 epochs), seeds 0-4, with
   α_p = 0.5 and 0: distinct cells among 1,000 class-0 samples, the share of the most common
   one, and their mean validation accuracy.

Needs ../shared/data/nb201/nb201.csv (or $ARCHPERF_DATA_DIR).  Writes
bench/results/nacg_variants.json.  About 12 minutes on 2 CPU cores.

    python bench/nacg_variants.py [--quick]
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

from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.paths import find_data_dir
from archperf.search.evolution import RegularizedEvolution
from archperf.search.nacg import NACG
from archperf.stats import kendall_tau
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

VARIANTS: dict[str, dict[str, Any]] = {
    "mr10_k5": {"trainer": {"epochs": 30}, "rounds": 10, "finetune_epochs": 5},
    "mr10_k5_no_gamma3": {
        "trainer": {"epochs": 30, "alpha_p": 0.0},
        "rounds": 10,
        "finetune_epochs": 5,
    },
    "mr5_k10": {"trainer": {"epochs": 30}, "rounds": 5, "top_k": 10, "finetune_epochs": 5},
    "mr5_k10_no_gamma3": {
        "trainer": {"epochs": 30, "alpha_p": 0.0},
        "rounds": 5,
        "top_k": 10,
        "finetune_epochs": 5,
    },
    "mr5_k10_no_gamma3_q09_stochastic": {
        "trainer": {"epochs": 30, "alpha_p": 0.0, "condition": {"type": "rank", "quantile": 0.9}},
        "rounds": 5,
        "top_k": 10,
        "finetune_epochs": 5,
        "num_candidates": 2000,
        "stochastic": True,
    },
}


def gamma3_effect(bench: NB201Benchmark, pool: list[Any]) -> dict[str, Any]:
    space = bench.space
    rng = np.random.default_rng(0)
    labeled = [pool[i] for i in rng.choice(len(pool), 100, replace=False)]
    y = bench.lookup(labeled, "val")
    out: dict[str, Any] = {}
    for alpha_p in (0.5, 0.0):
        cfg = TrainerConfig(space="nb201", epochs=30, seed=0, progress=False, alpha_p=alpha_p)
        tr = BiArch2Perf(cfg, space=space)
        tr.fit(labeled, y, pool)
        cells = list({space.to_text(c): c for c in tr.generator.sample(0, 1000, seed=1)}.values())
        pred = tr.predict(cells)
        true = bench.lookup(cells, "val")
        top = true[np.argsort(-pred, kind="stable")[:5]]
        out[f"alpha_p={alpha_p}"] = {
            "distinct_generated": len(cells),
            "kendall_tau_on_generated": round(kendall_tau(pred, true), 3),
            "mean_val_generated": round(float(true.mean()), 2),
            "top5_by_pp_val": sorted(round(float(v), 2) for v in top),
        }
    return out


def per_class(bench: NB201Benchmark, pool: list[Any]) -> dict[str, Any]:
    space = bench.space
    rng = np.random.default_rng(0)
    labeled = [pool[i] for i in rng.choice(len(pool), 150, replace=False)]
    y = bench.lookup(labeled, "val")
    cfg = TrainerConfig(space="nb201", epochs=30, seed=0, progress=False, alpha_p=0.0)
    tr = BiArch2Perf(cfg, space=space)
    tr.fit(labeled, y, pool)
    classes = {}
    for c in range(tr.condition.num_classes or 0):
        cells = tr.generator.sample(c, 1000, seed=1)
        ops = np.concatenate([np.asarray(space.to_ops(x)) for x in cells])
        classes[str(c)] = {
            "mean_val": round(float(np.nanmean(bench.lookup(cells, "val"))), 2),
            "distinct": len({space.to_text(x) for x in cells}),
            "share_nor_conv_3x3": round(float((ops == "nor_conv_3x3").mean()), 3),
        }
    return {
        "space_mean_val": round(float(np.nanmean(bench.column("val"))), 2),
        "classes": classes,
    }


def collapse(bench: NB201Benchmark, pool: list[Any], seeds: int) -> dict[str, Any]:
    space = bench.space
    out: dict[str, Any] = {}
    for alpha_p in (0.5, 0.0):
        rows = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            labeled = [pool[i] for i in rng.choice(len(pool), 100, replace=False)]
            cfg = TrainerConfig(
                space="nb201", epochs=60, seed=seed, progress=False, alpha_p=alpha_p
            )
            tr = BiArch2Perf(cfg, space=space)
            tr.fit(labeled, bench.lookup(labeled, "val"), pool)
            cells = tr.generator.sample(0, 1000, seed=1)
            texts = [space.to_text(c) for c in cells]
            top_share = max(texts.count(t) for t in set(texts)) / len(texts)
            rows.append(
                {
                    "seed": seed,
                    "distinct": len(set(texts)),
                    "most_common_share": round(top_share, 3),
                    "mean_val": round(float(np.nanmean(bench.lookup(cells, "val"))), 2),
                }
            )
            print("collapse", alpha_p, rows[-1], flush=True)
        out[f"alpha_p={alpha_p}"] = rows
    return out


def variants(bench: NB201Benchmark, seeds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    re_vals = [RegularizedEvolution().search(bench.oracle(budget=100), s).value for s in range(20)]
    out["re@100 (20 seeds)"] = round(float(np.mean(re_vals)), 3)
    for name, kw in VARIANTS.items():
        vals = []
        for s in range(seeds):
            oracle = bench.oracle(budget=100)
            vals.append(NACG(**kw).search(oracle, s).value)
        out[name] = {"mean_val": round(float(np.mean(vals)), 3), "seeds": seeds, "kwargs": kw}
        print(name, out[name]["mean_val"], flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="one seed for the variants")
    args = ap.parse_args()
    root = find_data_dir()
    if root is None or not (root / "nb201" / "nb201.csv").is_file():
        print("skipped: nb201/nb201.csv not found (set $ARCHPERF_DATA_DIR)")
        return 0
    torch.set_num_threads(1)
    bench = NB201Benchmark("cifar10", data_dir=root)
    pool = list(bench.space.enumerate())
    t0 = time.perf_counter()
    result = {
        "data": bench.describe()["source"],
        "metric": "cifar10_valid_val (validation accuracy, %)",
        "machine": f"{platform.processor() or platform.machine()}, torch threads 1",
        "gamma3": gamma3_effect(bench, pool),
        "per_class": per_class(bench, pool),
        "variants_at_100": variants(bench, 1 if args.quick else 3),
        "collapse_defaults_100_labels_60_epochs": collapse(bench, pool, 2 if args.quick else 5),
    }
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(__file__).parent / "results" / "nacg_variants.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    json.dump(result, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
