"""RS, RE and ``semigan-nad`` on NAS-Bench-Macro (the ``archperf-nbmacro`` plugin), honest protocol.

Every run goes through the experiment runner (``run_one``, the code behind ``archperf run``): the
search sees only the CIFAR-10 test accuracy of **training 0** of each network (the benchmark has
no validation split) and the reported value is the **mean of trainings 1 and 2**, read once
after the search.  For scale the script also records the best network by the search metric
(what a search with unlimited queries would find) and what it reports, the best reported value
of the whole benchmark, and the expected reported value of a uniformly drawn network.

Run: python bench/nbmacro_search.py [--seeds 10] [--budgets 50 100] [--methods rs re semigan-nad]
     [--out bench/results/nbmacro_search.json]
Needs: the plugin (pip install -e plugins/archperf-nbmacro) and
nbmacro/nas-bench-macro_cifar10.json in the data folder (../shared/data or $ARCHPERF_DATA_DIR);
skips with a message when either is absent.
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

from archperf import registry
from archperf.datahash import short_source
from archperf.errors import DataFileError, UnknownComponentError
from archperf.experiments.runner import run_one
from archperf.experiments.spec import RunSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by importlib
import _table


def summarize(
    runs: list[dict[str, Any]], budgets: list[int], methods: list[str]
) -> tuple[list[dict[str, Any]], str]:
    """The summary (one dict per budget and method) and the Markdown table."""
    summary: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for budget in budgets:
        for method in methods:
            sel = _table.select(runs, budget=budget, method=method)
            rep_mean, rep_std = _table.mean_std(r["reported"] for r in sel)
            s = {
                "method": method,
                "budget": budget,
                "seeds": len(sel),
                "reported_mean": rep_mean,
                "reported_std": rep_std,
                "reported_best": _table.best(r["reported"] for r in sel),
                "search_mean": _table.mean_std(r["search_value"] for r in sel)[0],
                "wall_median": _table.median(r["wall_seconds"] for r in sel),
            }
            summary.append(s)
            rows.append(
                [
                    method,
                    budget,
                    len(sel),
                    _table.pm(rep_mean, rep_std),
                    f"{s['reported_best']:.2f}",
                    f"{s['search_mean']:.2f}",
                    f"{s['wall_median']:.1f}",
                ]
            )
    header = "method | budget | seeds | reported mean ± std | best | search metric mean | wall s"
    return summary, _table.markdown_table(header, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budgets", type=int, nargs="+", default=[50, 100])
    ap.add_argument("--methods", nargs="+", default=["rs", "re", "semigan-nad"])
    ap.add_argument("--out", default="bench/results/nbmacro_search.json")
    args = ap.parse_args()
    try:
        bench = registry.create("benchmark", "nbmacro")
    except (UnknownComponentError, DataFileError) as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    torch.set_num_threads(1)
    search = np.asarray(bench.column("val"))
    report = np.asarray(bench.column("test"))
    best = int(np.argmax(search))
    context = {
        "records": len(bench),
        "best_by_search_metric": {
            "arch": bench.space.to_text(bench.arch_at(best)),
            "search_value": float(search[best]),
            "reported": float(report[best]),
        },
        "best_reported": float(report.max()),
        "uniform_reported_mean": float(report.mean()),
        "best_mean_acc": float(np.asarray(bench.column("mean_acc")).max()),
    }
    runs: list[dict[str, Any]] = []
    source, sha256 = "", ""
    for budget in args.budgets:
        for method in args.methods:
            for seed in range(args.seeds):
                spec = RunSpec(
                    method=method, benchmark="nbmacro", dataset="cifar10", budget=budget, seed=seed
                )
                t0 = time.perf_counter()
                rec = run_one(spec)
                final = rec["final"]
                source = short_source(str(rec["data_source"]))
                sha256 = str(rec["data"]["sha256"])
                run = {
                    "method": method,
                    "budget": budget,
                    "seed": seed,
                    "arch": final["arch"],
                    "search_value": final["value"],
                    "reported": final["reported"],
                    "wall_seconds": round(time.perf_counter() - t0, 3),
                }
                runs.append(run)
                print(json.dumps(run), flush=True)
    summary, table = summarize(runs, args.budgets, args.methods)
    print(table)
    desc = bench.describe()
    about = {
        "benchmark": "nbmacro (plugin archperf-nbmacro)",
        "data": "NAS-Bench-Macro CIFAR-10 (Su et al., CVPR 2021), all 6,561 networks",
        "data_source": source,
        "data_sha256": sha256,
        "protocol": "honest",
        "search_metric": desc["search_metric"],
        "report_metric": desc["report_metric"],
        "report_metric_note": desc["report_metric_note"],
        "seeds": args.seeds,
        "machine": _table.machine(),
        "context": context,
    }
    _table.write_results(args.out, about, summary=summary, runs=runs, table=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
