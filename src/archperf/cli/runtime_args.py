"""``--device`` and ``--threads``: where the commands that train run, and how many torch threads.

``--device`` is checked before any work starts: ``cuda`` on a torch without CUDA ends the
command with one line (``archperf search: error: --device cuda: CUDA is not available (torch
2.13.0+cpu)``, exit code 2).  For search methods it sets the trainer's device
(``trainer.device``) of the methods that have a trainer; ``auto`` is the trainer's default and is
left out of the run spec, so ``--device auto`` and no ``--device`` give the same run key, while
``cpu`` and ``cuda`` enter it (GPU numbers differ from CPU numbers).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..runtime import DEFAULT_THREADS, DEVICE_CHOICES, THREADS_ENV, check_device

DEVICE_HELP = (
    "where training runs: auto (CUDA when available, else CPU; the default), cpu or cuda. Sets "
    "trainer.device of methods with a trainer (nacg, nacg-mr, semigan-nad); rs and re accept it "
    "and ignore it"
)


def add_device_arg(p: argparse.ArgumentParser, help: str = DEVICE_HELP) -> None:
    """``--device {auto,cpu,cuda}`` (default: None, the command's own default)."""
    p.add_argument("--device", choices=DEVICE_CHOICES, help=help)


def add_threads_arg(p: argparse.ArgumentParser) -> None:
    """``--threads N``: torch CPU threads for the command's work (:mod:`archperf.runtime`)."""
    p.add_argument(
        "--threads",
        type=int,
        help=f"torch CPU threads (default: ${THREADS_ENV}, else {DEFAULT_THREADS}: the graphs "
        "are tiny and more threads mostly wait on each other; docs/performance.md)",
    )


def checked_device(args: argparse.Namespace) -> str | None:
    """``args.device`` after :func:`archperf.runtime.check_device`; ``ValueError`` naming the
    option when it cannot be used here."""
    device: str | None = getattr(args, "device", None)
    if device is not None:
        try:
            check_device(device)
        except ValueError as exc:
            raise ValueError(f"--device {device}: {exc}") from None
    return device


def checked_threads(args: argparse.Namespace) -> int | None:
    """``args.threads``, checked (``ValueError`` naming the option when below 1)."""
    count: int | None = getattr(args, "threads", None)
    if count is not None and count < 1:
        raise ValueError(f"--threads must be >= 1, got {count}")
    return count


def method_kwargs_with_device(
    method: str, kwargs: dict[str, Any], device: str | None
) -> dict[str, Any]:
    """``kwargs`` with ``trainer.device = device`` when ``method`` has a trainer (its
    ``config()`` holds a ``trainer`` dict); unchanged for ``device`` None or ``"auto"`` (the
    trainer's default) and for methods without a trainer.  ``--set trainer.device`` naming
    another device is an error."""
    if device is None:
        return kwargs
    from .. import registry

    try:
        config = registry.create("search_method", method, **kwargs).config()
    except TypeError as exc:
        raise ValueError(f"method {method!r} does not accept {sorted(kwargs)}: {exc}") from None
    if not isinstance(config.get("trainer"), dict):
        return kwargs
    trainer = dict(kwargs.get("trainer") or {})
    given = trainer.get("device")
    if given is not None and given != device:
        raise ValueError(f"--device {device} contradicts --set trainer.device={given}")
    if device == "auto" and given is None:
        return kwargs
    return {**kwargs, "trainer": {**trainer, "device": device}}
