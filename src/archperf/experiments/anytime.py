"""Anytime curves: the incumbent against the number of queries, over seeds (the NAS-paper plot).

:func:`anytime_curves` turns run records into one :class:`AnytimeCurve` per (benchmark,
dataset, protocol) panel and method label: the median over seeds of the incumbent after each
query, with an inter-quartile (default) or min–max band.  :func:`plot_anytime` draws them
(matplotlib, imported only there), :func:`curves_csv` writes the numbers that are drawn.

The incumbent is the best cell so far by the *search* metric (``record["trajectory"]``).  With
``metric="reported"`` each step shows the *reported* (test) value of that incumbent, read from
the benchmark after the fact, as NAS papers plot it; benchmarks that cannot report a cell (the
NB101 subset, NB201 without its table) make that an error naming the run.
"""

from __future__ import annotations

import csv
import io
import math
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .spec import RunSpec

__all__ = [
    "BANDS",
    "METRICS",
    "AnytimeCurve",
    "anytime_curves",
    "curves_csv",
    "incumbent_values",
    "plot_anytime",
]

BANDS = ("iqr", "minmax", "none")
METRICS = ("search", "reported")


@dataclass(frozen=True)
class AnytimeCurve:
    """One line of the plot: a method label on one panel, over its seeds.

    ``runs[i, q]`` is seed ``seeds[i]``'s incumbent after ``q + 1`` queries (a run that stopped
    early keeps its last incumbent); ``median``, ``low`` and ``high`` are taken over seeds at
    every query count (``low``/``high``: 25th/75th percentile for ``"iqr"``, min/max for
    ``"minmax"``, the median for ``"none"``).  ``kind`` is ``"search"`` or ``"reported"``,
    ``metric`` the metric's name(s) in the records.
    """

    panel: str
    label: str
    metric: str
    kind: str
    band: str
    seeds: tuple[int, ...]
    runs: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def queries(self) -> np.ndarray:
        """1, 2, …, the longest run's number of queries."""
        return np.arange(1, self.runs.shape[1] + 1)


def _charged(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [q for q in record.get("queries", []) if q.get("charged", True)]


def incumbent_values(
    record: Mapping[str, Any], metric: str = "search", bench: Any = None
) -> list[float]:
    """A run's incumbent after each charged query: its search value (``record["trajectory"]``)
    or, for ``metric="reported"``, the reported value of that incumbent cell read from
    ``bench`` (built from the record's spec when None)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    traj = [float(v) for v in record.get("trajectory", [])]
    if not traj:
        raise ValueError(f"run {record.get('key')} has no queries to plot")
    if metric == "search":
        return traj
    queries = _charged(record)
    if len(queries) != len(traj):
        raise ValueError(f"run {record.get('key')}: its queries and trajectory disagree")
    best, arch = -math.inf, str(queries[0]["arch"])
    incumbents: list[str] = []
    for q in queries:  # the first of equal values stays the incumbent (as the oracle's best())
        value = -math.inf if q["value"] is None else float(q["value"])
        if value > best:
            best, arch = value, str(q["arch"])
        incumbents.append(arch)
    if bench is None:
        bench = _benchmark_of(record)
    unique = list(dict.fromkeys(incumbents))
    from ..errors import DataFileError, UnknownCellError

    try:
        values = bench.report([bench.space.from_text(a) for a in unique])
    except (DataFileError, UnknownCellError) as exc:
        raise ValueError(
            f"run {record.get('key')}: no reported value for its incumbents ({exc}); "
            "plot the search metric instead"
        ) from None
    by_arch = {a: float(v) for a, v in zip(unique, values, strict=True)}
    return [by_arch[a] for a in incumbents]


def _benchmark_of(record: Mapping[str, Any]) -> Any:
    from .single import benchmark_of_record

    return benchmark_of_record(record)


def _band(runs: np.ndarray, band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    median = np.median(runs, axis=0)
    if band == "iqr":
        low, high = np.percentile(runs, [25, 75], axis=0)
    elif band == "minmax":
        low, high = runs.min(axis=0), runs.max(axis=0)
    else:
        low, high = median.copy(), median.copy()
    return median, low, high


def anytime_curves(
    records: Iterable[Mapping[str, Any]], metric: str = "search", band: str = "iqr"
) -> list[AnytimeCurve]:
    """The curves of ``records`` (any mix of benchmarks, datasets, methods and seeds), sorted by
    panel and label.  A label run at several budgets on one panel gives one line per budget
    (``"rs (budget 400)"``); two runs of one line with the same seed are an error."""
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, got {band!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    groups: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for rec in records:
        spec = RunSpec.from_dict(rec["spec"])
        panel = f"{spec.benchmark} {spec.dataset} ({spec.protocol})"
        groups.setdefault((panel, str(spec.label), spec.budget), []).append(rec)
    budgets: dict[tuple[str, str], set[int]] = {}
    for panel, label, budget in groups:
        budgets.setdefault((panel, label), set()).add(budget)

    curves: list[AnytimeCurve] = []
    for (panel, label, budget), recs in sorted(groups.items()):
        recs = sorted(recs, key=lambda r: int(r["spec"]["seed"]))
        seeds = tuple(int(r["spec"]["seed"]) for r in recs)
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{panel}, {label} (budget {budget}): a seed appears twice")
        values = [incumbent_values(r, metric) for r in recs]
        length = max(len(v) for v in values)
        runs = np.array([v + [v[-1]] * (length - len(v)) for v in values], dtype=np.float64)
        median, low, high = _band(runs, band)
        names = sorted(
            {
                str(r["final"].get("search_metric" if metric == "search" else "report_metric"))
                for r in recs
            }
        )
        name = label if len(budgets[(panel, label)]) == 1 else f"{label} (budget {budget})"
        curves.append(
            AnytimeCurve(
                panel, name, ", ".join(names), metric, band, seeds, runs, median, low, high
            )
        )
    return curves


def _fmt(x: float) -> str:
    return f"{x:.4f}"


def curves_csv(curves: Sequence[AnytimeCurve]) -> str:
    """The plotted numbers, one line per curve and query count (values to 4 decimals)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["panel", "label", "metric", "band", "query", "seeds", "low", "median", "high"])
    for c in curves:
        for q in range(c.runs.shape[1]):
            w.writerow(
                [c.panel, c.label, c.metric, c.band, q + 1, len(c.seeds)]
                + [_fmt(v[q]) for v in (c.low, c.median, c.high)]
            )
    return buf.getvalue()


