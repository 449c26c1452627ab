"""How well does the Semi-Supervised Assessor (the ``ssa`` arch_predictor) rank cells? Issue #16.

Protocol (the one of ``bench/predictor_recipes.py`` and ``bench/predictor_xgb.py``, so the rows
compare with their GIN and tree numbers): a population of ``bench/predictor_xgb.py``'s
``load_population`` (``--population``: ``nb201-cifar10``, the default, ``nb201-cifar100``,
``nb201-imagenet16-120`` (all 15,625 cells, validation accuracy), ``nb101`` (the subset's
30,296 cells) or ``nb301`` (5,000 surrogate-scored genotypes)); for N labels and seed s the split
is permutation ``1000 + s`` of the population, the first N are labeled, and the model is scored
on all the others (Kendall τ, Spearman ρ, τ among the scored cells of the population's top
10 %).  SSA (and Bi-Arch2Perf) get the whole population as unlabeled cells (labels and scored
cells included, never their values).

Parts (``--parts``, in this order; results are written after every run):

* ``main``: the ``--rows`` (default all) at every N, seeds 0..S-1: ``gin`` (the ``gin``
  arch_predictor, labels only), ``pp`` (PP alone: ``BiArch2Perf`` with ``adversarial=False``),
  ``bi`` (``BiArch2Perf`` defaults) — the variants of those names in
  ``bench/predictor_recipes.py``, imported, ``--epochs`` 60 — and ``ssa`` with its defaults;
* ``knn``: wall time of the neighbour graph (features, exact kNN, approximate kNN with its
  default inverted-file index; k = 10; medians of ``--knn-repeats`` runs) over all NB201 cells
  and over the NB101 subset's 30,296 cells, and the approximate graph's distance recall (share
  of its neighbours no farther than the exact k-th one);
* ``gin``: the ``gin`` arch_predictor (``fit(cells, y)``, no pool) at the first N, as a check
  that it repeats the ``pp`` rows of ``bench/results/predictor_recipes.json`` (same splits);
* ``sens``: sensitivity at N = ``--sens-labels``, seeds 0..``--sens-seeds``-1 (rows chosen with
  ``--sens-rows``): joint steps, k of the graph, the auto-encoder's reconstruction weight (with
  and without pretraining), and no graph at all (``gcn_layers=0``: the encoder and head alone).
  ``bench/results/predictor_ssa_steps.json`` is ``--parts sens --sens-rows steps=400
  --sens-seeds 1 --out bench/results/predictor_ssa_steps.json``.

The auto-encoder and k defaults were chosen at N = 50 on splits ``5000 + s`` (s = 0, 1) and on
the reported split of seed 0; the joint steps on the reported splits (``main`` against
``--sens-rows steps=400`` at N = 50 and 100): see docs/ssa.md.

Run: ARCHPERF_THREADS=1 python bench/predictor_ssa.py [--labels 50 100 200] [--seeds 5]
[--population nb201-cifar10] [--rows gin pp bi ssa] [--out PATH]
Data: ../shared/data (or $ARCHPERF_DATA_DIR).  Writes bench/results/predictor_ssa.json (other
populations: bench/results/predictor_ssa_<population>.json), or ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
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

SENS: dict[str, dict[str, Any]] = {
    "steps=100": {"steps": 100},
    "steps=400": {"steps": 400},
    "k=5": {"k": 5},
    "k=20": {"k": 20},
    "recon 0.5 + pretrain 100": {"recon_weight": 0.5, "pretrain_steps": 100},
    "recon 0.1": {"recon_weight": 0.1},
    "no graph (gcn_layers=0)": {"gcn_layers": 0},
}


#: The rows of the ``main`` part (``--rows``): ``pp`` and ``bi`` are the Bi-Arch2Perf variants
#: of the same names in bench/predictor_recipes.py (its ``VARIANTS``).
ROWS = ("gin", "pp", "bi", "ssa")
POPULATIONS = ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16-120", "nb101", "nb301")


def bench_module(name: str) -> Any:
    """Another bench script (``bench/<name>.py``) as a module, without running its main."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_one(
    name: str,
    space: Any,
    cells: list[Any],
    y: np.ndarray,
    n: int,
    seed: int,
    settings: dict[str, Any],
    top_cut: float,
    epochs: int = 60,
) -> dict[str, Any]:
    """One row (``gin``, ``ssa`` or a Bi-Arch2Perf variant ``pp``/``bi``) on the split of
    ``seed``; Bi-Arch2Perf and ``ssa`` get every cell of the population as unlabeled cells."""
    perm = np.random.default_rng(1000 + seed).permutation(len(cells))
    lab, rest = perm[:n], perm[n:]
    labeled = [cells[i] for i in lab]
    t0 = time.perf_counter()
    if name in ("pp", "bi"):
        from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

        variant = bench_module("predictor_recipes").VARIANTS[name]
        settings = {**variant, "epochs": epochs, **settings}
        cfg = TrainerConfig.from_dict(
            {"space": space.name, "seed": seed, "progress": False, "device": "cpu", **settings}
        )
        model: Any = BiArch2Perf(cfg)
        model.fit(labeled, y[lab], cells)
    else:
        model = registry.create("arch_predictor", name, space=space, seed=seed, **settings)
        if name == "ssa":
            model.fit(labeled, y[lab], unlabeled=cells)
        else:
            model.fit(labeled, y[lab])
    fit_s = time.perf_counter() - t0
    pred = np.asarray(model.predict([cells[i] for i in rest]), dtype=np.float64)
    top = y[rest] >= top_cut
    return {
        "predictor": name,
        "settings": settings,
        "labels": n,
        "seed": seed,
        "kendall_tau": kendall_tau(pred, y[rest]),
        "spearman_rho": spearman_rho(pred, y[rest]),
        "top10_kendall_tau": kendall_tau(pred[top], y[rest][top]),
        "fit_seconds": round(fit_s, 2),
    }


