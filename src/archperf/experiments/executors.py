"""Executors: run many :class:`~archperf.experiments.spec.RunSpec` s, in-process, in a local
process pool, or on a Ray cluster.  All of them call the same worker function, so the records
are the same whichever executor ran them (up to :func:`~archperf.experiments.runner.comparable`).
"""

from __future__ import annotations

import abc
import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as mp_wait
from typing import Any, ClassVar

from ..runtime import threads
from .single import run_one
from .spec import RunSpec

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "RunError", "make_executor"]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

MapResult = tuple[RunSpec, "dict[str, Any] | BaseException"]
MapIter = Generator[MapResult, None, None]

#: ``claim(spec)`` is asked just before a run starts; ``False`` skips the run (another process
#: holds its lock, or its record appeared meanwhile).
Claim = Callable[[RunSpec], bool]

#: Seconds a terminated worker gets to exit before it is killed.
STOP_GRACE_S = 2.0


class _WorkerDied(RuntimeError):
    """A pool worker ended without answering (killed, out of memory, a crash in C code)."""


class RunError(RuntimeError):
    """A run raised in a worker; ``traceback`` holds the worker's traceback text."""

    def __init__(self, key: str, message: str, traceback_text: str) -> None:
        super().__init__(f"run {key} failed: {message}")
        self.key = key
        self.traceback = traceback_text


def _execute(spec: RunSpec) -> tuple[str, Any, str]:
    """The worker function: ``("ok", record, "")`` or ``("error", message, traceback)``.

    The run gets one torch thread (:func:`archperf.runtime.threads`; runs share the machine's
    cores), whatever ``$ARCHPERF_THREADS`` says; a spec's ``trainer.threads`` still wins.
    """
    try:
        with threads(1):
            return "ok", run_one(spec, progress=False), ""
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}", traceback.format_exc()


