"""What each search method costs: median wall seconds per run of every registered method at the
same budget on NB201 CIFAR-10 (honest protocol), one torch thread, through the experiment runner.

Each method runs with the settings ``archperf reproduce table2`` gives it
(:data:`archperf.experiments.reproduce.NACG_KWARGS`; ``{}`` = its defaults).  A method that
cannot be built here (e.g. its predictor is not installed) is listed with the reason instead of
a time.  ``--methods`` takes names, optionally with keyword arguments as JSON after a colon
(``'npenas:{"predictor": "xgb"}'``).

Run: python bench/method_cost.py [--budget 100] [--seeds 3] [--methods ...]
     [--out bench/results/method_cost.json]
Needs nb201/nb201.csv in the data folder (../shared/data or $ARCHPERF_DATA_DIR); skips with a
message when it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archperf import registry
from archperf.datahash import short_source
from archperf.errors import ArchperfError
from archperf.experiments.reproduce import NACG_KWARGS
from archperf.experiments.runner import run_one
from archperf.experiments.spec import RunSpec
from archperf.paths import find_data_dir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--out", default="bench/results/method_cost.json")
    args = ap.parse_args()
    data = find_data_dir()
    if data is None or not (data / "nb201" / "nb201.csv").is_file():
        print("skipped: nb201/nb201.csv not found in the data folder", file=sys.stderr)
        return 0
    torch.set_num_threads(1)
    labels = args.methods or registry.names("search_method")
    rows: list[dict[str, Any]] = []
    source = ""
    for label in labels:
        name, sep, extra = label.partition(":")
        kwargs = {**NACG_KWARGS["table2"].get(name, {}), **(json.loads(extra) if sep else {})}
        walls: list[float] = []
        reported: list[float] = []
        row: dict[str, Any] = {"method": label, "kwargs": kwargs}
        try:
            for seed in range(args.seeds):
                spec = RunSpec(
                    method=name,
                    method_kwargs=kwargs,
                    benchmark="nb201",
                    dataset="cifar10",
                    budget=args.budget,
                    seed=seed,
                )
                t0 = time.perf_counter()
                rec = run_one(spec)
                walls.append(time.perf_counter() - t0)
                reported.append(float(rec["final"]["reported"]))
                source = short_source(str(rec["data_source"]))
        except ArchperfError as exc:
            row["skipped"] = str(exc).splitlines()[0]
            print(json.dumps(row), flush=True)
            rows.append(row)
            write(args, rows, source)
            continue
        row.update(
            {
                "seeds": len(walls),
                "wall_seconds": [round(w, 3) for w in walls],
                "median_wall_seconds": round(float(np.median(walls)), 3),
                "reported": reported,
            }
        )
        print(json.dumps(row), flush=True)
        rows.append(row)
        write(args, rows, source)  # after every method: an interrupted run keeps what it timed
    return 0


def write(args: argparse.Namespace, rows: list[dict[str, Any]], source: str) -> None:
    """The table and the JSON file for the methods timed so far."""
    lines = ["| method | median wall s per run | seeds |", "|---|---|---|"]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['method']} | skipped: {row['skipped']} | 0 |")
        else:
            lines.append(f"| {row['method']} | {row['median_wall_seconds']:.2f} | {row['seeds']} |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "script": "bench/method_cost.py",
                "argv": sys.argv[1:],
                "benchmark": "nb201",
                "dataset": "cifar10",
                "protocol": "honest",
                "data_source": source,
                "budget": args.budget,
                "machine": {
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                    "threads": 1,
                    "cpus": os.cpu_count(),
                    "note": "shared 2-core CPU with other jobs at the same time; run at nice 10",
                },
                "methods": rows,
                "table": table,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    sys.exit(main())
