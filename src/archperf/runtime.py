"""Where library work runs: torch's CPU thread count and the compute device.

**Threads.**  archperf's graphs are tiny (7 to 22 nodes), so torch's default of one intra-op
thread per core mostly buys synchronisation: on a shared 2-core machine a 20-epoch training took
78.8 s with torch's default against 6.0 s with one thread (docs/performance.md).  Every library
entry point that runs torch work (the trainer's ``fit``/``predict``, every search method's
``search``, ``GINPredictor.predict``, ``ConditionalGenerator.sample``) therefore runs inside
:func:`threads`, which sets torch's intra-op thread count for its duration and restores the
caller's count afterwards, also when an exception leaves it.  The count is, first match wins:

1. an explicit count: ``TrainerConfig(threads=N)``, ``threads(N)``, ``archperf ... --threads N``;
2. the innermost enclosing ``threads(...)`` block, so ``with archperf.runtime.threads(4): ...``
   covers every library call inside it and a search's trainer follows its search;
3. the environment variable ``ARCHPERF_THREADS``;
4. :data:`DEFAULT_THREADS` (1).

torch's thread count is process-wide: library calls from several Python threads at once share it.
A block does not import torch; while torch is not imported it only sets the count that inner
library calls use.

**Device.**  :func:`resolve_device` turns ``"auto"`` (CUDA when available, else CPU), ``"cpu"``,
``"cuda"`` or ``"cuda:N"`` into a ``torch.device``; :func:`check_device` validates a name without
resolving it.  Asking for CUDA where torch has none is a one-line ``ValueError``
(``CUDA is not available (torch 2.13.0+cpu)``), not a traceback from deep inside torch.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_THREADS",
    "DEVICE_CHOICES",
    "THREADS_ENV",
    "check_device",
    "resolve_device",
    "resolve_threads",
    "threads",
    "with_threads",
]

#: torch intra-op threads used by library calls when nothing else is set.
DEFAULT_THREADS = 1
#: Environment variable that overrides :data:`DEFAULT_THREADS`.
THREADS_ENV = "ARCHPERF_THREADS"
#: The device names the command line offers (``--device``).
DEVICE_CHOICES = ("auto", "cpu", "cuda")

_ENCLOSING: ContextVar[int | None] = ContextVar("archperf_threads", default=None)

P = ParamSpec("P")
R = TypeVar("R")


def _check_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def resolve_threads(threads: int | None = None) -> int:
    """The thread count library work uses: ``threads`` if given, else the enclosing
    :func:`threads` block's, else ``$ARCHPERF_THREADS``, else :data:`DEFAULT_THREADS`."""
    if threads is not None:
        return _check_count(threads, "threads")
    enclosing = _ENCLOSING.get()
    if enclosing is not None:
        return enclosing
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"${THREADS_ENV} must be an integer >= 1, got {text!r}") from None
        return _check_count(value, f"${THREADS_ENV}")
    return DEFAULT_THREADS


@contextlib.contextmanager
def threads(count: int | None = None) -> Iterator[int]:
    """Run the block with torch's intra-op thread count set to :func:`resolve_threads`
    ``(count)``; the caller's count comes back on exit, whatever happens inside.

    Yields the count in effect.  Blocks nest: the inner one decides while it runs.
    """
    resolved = resolve_threads(count)
    token = _ENCLOSING.set(resolved)
    torch = sys.modules.get("torch")  # imported already, or nothing to set (see module doc)
    previous = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None and previous != resolved:
            torch.set_num_threads(resolved)
        yield resolved
    finally:
        _ENCLOSING.reset(token)
        if torch is not None and previous is not None and torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def with_threads(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator: run ``func`` inside ``threads()`` (the enclosing or the library count)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threads():
            return func(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------------------------ device
def _cuda_problem(index: int | None) -> str | None:
    """Why CUDA (device ``index``) cannot be used here, or None."""
    import torch

    if not torch.cuda.is_available():
        return f"CUDA is not available (torch {torch.__version__})"
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        return f"no CUDA device {index}: this machine has {count}"
    return None


def check_device(device: str | torch.device) -> str:
    """Validate a device name (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or any other
    ``torch.device`` string) and return it; ``ValueError`` with the reason when it does not parse
    or names CUDA where there is none.  Imports torch only for names other than auto/cpu."""
    if not isinstance(device, str):
        device = str(device)
    if device in ("auto", "cpu"):
        return device
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        problem = _cuda_problem(parsed.index)
        if problem is not None:
            raise ValueError(problem)
    return device


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else as given, after
    :func:`check_device`."""
    import torch

    if isinstance(device, torch.device) and device.type != "cuda":
        return device
    name = check_device(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
