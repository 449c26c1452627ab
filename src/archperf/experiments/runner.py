"""Run searches and keep JSON records: :func:`run_one` (one spec, from :mod:`.single`) and
:func:`run_many` (a sweep, on an :class:`~.executors.Executor`).

The test (report) metric is read in exactly one place: :func:`run_one`, after
``method.search`` has returned, through ``benchmark.report([best])``.  The search only ever
holds an oracle (search metric, budget, history).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .executors import Executor, LocalExecutor
from .locks import RunLock, lock_owner_alive
from .single import (
    RECORD_FORMAT,
    VOLATILE_FIELDS,
    build_benchmark,
    check_budget,
    check_log,
    clear_benchmark_cache,
    comparable,
    default_journal,
    json_ready,
    resolve_spec,
    run_one,
)
from .spec import RunSpec

__all__ = [
    "RECORD_FORMAT",
    "VOLATILE_FIELDS",
    "Failure",
    "SweepResult",
    "build_benchmark",
    "check_budget",
    "check_log",
    "clear_benchmark_cache",
    "comparable",
    "default_journal",
    "json_ready",
    "load_record",
    "resolve_spec",
    "run_many",
    "run_one",
]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- run_many
@dataclass
class Failure:
    """A run that raised: its spec, the error text (with traceback) and where it was written."""

    spec: RunSpec
    error: str
    path: Path


@dataclass
class SweepResult:
    """What :func:`run_many` did: records by run key (in spec order), ran/skipped keys, failures.

    Run keys are those of the resolved specs (they name the data); :meth:`record` finds a
    record from the spec as given.
    """

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)
    """The key of each spec as given → its run key."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def record(self, spec: RunSpec) -> dict[str, Any]:
        """The record of ``spec`` (as given to :func:`run_many`, or resolved); ``KeyError`` if
        it has none (e.g. it failed)."""
        key = spec.key()
        return self.records[self.resolved.get(key, key)]


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one record file; a file that is not a run record is a ``ValueError`` naming it."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a readable run record ({exc})") from None
    if not isinstance(data, dict) or "spec" not in data:
        raise ValueError(f"{p}: not a run record (no 'spec' field)")
    try:
        RunSpec.from_dict(data["spec"])
    except ValueError as exc:
        raise ValueError(f"{p}: bad run spec: {exc}") from None
    return data


def _dump(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, indent=1, allow_nan=False) + "\n").encode("utf-8")


