"""What the bench scripts share for their summaries: per-group statistics over run dicts, the
Markdown table they print, the ``machine`` block and the JSON file they write.

Not a script.  A bench script imports it after putting its own folder on ``sys.path``
(``sys.path.insert(0, str(Path(__file__).resolve().parent))``), which also works when another
bench script loads that one with ``importlib`` and ``bench/`` is not on the path.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: The ``machine`` note of the scripts that record ``cpus`` (``machine(cpus=True)``).
SHARED_CPU_NOTE = "shared 2-core CPU, other jobs running; wall times are rough"


def select(runs: Iterable[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """The runs whose ``key`` equals ``value`` for every ``key=value`` given, in their order."""
    return [r for r in runs if all(r[k] == v for k, v in match.items())]


def _values(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def mean_std(
    values: Iterable[float | None], digits: int = 4, all_missing: float | None = None
) -> tuple[float | None, float | None]:
    """Mean and (population) standard deviation, rounded to ``digits``; ``None`` entries are
    missing and left out, and both are ``all_missing`` when every entry is missing (or there are
    none; ``float("nan")`` keeps the NaN that NumPy gives there).
    """
    v = _values(values)
    if not np.isfinite(v).any():
        return all_missing, all_missing
    return round(float(np.nanmean(v)), digits), round(float(np.nanstd(v)), digits)


def best(
    values: Iterable[float | None], digits: int = 4, all_missing: float | None = None
) -> float | None:
    """The largest value, rounded to ``digits``, leaving ``None`` entries out (``all_missing``
    when all are)."""
    v = _values(values)
    if not np.isfinite(v).any():
        return all_missing
    return round(float(np.nanmax(v)), digits)


def median(values: Iterable[float], digits: int | None = 3) -> float:
    """The median, rounded to ``digits`` (not rounded with ``None``)."""
    m = float(np.median(list(values)))
    return m if digits is None else round(m, digits)


def pm(mean: float | None, std: float | None, fmt: str = ".2f", missing: str = "—") -> str:
    """``"mean ± std"`` in ``fmt``, or ``missing`` when the mean is ``None``."""
    if mean is None or std is None:
        return missing
    return f"{mean:{fmt}} ± {std:{fmt}}"


def markdown_table(header: str, rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table: the header row (``header``: the column names, ``" | "`` between
    them), the ``|---|`` row, then one row per sequence of cells (each cell as ``str``)."""
    lines = [f"| {header} |", "|" + "---|" * len(header.split(" | "))]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine(*, threads: bool = True, cpus: bool = False) -> dict[str, Any]:
    """The ``machine`` block of a result file: Python and torch versions, ``threads: 1`` (the
    scripts run torch on one thread), and with ``cpus`` the CPU count and the shared-CPU note."""
    m: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__}
    if threads:
        m["threads"] = 1
    if cpus:
        m["cpus"] = os.cpu_count()
        m["note"] = SHARED_CPU_NOTE
    return m


def write_results(out: str | Path, payload: dict[str, Any], **more: Any) -> None:
    """Write ``payload`` and then ``more`` (usually ``summary``, ``runs`` and ``table``, in the
    order given) to ``out`` as the bench results are written: JSON indented by one, a final
    newline, UTF-8; makes the folder."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**payload, **more}, indent=1) + "\n", encoding="utf-8")
