"""``archperf run``: several methods × seeds on one benchmark, resumable, then a summary table."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from .runtime_args import add_device_arg, checked_device, method_kwargs_with_device
from .search_cmd import add_benchmark_args, benchmark_kwargs, check_method

if TYPE_CHECKING:
    from ..experiments.executors import Executor


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """``--workers``, ``--executor`` and ``--ray-address`` (shared with ``reproduce``)."""
    p.add_argument(
        "--workers",
        type=int,
        help="parallel runs (default: every usable CPU; 1 = in this process); with Ray, "
        "the CPUs given to a local Ray cluster",
    )
    p.add_argument(
        "--executor", choices=("local", "ray"), default="local", help="where runs execute"
    )
    p.add_argument("--ray-address", help="connect to this Ray cluster instead of a local one")


def make_executor(args: argparse.Namespace) -> Executor:
    from ..experiments.executors import LocalExecutor, RayExecutor

    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be >= 1")
    if args.executor == "ray":
        return RayExecutor(address=args.ray_address, num_cpus=args.workers)
    if args.ray_address is not None:
        raise ValueError("--ray-address needs --executor ray")
    return LocalExecutor(workers=args.workers)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run methods over many seeds into a folder of records (resumable)",
        description=(
            "Run every method for every seed on one benchmark, writing DIR/<run>.json as each "
            "run finishes. Runs already in DIR are skipped, so an interrupted sweep continues "
            "where it stopped. Failed runs leave DIR/<run>.error.txt. Prints a summary table."
        ),
    )
    p.add_argument("--methods", required=True, help="comma-separated methods, e.g. rs,re")
    add_benchmark_args(p)
    p.add_argument("--seeds", default="0-9", help="seeds: 0-19, 0,3,7 or 0-4,10 (default 0-9)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the run records")
    add_executor_args(p)
    add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.epilog = "With several methods, --set METHOD:key=value sets a value for one method only."
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import registry
    from ..experiments.runner import run_many
    from ..experiments.spec import RunSpec, parse_seeds, parse_sets
    from ..experiments.tables import summarize, to_markdown

    given = [m.strip() for m in args.methods.split(",") if m.strip()]
    methods = [registry.canonical_name("search_method", m) for m in given]  # random → rs
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"--methods {args.methods!r}: give distinct method names")
    seeds = parse_seeds(args.seeds)
    device = checked_device(args)
    named = {m: g for g, m in zip(given, methods, strict=True)}
    sets = []  # METHOD:key=value may use a method's name or its alias
    for item in args.set:
        target, sep, rest = item.partition("=")
        prefix, colon, key = target.rpartition(":")
        canon = registry.canonical_name("search_method", prefix.strip()) if colon else ""
        if colon and prefix.strip() not in given and canon in named:
            item = f"{named[canon]}:{key}{sep}{rest}"
        sets.append(item)
    by_given = parse_sets(sets, given)
    kwargs = {m: by_given[g] for g, m in zip(given, methods, strict=True)}
    for m in methods:
        check_method(m, kwargs[m])  # a wrong hyper-parameter is named before --device builds it
        kwargs[m] = method_kwargs_with_device(m, kwargs[m], device)
        check_method(m, kwargs[m])
    bkw = benchmark_kwargs(args)
    specs = [
        RunSpec(
            method=m,
            method_kwargs=kwargs[m],
            benchmark=args.benchmark,
            dataset=args.dataset,
            protocol=args.protocol,
            budget=args.budget,
            seed=s,
            benchmark_kwargs=bkw,
            constraints=list(args.constraint),
        )
        for m in methods
        for s in seeds
    ]
    executor = make_executor(args)
    try:
        result = run_many(specs, args.out, executor, progress=not args.no_progress)
    finally:
        executor.close()
    logging.getLogger(__name__).info(
        f"{len(result.ran)} run(s) done, {len(result.skipped)} already in {args.out}, "
        f"{len(result.failures)} failed"
    )
    if result.records:
        print(to_markdown(summarize(result.records.values())), end="")
    return 1 if result.failures else 0
