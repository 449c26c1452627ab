"""How well do gradient-boosted trees (the ``xgb`` arch_predictor) rank cells? Issue #19.

Protocol (the one of ``bench/predictor_recipes.py``, so the NB201 CIFAR-10 rows compare with
the GIN numbers of docs/training.md): for N labels and seed s, the split is permutation
``1000 + s`` of the population; the first N cells are labelled, the model is scored on all
the others: Kendall τ, Spearman ρ, and Kendall τ among the scored cells in the population's top
10 % (by the search metric).  Fit and predict wall times are measured around ``fit`` and
``predict`` (features included), one xgboost thread.

Populations and targets (validation accuracy, %):

* NB201 ``cifar10``, ``cifar100``, ``imagenet16-120``: all 15,625 cells (nb201/nb201.csv);
* NB101 subset: the 30,296 cells of nb101/nb101_subset.csv.gz, ``val_acc_108`` (one run);
* NB301 (YAHPO surrogate): 5,000 genotypes drawn uniformly (``DartsSpace.sample``, seed 301),
  their surrogate validation accuracy (nb301/yahpo_nb301_surrogate.onnx);
* NAS-Bench-Macro (``--only nbmacro``, needs the ``archperf-nbmacro`` plugin): all 6,561
  networks, the CIFAR-10 *test* accuracy of training 0 (nbmacro/nas-bench-macro_cifar10.json;
  the benchmark has no validation split, and this is what its honest protocol searches on).

Tuning, kept apart from the reported numbers: every population is split once into halves
(permutation 4242); the sweep labels N = 100 cells of the *tuning half* (permutations
``5000 + s``, 3 seeds) and scores on the rest of that half.  Step 1 sweeps tree settings on
NB201 CIFAR-10 (features, depth, trees × learning rate, column subsampling, objective); step 2
picks the features of every other population with the chosen tree settings.  The reported
numbers then use the seeds 1000 + s on the whole population, and also give τ on the
*held-out half* alone (cells the sweep never saw).  CIFAR-100 and ImageNet16-120 are not
tuned on at all.

Rows: ``plain`` = XGBoost's own defaults (100 trees, depth 6, learning rate 0.3, no
subsampling) on ``onehot`` (the baseline of the issue); ``tuned`` = the sweep's choice, which
became the defaults of ``archperf.predictors.xgb.XGBPredictor``.

``--settings-from JSON`` takes the step-1 tree settings from an earlier output instead of
sweeping again (NB-Macro was added that way: ``--only nbmacro --settings-from
bench/results/predictor_xgb.json --out bench/results/predictor_xgb_nbmacro.json``).

Run: python bench/predictor_xgb.py [--labels 50 100 200] [--seeds 5] [--only nb201-cifar10 ...]
Data: ../shared/data (or $ARCHPERF_DATA_DIR).  Writes bench/results/predictor_xgb.json and
prints a Markdown table (mean ± std over seeds).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from archperf import registry
from archperf.paths import find_data_dir
from archperf.stats import kendall_tau, spearman_rho

PLAIN = {
    "features": "onehot",
    "n_estimators": 100,
    "max_depth": 6,
    "learning_rate": 0.3,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "min_child_weight": 1.0,
    "reg_lambda": 1.0,
    "objective": "reg:squarederror",
}
SWEEP = {
    "max_depth": [3, 5, 8],
    "trees": [(100, 0.3), (300, 0.05), (1000, 0.02)],
    "colsample_bytree": [0.5, 1.0],
    "objective": ["reg:squarederror", "rank:pairwise"],
}
TUNE_SEEDS = (5000, 5001, 5002)
TUNE_LABELS = 100


def load_population(name: str, data: Path) -> tuple[Any, list[Any], np.ndarray, str]:
    """``(space, archs, validation accuracy, data description)``."""
    if name.startswith("nb201-"):
        from archperf.benchmarks.nb201 import NB201Benchmark

        dataset = name.removeprefix("nb201-")
        bench = NB201Benchmark(dataset=dataset, data_dir=data)
        cells = list(bench.space.enumerate())
        y = np.asarray(bench.lookup(cells, "val"), dtype=np.float64)
        return bench.space, cells, y, f"nb201/nb201.csv ({dataset} validation accuracy)"
    if name == "nb101":
        from archperf.benchmarks.nb101 import NB101Benchmark

        bench = NB101Benchmark(source="subset", data_dir=data)
        cells = [bench.arch_at(i) for i in range(len(bench))]
        y = np.asarray(bench.column("val"), dtype=np.float64)
        return bench.space, cells, y, "nb101/nb101_subset.csv.gz (val_acc_108, one run)"
    if name == "nb301":
        from archperf.benchmarks.nb301 import NB301Benchmark

        bench = NB301Benchmark(data_dir=data, threads=1)
        genotypes = bench.space.sample(5000, 301)
        y = np.asarray(bench.lookup(genotypes), dtype=np.float64)
        return (
            bench.space,
            genotypes,
            y,
            "nb301/yahpo_nb301_surrogate.onnx: NB301 (YAHPO surrogate), 5,000 uniform "
            "genotypes (seed 301)",
        )
    if name == "nbmacro":
        if "nbmacro" not in registry.names("benchmark"):
            raise SystemExit("nbmacro needs the archperf-nbmacro plugin (plugins/archperf-nbmacro)")
        bench = registry.create("benchmark", "nbmacro", data_dir=data)
        cells = list(bench.space.enumerate())
        y = np.asarray(bench.lookup(cells, "val"), dtype=np.float64)
        return (
            bench.space,
            cells,
            y,
            "nbmacro/nas-bench-macro_cifar10.json (CIFAR-10 test accuracy of training 0: "
            "NAS-Bench-Macro has no validation split)",
        )
    raise SystemExit(f"unknown population {name!r}")


def score(
    space: Any,
    cells: list[Any],
    y: np.ndarray,
    lab: np.ndarray,
    rest: np.ndarray,
    top_cut: float,
    settings: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    model = registry.create("arch_predictor", "xgb", space=space, seed=seed, **settings)
    t0 = time.perf_counter()
    model.fit([cells[i] for i in lab], y[lab])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict([cells[i] for i in rest])
    predict_s = time.perf_counter() - t0
    top = y[rest] >= top_cut
    return {
        "kendall_tau": kendall_tau(pred, y[rest]),
        "spearman_rho": spearman_rho(pred, y[rest]),
        "top10_kendall_tau": kendall_tau(pred[top], y[rest][top]),
        "fit_seconds": round(fit_s, 3),
        "predict_seconds": round(predict_s, 3),
        "predicted_cells": len(rest),
        "_pred": pred,
    }


def tune_split(n_pop: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    half = np.random.default_rng(4242).permutation(n_pop)[: n_pop // 2]
    order = half[np.random.default_rng(seed).permutation(len(half))]
    return order[:TUNE_LABELS], order[TUNE_LABELS:]


def sweep_settings(kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for feats, depth, (trees, lr), col, obj in itertools.product(
        kinds, SWEEP["max_depth"], SWEEP["trees"], SWEEP["colsample_bytree"], SWEEP["objective"]
    ):
        out.append(
            {
                **PLAIN,
                "features": feats,
                "max_depth": depth,
                "n_estimators": trees,
                "learning_rate": lr,
                "subsample": 0.8 if trees > 100 else 1.0,
                "colsample_bytree": col,
                "objective": obj,
            }
        )
    return out


def tune(pop: dict[str, Any], candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    space, cells, y = pop["space"], pop["cells"], pop["y"]
    top_cut = float(np.quantile(y, 0.9))
    results = []
    for settings in candidates:
        taus = []
        for s in TUNE_SEEDS:
            lab, rest = tune_split(len(cells), s)
            taus.append(score(space, cells, y, lab, rest, top_cut, settings, s)["kendall_tau"])
        results.append({"settings": settings, "tau_mean": round(float(np.mean(taus)), 4)})
        print(json.dumps({"tune": pop["name"], **results[-1]}), flush=True)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument(
        "--only",
        nargs="+",
        default=["nb201-cifar10", "nb201-cifar100", "nb201-imagenet16-120", "nb101", "nb301"],
    )
    ap.add_argument("--out", default="bench/results/predictor_xgb.json")
    ap.add_argument("--settings-from", default=None, help="reuse step 1 of this output JSON")
    args = ap.parse_args()
    data = find_data_dir()
    if data is None or not (data / "nb201" / "nb201.csv").is_file():
        print("skipped: nb201/nb201.csv not found (set ARCHPERF_DATA_DIR)", file=sys.stderr)
        return 0
    t_start = time.perf_counter()
    pops: dict[str, dict[str, Any]] = {}
    need_base = args.settings_from is None or "nb201-cifar10" in args.only
    first = ["nb201-cifar10"] if need_base else []
    for name in [*first, *[p for p in args.only if p != "nb201-cifar10"]]:
        space, cells, y, what = load_population(name, data)
        pops[name] = {"name": name, "space": space, "cells": cells, "y": y, "data": what}

    # step 1: tree settings on the NB201 CIFAR-10 tuning half
    if args.settings_from is None:
        base = pops["nb201-cifar10"]
        step1 = tune(base, sweep_settings(base["space"].feature_kinds))
        best = max(step1, key=lambda r: r["tau_mean"])["settings"]
    else:
        earlier = json.loads(Path(args.settings_from).read_text(encoding="utf-8"))
        step1 = earlier["tuning_step1_nb201_cifar10"]
        best = earlier["chosen"]["nb201"]
    chosen = {"nb201": best}
    # step 2: features of the other spaces with the same tree settings
    step2: dict[str, list[dict[str, Any]]] = {}
    for name in ("nb101", "nb301", "nbmacro"):
        if name in pops:
            kinds = pops[name]["space"].feature_kinds
            step2[name] = tune(pops[name], [{**best, "features": k} for k in kinds])
            chosen[name] = max(step2[name], key=lambda r: r["tau_mean"])["settings"]

    runs: list[dict[str, Any]] = []
    for name in args.only:
        pop = pops[name]
        space, cells, y = pop["space"], pop["cells"], pop["y"]
        top_cut = float(np.quantile(y, 0.9))
        held_out = np.ones(len(cells), dtype=bool)
        held_out[np.random.default_rng(4242).permutation(len(cells))[: len(cells) // 2]] = False
        tuned = chosen[name.split("-")[0]]
        rows = {"plain": PLAIN, "tuned": tuned}
        for n in args.labels:
            for seed in range(args.seeds):
                order = np.random.default_rng(1000 + seed).permutation(len(cells))
                lab, rest = order[:n], order[n:]
                for row, settings in rows.items():
                    r = score(space, cells, y, lab, rest, top_cut, settings, seed)
                    pred = r.pop("_pred")
                    keep = held_out[rest]
                    r["held_out_kendall_tau"] = kendall_tau(pred[keep], y[rest][keep])
                    run = {"population": name, "row": row, "labels": n, "seed": seed, **r}
                    runs.append(run)
                    print(json.dumps(run), flush=True)

    rows_md = [
        "| population | model | labels | Kendall τ | τ held-out half | Spearman ρ | "
        "τ in top 10 % | fit s | predict s (cells) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary: list[dict[str, Any]] = []
    for name in args.only:
        for row in ("plain", "tuned"):
            for n in args.labels:
                sel = [r for r in runs if r["population"] == name and r["row"] == row]
                sel = [r for r in sel if r["labels"] == n]
                s: dict[str, Any] = {"population": name, "row": row, "labels": n}
                for key in (
                    "kendall_tau",
                    "held_out_kendall_tau",
                    "spearman_rho",
                    "top10_kendall_tau",
                ):
                    v = np.array([r[key] for r in sel])
                    s[key] = [round(float(v.mean()), 4), round(float(v.std()), 4)]
                s["fit_seconds_median"] = float(np.median([r["fit_seconds"] for r in sel]))
                s["predict_seconds_median"] = float(np.median([r["predict_seconds"] for r in sel]))
                s["predicted_cells"] = sel[0]["predicted_cells"]
                summary.append(s)
                rows_md.append(
                    f"| {name} | {row} | {n} | {s['kendall_tau'][0]:.3f} ± "
                    f"{s['kendall_tau'][1]:.3f} | {s['held_out_kendall_tau'][0]:.3f} | "
                    f"{s['spearman_rho'][0]:.3f} | {s['top10_kendall_tau'][0]:.3f} | "
                    f"{s['fit_seconds_median']:.2f} | {s['predict_seconds_median']:.2f} "
                    f"({s['predicted_cells']:,}) |"
                )
    table = "\n".join(rows_md)
    print(table)
    import xgboost

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "data": {name: pops[name]["data"] for name in args.only},
        "protocol": {
            "labels": args.labels,
            "seeds": args.seeds,
            "split": "permutation 1000+seed of the population; labelled = first N; scored on "
            "the rest",
            "held_out_half": "cells outside the tuning half (permutation 4242, first half)",
            "tuning": f"N={TUNE_LABELS} labels from the tuning half (permutations "
            f"{list(TUNE_SEEDS)}), scored on the rest of that half",
            "top10": "cells of the population's top 10 % by the target, among the scored",
            "threads": "xgboost nthread=1",
        },
        "sweep": SWEEP,
        "plain": PLAIN,
        "chosen": chosen,
        "tuning_step1_nb201_cifar10": step1,
        "step1_from": args.settings_from or "this run",
        "tuning_step2_features": step2,
        "machine": {
            "python": platform.python_version(),
            "xgboost": xgboost.__version__,
            "numpy": np.__version__,
        },
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "summary": summary,
        "runs": runs,
        "table": table,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
