"""Summaries of run records: mean ± std over seeds per (benchmark, dataset, protocol, label,
budget), as Markdown or CSV, next to the paper's number where one is known."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .runner import load_record
from .spec import RunSpec, canonical_json

__all__ = [
    "CSV_DIGITS",
    "ROW_FIELDS",
    "hypervolume_markdown",
    "load_records",
    "paper_results",
    "runs_csv",
    "space_quantile",
    "summarize",
    "summarize_hypervolume",
    "to_csv",
    "to_markdown",
]

#: The fields of a summary row, in CSV column order.
ROW_FIELDS: tuple[str, ...] = (
    "benchmark",
    "dataset",
    "protocol",
    "label",
    "method",
    "budget",
    "seeds",
    "reported_n",
    "reported_mean",
    "reported_std",
    "search_mean",
    "search_std",
    "queries_mean",
    "search_metric",
    "report_metric",
    "paper",
)
_DASH = "—"


@lru_cache(maxsize=1)
def paper_results() -> dict[str, Any]:
    """The package's ``paper_results.json``: ``source``, ``note`` and ``results`` (one dict per
    known paper number: benchmark, dataset, protocol, label, budget, metric, value)."""
    text = resources.files(__package__).joinpath("paper_results.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _paper_value(row: Mapping[str, Any]) -> float | None:
    for entry in paper_results()["results"]:
        if all(entry[k] == row[k] for k in ("benchmark", "dataset", "protocol", "label", "budget")):
            return float(entry["value"])
    return None


def load_records(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Records from record files and folders: every ``*.json`` in a folder, then every
    ``*/record.json`` below it (the run folders ``archperf search`` writes), sorted by name.

    A file that is not a run record, or a run (key) found twice, is a ``ValueError`` naming
    the files.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
            files.extend(sorted(p.glob("*/record.json")))
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"{p}: no such record file or folder")
    records: list[dict[str, Any]] = []
    where: dict[str, Path] = {}
    for f in files:
        rec = load_record(f)
        key = RunSpec.from_dict(rec["spec"]).key()
        if key in where:
            raise ValueError(f"run {key} appears twice: {where[key]} and {f}")
        where[key] = f
        records.append(rec)
    return records


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    return mean, std


def summarize(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (benchmark, dataset, protocol, label, budget), sorted.

    Each row: ``seeds`` (runs), ``reported_mean``/``reported_std`` over the runs that have a
    reported (test) value (``reported_n`` of them), ``search_mean``/``search_std`` of the final
    search metric, ``queries_mean``, the metric names and ``paper`` (the paper's number for the
    same row, else None).  ``std`` is the sample standard deviation (n − 1), None for one seed.

    Runs of one row must share method, method kwargs, benchmark kwargs, constraints and data
    (source and content hash), and have distinct seeds; otherwise it is a ``ValueError`` (give
    different configurations different labels).
    """
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for rec in records:
        spec = RunSpec.from_dict(rec["spec"])
        gkey = (spec.benchmark, spec.dataset, spec.protocol, spec.label, spec.budget)
        groups.setdefault(gkey, []).append(rec)

    rows: list[dict[str, Any]] = []
    for gkey, recs in groups.items():
        specs = [RunSpec.from_dict(r["spec"]) for r in recs]
        datas = {canonical_json(s.data) for s in specs}
        if len(datas) > 1:
            raise ValueError(
                f"label {gkey[3]!r} ({'/'.join(map(str, gkey[:3]))}, budget {gkey[4]}) mixes "
                f"runs on {len(datas)} different data: {sorted(datas)}; summarise the records of "
                "one data version (move the stale ones away)"
            )
        configs = {  # constrained and unconstrained runs are different configurations
            canonical_json(
                [
                    s.method,
                    s.method_kwargs,
                    s.benchmark_kwargs,
                    *([s.constraints] * bool(s.constraints)),
                ]
            )
            for s in specs
        }
        if len(configs) > 1:
            raise ValueError(
                f"label {gkey[3]!r} ({'/'.join(map(str, gkey[:3]))}, budget {gkey[4]}) mixes "
                f"{len(configs)} method/benchmark configurations: {sorted(configs)}; give each "
                "configuration its own label"
            )
        seeds = [s.seed for s in specs]
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        if dup:
            raise ValueError(
                f"label {gkey[3]!r} ({'/'.join(map(str, gkey[:3]))}, budget {gkey[4]}) has "
                f"seed(s) {dup} more than once"
            )
        finals = [r["final"] for r in recs]
        reported = [float(f["reported"]) for f in finals if f.get("reported") is not None]
        search = [float(f["value"]) for f in finals]
        r_mean, r_std = _mean_std(reported)
        s_mean, s_std = _mean_std(search)
        metrics_s = sorted({str(f.get("search_metric")) for f in finals})
        metrics_r = sorted({str(f.get("report_metric")) for f in finals})
        row: dict[str, Any] = {
            "benchmark": gkey[0],
            "dataset": gkey[1],
            "protocol": gkey[2],
            "label": gkey[3],
            "method": specs[0].method,
            "budget": gkey[4],
            "seeds": len(recs),
            "reported_n": len(reported),
            "reported_mean": r_mean,
            "reported_std": r_std,
            "search_mean": s_mean,
            "search_std": s_std,
            "queries_mean": statistics.fmean(int(r["num_queries"]) for r in recs),
            "search_metric": ", ".join(metrics_s),
            "report_metric": ", ".join(metrics_r),
        }
        row["paper"] = _paper_value(row)
        rows.append(row)
    rows.sort(key=lambda r: (r["benchmark"], r["dataset"], r["protocol"], r["budget"], r["label"]))
    return rows


