"""Two objectives from run records: each run's queried cells as (search value, cell property)
points, and the *space's* true front, which the evaluator knows and no search does.

* :func:`run_points`: the charged queries of one record, their search values and the cell
  property ``cost`` the runner stored (``record["cell_properties"]``);
* :func:`space_front`: the front of every cell of a tabular benchmark (search metric of the
  record's protocol against ``cost``), the reference point of the whole space (worst accuracy,
  largest cost) and the front's hypervolume under it;
* :func:`front_figure`: one run per method label drawn as fronts beside the true front
  (``archperf front``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .spec import RunSpec

__all__ = ["SpaceFront", "front_figure", "panel_of", "run_points", "space_front"]


@dataclass(frozen=True)
class SpaceFront:
    """The true front of a benchmark's whole table for one protocol and one cost."""

    benchmark: str
    dataset: str
    protocol: str
    metric: str
    cost: str
    accuracy: np.ndarray
    costs: np.ndarray
    reference: tuple[float, float]
    hypervolume: float
    cells: int

    def describe(self) -> dict[str, Any]:
        """JSON-able summary (without the front's points)."""
        return {
            "benchmark": self.benchmark,
            "dataset": self.dataset,
            "protocol": self.protocol,
            "metric": self.metric,
            "cost": self.cost,
            "reference": list(self.reference),
            "hypervolume": self.hypervolume,
            "front_size": len(self.accuracy),
            "cells": self.cells,
        }


def panel_of(record: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(benchmark, dataset, protocol)`` of a run record."""
    spec = RunSpec.from_dict(record["spec"])
    return spec.benchmark, spec.dataset, spec.protocol


def run_points(record: Mapping[str, Any], cost: str) -> tuple[np.ndarray, np.ndarray]:
    """Search values and ``cost`` of a record's charged queries with a finite cost.  A record
    without ``cost`` among its cell properties is a ``ValueError`` naming the ones it has."""
    props = record.get("cell_properties") or {}
    if cost not in props:
        have = ", ".join(props) or "none"
        raise ValueError(
            f"run {record.get('key')} has no cell property {cost!r} in its record (it has: "
            f"{have}); records from before cell properties were kept cannot say"
        )
    pairs = [
        (float(q["value"]), float(c))
        for q, c in zip(record["queries"], props[cost], strict=True)
        if q["charged"] and c is not None and np.isfinite(float(c))
    ]
    acc = np.array([a for a, _ in pairs], dtype=np.float64)
    cs = np.array([c for _, c in pairs], dtype=np.float64)
    return acc, cs


def space_front(record: Mapping[str, Any], cost: str, quantile: float = 0.0) -> SpaceFront:
    """The true front of the benchmark a record ran on (its dataset and protocol).

    The reference point is (worst accuracy, largest cost) of the whole space; with
    ``quantile`` q > 0 its accuracy is the space's q-quantile of the search metric instead, so
    that the hypervolume only counts what beats, say, the median cell (``q = 0.5``) and the
    ranking is not swamped by the area above the worst cell.

    Needs a tabular benchmark (every cell's values in memory: NB201, the NB101 subset, a table
    plugin); a surrogate such as NB301 has no complete table, which is a ``ValueError`` that
    says to give the reference point instead.  Cells without a value or a cost are left out
    of the front (and counted out of ``cells``)."""
    from ..pareto import hypervolume_2d, pareto_front, reference_point
    from .single import benchmark_of_record

    bench = benchmark_of_record(record)
    benchmark, dataset, protocol = panel_of(record)
    if not callable(getattr(bench, "column", None)) or not hasattr(bench, "property_columns"):
        raise ValueError(
            f"{benchmark} has no table of all its cells, so its true front is unknown; "
            "give the reference point (ACC,COST) instead"
        )
    if cost not in bench.property_columns or cost not in bench.metrics:
        have = ", ".join(c for c in bench.property_columns if c in bench.metrics) or "none"
        raise ValueError(f"{benchmark} ({dataset}) has no cell property {cost!r} (it has: {have})")
    metric = str(bench.describe(protocol)["search_metric"])
    acc_all = np.asarray(bench.column(metric), dtype=np.float64)
    cost_all = np.asarray(bench.column(cost), dtype=np.float64)
    ok = np.isfinite(acc_all) & np.isfinite(cost_all)
    if not ok.any():
        raise ValueError(f"{benchmark} ({dataset}) has no cell with both {metric} and {cost}")
    if not 0.0 <= quantile < 1.0:
        raise ValueError(f"the reference quantile must be in [0, 1), got {quantile!r}")
    acc, cs = acc_all[ok], cost_all[ok]
    ref = reference_point(acc, cs)
    if quantile > 0.0:
        ref = (float(np.quantile(acc, quantile)), ref[1])
    front = pareto_front(acc, cs)
    return SpaceFront(
        benchmark=benchmark,
        dataset=dataset,
        protocol=protocol,
        metric=metric,
        cost=cost,
        accuracy=acc[front],
        costs=cs[front],
        reference=ref,
        hypervolume=hypervolume_2d(acc, cs, ref),
        cells=int(ok.sum()),
    )


def front_figure(
    records: Sequence[Mapping[str, Any]],
    cost: str,
    seed: int | None = None,
    true_front: bool = True,
) -> tuple[Any, list[dict[str, Any]], SpaceFront | None]:
    """A figure of one run per method label (seed ``seed``, default each label's lowest) as
    fronts of its queried cells, with the space's true front where :func:`space_front` can
    build it.  Returns the figure, the plotted front points (``label``, ``seed``,
    ``accuracy``, ``cost``; the true front's label is ``"true front"``) and the true front.

    All records must come from one benchmark, dataset and protocol (``ValueError`` otherwise);
    a ``seed`` that a label lacks is a ``ValueError`` naming the seeds it has."""
    from ..pareto import pareto_front, plot_fronts

    if not records:
        raise ValueError("no run records to draw")
    panels = sorted({panel_of(r) for r in records})
    if len(panels) > 1:
        shown = "; ".join("/".join(p) for p in panels)
        raise ValueError(
            f"the records come from {len(panels)} benchmark/dataset/protocol panels ({shown}); "
            "draw one panel at a time"
        )
    by_label: dict[str, dict[int, Mapping[str, Any]]] = {}
    for rec in records:
        spec = RunSpec.from_dict(rec["spec"])
        by_label.setdefault(str(spec.label), {})[spec.seed] = rec
    fronts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows: list[dict[str, Any]] = []
    for label in sorted(by_label):
        runs = by_label[label]
        s = min(runs) if seed is None else seed
        if s not in runs:
            have = ", ".join(str(k) for k in sorted(runs))
            raise ValueError(f"{label} has no run with seed {s} (it has seeds: {have})")
        acc, cs = run_points(runs[s], cost)
        if len(acc) == 0:
            continue
        fronts[f"{label} (seed {s})"] = (acc, cs)
        for i in pareto_front(acc, cs):
            rows.append({"label": label, "seed": s, "accuracy": acc[i], "cost": cs[i]})
    space = space_front(records[0], cost) if true_front else None
    if space is not None:
        for a, c in zip(space.accuracy, space.costs, strict=True):
            rows.append({"label": "true front", "seed": None, "accuracy": a, "cost": c})
    benchmark, dataset, protocol = panels[0]
    metric = space.metric if space is not None else "search value"
    fig = plot_fronts(
        fronts,
        (space.accuracy, space.costs) if space is not None else None,
        cost_name=cost,
        acc_name=metric,
        title=f"{benchmark} {dataset} ({protocol})",
    )
    return fig, rows, space
