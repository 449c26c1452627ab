"""The ``archperf`` command line.  Each command group lives in its own module with
``add_parser(subparsers)``; the module is imported only when its command runs where possible."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import (
    analyze_cmd,
    generate_cmd,
    plot_cmd,
    plugins_cmd,
    query_cmd,
    reproduce_cmd,
    run_cmd,
    search_cmd,
    space_cmd,
    table_cmd,
)

COMMAND_MODULES = [
    plugins_cmd,
    space_cmd,
    query_cmd,
    generate_cmd,
    search_cmd,
    run_cmd,
    table_cmd,
    plot_cmd,
    reproduce_cmd,
    analyze_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archperf",
        description="archperf: architecture–performance learning and search (SemiGAN-NAD).",
    )
    parser.add_argument("--version", action="version", version=f"archperf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in COMMAND_MODULES:
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except BrokenPipeError:  # e.g. `archperf space enumerate nb201 | head`
        return 0
    except (ValueError, KeyError, OSError) as exc:
        print(f"archperf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
