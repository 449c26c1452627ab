"""Executors: run many :class:`~archperf.experiments.spec.RunSpec` s, in-process, in a local
process pool, or on a Ray cluster.  All of them call the same worker function, so the records
are the same whichever executor ran them (up to :func:`~archperf.experiments.runner.comparable`).
"""

from __future__ import annotations

import abc
import multiprocessing
import os
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, ClassVar

from ..runtime import threads
from .runner import run_one
from .spec import RunSpec

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "RunError", "make_executor"]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

MapResult = tuple[RunSpec, "dict[str, Any] | BaseException"]


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
    (torch is not imported here: seconds per worker, and RS/RE never need it)."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"


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
    def map(self, specs: Sequence[RunSpec]) -> Iterator[MapResult]:
        """Run every spec; a run that raises gives its exception (a :class:`RunError` with the
        worker's traceback), the others go on."""

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

    def map(self, specs: Sequence[RunSpec]) -> Iterator[MapResult]:
        specs = list(specs)
        if not specs:
            return
        if self.workers == 1:
            yield from self._in_process(specs)
            return
        ctx = multiprocessing.get_context(self.start_method)
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(specs)), mp_context=ctx, initializer=_init_worker
        )
        try:
            futures: dict[Future[tuple[str, Any, str]], RunSpec] = {
                pool.submit(_execute, spec): spec for spec in specs
            }
            for fut in as_completed(futures):
                spec = futures[fut]
                result: dict[str, Any] | BaseException
                try:
                    result = _to_result(spec, fut.result())
                except Exception as exc:  # the worker died (BrokenProcessPool) or similar
                    result = _crash(spec, exc)
                yield spec, result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _in_process(specs: list[RunSpec]) -> Iterator[MapResult]:
        for spec in specs:
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

    def map(self, specs: Sequence[RunSpec]) -> Iterator[MapResult]:
        specs = list(specs)
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
