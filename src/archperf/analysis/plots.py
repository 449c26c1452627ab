"""Figures of the analysis (matplotlib, headless Agg backend; needs the ``plot`` extra).

* :func:`plot_signatures`: figures 2 / 3 — heatmaps of signatures (generated, a baseline,
  the benchmark's), each normalized by its maximum, with the most likely entries boxed (the
  argmax op of every row; for the NB101 adjacency the edges present in more than half of the
  cells).
* :func:`plot_structure`: figures 4 and 5 as two panels — the share of cells containing each
  op, and the histogram of the shortest input → output path length, for each cell group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .graphs import DISCONNECTED
from .signatures import Signature

__all__ = ["plot_signatures", "plot_structure", "save_figure"]

_GROUP_COLORS = ("#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "archperf analysis figures need matplotlib: pip install 'archperf[plot]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, stem: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``stem.<fmt>`` for each format (PNG at 130 dpi) and close it."""
    plt = _pyplot()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for fmt in formats:
        if fmt not in ("png", "svg", "pdf"):
            raise ValueError(f"unknown figure format {fmt!r}; use png, svg or pdf")
        path = stem.with_name(f"{stem.name}.{fmt}")
        meta = {"Date": None} if fmt in ("svg", "pdf") else {"Software": None}
        with plt.rc_context({"svg.hashsalt": "archperf"}):
            fig.savefig(path, dpi=130, metadata=meta, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def _heatmap(
    ax: Any,
    values: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    marked: Sequence[tuple[int, int]],
    title: str,
) -> Any:
    from matplotlib.patches import Rectangle

    im = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for (i, j), v in np.ndenumerate(values):
        if v > 0:
            color = "white" if v > 0.6 else "black"
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color=color)
    for i, j in marked:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="#d62728", lw=2.0))
    ax.set_title(title, fontsize=9)
    return im


def _argmax_marks(sig: Signature) -> list[tuple[int, int]]:
    return [(i, int(np.argmax(row))) for i, row in enumerate(sig.ops) if row.sum() > 0]


def _row_kind(sig: Signature) -> str:
    """What a signature's rows are: NB101 vertex slots, NB201 edges, else the space's
    choice positions."""
    if sig.adjacency is not None:
        return "vertex slot"
    return "edge (target←source)" if sig.space == "nb201" else "position"


def plot_signatures(panels: Mapping[str, Signature], title: str = "") -> Any:
    """Figure 2 (NB101) / 3 (NB201): one column of heatmaps per signature (e.g. generated,
    a baseline, benchmark); NB101 gets an adjacency row above the op row."""
    plt = _pyplot()
    if not panels:
        raise ValueError("no signatures to plot")
    sigs = list(panels.items())
    ncol = len(sigs)
    has_adj = sigs[0][1].adjacency is not None
    nrow = 2 if has_adj else 1
    fig, axes = plt.subplots(
        nrow,
        ncol,
        figsize=(3.9 * ncol + 0.8, 3.7 * nrow + 0.4),
        squeeze=False,
        layout="constrained",
    )
    im = None
    for col, (name, sig) in enumerate(sigs):
        head = f"{name} (n={sig.n})"
        if has_adj:
            im = _heatmap(
                axes[0, col],
                sig.normalized("adjacency"),
                sig.row_labels,
                sig.row_labels,
                sig.likely_edges(),
                f"{head}\nedges: source slot (row) → target slot",
            )
        im = _heatmap(
            axes[-1, col],
            sig.normalized("ops"),
            sig.row_labels,
            sig.op_labels,
            _argmax_marks(sig),
            f"{head}\nop per {_row_kind(sig)}",
        )
    fig.colorbar(im, ax=axes, shrink=0.8, label="count / max count")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _share(count: int, n: int) -> float:
    return count / n if n else 0.0


def _grouped_bars(
    ax: Any, categories: Sequence[str], groups: Mapping[str, Sequence[float]], ylabel: str
) -> None:
    x = np.arange(len(categories))
    width = 0.8 / max(len(groups), 1)
    for g, (name, vals) in enumerate(groups.items()):
        offset = (g - (len(groups) - 1) / 2) * width
        color = _GROUP_COLORS[g % len(_GROUP_COLORS)]
        ax.bar(x + offset, vals, width, label=name, color=color)
    ax.set_xticks(x, categories, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)


def plot_structure(
    op_presence: Mapping[str, Mapping[str, Any]],
    path_lengths: Mapping[str, Mapping[str, Any]],
    title: str = "",
) -> Any:
    """Figures 4 and 5: share of cells containing each op; shortest-path length histogram.

    Both arguments map a group name to ``{"n": cells, "counts": {category: count}}``.
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    ops = list(next(iter(op_presence.values()))["counts"])
    _grouped_bars(
        ax1,
        ops,
        {
            f"{k} (n={v['n']})": [_share(v["counts"][o], v["n"]) for o in ops]
            for k, v in op_presence.items()
        },
        "share of cells containing the op",
    )
    ax1.set_title("op presence (fig. 4)", fontsize=9)
    keys: set[str] = set()
    for v in path_lengths.values():
        keys.update(v["counts"])
    cats = sorted((k for k in keys if k != DISCONNECTED), key=int)
    if DISCONNECTED in keys:
        cats.append(DISCONNECTED)
    _grouped_bars(
        ax2,
        cats,
        {
            f"{k} (n={v['n']})": [_share(v["counts"].get(c, 0), v["n"]) for c in cats]
            for k, v in path_lengths.items()
        },
        "share of cells",
    )
    ax2.set_xlabel("shortest input → output path (edges)")
    ax2.set_title("shortest path length (fig. 5)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
