"""``archperf front``: the fronts of the cells that runs queried (search value against a cell
property), one run per method, beside the space's true front."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "front",
        help="plot each method's front of queried cells (accuracy against a cell property) "
        "beside the space's true front",
        description=(
            "Read run records of one benchmark/dataset/protocol (written by run, search or "
            "reproduce) and draw, for one seed per method label, the Pareto front of its queried "
            "cells: search value against the cell property COST.  On a tabular benchmark the "
            "true front of the whole space is drawn too and its hypervolume printed."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="DIR", help="record folders or record files")
    p.add_argument("--cost", required=True, help="the cell property, e.g. params_mb or flops")
    p.add_argument(
        "--seed", type=int, help="the seed drawn per method (default: each method's lowest)"
    )
    p.add_argument(
        "--out", default="fronts.png", metavar="FILE", help="figure (.png, .svg or .pdf; "
        "default fronts.png)"
    )  # fmt: skip
    p.add_argument(
        "--no-true-front",
        action="store_true",
        help="do not build the space's true front (needed for a benchmark without a full table)",
    )
    p.add_argument("--data", metavar="FILE", help="also write the plotted front points (CSV)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._io import atomic_write_bytes
    from ..analysis.plots import save_figure
    from ..experiments.fronts import front_figure
    from ..experiments.tables import load_records

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"--out must end in .png, .svg or .pdf, got {args.out!r}")
    records = load_records(args.paths)
    if not records:
        raise ValueError(f"no run records (*.json) in {', '.join(args.paths)}")
    try:
        fig, rows, space = front_figure(records, args.cost, args.seed, not args.no_true_front)
    except ImportError as exc:
        print(f"archperf front: error: {exc}", file=sys.stderr)
        return 2
    save_figure(fig, out.with_suffix(""), formats=(out.suffix.lower().lstrip("."),))
    if args.data:
        buf = io.StringIO()
        w = csv.DictWriter(buf, ["label", "seed", "accuracy", "cost"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        atomic_write_bytes(Path(args.data), buf.getvalue().encode("utf-8"))
    methods = len({r["label"] for r in rows if r["label"] != "true front"})
    truth = (
        "no true front"
        if space is None
        else f"true front of {len(space.accuracy)} cell(s) among {space.cells}, hypervolume "
        f"{space.hypervolume:.4f} under reference {space.reference[0]:g},{space.reference[1]:g}"
    )
    print(
        f"wrote {out}: {methods} method(s) from {len(records)} run(s); {truth}"
        + (f"; points in {args.data}" if args.data else ""),
        file=sys.stderr,
    )
    return 0