def _first_interrupt(signum: int, frame: Any) -> None:
    """SIGINT during a sweep: the first one raises ``KeyboardInterrupt``, any further one is
    ignored until the sweep has stopped its workers and released its locks (a second Ctrl-C
    used to cut the clean-up short and leave the process waiting on its pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _one_interrupt_handler() -> Any:
    """Install :func:`_first_interrupt` if Python's default SIGINT handler is in place (main
    thread only); return the handler to restore, or None if nothing was changed."""
    if threading.current_thread() is not threading.main_thread():
        return None
    current = signal.getsignal(signal.SIGINT)
    if current is not signal.default_int_handler:
        return None  # an application's own handler (or SIG_IGN) is left alone
    signal.signal(signal.SIGINT, _first_interrupt)
    return current


def _wait_for_others(
    elsewhere: dict[str, RunSpec], out: Path, result: SweepResult, poll_s: float = 0.2
) -> list[RunSpec]:
    """Wait while other processes run the specs of ``elsewhere``: load each record as it
    appears; return (to run here) those whose lock went away or went stale without a record."""
    to_run: list[RunSpec] = []
    told = False
    while elsewhere and not to_run:
        for k in list(elsewhere):
            path = out / f"{k}.json"
            if not path.exists() and lock_owner_alive(out / f"{k}.lock"):
                continue
            spec = elsewhere.pop(k)
            if path.exists():  # checked again: the owner writes the record, then unlocks
                record = load_record(path)
                if RunSpec.from_dict(record["spec"]) != spec:
                    raise ValueError(f"{path} holds another run with the same key")
                result.records[k] = record
                result.skipped.append(k)
            else:  # the other process stopped (or failed) without a record: run it here
                to_run.append(spec)
        if elsewhere and not to_run:
            if not told:
                log.info(
                    "waiting for %d run(s) that another process is running in %s",
                    len(elsewhere),
                    out,
                )
                told = True
            time.sleep(poll_s)
    return to_run


def run_many(
    specs: Iterable[RunSpec],
    out_dir: str | os.PathLike[str],
    executor: Executor | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run every spec not already done, writing ``out_dir/<key>.json`` as each finishes.

    Every spec is first resolved (:func:`resolve_spec`): its key then names the data's source
    and content hash, so records made on other data have other keys and are never reused.
    Resumable: a spec whose record file exists, parses and holds the same spec is skipped (its
    record is loaded).  A record file with the spec's key but another spec, or one that does not
    parse, is an error naming the file (nothing runs).  Each run takes ``out_dir/<key>.lock``
    (:mod:`~archperf.experiments.locks`) just before it starts, so two processes sweeping into
    the same folder share the runs (each waits at the end for the other's runs and loads their
    records).  An interrupt (Ctrl-C) stops the runs in progress promptly, keeps every record
    already written, removes this process's locks and re-raises ``KeyboardInterrupt`` with a
    one-line message.  A run that raises does not stop the
    others: its spec and traceback go to ``out_dir/<key>.error.txt`` and into
    :attr:`SweepResult.failures`, summarised at the end as a warning of the
    ``archperf.experiments.runner`` logger (on stderr unless logging is configured otherwise).
    ``executor`` defaults to in-process (:class:`~archperf.experiments.executors.LocalExecutor`
    with one worker).
    """
    from .._io import atomic_write_bytes

    specs = list(specs)
    for spec in specs:
        if not isinstance(spec, RunSpec):
            raise TypeError(f"run_many takes RunSpec objects, got {type(spec).__name__}")
    given = [s.key() for s in specs]
    specs = [resolve_spec(s) for s in specs]  # keys name the data: others' records never match
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_key: dict[str, RunSpec] = {}
    for spec in specs:
        k = spec.key()
        if k in by_key:
            raise ValueError(f"run {k} is listed twice; remove the duplicate spec")
        by_key[k] = spec

    result = SweepResult(resolved={g: s.key() for g, s in zip(given, specs, strict=True)})
    todo: list[RunSpec] = []
    for k, spec in by_key.items():
        path = out / f"{k}.json"
        if not path.exists():
            todo.append(spec)
            continue
        record = load_record(path)
        if RunSpec.from_dict(record["spec"]) != spec:
            raise ValueError(
                f"{path} holds another run with the same key (spec {record['spec']}, wanted "
                f"{spec.to_dict()}); move it away or use another output folder"
            )
        result.records[k] = record
        result.skipped.append(k)

    if executor is None:
        executor = LocalExecutor(workers=1)
    from ..progress import Bar

    bar = Bar(f"runs ({executor.describe()})", len(todo), "runs", enabled=progress and bool(todo))
    locks: dict[str, RunLock] = {}
    elsewhere: dict[str, RunSpec] = {}  # locked by another live process (or done meanwhile)

    def claim(spec: RunSpec) -> bool:
        k = spec.key()
        lock = RunLock(out / f"{k}.lock")
        locks[k] = lock  # before acquire: an interrupt in between still releases it
        if not lock.acquire():
            del locks[k]
            elsewhere[k] = spec
            return False
        if (out / f"{k}.json").exists():  # another sweep finished it after our first look
            lock.release()
            del locks[k]
            elsewhere[k] = spec
            return False
        return True

    def done_elsewhere() -> int:
        return len(result.skipped) - skipped_before

    skipped_before = len(result.skipped)
    previous_handler = _one_interrupt_handler()
    try:
        while todo:
            with contextlib.closing(executor.map(todo, claim)) as outcomes:
                for spec, outcome in outcomes:
                    k = spec.key()
                    err_path = out / f"{k}.error.txt"
                    try:
                        if isinstance(outcome, BaseException):
                            text = getattr(outcome, "traceback", None) or "".join(
                                traceback.format_exception(outcome)
                            )
                            atomic_write_bytes(
                                err_path,
                                f"spec: {spec.to_json()}\n\n{text}".encode(),
                            )
                            result.failures.append(Failure(spec, text, err_path))
                        else:
                            atomic_write_bytes(out / f"{k}.json", _dump(outcome))
                            if err_path.exists():  # an earlier failure of this run is now stale
                                err_path.unlink()
                            result.records[k] = outcome
                            result.ran.append(k)
                    finally:
                        # release, then forget: an interrupt between the two leaves the lock
                        # in ``locks`` for the clean-up below (forgetting first leaked it)
                        lock = locks.get(k)
                        if lock is not None:
                            lock.release()
                        locks.pop(k, None)
                    failed = len(result.failures)
                    bar.count(
                        len(result.ran) + failed + done_elsewhere(),
                        f"{failed} failed" if failed else "",
                    )
            todo = _wait_for_others(elsewhere, out, result)
            bar.count(len(result.ran) + len(result.failures) + done_elsewhere())
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"{len(result.ran)} run(s) finished in this sweep are kept in {out}; run the same "
            "command again to go on"
        ) from None
    finally:
        for lock in locks.values():  # runs stopped before they finished
            lock.release()
        bar.close()
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
    order = {k: i for i, k in enumerate(by_key)}
    result.records = dict(sorted(result.records.items(), key=lambda kv: order[kv[0]]))
    if result.failures:
        lines = [
            f"{len(result.failures)} of {len(by_key)} run(s) failed (the others finished); "
            "details in:"
        ]
        for f in result.failures:
            last = f.error.strip().splitlines()[-1] if f.error.strip() else "?"
            lines.append(f"  {f.path}: {last}")
        log.warning("\n".join(lines))
    return result
