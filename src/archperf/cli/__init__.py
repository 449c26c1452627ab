"""The ``archperf`` command line.  Each command group lives in its own module with
``add_parser(subparsers)``; the module is imported only when its command runs where possible.

Errors a user can cause (:class:`~archperf.errors.ArchperfError`, and ``ValueError``,
``KeyError``, ``OSError``, ``ImportError`` raised on bad input) are printed as one line,
``archperf COMMAND: error: ...``, with exit status 2; ``-v`` adds the traceback.  ``-v``/``-q``
set the level of the ``archperf`` loggers (default INFO; ``-q`` WARNING and no progress bars,
``-qq`` ERROR; ``-v`` DEBUG).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from ..errors import ArchperfError
from ..paths import DATA_RULE
from . import (
    analyze_cmd,
    front_cmd,
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
from .config import CONFIG_COMMANDS, apply_config, config_argument, merge_sets

COMMAND_MODULES = [
    plugins_cmd,
    space_cmd,
    query_cmd,
    generate_cmd,
    search_cmd,
    run_cmd,
    table_cmd,
    plot_cmd,
    front_cmd,
    reproduce_cmd,
    analyze_cmd,
]


#: Exceptions reported as one line (user errors); anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ArchperfError,
    ValueError,
    KeyError,
    OSError,
    ImportError,
)


def _add_log_args(p: argparse.ArgumentParser, top: bool) -> None:
    # In subcommands the default is SUPPRESS so that `archperf -v search` keeps its -v.
    default = 0 if top else argparse.SUPPRESS
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="more log output (DEBUG) and tracebacks with errors",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=default,
        help="less log output: -q warnings only, no progress bars; -qq errors only",
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in dict.fromkeys(action.choices.values()):
                out.append(sp)
                out.extend(_subparsers(sp))
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archperf",
        description="archperf: architecture–performance learning and search (SemiGAN-NAD).",
        epilog=DATA_RULE,
    )
    parser.add_argument("--version", action="version", version=f"archperf {__version__}")
    _add_log_args(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in COMMAND_MODULES:
        mod.add_parser(sub)
    for sp in _subparsers(parser):
        _add_log_args(sp, top=False)
    for name in CONFIG_COMMANDS:
        sub.choices[name].add_argument(
            "--config",
            metavar="FILE",
            help="read the settings from a TOML, JSON or YAML file whose keys are these long "
            "options (set: a table); flags given here win (docs/experiments.md)",
        )
    return parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line, with ``--config FILE`` applied (its settings become the command's
    defaults, so flags win); raises :class:`~archperf.errors.UsageError` for a bad file."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    sub, path = config_argument(argv, _commands(parser))
    file_sets = apply_config(sub, path) if sub is not None and path is not None else []
    args = parser.parse_args(argv)
    if file_sets:
        args.set = merge_sets(file_sets, args.set)
    return args


def log_level(verbose: int, quiet: int) -> int:
    """The ``archperf`` logger level for ``-v``/``-q`` counts (default INFO)."""
    if verbose > quiet:
        return logging.DEBUG
    return {0: logging.INFO, 1: logging.WARNING}.get(quiet - verbose, logging.ERROR)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a message comes (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: int) -> None:
    """Send the ``archperf`` loggers to stderr as ``archperf: message`` at ``level``."""
    logger = logging.getLogger("archperf")
    for h in list(logger.handlers):
        if getattr(h, "_archperf_cli", False):
            logger.removeHandler(h)
    handler = _StderrHandler()
    handler._archperf_cli = True  # type: ignore[attr-defined]
    fmt = (
        "archperf %(levelname)s %(name)s: %(message)s"
        if level <= logging.DEBUG
        else ("archperf: %(message)s")
    )
    handler.setFormatter(logging.Formatter(fmt))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, ImportError) and not isinstance(exc, ArchperfError):
        text = f"{text} (a missing optional dependency: see README.md, Quick start)"
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except ArchperfError as exc:  # a bad --config file
        words = list(sys.argv[1:] if argv is None else argv)
        command = next((w for w in words if w in CONFIG_COMMANDS), "")
        print(f"archperf {command}: error: {_one_line(exc)}".replace("  ", " "), file=sys.stderr)
        return 2
    verbose, quiet = int(args.verbose), int(args.quiet)
    configure_logging(log_level(verbose, quiet))
    if quiet and hasattr(args, "no_progress"):
        args.no_progress = True
    try:
        rc = args.func(args)
    except BrokenPipeError:  # e.g. `archperf space enumerate nb201 | head`
        return 0
    except KeyboardInterrupt as exc:  # one line, whatever was running (run_many says what it kept)
        # The process is ending: a further Ctrl-C must not kill it by signal on the way out
        # (Python resets a default SIGINT handler to SIG_DFL while it shuts down, not SIG_IGN).
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        detail = _one_line(exc) if exc.args else ""
        print(
            f"archperf {args.command}: interrupted" + (f"; {detail}" if detail else ""),
            file=sys.stderr,
        )
        return 130
    except USER_ERRORS as exc:
        if verbose:
            traceback.print_exc()
        print(f"archperf {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
