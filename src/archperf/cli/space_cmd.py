"""``archperf space enumerate|sample|validate``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import registry
from .._io import read_lines
from ..errors import InvalidCellError
from ..interfaces import EnumerableSpace


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("space", help="enumerate, sample or validate cells of a search space")
    ssub = p.add_subparsers(dest="space_command", required=True, metavar="ACTION")

    e = ssub.add_parser("enumerate", help="every cell as JSON lines (NB101, NB201)")
    e.add_argument("space")
    e.set_defaults(func=run_enumerate)

    s = ssub.add_parser("sample", help="N random cells as JSON lines")
    s.add_argument("space")
    s.add_argument("-n", type=int, default=10, help="number of cells (default 10)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=run_sample)

    v = ssub.add_parser(
        "validate",
        help="read cells one per line; print ok or the broken rule; exit 1 if any is invalid",
    )
    v.add_argument("space")
    v.add_argument("file", help="a file, or - for standard input")
    v.set_defaults(func=run_validate)


def load_space(name: str) -> Any:
    return registry.search_space(name)


def run_enumerate(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    if not isinstance(space, EnumerableSpace):
        raise ValueError(f"space {args.space!r} is too large to enumerate; use 'space sample'")
    out = sys.stdout
    for arch in space.enumerate():
        out.write(json.dumps(space.to_record(arch)) + "\n")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise ValueError("-n must be >= 0")
    space = load_space(args.space)
    for arch in space.sample(args.n, seed=args.seed):
        print(json.dumps(space.to_record(arch)))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    bad = 0
    for lineno, line in enumerate(read_lines(args.file), start=1):
        text = line.strip()
        if not text:
            print()  # output line N answers input line N
            continue
        try:
            arch = space.from_text(text)
            space.validate(arch)
        except InvalidCellError as exc:
            bad += 1
            print(f"line {lineno}: invalid: {exc}")
        else:
            print("ok")
    return 1 if bad else 0
