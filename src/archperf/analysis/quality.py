"""Generation quality (SemiGAN-NAD Table 4): validity, uniqueness, novelty and the share of
generated cells above accuracy thresholds next to the same share of the whole benchmark.

Counting rules (also written into every result):

* validity / uniqueness / novelty are :func:`archperf.metrics.evaluate_generation` (novelty
  against the ``reference`` cells, e.g. the labeled set; None when no reference is given);
* a generated cell is *known* for a metric when the benchmark has a finite value for it (the
  NB101 subset holds 30,296 of the 423,624 cells, so most generated NB101 cells are unknown);
* ``generated``: known generated *samples* above the threshold / known generated samples
  (duplicates count once per sample); ``generated_distinct``: the same over distinct benchmark
  records; ``space``: benchmark records above the threshold / records with a value;
* "above" is strict (``>``); accuracies are in percent;
* a test-metric row is *not available* (``available: false`` with a reason) when the benchmark
  has no test metric or its test metric covers less than ``min_test_coverage`` of the records
  that have a validation value (the NB101 subset: 30 cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataFileError
from ..interfaces import SearchSpace
from ..metrics import evaluate_generation

__all__ = [
    "NB101_THRESHOLDS",
    "NB201_THRESHOLDS",
    "NB201_THRESHOLD_QUANTILES",
    "Threshold",
    "default_thresholds",
    "quality_table",
    "thresholds_from_quantiles",
]


@dataclass(frozen=True)
class Threshold:
    """``metric`` (``"val"`` or ``"test"``) strictly above ``value`` percent."""

    metric: str
    value: float

    def __post_init__(self) -> None:
        if self.metric not in ("val", "test"):
            raise ValueError(f"threshold metric must be 'val' or 'test', got {self.metric!r}")

    @property
    def label(self) -> str:
        return f"{self.metric} > {self.value:g} %"


def _pairs(val: Sequence[float], test: Sequence[float]) -> tuple[Threshold, ...]:
    return tuple(Threshold("val", v) for v in val) + tuple(Threshold("test", t) for t in test)


NB101_THRESHOLDS: tuple[Threshold, ...] = _pairs((93.0, 93.5), (93.0, 93.5))
"""Table 4's NB101 columns: validation and test accuracy above 93 % and 93.5 %."""

NB201_THRESHOLD_QUANTILES: tuple[float, float] = (0.95, 0.99)
"""NB201 thresholds are these quantiles of the whole space (top 5 % / top 1 %), 1 decimal."""

NB201_THRESHOLDS: dict[str, tuple[Threshold, ...]] = {
    "cifar10": _pairs((90.1, 91.0), (93.3, 93.8)),
    "cifar100": _pairs((70.0, 71.0), (70.1, 71.1)),
    "imagenet16-120": _pairs((43.9, 45.1), (44.1, 45.4)),
}
"""Per dataset: the 95th and 99th percentile of the 15,625 NB201 cells' validation and test
accuracy (200 epochs, ``nb201.csv``), rounded to 0.1 (``tests/test_analysis.py`` recomputes
them from the data)."""