def summarize_hypervolume(
    records: Iterable[Mapping[str, Any]], cost: str, ref: tuple[float, float] | str
) -> list[dict[str, Any]]:
    """Hypervolume of the queried cells per (benchmark, dataset, protocol, label, budget).

    Each run's points are its charged queries: (search value, cell property ``cost`` from the
    record's ``cell_properties``, :func:`archperf.experiments.fronts.run_points`);
    :func:`archperf.pareto.hypervolume_2d` with reference point ``ref = (accuracy, cost)``, or
    with ``ref="space"`` the reference point of the whole space of each panel
    (:func:`archperf.experiments.fronts.space_front`, tabular benchmarks only), which also
    adds the true front's hypervolume (``space_hv``) and each row's ``share`` of it (and
    ``share_std``, the hypervolume's std over seeds divided by it);
    ``ref="space:Q"`` (0 < Q < 1) the same with the space's Q-quantile of the search metric as
    the reference accuracy (``space:0.5``: only what beats the median cell counts).  Rows:
    ``seeds``, ``hv_mean``, ``hv_std`` (n − 1; None for one seed), ``front_mean`` (mean front
    size).  A record without ``cost`` is a ``ValueError``.
    """
    from ..pareto import hypervolume_2d, non_dominated
    from .fronts import SpaceFront, panel_of, run_points, space_front

    quantile = 0.0
    if isinstance(ref, str):
        quantile = space_quantile(ref)
    spaces: dict[tuple[str, str, str], SpaceFront] = {}
    groups: dict[tuple[Any, ...], list[tuple[float, int]]] = {}
    for rec in records:
        acc, cs = run_points(rec, cost)
        panel = panel_of(rec)
        if isinstance(ref, str):
            if panel not in spaces:
                spaces[panel] = space_front(rec, cost, quantile)
            box = spaces[panel].reference
        else:
            box = (float(ref[0]), float(ref[1]))
        hv = hypervolume_2d(acc, cs, box)
        spec = RunSpec.from_dict(rec["spec"])
        key = (*panel, spec.label, spec.budget, box)
        groups.setdefault(key, []).append(
            (hv, int(non_dominated(acc, cs).sum()) if len(acc) else 0)
        )
    rows = []
    for (bench, dataset, protocol, label, budget, box), runs in sorted(groups.items()):
        mean, std = _mean_std([h for h, _ in runs])
        row: dict[str, Any] = {
            "benchmark": bench,
            "dataset": dataset,
            "protocol": protocol,
            "label": label,
            "budget": budget,
            "cost": cost,
            "reference": list(box),
            "seeds": len(runs),
            "hv_mean": mean,
            "hv_std": std,
            "front_mean": statistics.fmean(n for _, n in runs),
        }
        space = spaces.get((bench, dataset, protocol))
        if space is not None:
            row["space_hv"] = space.hypervolume
            ok = space.hypervolume > 0
            row["share"] = None if mean is None or not ok else mean / space.hypervolume
            row["share_std"] = None if std is None or not ok else std / space.hypervolume
        rows.append(row)
    return rows


def space_quantile(ref: str) -> float:
    """The accuracy quantile of a ``"space"`` or ``"space:Q"`` reference (0 for ``"space"``);
    anything else is a ``ValueError`` naming the forms."""
    name, sep, q = ref.partition(":")
    if name == "space":
        if not sep:
            return 0.0
        try:
            value = float(q)
        except ValueError:
            value = -1.0
        if 0.0 < value < 1.0:
            return value
    raise ValueError(
        f"the reference must be (accuracy, cost), 'space' or 'space:Q' with 0 < Q < 1, got {ref!r}"
    )


