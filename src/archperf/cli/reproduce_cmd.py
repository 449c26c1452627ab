"""``archperf reproduce``: run one of the paper's tables (resumable) and write its summary."""

from __future__ import annotations

import argparse
import dataclasses
import logging

from ..paths import DATA_DIR_HELP
from .run_cmd import add_executor_args, make_executor
from .runtime_args import add_device_arg, checked_device, method_kwargs_with_device
from .search_cmd import data_dir_arg

TABLES = ("table1", "table2", "table3")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run a table of the paper (table1 NB101, table2 NB201, table3 NB301), resumable",
        description=(
            "Run every method, budget, dataset, protocol and seed of one of the paper's tables "
            "(see docs/experiments.md), skipping runs already in DIR, then write DIR/<table>.md "
            "and DIR/<table>.csv (with a header naming the data source and protocol) and print "
            "the Markdown."
        ),
    )
    p.add_argument("table", choices=TABLES)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for records and tables")
    p.add_argument(
        "--seeds", type=int, help="number of seeds, 0..N-1 (default: the table's, 20 or 10)"
    )
    p.add_argument(
        "--only", metavar="METHOD,...", help="only these methods or labels (e.g. rs,re,nacg-mr)"
    )
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    add_executor_args(p)
    add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.reproduce import PROTOCOLS, write_reports
    from ..experiments.runner import run_many

    protocol = PROTOCOLS[args.table]
    device = checked_device(args)
    if args.seeds is not None and args.seeds < 1:
        raise ValueError("--seeds must be >= 1")
    only = [m.strip() for m in args.only.split(",") if m.strip()] if args.only else None
    bkw = {}
    if args.data_dir is not None:
        bkw["data_dir"] = data_dir_arg(args.data_dir)
    specs = [
        dataclasses.replace(
            s, method_kwargs=method_kwargs_with_device(s.method, s.method_kwargs, device)
        )
        for s in protocol(args.seeds, only=only, benchmark_kwargs=bkw)
    ]
    executor = make_executor(args)
    try:
        result = run_many(specs, args.out, executor, progress=not args.no_progress)
    finally:
        executor.close()
    md_path, csv_path, md = write_reports(
        protocol, list(result.records.values()), args.out, failed=len(result.failures)
    )
    print(md, end="")
    logging.getLogger(__name__).info(
        f"{len(result.ran)} run(s) done, {len(result.skipped)} already there, "
        f"{len(result.failures)} failed; wrote {md_path} and {csv_path}"
    )
    return 1 if result.failures else 0
