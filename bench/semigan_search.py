"""The ``semigan-nad`` search against RE, honest protocol, on real benchmark data.

For each benchmark and dataset, every method runs on seeds 0..S-1 through the experiment runner
(``run_one``: the search sees only the validation metric; the test metric is read once, after
the search).  Per method it reports the mean ± std and the best of the reported (test) metric,
the mean search metric and the median wall time of one run, all measured in this one process,
so the ratios between methods are comparable.

Methods (``--methods``):

* ``semigan-nad``: the library's defaults (``candidates="auto"``: uniform candidates on NB201 and
  NB101, the generator recipe on NB301);
* ``semigan-nad-generator``: AG's candidates (class 0) with the many-round defaults;
* ``semigan-nad-uniform``: candidates drawn uniformly (the default on enumerable spaces, spelled
  out; the ``semigan_search_nb301_uniform.json`` row);
* ``semigan-nad-uniform-nomut``: uniform candidates without the incumbents' mutants;
* ``semigan-nad-pool``: PP ranks the whole unlabeled pool;
* ``re100`` / ``re160`` / ``re110`` / ``re150``: regularized evolution at that budget;
* ``nacg``: the paper's single-round NACG at the paper's settings.

Run: python bench/semigan_search.py --benchmark nb201 --datasets cifar10 cifar100 imagenet16-120
     [--seeds 20] [--budget 100] [--methods ...] [--out bench/results/semigan_search_nb201.json]
Data: ../shared/data (or $ARCHPERF_DATA_DIR); skips with a message when absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from archperf.experiments.runner import run_one
from archperf.experiments.spec import RunSpec
from archperf.paths import find_data_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by importlib
import _table

NAN = float("nan")  # a summary of no reported values (as NumPy gives it)

METHODS: dict[str, tuple[str, dict[str, Any], int | None]] = {
    # name: (registered method, kwargs, budget or None for --budget)
    "semigan-nad": ("semigan-nad", {}, None),
    "semigan-nad-generator": ("semigan-nad", {"candidates": "generator"}, None),
    "semigan-nad-uniform": ("semigan-nad", {"candidates": "uniform"}, None),
    "semigan-nad-uniform-nomut": ("semigan-nad", {"candidates": "uniform", "parents": 0}, None),
    "semigan-nad-pool": ("semigan-nad", {"candidates": "pool"}, None),
    "re100": ("re", {}, 100),
    "re110": ("re", {}, 110),
    "re150": ("re", {}, 150),
    "re160": ("re", {}, 160),
    "nacg": ("nacg", {}, None),
}

NEEDS = {
    "nb201": "nb201/nb201.csv",
    "nb101": "nb101/nb101_subset.csv.gz",
    "nb301": "nb301/yahpo_nb301_surrogate.onnx",
}


def summarize(
    runs: list[dict[str, Any]], datasets: list[str], methods: list[str]
) -> tuple[list[dict[str, Any]], str]:
    """The summary (one dict per dataset and method) and the Markdown table."""
    summary: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for dataset in datasets:
        for name in methods:
            sel = _table.select(runs, dataset=dataset, method=name)
            # all reported None (NB101: test accuracy for 30 cells only): NaN, as it always was
            rep_mean, rep_std = _table.mean_std((r["reported"] for r in sel), all_missing=NAN)
            s = {
                "dataset": dataset,
                "method": name,
                "budget": sel[0]["budget"],
                "seeds": len(sel),
                "reported_mean": rep_mean,
                "reported_std": rep_std,
                "reported_best": _table.best((r["reported"] for r in sel), all_missing=NAN),
                "search_mean": _table.mean_std(r["search_value"] for r in sel)[0],
                "wall_median": _table.median(r["wall_seconds"] for r in sel),
            }
            summary.append(s)
            rows.append(
                [
                    dataset,
                    name,
                    s["budget"],
                    _table.pm(rep_mean, rep_std),
                    f"{s['reported_best']:.2f}",
                    f"{s['search_mean']:.2f}",
                    f"{s['wall_median']:.1f}",
                ]
            )
    header = "dataset | method | budget | reported mean ± std | best | search metric | wall s"
    return summary, _table.markdown_table(header, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default="nb201", choices=sorted(NEEDS))
    ap.add_argument("--datasets", nargs="+", default=["cifar10"])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--methods", nargs="+", default=["semigan-nad", "re100", "re160"])
    ap.add_argument("--set", action="append", default=[], metavar="METHOD.KEY=JSON")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    data = find_data_dir()
    if data is None or not (data / NEEDS[args.benchmark]).is_file():
        print(
            f"skipped: {NEEDS[args.benchmark]} not found (set ARCHPERF_DATA_DIR)", file=sys.stderr
        )
        return 0
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown methods {unknown}; choose from {sorted(METHODS)}")
    overrides: dict[str, dict[str, Any]] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        method, _, field = key.partition(".")
        overrides.setdefault(method, {})[field] = json.loads(value)
    torch.set_num_threads(1)
    runs: list[dict[str, Any]] = []
    for dataset in args.datasets:
        for name in args.methods:
            method, kwargs, budget = METHODS[name]
            kwargs = {**kwargs, **overrides.get(name, {})}
            for seed in range(args.seeds):
                spec = RunSpec(
                    method=method,
                    benchmark=args.benchmark,
                    dataset=dataset,
                    budget=budget or args.budget,
                    seed=seed,
                    method_kwargs=kwargs,
                )
                t0 = time.perf_counter()
                rec = run_one(spec)
                final = rec["final"]
                run = {
                    "method": name,
                    "dataset": dataset,
                    "seed": seed,
                    "budget": spec.budget,
                    "search_value": final["value"],
                    "reported": final["reported"],
                    "wall_seconds": round(time.perf_counter() - t0, 3),
                    "data_source": rec["data_source"],
                    "info": {
                        k: v
                        for k, v in rec.get("outcome_info", {}).items()
                        if k in ("train_seconds", "search_seconds")
                    },
                }
                runs.append(run)
                print(json.dumps(run), flush=True)
    summary, table = summarize(runs, args.datasets, args.methods)
    print(table)
    about = {
        "benchmark": args.benchmark,
        "protocol": "honest",
        "data_source": runs[0]["data_source"] if runs else None,
        "seeds": args.seeds,
        "methods": {m: METHODS[m] for m in args.methods},
        "overrides": overrides,
        "machine": _table.machine(),
    }
    _table.write_results(
        args.out or f"bench/results/semigan_search_{args.benchmark}.json",
        about,
        summary=summary,
        runs=runs,
        table=table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