def hypervolume_markdown(rows: Sequence[Mapping[str, Any]], digits: int = 2) -> str:
    """A Markdown table of :func:`summarize_hypervolume` rows."""
    share = any("space_hv" in r for r in rows)
    lines = [
        "| Benchmark | Dataset | Protocol | Method | Budget | Seeds | Hypervolume (mean ± std) "
        + ("| Share of the true front's " if share else "")
        + "| Front size | Cost | Reference (accuracy, cost) |",
        "|" + "---|" * (11 if share else 10),
    ]
    for r in rows:
        cells = [
            r["benchmark"],
            r["dataset"],
            r["protocol"],
            r["label"],
            str(r["budget"]),
            str(r["seeds"]),
            _pm(r["hv_mean"], r["hv_std"], digits),
            *([_share(r)] if share else []),
            f"{r['front_mean']:.1f}",
            r["cost"],
            f"({r['reference'][0]:g}, {r['reference'][1]:g})",
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _share(row: Mapping[str, Any]) -> str:
    if row.get("share") is None:
        return _DASH
    std = row.get("share_std")
    spread = "" if std is None else f" ± {std:.3f}"
    return f"{row['share']:.4f}{spread} (of {row['space_hv']:.2f})"


def _pm(mean: float | None, std: float | None, digits: int) -> str:
    if mean is None:
        return _DASH
    if std is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def to_markdown(rows: Sequence[Mapping[str, Any]], digits: int = 2) -> str:
    """A Markdown table of :func:`summarize` rows (``—`` where there is no value)."""
    head = (
        "| Benchmark | Dataset | Protocol | Method | Budget | Seeds | Reported (mean ± std) "
        "| Search metric (mean ± std) | Queries | Paper | Search → reported metric |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        rep = _pm(r["reported_mean"], r["reported_std"], digits)
        if r["reported_n"] == 0:
            rep = f"{_DASH} (no test metric)"
        elif r["reported_n"] < r["seeds"]:
            rep += f" ({r['reported_n']}/{r['seeds']} seeds)"
        paper = _DASH if r["paper"] is None else f"{r['paper']:.{digits}f}"
        queries = r["queries_mean"]
        q = f"{queries:.0f}" if float(queries).is_integer() else f"{queries:.1f}"
        cells = [
            r["benchmark"],
            r["dataset"],
            r["protocol"],
            r["label"],
            str(r["budget"]),
            str(r["seeds"]),
            rep,
            _pm(r["search_mean"], r["search_std"], digits),
            q,
            paper,
            f"{r['search_metric']} → {r['report_metric']}",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


#: Decimal places of the numbers in :func:`to_csv` and :func:`runs_csv`.
CSV_DIGITS = 4


def _csv_float(v: float) -> str:
    return f"{v:.{CSV_DIGITS}f}"


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV of :func:`summarize` rows with the columns :data:`ROW_FIELDS` (empty = no value;
    numbers with :data:`CSV_DIGITS` decimals)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(ROW_FIELDS)
    for r in rows:
        out = []
        for f in ROW_FIELDS:
            v = r.get(f)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out.append("")
            else:
                out.append(_csv_float(v) if isinstance(v, float) else str(v))
        writer.writerow(out)
    return buf.getvalue()


#: The columns of :func:`runs_csv`, one line per run.
RUN_FIELDS: tuple[str, ...] = (
    "key",
    "benchmark",
    "dataset",
    "protocol",
    "label",
    "budget",
    "seed",
    "num_queries",
    "final_arch",
    "search_value",
    "reported",
    "filled_from_pool",
    "wall_seconds",
)


def _filled(record: Mapping[str, Any]) -> str:
    """NACG's picks taken from the PP-ranked pool instead of the generator ("" for others)."""
    rounds = (record.get("outcome_info") or {}).get("rounds")
    if not rounds:
        return ""
    return str(sum(int(rnd.get("filled_from_pool", 0)) for rnd in rounds))


def runs_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """CSV with one line per run, sorted by key: the per-seed numbers behind :func:`summarize`.

    Columns: the key, the final cell, its search and reported values (:data:`CSV_DIGITS`
    decimals), for NACG how many picks were filled from the PP-ranked pool, and the wall time.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RUN_FIELDS)
    for r in sorted(records, key=lambda rec: str(rec["key"])):
        spec, final = r["spec"], r["final"]
        writer.writerow(
            [
                r["key"],
                spec["benchmark"],
                spec["dataset"],
                spec["protocol"],
                spec.get("label") or spec["method"],
                spec["budget"],
                spec["seed"],
                r["num_queries"],
                final["arch"],
                _csv_float(float(final["value"])),
                "" if final["reported"] is None else _csv_float(float(final["reported"])),
                _filled(r),
                r["wall_seconds"],
            ]
        )
    return buf.getvalue()
