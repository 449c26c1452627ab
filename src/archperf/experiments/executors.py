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
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, ClassVar

from ..runtime import threads
from .runner import run_one
from .spec import RunSpec

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "RunError", "make_executor"]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

MapResult = tuple[RunSpec, "dict[str, Any] | BaseException"]
MapIter = Generator[MapResult, None, None]

#: ``claim(spec)`` is asked just before a run starts; ``False`` skips the run (another process
#: holds its lock, or its record appeared meanwhile).
Claim = Callable[[RunSpec], bool]

#: True once a stopped pool left a thread that can never end (see :func:`_stop_pool`): the
#: process cannot exit normally and the CLI ends it with ``os._exit``.
STUCK_THREADS = False

#: Seconds a terminated worker gets to exit before it is killed.
STOP_GRACE_S = 2.0


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


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what has not started, terminate (then kill) the workers and
    reap the pool's manager thread, all within about :data:`STOP_GRACE_S` seconds.  A second
    Ctrl-C meanwhile is ignored (it used to interrupt the join and leave the pool hanging)."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            with contextlib.suppress(Exception):
                p.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                with contextlib.suppress(Exception):
                    p.kill()
                p.join(1.0)
        cq = getattr(pool, "_call_queue", None)
        if cq is not None:  # its feeder thread would block the exit on a full pipe
            with contextlib.suppress(Exception):
                cq.cancel_join_thread()
        if manager is not None:
            manager.join(STOP_GRACE_S)
            if manager.is_alive():
                # A worker killed while writing its result leaves the pool's manager thread
                # blocked in recv() for good, and the interpreter joins it at exit: say so,
                # so that the CLI can end the process (records are written atomically).
                global STUCK_THREADS
                STUCK_THREADS = True
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
    """A local process pool (``concurrent.futures``; ``start_method`` ``"spawn"`` or
    ``"forkserver"``), ``workers`` processes (default: the usable CPU count).

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
        n = min(self.workers, len(specs))
        queue = iter(specs)
        in_flight: dict[Future[tuple[str, Any, str]], RunSpec] = {}
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker)
        finished = False

        def fill() -> None:  # submit lazily: a run is claimed only when a worker is free
            while len(in_flight) < n:
                spec = next((s for s in queue if claim is None or claim(s)), None)
                if spec is None:
                    return
                with _sigint_blocked():  # submit may start a worker process
                    in_flight[pool.submit(_execute, spec)] = spec

        try:
            fill()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                results: list[MapResult] = []
                for fut in done:
                    spec = in_flight.pop(fut)
                    result: dict[str, Any] | BaseException
                    try:
                        result = _to_result(spec, fut.result())
                    except Exception as exc:  # the worker died (BrokenProcessPool) or similar
                        result = _crash(spec, exc)
                    results.append((spec, result))
                fill()  # keep the workers busy while the results are written
                yield from results
            finished = True
        finally:
            if finished:
                pool.shutdown(wait=True)
            else:  # an interrupt, or the caller stopped early: do not wait for the runs
                _stop_pool(pool)

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
    """One Ray task (1 CPU) per spec, on a local or remote Ray cluster.

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
        specs = [s for s in specs if claim is None or claim(s)]  # Ray queues them all at once
        if not specs:
            return
        ray = self._ensure_started()
        task = ray.remote(num_cpus=1)(_ray_task)
        pending: dict[Any, RunSpec] = {task.remote(spec): spec for spec in specs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    spec = pending.pop(ref)
                    result: dict[str, Any] | BaseException
                    try:
                        result = _to_result(spec, ray.get(ref))
                    except Exception as exc:  # a worker crash, a lost node, ...
                        result = _crash(spec, exc)
                    yield spec, result
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
