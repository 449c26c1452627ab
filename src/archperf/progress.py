"""What long work is doing: the phase, the epoch, the queries spent.

Searches and the trainer report through :func:`phase` and :func:`epoch`, which forward to the
*reporter of the current context* (a :class:`contextvars.ContextVar`, so threads and asyncio
tasks each have their own) and cost one variable lookup when there is none.  A reporter is
anything with the :class:`Reporter` methods; :class:`Bar` is the tqdm one.

A bar draws only when its stream (standard error) is a terminal: logs, pipes, CI and notebooks
stay clean.  The built-in searches open a bar over the oracle's queries on their own
(:func:`search_bar`), so ``method.search(oracle, seed)`` shows one on a terminal; inside
``run_one`` (``archperf search``), that bar is the runner's.  :func:`silenced` turns it off::

    with archperf.progress.silenced():
        method.search(oracle, seed=0)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any, Protocol

__all__ = [
    "Bar",
    "Reporter",
    "Silent",
    "current",
    "epoch",
    "phase",
    "search_bar",
    "silenced",
    "using",
]


class Reporter(Protocol):
    """Receives progress: the phase (``"round 2: training"``), epochs within it, queries."""

    def phase(self, name: str) -> None: ...

    def epoch(self, done: int, total: int, info: str = "") -> None: ...

    def queries(self, used: int, budget: int | None) -> None: ...


class Silent:
    """A reporter that shows nothing (installed to keep nested work quiet)."""

    def phase(self, name: str) -> None:
        pass

    def epoch(self, done: int, total: int, info: str = "") -> None:
        pass

    def queries(self, used: int, budget: int | None) -> None:
        pass


_CURRENT: ContextVar[Reporter | None] = ContextVar("archperf_progress", default=None)


def current() -> Reporter | None:
    """The reporter of this context, or None."""
    return _CURRENT.get()


def phase(name: str) -> None:
    """Say what the current work is doing now (no-op without a reporter)."""
    rep = _CURRENT.get()
    if rep is not None:
        rep.phase(name)


def epoch(done: int, total: int, info: str = "") -> None:
    """``done`` of ``total`` epochs of the current phase are finished (no-op without a
    reporter); ``info`` is a short extra, e.g. the losses."""
    rep = _CURRENT.get()
    if rep is not None:
        rep.epoch(done, total, info)


@contextmanager
def using(reporter: Reporter) -> Iterator[Reporter]:
    """Make ``reporter`` this context's reporter for the ``with`` block."""
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        _CURRENT.reset(token)


@contextmanager
def silenced() -> Iterator[Reporter]:
    """No progress output inside the block (searches and the trainer open no bar)."""
    with using(Silent()) as rep:
        yield rep


class Bar:
    """A tqdm bar on ``file`` (default standard error), drawn only when it is a terminal.

    It counts queries (``unit="queries"``: :meth:`queries` moves it, epochs appear in the
    status text, e.g. ``45/100 queries [00:12, round 4: training, epoch 3/10]``) or epochs
    (``unit="epochs"``: :meth:`epoch` moves it); with ``total=None`` it shows only the time and
    the status.  No ETA is shown: the rate of queries says
    nothing about the training between them.  Redraws are throttled to ``interval`` seconds.
    """

    def __init__(
        self,
        desc: str,
        total: int | None,
        unit: str = "queries",
        *,
        enabled: bool = True,
        file: IO[str] | None = None,
        interval: float = 0.1,
    ) -> None:
        stream = sys.stderr if file is None else file
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(enabled and callable(isatty) and isatty())
        self.unit = unit
        self.interval = interval
        self._phase = ""
        self._epoch = ""
        self._last = 0.0
        self._bar: Any = None
        if self.enabled:
            from tqdm.auto import tqdm

            fmt = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} [{elapsed}{postfix}]"
            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=f" {unit}",
                file=stream,
                leave=False,
                dynamic_ncols=True,
                bar_format=fmt if total is not None else "{desc}: [{elapsed}{postfix}]",
            )

    # ------------------------------------------------------------------ Reporter
    def phase(self, name: str) -> None:
        self._phase, self._epoch = name, ""
        self._show(force=True)

    def epoch(self, done: int, total: int, info: str = "") -> None:
        if self._bar is None:
            return
        extra = f" ({info})" if info else ""
        if self.unit == "epochs":
            self._bar.total = total
            self._bar.n = done
            self._epoch = info
        else:
            self._epoch = f"epoch {done}/{total}{extra}"
        self._show(force=done in (0, total))

    def queries(self, used: int, budget: int | None) -> None:
        if self._bar is None or self.unit != "queries":
            return
        if budget is not None and self._bar.total != budget:
            self._bar.total = budget
        self._bar.n = used
        self._show(force=used == budget)

    # ------------------------------------------------------------------ helpers
    def __call__(self, oracle: Any) -> None:
        """Oracle listener (``oracle.subscribe(bar)``): follow its query count."""
        self.queries(int(oracle.num_queries), oracle.budget)

    def count(self, n: int, note: str = "") -> None:
        """Set the count (e.g. runs finished) and a short note."""
        if self._bar is None:
            return
        self._bar.n = n
        self._epoch = note
        self._show(force=True)

    def status(self) -> str:
        """The text after the counts: the phase and the epoch."""
        return ", ".join(s for s in (self._phase, self._epoch) if s)

    def _show(self, force: bool = False) -> None:
        if self._bar is None:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self._bar.set_postfix_str(self.status(), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        """Remove the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def search_bar(oracle: Any, desc: str, enabled: bool = True) -> Iterator[Reporter]:
    """A bar over ``oracle``'s queries for a search, unless this context already has a reporter
    (then that one is used: the runner's bar, or :func:`silenced`)."""
    existing = _CURRENT.get()
    if existing is not None:
        yield existing
        return
    bar = Bar(desc, oracle.budget, "queries", enabled=enabled)
    if bar.enabled:
        oracle.subscribe(_Listener(bar))
        bar(oracle)
    try:
        with using(bar):
            yield bar
    finally:
        bar.close()


class _Listener:
    """Forwards oracle updates to a bar until the bar is closed (oracles keep listeners)."""

    def __init__(self, bar: Bar) -> None:
        self.bar = bar

    def __call__(self, oracle: Any) -> None:
        if self.bar._bar is not None:
            self.bar(oracle)