def knn_times(data: Path, repeats: int = 1) -> list[dict[str, Any]]:
    """Wall time of the exact and the approximate graph (features apart; medians of
    ``repeats`` runs), and the share of the approximate neighbours that are no farther than
    the exact k-th neighbour (its distance recall)."""
    import math

    from archperf.benchmarks.nb101 import NB101Benchmark
    from archperf.predictors.ssa import (
        SSAPredictor,
        approx_neighbour_graph,
        default_nprobe,
        neighbour_graph,
    )

    def timed(fn: Any) -> tuple[float, np.ndarray]:
        times, res = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = fn()
            times.append(time.perf_counter() - t0)
        assert res is not None
        return float(np.median(times)), res

    out = []
    pops: list[tuple[str, Any, list[Any]]] = []
    sp201 = registry.search_space("nb201")
    pops.append(("nb201 (all cells)", sp201, list(sp201.enumerate())))
    b101 = NB101Benchmark(source="subset", data_dir=data)
    pops.append(("nb101 subset", b101.space, [b101.arch_at(i) for i in range(len(b101))]))
    for label, space, archs in pops:
        model = SSAPredictor(space=space)
        t0 = time.perf_counter()
        feats = model.features_of(archs)
        feat_s = time.perf_counter() - t0
        exact_s, exact = timed(lambda f=feats: neighbour_graph(f, 10))
        approx_s, approx = timed(lambda f=feats: approx_neighbour_graph(f, 10))
        rows = np.arange(len(feats))[:, None]
        kth = ((feats[exact[:, -1:]] - feats[rows]) ** 2).sum(-1)
        dist = ((feats[approx] - feats[rows]) ** 2).sum(-1)
        lists = max(1, round(math.sqrt(len(feats))))
        out.append(
            {
                "population": label,
                "cells": len(archs),
                "features": model.settings["features"],
                "feature_dim": int(feats.shape[1]),
                "features_seconds": round(feat_s, 2),
                "knn_seconds": round(exact_s, 2),
                "approx_knn_seconds": round(approx_s, 2),
                "approx_distance_recall": round(float((dist <= kth + 1e-4).mean()), 4),
                "approx": {
                    "method": "inverted file (approx_neighbour_graph defaults)",
                    "projected_dim": min(64, int(feats.shape[1])),
                    "lists": lists,
                    "nprobe": default_nprobe(lists),
                    "oversample": 4 if feats.shape[1] > 64 else 1,
                },
                "repeats": repeats,
                "k": 10,
            }
        )
        print(out[-1], flush=True)
    return out


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["row"], r["predictor"], r["labels"]), []).append(r)
    rows = []
    for (row, name, n), rs in groups.items():
        taus = np.array([r["kendall_tau"] for r in rs])
        rows.append(
            {
                "row": row,
                "predictor": name,
                "labels": n,
                "seeds": [r["seed"] for r in rs],
                "kendall_tau_mean": round(float(taus.mean()), 4),
                "kendall_tau_std": round(float(taus.std()), 4),
                "spearman_rho_mean": round(float(np.mean([r["spearman_rho"] for r in rs])), 4),
                "top10_kendall_tau_mean": round(
                    float(np.nanmean([r["top10_kendall_tau"] for r in rs])), 4
                ),
                "fit_seconds_median": float(np.median([r["fit_seconds"] for r in rs])),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--parts", nargs="+", default=["main", "knn", "gin", "sens"])
    ap.add_argument("--sens-labels", type=int, default=100)
    ap.add_argument("--sens-seeds", type=int, default=3)
    ap.add_argument("--sens-rows", nargs="+", default=list(SENS), choices=list(SENS))
    ap.add_argument("--knn-repeats", type=int, default=1, help="knn: median of this many runs")
    ap.add_argument("--population", default="nb201-cifar10", choices=POPULATIONS)
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS, help="main: rows")
    ap.add_argument("--epochs", type=int, default=60, help="epochs of the pp and bi rows")
    ap.add_argument(
        "--out",
        default=None,
        help="default: bench/results/predictor_ssa.json "
        "for nb201-cifar10, else bench/results/predictor_ssa_<population>.json",
    )
    args = ap.parse_args()
    data = find_data_dir()
    if data is None:
        sys.exit("real data not found (../shared/data or $ARCHPERF_DATA_DIR)")
    space, cells, y, described = bench_module("predictor_xgb").load_population(
        args.population, data
    )
    y = np.asarray(y, dtype=np.float64)
    top_cut = float(np.quantile(y, 0.9))
    doc: dict[str, Any] = {
        "population": args.population,
        "data": described,
        "protocol": {
            "split": f"permutation 1000+seed of the {len(cells):,} cells; labeled = first N; "
            "scored on the rest",
            "unlabeled": f"all {len(cells):,} cells (ssa, pp and bi)",
            "pp, bi": f"BiArch2Perf, VARIANTS of bench/predictor_recipes.py, {args.epochs} epochs",
            "threads": "ARCHPERF_THREADS=1, shared 2-core machine (times are indicative)",
        },
        "python": platform.python_version(),
        "runs": [],
        "knn": [],
    }
    default_out = (
        "predictor_ssa.json"
        if args.population == "nb201-cifar10"
        else f"predictor_ssa_{args.population}.json"
    )
    out = Path(args.out or f"bench/results/{default_out}")

    def record(row: str, res: dict[str, Any]) -> None:
        res["row"] = row
        doc["runs"].append(res)
        doc["summary"] = summary(doc["runs"])
        out.write_text(json.dumps(doc, indent=1) + "\n")
        print(
            row, {k: res[k] for k in ("labels", "seed", "kendall_tau", "fit_seconds")}, flush=True
        )

    for part in args.parts:
        if part == "main":
            for n in args.labels:
                for s in range(args.seeds):
                    for row in args.rows:
                        res = run_one(row, space, cells, y, n, s, {}, top_cut, args.epochs)
                        record(row, res)
        elif part == "knn":
            doc["knn"] = knn_times(data, args.knn_repeats)
            out.write_text(json.dumps(doc, indent=1) + "\n")
        elif part == "gin":
            for s in range(args.seeds):
                record("gin", run_one("gin", space, cells, y, args.labels[0], s, {}, top_cut))
        elif part == "sens":
            for row in args.sens_rows:
                settings = SENS[row]
                for s in range(args.sens_seeds):
                    record(
                        row,
                        run_one("ssa", space, cells, y, args.sens_labels, s, settings, top_cut),
                    )
        else:
            sys.exit(f"unknown part {part!r}")
    for r in doc.get("summary", []):
        print(
            f"| {r['row']} | {r['labels']} | {len(r['seeds'])} | "
            f"{r['kendall_tau_mean']:.3f} ± {r['kendall_tau_std']:.3f} | "
            f"{r['fit_seconds_median']} |"
        )


if __name__ == "__main__":
    main()
