"""One run: :func:`run_one` runs a spec and returns its JSON-ready record, with what it needs
(resolving a spec's data identity, building and caching benchmarks, checking the query log).

The test (report) metric is read in exactly one place: :func:`run_one`, after
``method.search`` has returned, through ``benchmark.report([best])``.  The search only ever
holds an oracle (search metric, budget, history).

This module sits below both :mod:`.runner` (sweeps) and :mod:`.executors` (which run
:func:`run_one` in workers), so neither imports the other's caller.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .spec import RunSpec, canonical_json

__all__ = [
    "RECORD_FORMAT",
    "VOLATILE_FIELDS",
    "build_benchmark",
    "check_budget",
    "check_log",
    "clear_benchmark_cache",
    "comparable",
    "default_journal",
    "json_ready",
    "resolve_spec",
    "run_one",
]

log = logging.getLogger("archperf.experiments.runner")

RECORD_FORMAT = "archperf.run/1"
#: Keys whose values depend on when/where a run happened (removed by :func:`comparable`),
#: at any depth; keys ending in ``_seconds`` (timings) are removed too.  ``journal`` says how
#: a run was resumed, which does not change its results.
VOLATILE_FIELDS: frozenset[str] = frozenset(
    {"wall_seconds", "hostname", "created", "pid", "journal"}
)

_BENCHMARKS: dict[str, Any] = {}


# ------------------------------------------------------------------------------ helpers
def json_ready(obj: Any) -> Any:
    """``obj`` as plain JSON types: numpy scalars/arrays → numbers/lists, tuples → lists,
    non-finite floats → ``None``; anything else that JSON cannot hold is a ``TypeError``."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(obj).__module__ == "numpy":
        return json_ready(tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot store a {type(obj).__name__} in a run record: {obj!r}")


def comparable(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` without the fields that depend on when/where it ran.

    Removed at any depth: :data:`VOLATILE_FIELDS` (wall time, hostname, creation time, process
    id, how a run was resumed) and keys ending in ``_seconds`` (timings inside
    ``outcome_info``).  Two runs of the same spec on CPU give equal ``comparable`` records,
    whichever executor ran them, resumed or not.
    """

    def strip(obj: Any) -> Any:
        if isinstance(obj, Mapping):
            return {
                k: strip(v)
                for k, v in obj.items()
                if k not in VOLATILE_FIELDS and not str(k).endswith("_seconds")
            }
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    out: dict[str, Any] = strip(record)
    return out


def _versions() -> dict[str, str | None]:
    """Python, archperf and numpy versions, and torch/onnxruntime where installed.

    Installed versions come from package metadata (nothing is imported), so the field does not
    depend on which modules a process happened to import before the run.
    """
    from importlib import metadata

    import numpy

    from .. import __version__

    out: dict[str, str | None] = {
        "python": platform.python_version(),
        "archperf": __version__,
        "numpy": numpy.__version__,
    }
    for dist in ("torch", "onnxruntime"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _resolved_benchmark_kwargs(spec: RunSpec) -> dict[str, Any]:
    kwargs = dict(spec.benchmark_kwargs)
    if kwargs.get("data_dir") is None:
        from ..paths import find_data_dir

        found = find_data_dir()
        kwargs["data_dir"] = None if found is None else str(found)
    return kwargs


def _prepare(spec: RunSpec) -> tuple[RunSpec, Any, dict[str, Any], dict[str, Any]]:
    """``(resolved spec, benchmark, its kwargs, data record)``: the spec with ``data`` filled in
    from the benchmark it builds (see :func:`resolve_spec`)."""
    from dataclasses import replace

    from .. import registry
    from ..datahash import data_record
    from ..errors import DataMismatchError

    method = registry.canonical_name("search_method", spec.method)  # random → rs
    if method != spec.method:
        label = method if spec.label == spec.method else spec.label
        spec = replace(spec, method=method, label=label)
    kwargs = _resolved_benchmark_kwargs(spec)
    bench = build_benchmark(spec.benchmark, spec.dataset, kwargs)
    data = data_record(bench)
    ident = {"source": data["short_source"], "sha256": data["sha256"]}
    if spec.data is not None and spec.data != ident:
        raise DataMismatchError(
            f"run {spec.key()} was made for data {spec.data['source']} (sha256 "
            f"{str(spec.data['sha256'])[:12]}), but {spec.benchmark} now reads "
            f"{ident['source']} (sha256 {str(ident['sha256'])[:12]}); drop the spec's data "
            "field to run it on the current data"
        )
    log.debug(
        "run %s: %s, data %s (sha256 %s)",
        spec.key(),
        spec.benchmark,
        data["source"],
        data["sha256"],
    )
    return replace(spec, data=ident), bench, kwargs, data


def default_journal(spec: RunSpec) -> Path:
    """Where ``archperf search`` journals ``spec``'s queries by default:
    ``<cache dir>/journals/<run key>.jsonl`` (the resolved key, so it names the data)."""
    from ..paths import cache_dir

    return cache_dir() / "journals" / f"{resolve_spec(spec).key()}.jsonl"


def resolve_spec(spec: RunSpec) -> RunSpec:
    """``spec`` with ``data`` set to the identity of the data its benchmark reads now (source
    and content hash, :func:`archperf.datahash.data_identity`) and a method alias replaced by
    its name (``random`` → ``rs``): its :meth:`~RunSpec.key` is the run's key.  Builds the
    benchmark (cached per process).  A spec whose ``data`` is already set must match, else
    :class:`~archperf.errors.DataMismatchError`."""
    return _prepare(spec)[0]


def build_benchmark(name: str, dataset: str, kwargs: Mapping[str, Any]) -> Any:
    """The benchmark ``name`` on ``dataset``, cached per process by its construction arguments
    (loading a table is not free; benchmarks keep no per-search state)."""
    key = canonical_json([name, dataset, dict(kwargs)])
    bench = _BENCHMARKS.get(key)
    if bench is None:
        from .. import registry

        bench = registry.create("benchmark", name, dataset=dataset, **kwargs)
        _BENCHMARKS[key] = bench
    return bench


def benchmark_of_record(record: Mapping[str, Any]) -> Any:
    """The benchmark a run record ran on (its spec's benchmark, dataset and benchmark
    arguments, with the record's data folder where the spec gave none)."""
    spec = RunSpec.from_dict(record["spec"])
    kwargs = dict(spec.benchmark_kwargs)
    if kwargs.get("data_dir") is None and record.get("data_dir") is not None:
        kwargs["data_dir"] = record["data_dir"]
    return build_benchmark(spec.benchmark, spec.dataset, kwargs)


def clear_benchmark_cache() -> None:
    """Forget the benchmarks cached by :func:`build_benchmark` in this process."""
    _BENCHMARKS.clear()


def check_budget(spec: RunSpec, oracle: Any) -> None:
    """:class:`~archperf.errors.UsageError` when the budget exceeds what the oracle can answer
    (no search could spend it)."""
    from ..errors import UsageError

    capacity = getattr(oracle, "capacity", None)
    if capacity is not None and spec.budget > capacity:
        info = oracle.describe()
        feasible = f" that satisfy {info['constraint']}" if info.get("constraint") else ""
        raise UsageError(
            f"budget {spec.budget} exceeds the {capacity} cells{feasible} of {spec.benchmark} "
            f"({spec.dataset}, {info.get('source', '?')}): give --budget {capacity} or less"
        )


def check_log(spec: RunSpec, oracle: Any, ledger: Any = None, served: int | None = None) -> None:
    """Check a finished search's query log against ``spec.budget`` (not against the oracle's
    own counter or budget, which a search could have rewritten).

    Raises :class:`~archperf.errors.QueryContractError` naming the method when the log holds
    more distinct records than the budget, when a record is charged other than exactly once at
    its first query, when the oracle's counter or budget disagree with the log and the spec, or
    when ``ledger`` (a :class:`~archperf.benchmarks.base.QueryLedger` the runner installed)
    saw evaluations the log does not hold, or when the benchmark's own count ``served``
    (:meth:`~archperf.interfaces.Benchmark.evaluations`) exceeds the log.
    """
    import numpy as np

    from ..errors import QueryContractError

    idx, _, charged = oracle.history_arrays()
    uniq, first = np.unique(idx, return_index=True)
    expected = np.zeros(len(idx), dtype=bool)
    expected[first] = True
    problems: list[str] = []
    if len(uniq) > spec.budget:
        problems.append(f"its query log holds {len(uniq)} distinct cells, budget {spec.budget}")
    if not np.array_equal(np.asarray(charged, dtype=bool), expected):
        problems.append(
            f"{int(np.sum(charged))} charged entries for {len(uniq)} distinct cells (each must "
            "be charged once, at its first query)"
        )
    if oracle.num_queries != len(uniq):
        problems.append(
            f"the oracle's counter says {oracle.num_queries} but the log holds {len(uniq)} cells"
        )
    if oracle.budget != spec.budget:
        problems.append(f"the oracle's budget is {oracle.budget}, the spec's {spec.budget}")
    if ledger is not None:
        extra = np.setdiff1d(ledger.records(), uniq)
        if len(extra):
            problems.append(f"{len(extra)} cell(s) were evaluated that the query log does not hold")
    if served is not None and served > len(uniq):
        problems.append(
            f"the benchmark evaluated {served} distinct cells for it, its query log holds "
            f"{len(uniq)}"
        )
    if problems:
        raise QueryContractError(
            f"{spec.key()}: search method {spec.method!r} broke the query contract: "
            + "; ".join(problems)
            + ". The record is refused (a search must not touch the oracle's private state)"
        )


# ------------------------------------------------------------------------------ run_one
def run_one(
    spec: RunSpec, progress: bool = False, journal: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Run ``spec`` and return its JSON-ready record (see ``docs/experiments.md``).

    ``progress``: a bar over the queries with the search's phase and training epoch, on standard
    error when it is a terminal (:mod:`archperf.progress`); ``False`` keeps the search quiet.

    Builds (or reuses) the benchmark, gives the method a fresh oracle with the spec's budget
    and protocol, runs ``method.search(oracle, seed)``, checks the budget held and the returned
    best was queried, and only then asks the benchmark for the reported (test) metric of the
    final cell.  A benchmark that cannot report it gives ``reported: null`` and
    ``report_error``.

    ``journal``: a query journal file (:mod:`archperf.experiments.journal`).  Answers are
    journalled as the search runs; if the file holds answers of this run (same key: spec and
    data) from an interrupted attempt, they are replayed instead of asking the benchmark, and
    the run completes with the same record as an uninterrupted one (``record["journal"]`` says
    how many answers were replayed).  A journal of another run is refused.
    """
    from .. import registry
    from ..errors import DataFileError, QueryContractError, UnknownCellError
    from ..progress import Bar, Silent, using

    t0 = time.perf_counter()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    spec, bench, kwargs, data = _prepare(spec)
    space = bench.space
    oracle = bench.oracle(budget=spec.budget, protocol=spec.protocol)
    if spec.constraints:
        from ..constraints import constrain

        constrain(oracle, bench, spec.constraints)  # infeasible cells: never asked, never charged
    check_budget(spec, oracle)
    method = registry.create("search_method", spec.method, **spec.method_kwargs)
    qj = None
    if journal is not None:
        from .journal import QueryJournal

        qj = QueryJournal(journal, spec.key(), spec.to_dict())
        oracle.use_journal(qj)
        if qj.resumed_from:
            log.info(
                "resuming %s: %d answered queries in %s are replayed, not asked again",
                spec.key(),
                qj.resumed_from,
                journal,
            )
    from ..benchmarks.base import QueryLedger

    ledger = QueryLedger()  # outermost: it sees every evaluation, journalled or not
    oracle.use_journal(ledger)
    oracle.seal()  # from here on no one can put other answers in front of the metric
    desc = f"{spec.label} {spec.benchmark}/{spec.dataset} seed {spec.seed}"
    bar = Bar(desc, spec.budget, "queries", enabled=progress)
    if bar.enabled:
        oracle.subscribe(bar)
    try:
        with using(bar if bar.enabled else Silent()):
            outcome = method.search(oracle, seed=spec.seed)
    finally:
        bar.close()
        if qj is not None:
            qj.close()

    # ---- checks: the query log against the budget, and the outcome's best is a queried cell
    check_log(spec, oracle, ledger, bench.evaluations(oracle))
    history = oracle.history
    best_record = int(oracle.records_of([outcome.best])[0])
    asked = [q for q in history if q.record == best_record]
    if best_record < 0 or not asked:
        raise RuntimeError(
            f"{spec.key()}: {spec.method} returned {space.to_text(outcome.best)}, which it "
            "never queried (a search must return a queried cell)"
        )
    if float(asked[0].value) != float(outcome.value):
        raise RuntimeError(
            f"{spec.key()}: {spec.method} reports value {outcome.value} for its best cell, "
            f"but the oracle answered {asked[0].value}"
        )

    truth = float(bench.oracle(protocol=spec.protocol).query([outcome.best])[0])
    if truth != float(outcome.value):  # answers forged past the oracle's guards
        raise QueryContractError(
            f"{spec.key()}: search method {spec.method!r} was answered {outcome.value} for its "
            f"best cell, but the benchmark's search metric is {truth}; the record is "
            "refused"
        )

    # ---- the only read of the report metric: after the search returned
    info = bench.describe(spec.protocol)
    reported: float | None
    report_error: str | None = None
    try:
        reported = float(bench.report([outcome.best])[0])
    except (DataFileError, UnknownCellError) as exc:  # no test metric for this cell
        reported, report_error = None, f"{type(exc).__name__}: {exc}"

    charged_values = [q.value for q in history if q.charged]
    trajectory: list[float] = []
    incumbent = -math.inf
    for v in charged_values:
        incumbent = max(incumbent, v)
        trajectory.append(incumbent)

    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "key": spec.key(),
        "spec": spec.to_dict(),
        "method_config": method.config(),
        "benchmark": info,
        "oracle": oracle.describe(),
        "data_dir": kwargs.get("data_dir"),
        "data_source": info.get("source"),
        "data": data,
        "num_queries": oracle.num_queries,
        "queries": [
            {"arch": space.to_text(q.arch), "value": q.value, "charged": q.charged} for q in history
        ],
        "trajectory": trajectory,
        "cell_properties": {  # free cell properties (params, FLOPs): the second objectives
            name: [float(v) for v in oracle.property_values([q.arch for q in history], name)]
            for name in oracle.properties
        },
        "final": {
            "arch": space.to_text(outcome.best),
            "canonical": space.canonical(outcome.best),
            "value": float(outcome.value),
            "search_metric": info.get("search_metric"),
            "reported": reported,
            "report_metric": info.get("report_metric"),
            "report_error": report_error,
            "report_notes": {
                k: v for k, v in info.items() if k.startswith("report_") and k != "report_metric"
            },
        },
        "outcome_info": outcome.info,
        "versions": _versions(),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "created": created,
    }
    if qj is not None:
        record["journal"] = {
            "path": str(journal),
            "resumed_from": qj.resumed_from,
            "replayed": qj.replayed,
            "asked": qj.written,
        }
    record["wall_seconds"] = round(time.perf_counter() - t0, 4)
    out: dict[str, Any] = json_ready(record)
    return out