def plot_anytime(
    curves: Sequence[AnytimeCurve], path: str | os.PathLike[str], title: str | None = None
) -> Path:
    """Draw ``curves`` (one panel per benchmark/dataset/protocol, median line and band) and
    write the figure atomically to ``path`` (PNG, SVG or PDF by its suffix)."""
    if not curves:
        raise ValueError("no curves to plot")
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"{out}: the figure file must end in .png, .svg or .pdf")
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'archperf[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .._io import atomic_write_bytes

    panels = list(dict.fromkeys(c.panel for c in curves))
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    labels = list(dict.fromkeys(c.label for c in curves))
    colors = {lab: f"C{i % 10}" for i, lab in enumerate(labels)}
    # beyond ten labels the colours repeat: the line style tells those lines apart
    styles = {lab: ("-", "--", ":", "-.")[(i // 10) % 4] for i, lab in enumerate(labels)}
    band_name = {"iqr": "inter-quartile range", "minmax": "min–max"}
    for ax, panel in zip(axes.flat, panels, strict=False):
        mine = [c for c in curves if c.panel == panel]
        for c in mine:
            x = c.queries
            seeds = len(c.seeds)
            name = f"{c.label} ({seeds} seed{'s' if seeds != 1 else ''})"
            ax.plot(
                x,
                c.median,
                color=colors[c.label],
                linestyle=styles[c.label],
                label=name,
                drawstyle="steps-post",
            )
            if c.band != "none" and seeds > 1:
                ax.fill_between(
                    x, c.low, c.high, color=colors[c.label], alpha=0.2, lw=0, step="post"
                )
        ax.set_title(panel)
        ax.set_xlabel("queries")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        names = ", ".join(dict.fromkeys(c.metric for c in mine))
        what = "incumbent" if mine[0].kind == "search" else "reported value of the incumbent"
        ax.set_ylabel(textwrap.fill(f"{what} ({names})", 44))  # long surrogate names wrap
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    band = curves[0].band
    head = title or "Incumbent vs queries"
    if any(len(c.seeds) > 1 for c in curves):
        head += " (median over seeds" + (f", band: {band_name[band]}" if band in band_name else "")
        head += ")"
    fig.suptitle(textwrap.fill(head, 64 * cols))  # one narrow panel: two lines, not clipped
    fig.tight_layout()
    buf = io.BytesIO()
    meta = {"Software": None} if fmt == "png" else {"Date": None}
    fig.savefig(buf, format=fmt, dpi=120, metadata=meta, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    return out
