"""``archperf query BENCH FILE|-``: look up a metric for cells given one per line.

Works for any registered benchmark whose factory accepts ``dataset``/``source``/``data_dir``
keywords and that offers ``space``, ``describe()`` and ``lookup(archs, metric)`` (NaN for
cells it lacks); benchmarks without ``lookup`` are asked cell by cell through
``query``/``report``.  Heavy modules are imported only inside :func:`run`.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Any

from .. import registry
from .._io import read_lines
from ..errors import InvalidCellError, UnknownCellError
from ..paths import DATA_DIR_HELP

log = logging.getLogger(__name__)

#: Decimal places of every printed value.
DIGITS = 4

#: Lines looked up together: output is written (and flushed) after each chunk, so memory stays
#: flat and a pipe sees answers while the file is still being read.
CHUNK = 4096


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "query",
        help="print a benchmark metric for each cell (one per line); 'unknown' if it lacks one",
        description=(
            "Read cells in the space's text form, one per line, and print the metric of each: "
            f"a number with {DIGITS} decimals, 'unknown' for cells the benchmark has no record "
            "of, 'invalid: <rule>: line N: <message>', or an empty line for an empty line "
            "(output line N answers input line N; answers are streamed). The source used is "
            "logged on stderr (not with -q). Exit "
            "status 1 if any line is invalid."
        ),
    )
    p.add_argument("bench", metavar="BENCH", help="benchmark name (see: archperf plugins)")
    p.add_argument("file", metavar="FILE", help="a file of cells, or - for standard input")
    p.add_argument("--dataset", help="dataset (NB201: cifar10, cifar100, imagenet16-120)")
    p.add_argument(
        "--metric",
        choices=("val", "test"),
        default="val",
        help="validation (the search metric, default) or test accuracy",
    )
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--source", help="a benchmark data file to read (format sniffed)")
    p.add_argument(
        "--allow-unsafe-pickle",
        action="store_true",
        help="allow unpickling arbitrary classes from a trusted official .pth file",
    )
    p.set_defaults(func=run)


def _make_benchmark(args: argparse.Namespace) -> Any:
    factory = registry.get("benchmark", args.bench)
    kwargs: dict[str, Any] = {}
    if args.dataset is not None:
        kwargs["dataset"] = args.dataset
    if args.source is not None:
        kwargs["source"] = args.source
    if args.data_dir is not None:
        kwargs["data_dir"] = args.data_dir
    if args.allow_unsafe_pickle:
        kwargs["allow_unsafe_pickle"] = True
    return factory(**kwargs)


def _values(bench: Any, archs: list[Any], metric: str) -> list[float]:
    if hasattr(bench, "lookup"):
        return [float(v) for v in bench.lookup(archs, metric)]
    out: list[float] = []
    for arch in archs:
        try:
            fn = bench.report if metric == "test" else bench.query
            out.append(float(fn([arch])[0]))
        except UnknownCellError:
            out.append(math.nan)
    return out


def _answer(bench: Any, space: Any, chunk: list[tuple[int, str]], metric: str, out: Any) -> int:
    """Write one output line per input line of ``chunk`` (in order); return the invalid count.

    A blank input line gets a blank output line, so output line *n* always answers input line *n*.
    """
    results: list[str] = []
    archs: list[Any] = []
    slots: list[int] = []
    bad = 0
    for lineno, line in chunk:
        text = line.strip()
        if not text:
            results.append("")
            continue
        try:
            arch = space.from_text(text)
            space.validate(arch)
        except InvalidCellError as exc:
            bad += 1
            message = " ".join(str(exc).removeprefix(f"[{exc.rule}]").split())
            results.append(f"invalid: {exc.rule}: line {lineno}: {message}")
            continue
        slots.append(len(results))
        results.append("")
        archs.append(arch)
    if archs:
        for slot, value in zip(slots, _values(bench, archs, metric), strict=True):
            results[slot] = "unknown" if math.isnan(value) else f"{value:.{DIGITS}f}"
    out.write("".join(r + "\n" for r in results))
    out.flush()
    return bad


def run(args: argparse.Namespace) -> int:
    bench = _make_benchmark(args)
    space = bench.space
    info = bench.describe() if hasattr(bench, "describe") else {}
    metric_name = info.get("report_metric" if args.metric == "test" else "search_metric")
    if args.metric == "val":
        metric_name = getattr(bench, "val_metric", metric_name)
    log.info(
        "query %s dataset=%s metric=%s source=%s",
        args.bench,
        info.get("dataset", "-"),
        metric_name or args.metric,
        info.get("source", "?"),
    )
    bad = 0
    out = sys.stdout
    chunk: list[tuple[int, str]] = []
    for lineno, line in enumerate(read_lines(args.file), start=1):
        chunk.append((lineno, line))
        if len(chunk) >= CHUNK:
            bad += _answer(bench, space, chunk, args.metric, out)
            chunk = []
    if chunk:
        bad += _answer(bench, space, chunk, args.metric, out)
    return 1 if bad else 0
