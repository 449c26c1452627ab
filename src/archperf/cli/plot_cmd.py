"""``archperf plot``: the anytime plot (incumbent vs queries, median and band over seeds) of run
records, one panel per benchmark/dataset/protocol and one line per method label."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="plot the incumbent against queries (median and band over seeds) from run records",
        description=(
            "Read run records (folders written by run, reproduce or search, or record files) and "
            "draw, per benchmark/dataset/protocol, each method's incumbent after every query: the "
            "median over seeds and an inter-quartile (or min-max) band."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="DIR", help="record folders or record files")
    p.add_argument(
        "--out", default="anytime.png", metavar="FILE", help="figure (.png, .svg or .pdf; "
        "default anytime.png)"
    )  # fmt: skip
    p.add_argument(
        "--metric",
        choices=("search", "reported"),
        default="search",
        help="search: the incumbent's search metric (default); reported: its reported (test) "
        "value, read from the benchmark (not on the NB101 subset)",
    )
    p.add_argument(
        "--band", choices=("iqr", "minmax", "none"), default="iqr", help="band over seeds"
    )
    p.add_argument("--data", metavar="FILE", help="also write the plotted numbers (CSV) here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._io import atomic_write_bytes
    from ..experiments.anytime import anytime_curves, curves_csv, plot_anytime
    from ..experiments.tables import load_records

    records = load_records(args.paths)
    if not records:
        raise ValueError(f"no run records (*.json) in {', '.join(args.paths)}")
    curves = anytime_curves(records, metric=args.metric, band=args.band)
    if args.data:
        atomic_write_bytes(Path(args.data), curves_csv(curves).encode("utf-8"))
    try:
        out = plot_anytime(curves, args.out)
    except ImportError as exc:
        print(f"archperf plot: error: {exc}", file=sys.stderr)
        return 2
    panels = len({c.panel for c in curves})
    print(
        f"wrote {out}: {panels} panel(s), {len(curves)} line(s) from {len(records)} run(s) "
        f"({args.metric} metric, band {args.band})"
        + (f"; numbers in {args.data}" if args.data else ""),
        file=sys.stderr,
    )
    return 0
