"""``archperf table``: summarise run records (mean ± std over seeds) as Markdown or CSV."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "table",
        help="summarise run records (folders or files) as a Markdown or CSV table",
        description=(
            "One row per benchmark, dataset, protocol, method label and budget: seeds, mean ± "
            "std of the reported (test) value and of the final search metric, mean queries, "
            "and the paper's number where archperf has one."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="DIR", help="record folders or record files")
    p.add_argument(
        "--format",
        choices=("markdown", "csv", "runs"),
        default="markdown",
        help="markdown or csv: the summary; runs: a CSV line per run (its final cell, search "
        "and reported values, wall time), the per-seed numbers behind the summary",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the table here")
    p.add_argument(
        "--hypervolume",
        metavar="COST",
        help="instead: the hypervolume of the queried cells in (search value, cell property "
        "COST, e.g. params_mb), per method; needs --reference",
    )
    p.add_argument(
        "--reference",
        metavar="ACC,COST|space|space:Q",
        help="the hypervolume's reference point: worst accuracy and largest cost, e.g. "
        "9.712,1.5315, or 'space': the whole space's (tabular benchmarks), which also adds "
        "each row's share of the true front's hypervolume; 'space:Q' (0<Q<1) takes the "
        "space's Q-quantile of the search metric as the accuracy (space:0.5: the median cell)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._io import atomic_write_bytes
    from ..experiments.tables import load_records, runs_csv, summarize, to_csv, to_markdown

    records = load_records(args.paths)
    if not records:
        raise ValueError(f"no run records (*.json) in {', '.join(args.paths)}")
    if args.hypervolume is not None:
        return _hypervolume(args, records)
    if args.format == "runs":
        text, what = runs_csv(records), f"{len(records)} run(s)"
    else:
        rows = summarize(records)
        text = to_markdown(rows) if args.format == "markdown" else to_csv(rows)
        what = f"{len(rows)} row(s) from {len(records)} run(s)"
    if args.output:
        atomic_write_bytes(Path(args.output), text.encode("utf-8"))
        logging.getLogger(__name__).info(f"{what} written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _hypervolume(args: argparse.Namespace, records: list[dict[str, Any]]) -> int:
    from ..experiments.tables import hypervolume_markdown, summarize_hypervolume

    if args.format != "markdown":
        raise ValueError(f"--hypervolume writes Markdown only (drop --format {args.format})")
    ref: tuple[float, float] | str
    if str(args.reference).startswith("space"):
        ref = str(args.reference)  # summarize_hypervolume checks the quantile
    else:
        try:
            acc, cost = (float(x) for x in str(args.reference).split(","))
        except ValueError:
            raise ValueError(
                "--reference must be two numbers ACC,COST (e.g. 9.712,1.5315), 'space' or "
                "'space:Q', got "
                f"{args.reference!r}"
            ) from None
        ref = (acc, cost)
    text = hypervolume_markdown(summarize_hypervolume(records, args.hypervolume, ref))
    if args.output:
        from .._io import atomic_write_bytes

        atomic_write_bytes(Path(args.output), text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0