def _init_worker() -> None:
    """Worker set-up: one thread for OpenMP/BLAS, set before anything imports torch or a BLAS
    (torch is not imported here: seconds per worker, and RS/RE never need it).  Workers ignore
    SIGINT: Ctrl-C reaches the whole process group, and it is the main process that stops them
    (a worker's KeyboardInterrupt would only print a traceback)."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in _THREAD_VARS:
        os.environ[var] = "1"


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while worker processes are started: a process spawned now
    inherits the mask (so it never sees a Ctrl-C before its initializer runs), and a Ctrl-C
    meanwhile is delivered here right after, not lost."""
    can = (
        hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    )
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if can else None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _worker_main(conn: Connection) -> None:
    """A pool worker: receive a spec, send back :func:`_execute`'s answer, until ``None``
    or the main process goes away."""
    _init_worker()
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        try:
            conn.send(_execute(spec))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    """One worker process and the main process's end of its pipe."""

    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        with _sigint_blocked():  # it inherits the mask: no Ctrl-C before it ignores SIGINT
            self.proc.start()
        child.close()  # only the worker holds this end: its death is EOF here
        self.spec: RunSpec | None = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def _stop_workers(workers: list[_Worker], *, graceful: bool) -> None:
    """End the workers: ask them to quit (``graceful``, after the last run) or terminate them
    (an interrupt: the runs in progress are abandoned), kill any still alive after
    :data:`STOP_GRACE_S` seconds.  The pool has no threads of its own, so nothing is left to
    block the interpreter's exit.  A second Ctrl-C meanwhile is ignored."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        for w in workers:
            if graceful:
                with contextlib.suppress(Exception):
                    w.conn.send(None)
            else:
                with contextlib.suppress(Exception):
                    w.proc.terminate()
        deadline = time.monotonic() + (STOP_GRACE_S if not graceful else 30.0)
        for w in workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
        for w in workers:
            if w.proc.is_alive():
                with contextlib.suppress(Exception):
                    w.proc.kill()
                w.proc.join(1.0)
            w.close()
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


def _to_result(spec: RunSpec, out: tuple[str, Any, str]) -> dict[str, Any] | BaseException:
    status, payload, tb = out
    if status == "ok":
        record: dict[str, Any] = payload
        return record
    return RunError(spec.key(), str(payload), tb)


def _crash(spec: RunSpec, exc: BaseException) -> RunError:
    """A :class:`RunError` for a run whose worker failed outside :func:`_execute`."""
    tb = "".join(traceback.format_exception(exc))
    return RunError(spec.key(), f"{type(exc).__name__}: {exc}", tb)


class Executor(abc.ABC):
    """Runs specs; :meth:`map` yields ``(spec, record or exception)`` in completion order."""

    name: ClassVar[str]

    @abc.abstractmethod
    def map(self, specs: Sequence[RunSpec], claim: Claim | None = None) -> MapIter:
        """Run every spec; a run that raises gives its exception (a :class:`RunError` with the
        worker's traceback), the others go on.  With ``claim``, a spec runs only if
        ``claim(spec)`` is true when its turn comes (skipped specs yield nothing).  Closing the
        generator early (an interrupt) stops the runs in progress promptly."""

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        """Release what the executor holds (default: nothing)."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """A local process pool: ``workers`` processes (default: the usable CPU count) started
    with ``start_method`` ``"spawn"`` or ``"forkserver"``, each fed one spec at a time over its
    own pipe.  The pool has no threads, so an interrupt ends it promptly: the workers are
    terminated and the finished records kept.  A worker that dies gives a :class:`RunError`
    for its run and is replaced.

    Each run gets one torch thread (``OMP_NUM_THREADS=1`` in the workers, and
    :func:`archperf.runtime.threads` ``(1)`` around every run); workers cache their benchmarks
    across runs.  ``workers=1`` runs in this process, with torch set to one thread during each
    run (the caller's count restored afterwards), so its records equal the pool's.  Scripts
    that use a pool must guard their entry point with ``if __name__ == "__main__":`` (spawned
    workers import the main module).
    """

    name = "local"

    def __init__(self, workers: int | None = None, start_method: str = "spawn") -> None:
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
            workers = workers or os.cpu_count() or 1
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(
                f"start_method must be 'spawn' or 'forkserver' (fork is unsafe with torch "
                f"threads), got {start_method!r}"
            )
        self.workers = workers
        self.start_method = start_method

    def describe(self) -> str:
        if self.workers == 1:
            return "local, in-process"
        return f"local, {self.workers} {self.start_method} processes"

    def map(self, specs: Sequence[RunSpec], claim: Claim | None = None) -> MapIter:
        specs = list(specs)
        if not specs:
            return
        if self.workers == 1:
            yield from self._in_process(specs, claim)
            return
        ctx = multiprocessing.get_context(self.start_method)
        queue = iter(specs)
        n = min(self.workers, len(specs))
        workers: list[_Worker] = []
        finished = False

        def next_spec() -> RunSpec | None:  # lazily: a run is claimed only when a worker is free
            return next((s for s in queue if claim is None or claim(s)), None)

        def assign(i: int) -> bool:
            spec = next_spec()
            if spec is None:
                return False
            if not workers[i].proc.is_alive():  # it died idle: replace it first
                _stop_workers([workers[i]], graceful=False)
                workers[i] = _Worker(ctx)
            with contextlib.suppress(OSError):  # it died just now: the wait reports it
                workers[i].conn.send(spec)
            workers[i].spec = spec
            return True

        try:
            for i in range(n):
                workers.append(_Worker(ctx))
                if not assign(i):
                    break
            while True:
                busy = [w for w in workers if w.spec is not None]
                if not busy:
                    break
                ready = set(mp_wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
                results: list[MapResult] = []
                for i, w in enumerate(workers):
                    spec = w.spec
                    if spec is None or (w.conn not in ready and w.proc.sentinel not in ready):
                        continue
                    result: dict[str, Any] | BaseException
                    try:
                        if not w.conn.poll():
                            raise EOFError
                        result = _to_result(spec, w.conn.recv())
                    except (EOFError, OSError):  # the worker died (killed, out of memory)
                        _stop_workers([w], graceful=False)
                        died = _WorkerDied(f"the worker process died (exit code {w.proc.exitcode})")
                        result = _crash(spec, died)  # assign() replaces the worker
                    w.spec = None
                    results.append((spec, result))
                    assign(i)  # keep the workers busy while the results are written
                yield from results
            finished = True
        finally:
            _stop_workers(workers, graceful=finished)

    @staticmethod
    def _in_process(specs: list[RunSpec], claim: Claim | None) -> MapIter:
        for spec in specs:
            if claim is None or claim(spec):
                yield spec, _to_result(spec, _execute(spec))


_RAY_WORKER_READY = False


def _ray_task(spec: RunSpec) -> tuple[str, Any, str]:
    global _RAY_WORKER_READY
    if not _RAY_WORKER_READY:
        _init_worker()
        _RAY_WORKER_READY = True
    return _execute(spec)


class RayExecutor(Executor):
    """One Ray task (1 CPU) per spec, on a local or remote Ray cluster, ``num_cpus`` (default:
    the cluster's CPU count) in flight at a time, each run claimed when it is submitted.

    ``ray`` is imported when the first map starts (install it with ``pip install
    'archperf[ray]'``).  ``ray.init(address=address, num_cpus=num_cpus,
    ignore_reinit_error=True, include_dashboard=False, **init_kwargs)`` runs unless Ray is
    already initialised; :meth:`close` shuts Ray down again if this executor started it.
    Workers resolve the data directory themselves (the data rule of :mod:`archperf.paths`):
    on a multi-node cluster put ``data_dir`` in the spec's ``benchmark_kwargs`` or set
    ``$ARCHPERF_DATA_DIR`` on every node.  Specs resolved by ``run_many`` name their data, and a
    worker whose data differs refuses the run.
    """

    name = "ray"

    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, **init_kwargs: Any
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.init_kwargs = dict(init_kwargs)
        self._started = False

    def describe(self) -> str:
        where = self.address or "local cluster"
        cpus = f", {self.num_cpus} CPUs" if self.num_cpus is not None else ""
        return f"ray ({where}{cpus})"

    @staticmethod
    def _import_ray() -> Any:
        try:
            import ray
        except ImportError as exc:
            raise ImportError(
                "the Ray executor needs the 'ray' package: pip install 'archperf[ray]'"
            ) from exc
        return ray

    def _ensure_started(self) -> Any:
        ray = self._import_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "ignore_reinit_error": True,
                "include_dashboard": False,
                **self.init_kwargs,
            }
            if self.address is not None:
                kwargs["address"] = self.address
            if self.num_cpus is not None:
                kwargs["num_cpus"] = self.num_cpus
            ray.init(**kwargs)
            self._started = True
        return ray

    def map(self, specs: Sequence[RunSpec], claim: Claim | None = None) -> MapIter:
        specs = list(specs)
        if not specs:
            return
        ray = self._ensure_started()
        task = ray.remote(num_cpus=1)(_ray_task)
        # As many tasks in flight as the cluster has CPUs: a run is claimed only when it is
        # submitted, so two sweeps into one folder share the runs instead of one taking all.
        limit = self.num_cpus or max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = iter(specs)
        pending: dict[Any, RunSpec] = {}

        def fill() -> None:
            while len(pending) < limit:
                spec = next((s for s in queue if claim is None or claim(s)), None)
                if spec is None:
                    return
                pending[task.remote(spec)] = spec

        try:
            fill()
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                results: list[MapResult] = []
                for ref in done:
                    spec = pending.pop(ref)
                    result: dict[str, Any] | BaseException
                    try:
                        result = _to_result(spec, ray.get(ref))
                    except Exception as exc:  # a worker crash, a lost node, ...
                        result = _crash(spec, exc)
                    results.append((spec, result))
                fill()
                yield from results
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._started:
            ray = self._import_ray()
            ray.shutdown()
            self._started = False


def make_executor(kind: str, workers: int | None = None, **ray_kwargs: Any) -> Executor:
    """``"local"`` → :class:`LocalExecutor` (``workers``), ``"ray"`` → :class:`RayExecutor`
    (``num_cpus=workers``)."""
    if kind == "local":
        return LocalExecutor(workers=workers)
    if kind == "ray":
        return RayExecutor(num_cpus=workers, **ray_kwargs)
    raise ValueError(f"unknown executor {kind!r}; executors are: local, ray")
