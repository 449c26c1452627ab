"""The literature's baselines (``ls``, ``bananas``, ``npenas``) beside RS and RE, through the
experiment runner (``run_one``, the code behind ``archperf run``), honest protocol unless
``--protocol paper``.

Every run searches on the benchmark's search metric and reports the test metric of the final
cell, read once after the search.  A method is a registered name, optionally with keyword
arguments as JSON after a colon: ``'npenas:{"predictor": "xgb"}'`` (its label in the output is
the whole string).

Run: python bench/baselines_search.py --benchmark nb201 --datasets cifar10 cifar100
     imagenet16-120 --budgets 100 --seeds 10 --methods rs re ls bananas
     --out bench/results/baselines_nb201.json
``--records DIR`` also writes each run's record as ``DIR/<run key>.json`` (what ``archperf
run`` and ``archperf reproduce`` write; a reproduce into that folder skips those runs).
``--resume FILE`` reuses the runs of an earlier output (its JSON, or a file of its per-run output
lines) with the same method label, dataset, budget and seed, so a stopped sweep can finish; the
lowest reused seed of every group is run again first and must give the same cell and value, or
the script stops (the code changed since).

Needs the benchmark's data in the data folder (../shared/data or $ARCHPERF_DATA_DIR); skips with
a message when it is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from archperf.datahash import short_source
from archperf.errors import ArchperfError
from archperf.experiments.runner import run_one
from archperf.experiments.spec import RunSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by importlib
import _table


def parse_method(text: str) -> tuple[str, dict[str, Any]]:
    name, sep, kwargs = text.partition(":")
    return name, (json.loads(kwargs) if sep else {})


def load_runs(path: Path) -> dict[tuple[str, str, int, int], dict[str, Any]]:
    """Runs of an earlier output keyed by (method label, dataset, budget, seed)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        rows = data["runs"] if isinstance(data, dict) else data
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    keys = ("method", "dataset", "budget", "seed", "arch", "search_value", "reported")
    out = {}
    for row in rows:
        if all(k in row for k in keys):
            run = {k: v for k, v in row.items() if k != "reused"}
            out[(row["method"], row["dataset"], row["budget"], row["seed"])] = run
    return out


def summarize(
    runs: list[dict[str, Any]], datasets: list[str], budgets: list[int], methods: list[str]
) -> tuple[list[dict[str, Any]], str]:
    """The summary (one dict per dataset, budget and method label) and the Markdown table."""
    summary: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for dataset in datasets:
        for budget in budgets:
            for label in methods:
                sel = _table.select(runs, dataset=dataset, budget=budget, method=label)
                rep_mean, rep_std = _table.mean_std(r["reported"] for r in sel)
                search_mean, search_std = _table.mean_std(r["search_value"] for r in sel)
                s = {
                    "dataset": dataset,
                    "method": label,
                    "budget": budget,
                    "seeds": len(sel),
                    "reported_mean": rep_mean,
                    "reported_std": rep_std,
                    "search_mean": search_mean,
                    "search_std": search_std,
                    "wall_median": _table.median(r["wall_seconds"] for r in sel),
                }
                summary.append(s)
                rows.append(
                    [
                        dataset,
                        label,
                        budget,
                        len(sel),
                        _table.pm(rep_mean, rep_std),
                        _table.pm(search_mean, search_std),
                        f"{s['wall_median']:.2f}",
                    ]
                )
    header = (
        "dataset | method | budget | seeds | reported mean ± std | search metric mean ± std "
        "| median wall s"
    )
    return summary, _table.markdown_table(header, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default="nb201")
    ap.add_argument("--datasets", nargs="+", default=["cifar10"])
    ap.add_argument("--protocol", default="honest")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budgets", type=int, nargs="+", default=[100])
    ap.add_argument("--methods", nargs="+", default=["rs", "re", "ls", "bananas"])
    ap.add_argument("--constraint", action="append", default=[], help="e.g. params_mb<=0.5")
    ap.add_argument("--resume", help="earlier output (JSON or per-run lines) whose runs to reuse")
    ap.add_argument(
        "--records", help="also write every run's record here as <run key>.json, as archperf "
        "run and reproduce do (reproduce then skips those runs)"
    )  # fmt: skip
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    records = Path(args.records) if args.records else None
    if records is not None:
        records.mkdir(parents=True, exist_ok=True)
    reused = load_runs(Path(args.resume)) if args.resume else {}
    checked: set[tuple[str, str, int]] = set()
    torch.set_num_threads(1)
    runs: list[dict[str, Any]] = []
    sources: dict[str, dict[str, str]] = {}
    out = Path(args.out)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for dataset in args.datasets:
        for budget in args.budgets:
            for label in args.methods:
                method, kwargs = parse_method(label)
                for seed in range(args.seeds):
                    old = reused.get((label, dataset, budget, seed))
                    group = (label, dataset, budget)
                    if old is not None and group in checked:
                        runs.append(old)
                        print(json.dumps({**old, "reused": True}), flush=True)
                        continue
                    spec = RunSpec(
                        method=method,
                        method_kwargs=kwargs,
                        benchmark=args.benchmark,
                        dataset=dataset,
                        protocol=args.protocol,
                        budget=budget,
                        seed=seed,
                        constraints=list(args.constraint),
                    )
                    t0 = time.perf_counter()
                    try:
                        rec = run_one(spec)
                    except ArchperfError as exc:
                        if not runs:
                            print(f"skipped: {exc}", file=sys.stderr)
                            return 0
                        raise
                    if records is not None:
                        (records / f"{rec['key']}.json").write_text(
                            json.dumps(rec, indent=1, allow_nan=False) + "\n", encoding="utf-8"
                        )
                    final = rec["final"]
                    sources[dataset] = {
                        "source": short_source(str(rec["data_source"])),
                        "sha256": str(rec["data"]["sha256"]),
                    }
                    run = {
                        "method": label,
                        "dataset": dataset,
                        "budget": budget,
                        "seed": seed,
                        "queries": rec["num_queries"],
                        "arch": final["arch"],
                        "search_value": final["value"],
                        "reported": final.get("reported"),
                        "wall_seconds": round(time.perf_counter() - t0, 3),
                    }
                    if old is not None:
                        checked.add(group)
                        same = (old["arch"], old["search_value"], old["reported"]) == (
                            run["arch"],
                            run["search_value"],
                            run["reported"],
                        )
                        if not same:
                            print(
                                f"error: --resume: {label} {dataset} {budget} seed {seed} gives "
                                f"{run['arch']} ({run['search_value']}) now, {old['arch']} "
                                f"({old['search_value']}) in {args.resume}: the code changed",
                                file=sys.stderr,
                            )
                            return 1
                        print(f"resume check passed for {label} {dataset} {budget}", flush=True)
                    runs.append(run)
                    print(json.dumps(run), flush=True)
    summary, table = summarize(runs, args.datasets, args.budgets, args.methods)
    print(table)
    about = {
        "script": "bench/baselines_search.py",
        "argv": sys.argv[1:],
        **({"resumed_from": args.resume} if args.resume else {}),
        "started": started,
        "benchmark": args.benchmark,
        "protocol": args.protocol,
        **({"constraints": args.constraint} if args.constraint else {}),
        "data": sources,
        "seeds": args.seeds,
        "machine": _table.machine(cpus=True),
    }
    _table.write_results(out, about, summary=summary, runs=runs, table=table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