def thresholds_from_quantiles(
    values: Sequence[float] | np.ndarray,
    quantiles: Sequence[float] = NB201_THRESHOLD_QUANTILES,
    decimals: int = 1,
) -> list[float]:
    """The given quantiles of the finite ``values``, rounded to ``decimals``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("no finite values to take quantiles of")
    return [round(float(np.quantile(v, q)), decimals) for q in quantiles]


def default_thresholds(bench: Any) -> tuple[Threshold, ...]:
    """The thresholds this package uses for ``bench`` (NB101: 93 / 93.5 %; NB201: per dataset,
    :data:`NB201_THRESHOLDS`); other benchmarks: the rounded top-5 % / top-1 % quantiles of
    their validation column."""
    name = getattr(bench, "name", None)
    if name == "nb101":
        return NB101_THRESHOLDS
    if name == "nb201" and bench.dataset in NB201_THRESHOLDS and bench.epochs == 200:
        return NB201_THRESHOLDS[bench.dataset]
    vals = thresholds_from_quantiles(bench.column("val"))
    return tuple(Threshold("val", v) for v in vals)


def _frac(count: int, of: int) -> dict[str, Any]:
    return {"count": int(count), "of": int(of), "fraction": count / of if of else None}


def _test_column(bench: Any, min_coverage: float) -> tuple[np.ndarray | None, str]:
    """The test column, or None and why it cannot be used."""
    try:
        test = np.asarray(bench.column("test"), dtype=np.float64)
    except DataFileError as exc:
        return None, f"the benchmark has no test metric ({exc})"
    has_val = np.isfinite(np.asarray(bench.column("val"), dtype=np.float64))
    n_val = int(has_val.sum())
    n_test = int((np.isfinite(test) & has_val).sum())
    if n_val == 0 or n_test / n_val < min_coverage:
        return None, (
            f"test accuracy is known for only {n_test:,} of the {n_val:,} records with a "
            "validation value"
        )
    return test, ""


def quality_table(
    space: SearchSpace[Any],
    cells: Sequence[Any],
    bench: Any,
    *,
    reference: Sequence[Any] | None = None,
    thresholds: Sequence[Threshold] | None = None,
    min_test_coverage: float = 0.99,
) -> dict[str, Any]:
    """Table 4 for ``cells``: generation metrics, benchmark coverage and threshold shares.

    ``bench`` is a tabular benchmark (``lookup``, ``index_of``, ``column``).  Invalid cells count
    against validity and are left out of everything after it (their number is reported).
    """
    cells = list(cells)
    m = evaluate_generation(space, cells, reference)
    gen: dict[str, Any] = dict(m.to_dict())
    if reference is None:
        gen["novelty"] = None
        gen["n_novel"] = None
        gen["reference_size"] = None
    valid = [c for c in cells if space.is_valid(c)]
    idx = np.asarray(bench.index_of(valid), dtype=np.int64) if valid else np.zeros(0, np.int64)
    val_col = np.asarray(bench.column("val"), dtype=np.float64)
    test_col, test_reason = _test_column(bench, min_test_coverage)
    columns = {"val": val_col, "test": test_col}

    def values(col: np.ndarray | None) -> np.ndarray:
        out = np.full(len(idx), np.nan)
        if col is not None:
            ok = idx >= 0
            out[ok] = col[idx[ok]]
        return out

    gen_values = {k: values(c) for k, c in columns.items()}
    coverage: dict[str, Any] = {
        "n_valid": len(valid),
        "n_invalid_left_out": len(cells) - len(valid),
        "n_in_benchmark": int((idx >= 0).sum()),
        "n_distinct_records": len(set(idx[idx >= 0].tolist())),
        "benchmark_records": len(val_col),
    }
    for k, v in gen_values.items():
        coverage[f"n_known_{k}"] = int(np.isfinite(v).sum())
    rows: list[dict[str, Any]] = []
    for t in thresholds if thresholds is not None else default_thresholds(bench):
        row: dict[str, Any] = {"metric": t.metric, "threshold": t.value, "label": t.label}
        col = columns[t.metric]
        if col is None:
            row.update(available=False, reason=test_reason)
            rows.append(row)
            continue
        v = gen_values[t.metric]
        known = np.isfinite(v)
        above = known & (v > t.value)
        distinct_known = set(idx[known].tolist())
        distinct_above = set(idx[above].tolist())
        space_known = np.isfinite(col)
        row.update(
            available=True,
            generated=_frac(int(above.sum()), int(known.sum())),
            generated_distinct=_frac(len(distinct_above), len(distinct_known)),
            space=_frac(int((col[space_known] > t.value).sum()), int(space_known.sum())),
        )
        rows.append(row)
    return {
        "generation": gen,
        "coverage": coverage,
        "thresholds": rows,
        "rules": (
            "generated = known generated samples above / known generated samples (duplicates "
            "count per sample); generated_distinct = over distinct benchmark records; space = "
            "benchmark records above / records with a value; strict '>' in percent"
        ),
    }
