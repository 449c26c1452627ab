"""A run's results folder, as ``archperf search`` writes by default: ``record.json`` (the run
record), ``trajectory.csv`` (every charged query and the incumbent after it) and
``incumbent.png`` (the incumbent against queries; skipped, with a note, without matplotlib)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_RESULTS_DIR", "trajectory_csv", "write_results"]

#: Where ``archperf search`` puts ``<run key>/`` folders unless told otherwise.
DEFAULT_RESULTS_DIR = "archperf-results"

_MISSING_MATPLOTLIB = (
    "incumbent.png skipped: matplotlib is not installed (pip install 'archperf[plot]')"
)


def trajectory_csv(record: Mapping[str, Any]) -> str:
    """``query,value,incumbent,arch``: each charged query in order (1-based), its search value,
    the incumbent after it (values to 4 decimals) and the cell in the space's text form."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["query", "value", "incumbent", "arch"])
    charged = [q for q in record["queries"] if q.get("charged", True)]
    for i, (q, inc) in enumerate(zip(charged, record["trajectory"], strict=True), start=1):
        value = "" if q["value"] is None else f"{float(q['value']):.4f}"
        w.writerow([i, value, f"{float(inc):.4f}", q["arch"]])
    return buf.getvalue()


def write_results(
    record: Mapping[str, Any], folder: str | os.PathLike[str]
) -> tuple[list[Path], str | None]:
    """Write ``record.json``, ``trajectory.csv`` and ``incumbent.png`` into ``folder`` (created;
    each file replaced atomically).  Returns the files written and a note on what was skipped
    (None when nothing was)."""
    from .._io import atomic_write_bytes
    from .anytime import anytime_curves, plot_anytime
    from .runner import _dump

    out = Path(folder)
    written = [out / "record.json", out / "trajectory.csv"]
    atomic_write_bytes(written[0], _dump(record))
    atomic_write_bytes(written[1], trajectory_csv(record).encode("utf-8"))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return written, _MISSING_MATPLOTLIB
    curves = anytime_curves([record], band="none")
    written.append(plot_anytime(curves, out / "incumbent.png", title=str(record["key"])))
    return written, None
