"""Graph-VAE NAO on NAS-Bench-201: the graph VAE's reconstruction on held-out cells, the
``gvae-nao`` search beside RS and RE (accuracy only), and optionally the two-objective search
(accuracy and parameters) against RS by the hypervolume of the queried cells' front.

Every search runs through the experiment runner (``run_one``), honest protocol: it searches on
validation accuracy and the test accuracy of its final cell is read once afterwards.  The
hypervolume uses the validation accuracy and ``params_mb`` of the queried cells, with the
reference point (worst validation accuracy, largest ``params_mb``) of the whole space; the true
front is the front of all 15,625 cells.

Run: python bench/gvae_nao_search.py --seeds 5 --budget 100 --pareto-seeds 3
     --out bench/results/gvae_nao_nb201.json
     (``--seeds 0 --recon-train 0 --pareto-methods re-pareto``: the two-objective RE only)
     ``--benchmark nb101`` searches the NB101 subset table (accuracy only; its test accuracy
     exists for 30 cells, so runs report the final cell's validation accuracy and ``reported``
     is mostly None); ``--gvae KEY=JSON`` sets a ``gvae-nao`` argument
     (e.g. ``decoder="one-shot"``).
Needs nb201/nb201.csv (or nb101/nb101_subset.csv.gz) in the data folder (../shared/data or
$ARCHPERF_DATA_DIR); skips with a message when it is absent.
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
from archperf.datahash import short_source
from archperf.errors import ArchperfError
from archperf.experiments.runner import run_one
from archperf.experiments.spec import RunSpec
from archperf.nn.gvae import GraphVAE
from archperf.pareto import hypervolume_2d, pareto_front, plot_fronts, reference_point

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by importlib
import _table

PARETO_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "gvae-nao (lambdas 0,0.5,1,2)": (
        "gvae-nao",
        {"cost": "params_mb", "lambdas": [0.0, 0.5, 1.0, 2.0]},
    ),
    "rs": ("rs", {}),
    "re-pareto": ("re-pareto", {"cost": "params_mb"}),
}


def reconstruction(bench: Any, train: int, test: int, epochs: int, seed: int) -> dict[str, Any]:
    """Train the VAE (no labels) on ``train`` random cells, measure ``test`` held-out ones."""
    space = bench.space
    cells = [bench.arch_at(i) for i in range(len(bench))]
    order = np.random.default_rng(seed).permutation(len(cells))
    tr = [cells[int(i)] for i in order[:train]]
    te = [cells[int(i)] for i in order[train : train + test]]
    model = GraphVAE(space, seed=seed)
    t0 = time.perf_counter()
    hist = model.fit(tr, epochs=epochs, seed=seed)
    return {
        "seed": seed,
        "train_cells": train,
        "epochs": epochs,
        "final_loss": {k: round(v, 4) for k, v in hist[-1].items()},
        "train": model.reconstruction(tr[:test]),
        "held_out": model.reconstruction(te),
        "fit_seconds": round(time.perf_counter() - t0, 2),
    }


def run(
    method: str, kwargs: dict[str, Any], budget: int, seed: int, benchmark: str = "nb201"
) -> dict[str, Any]:
    spec = RunSpec(
        method=method,
        method_kwargs=kwargs,
        benchmark=benchmark,
        dataset="cifar10",
        budget=budget,
        seed=seed,
    )
    t0 = time.perf_counter()
    rec = run_one(spec)
    rec["bench_wall"] = round(time.perf_counter() - t0, 3)
    return rec


def summarize(runs: list[dict[str, Any]], methods: list[str]) -> tuple[list[dict[str, Any]], str]:
    """The summary of the accuracy-only searches (one dict per method) and the Markdown table."""
    summary: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for method in methods:
        sel = _table.select(runs, method=method)
        rep_mean, rep_std = _table.mean_std(r["reported"] for r in sel)
        search_mean, search_std = _table.mean_std(r["search_value"] for r in sel)
        known = sum(r["reported"] is not None for r in sel)
        s = {
            "method": method,
            "seeds": len(sel),
            "reported_mean": rep_mean,
            "reported_std": rep_std,
            "search_mean": search_mean,
            "search_std": search_std,
            "wall_median": _table.median((r["wall_seconds"] for r in sel), 2),
            "reported_known": known,
            "filled_random_mean": (
                None
                if sel[0]["filled_random"] is None
                else round(float(np.mean([r["filled_random"] for r in sel])), 2)
            ),
        }
        summary.append(s)
        reported = _table.pm(rep_mean, rep_std, missing="none known")
        rows.append(
            [
                method,
                len(sel),
                reported if rep_mean is None else f"{reported} ({known} known)",
                _table.pm(search_mean, search_std),
                f"{s['wall_median']:.1f}",
            ]
        )
    header = "method | seeds | test acc mean ± std | val acc mean ± std | median wall s"
    return summary, _table.markdown_table(header, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default="nb201", choices=["nb201", "nb101"])
    ap.add_argument("--gvae", action="append", default=[], metavar="KEY=JSON")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed-start", type=int, default=0, help="first seed of the searches")
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--methods", nargs="+", default=["gvae-nao", "rs", "re"])
    ap.add_argument("--pareto-seeds", type=int, default=0)
    ap.add_argument(
        "--pareto-methods",
        nargs="+",
        default=["gvae-nao (lambdas 0,0.5,1,2)", "rs"],
        choices=list(PARETO_METHODS),
    )
    ap.add_argument("--plot", help="save the seed-0 fronts beside the true front (PNG)")
    ap.add_argument("--recon-train", type=int, default=2000)
    ap.add_argument("--recon-epochs", type=int, default=100)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    gvae_kwargs: dict[str, Any] = {}
    for item in args.gvae:
        key, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--gvae takes KEY=JSON, got {item!r}")
        gvae_kwargs[key] = json.loads(value)
    if args.benchmark == "nb101" and args.pareto_seeds:
        ap.error("--pareto-seeds needs --benchmark nb201")
    try:
        bench: Any
        if args.benchmark == "nb101":
            from archperf.benchmarks.nb101 import NB101Benchmark

            bench = NB101Benchmark("cifar10")
        else:
            bench = NB201Benchmark("cifar10")
            if bench.report_metric is None:
                raise ArchperfError("nb201.csv (test accuracy) not found in the data folder")
    except ArchperfError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    print("data:", bench.source, flush=True)
    recon = None
    if args.recon_train:
        recon = reconstruction(bench, args.recon_train, 500, args.recon_epochs, seed=0)
        print(json.dumps(recon), flush=True)

    runs: list[dict[str, Any]] = []
    for method in args.methods:
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            kwargs = gvae_kwargs if method == "gvae-nao" else {}
            rec = run(method, kwargs, args.budget, seed, args.benchmark)
            info = rec["outcome_info"]
            r = {
                "method": method,
                "seed": seed,
                "queries": rec["num_queries"],
                "arch": rec["final"]["arch"],
                "search_value": rec["final"]["value"],
                "reported": rec["final"]["reported"],
                "filled_random": info.get("filled_random"),
                "proposed": sum(r["proposed"] for r in info.get("rounds", [])) or None,
                "wall_seconds": rec["bench_wall"],
            }
            runs.append(r)
            print(json.dumps(r), flush=True)

    summary, table = summarize(runs, args.methods if args.seeds else [])
    print(table)

    pareto: dict[str, Any] = {}
    if args.pareto_seeds:
        acc_all = bench.column("val")
        cost_all = bench.column("params_mb")
        ok = np.isfinite(acc_all) & np.isfinite(cost_all)
        ref = reference_point(acc_all[ok], cost_all[ok])
        true_front = np.flatnonzero(ok)[pareto_front(acc_all[ok], cost_all[ok])]
        true_hv = hypervolume_2d(acc_all[ok], cost_all[ok], ref)
        pareto = {
            "objectives": "validation accuracy (max), params_mb (min)",
            "reference_point": list(ref),
            "true_front_size": len(true_front),
            "true_hypervolume": round(true_hv, 4),
            "runs": [],
        }
        methods = {k: v for k, v in PARETO_METHODS.items() if k in args.pareto_methods}
        seed0: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for label, (method, kwargs) in methods.items():
            for seed in range(args.pareto_seeds):
                rec = run(method, kwargs, args.budget, seed)
                acc = np.array([q["value"] for q in rec["queries"] if q["charged"]])
                cost = np.array(
                    [
                        c
                        for q, c in zip(
                            rec["queries"], rec["cell_properties"]["params_mb"], strict=True
                        )
                        if q["charged"]
                    ]
                )
                hv = hypervolume_2d(acc, cost, ref)
                front = pareto_front(acc, cost)
                if seed == 0:
                    seed0[label] = (acc, cost)
                r = {
                    "method": label,
                    "seed": seed,
                    "hypervolume": round(hv, 4),
                    "share_of_true": round(hv / true_hv, 4),
                    "front_size": len(front),
                    "front": [[float(acc[i]), float(cost[i])] for i in front],
                    "wall_seconds": rec["bench_wall"],
                }
                pareto["runs"].append(r)
                print(json.dumps(r), flush=True)

        if args.plot:
            fig = plot_fronts(
                seed0,
                (acc_all[true_front], cost_all[true_front]),
                cost_name="params_mb",
                acc_name="validation accuracy (%)",
                title=f"NB201 CIFAR-10, {args.budget} queries, seed 0",
            )
            fig.savefig(args.plot, dpi=120)
            pareto["plot"] = args.plot
    about = {
        "script": "bench/gvae_nao_search.py",
        "argv": sys.argv[1:],
        "started": started,
        "benchmark": args.benchmark,
        "gvae_kwargs": gvae_kwargs,
        "dataset": "cifar10",
        "protocol": "honest",
        "data": {"source": short_source(bench.source)},
        "budget": args.budget,
        "machine": _table.machine(cpus=True),
        "reconstruction": recon,
    }
    _table.write_results(args.out, about, summary=summary, runs=runs, table=table, pareto=pareto)
    return 0


if __name__ == "__main__":
    sys.exit(main())
