"""Search constraints: bounds on a cell property (or any predicate), enforced by the oracle.

A constrained oracle (:meth:`Oracle.constrain <archperf.benchmarks.base.Oracle.constrain>`)
answers feasible cells only: an infeasible cell is never evaluated and never charged,
``oracle.status`` reports it as not answerable (so every search method, which draws only cells
the oracle can answer, skips it for free) and querying it raises
:class:`~archperf.errors.InfeasibleCellError`.  A search returns a queried cell, so it never
returns an infeasible one.  This works for every search method without any change to it.

Constraints are text, ``<property> <op> <number>`` with ``op`` one of ``<= < >= > ==``
(several are all required)::

    params_mb<=0.5          # NB201: parameters (MB) of the CIFAR-10 network (benchmark column)
    params<=2e6             # NB101 and plugin benchmarks with a params column
    flops<=150e6            # a benchmark with a FLOPs column (a plugin's)
    ops.nor_conv_3x3<=2     # any space: how many graph vertices carry this op
    edges<=7                # any space: edges of the cell's graph form (space.to_graph)
    vertices<=6             # any space: vertices of the graph form

Benchmark columns usable as properties are the ones the benchmark declares free to read,
``benchmark.property_columns`` (costs such as parameters or FLOPs, the same columns
:meth:`Oracle.property_values <archperf.benchmarks.base.Oracle.property_values>` serves; never
an accuracy: a constraint must not read the search or test metric).  From Python, a predicate
``arch -> bool`` is accepted as well (:func:`constrain`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import UsageError

__all__ = ["CELL_PROPERTIES", "Constraint", "constrain", "parse_constraints"]
#: Properties of the cell itself, for every space (``ops.<name>`` counts an op).
CELL_PROPERTIES: tuple[str, ...] = ("edges", "vertices", "ops.<op name>")

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<=": lambda v, b: v <= b,
    ">=": lambda v, b: v >= b,
    "==": lambda v, b: v == b,
    "<": lambda v, b: v < b,
    ">": lambda v, b: v > b,
}
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s*(<=|>=|==|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``prop op bound``, e.g. ``Constraint("params_mb", "<=", 0.5)``."""

    prop: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            ops = " ".join(_OPS)
            raise UsageError(f"constraint operator must be one of {ops}, got {self.op!r}")
        if not isinstance(self.prop, str) or not self.prop:
            raise UsageError(f"constraint property must be a name, got {self.prop!r}")
        if isinstance(self.bound, bool) or not isinstance(self.bound, int | float):
            raise UsageError(f"constraint bound must be a number, got {self.bound!r}")
        if not math.isfinite(float(self.bound)):
            raise UsageError(f"constraint bound must be finite, got {self.bound!r}")

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """``"params_mb<=0.5"`` → ``Constraint("params_mb", "<=", 0.5)``."""
        if not isinstance(text, str):
            raise UsageError(f"a constraint is text like 'params_mb<=0.5', got {text!r}")
        m = _PATTERN.match(text)
        if m is None:
            raise UsageError(
                f"bad constraint {text!r}: write <property><op><number> with op one of "
                f"{' '.join(_OPS)}, e.g. 'params_mb<=0.5'"
            )
        prop, op, num = m.groups()
        try:
            bound = float(num)
        except ValueError:
            raise UsageError(f"bad constraint {text!r}: {num!r} is not a number") from None
        return cls(prop, op, bound)

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask: which values satisfy the bound (NaN: no)."""
        v = np.asarray(values, dtype=np.float64)
        return np.asarray(_OPS[self.op](v, float(self.bound)), dtype=bool) & ~np.isnan(v)

    def __str__(self) -> str:
        return f"{self.prop}{self.op}{self.bound:g}"


def parse_constraints(texts: Sequence[str | Constraint] | str | None) -> list[Constraint]:
    """Constraints from text (one string or a list; ``Constraint`` objects pass through)."""
    if texts is None:
        return []
    if isinstance(texts, str | Constraint):
        texts = [texts]
    if not isinstance(texts, list | tuple):
        raise UsageError(
            f"constraints must be a list of texts like 'params_mb<=0.5', got {texts!r}"
        )
    return [t if isinstance(t, Constraint) else Constraint.parse(t) for t in texts]


def _cell_property(space: Any, prop: str) -> Callable[[Any], float]:
    """A function arch → value of a cell property (see :data:`CELL_PROPERTIES`)."""
    names = list(space.op_names)
    if prop == "edges":
        return lambda arch: float(space.to_graph(arch).num_edges)
    if prop == "vertices":
        return lambda arch: float(space.to_graph(arch).num_vertices)
    if prop.startswith("ops."):
        op = prop[4:]
        ids = [i for i, n in enumerate(names) if n == op or n.rsplit(":", 1)[-1] == op]
        if not ids:
            raise UsageError(
                f"constraint {prop!r}: space {space.name!r} has no op {op!r}; its ops are: "
                f"{', '.join(names)}"
            )
        idset = np.asarray(ids)
        return lambda arch: float(np.isin(space.to_graph(arch).ops, idset).sum())
    raise KeyError(prop)


def constrain(
    oracle: Any,
    benchmark: Any,
    constraints: Sequence[str | Constraint] | str | None = None,
    predicate: Callable[[Any], bool] | None = None,
) -> None:
    """Make ``oracle`` (fresh, from ``benchmark.oracle``) answer only cells that satisfy every
    constraint and ``predicate`` (see the module docstring).  Bad input: one-line
    :class:`~archperf.errors.UsageError` naming what is wrong."""
    cons = parse_constraints(constraints)
    if predicate is not None and not callable(predicate):
        raise UsageError(f"predicate must be a function arch -> bool, got {predicate!r}")
    if not cons and predicate is None:
        return
    space = oracle.space
    columns = tuple(getattr(benchmark, "metrics", ()))
    protected = {getattr(benchmark, a, None) for a in ("val_metric", "test_metric", "paper_metric")}
    free = [
        n for n in getattr(benchmark, "property_columns", ()) if n in columns and n not in protected
    ]
    by_column: list[tuple[Constraint, np.ndarray]] = []
    by_cell: list[tuple[Constraint, Callable[[Any], float]]] = []
    for c in cons:
        if c.prop in free:
            by_column.append((c, np.asarray(benchmark.column(c.prop), dtype=np.float64)))
            continue
        if space is None:
            raise UsageError(f"constraint {c}: the oracle has no search space to read cells from")
        try:
            by_cell.append((c, _cell_property(space, c.prop)))
        except KeyError:
            raise UsageError(
                f"unknown constraint property {c.prop!r} for {getattr(benchmark, 'name', '?')}; "
                f"properties: {', '.join([*free, *CELL_PROPERTIES])}"
            ) from None
    column_mask: np.ndarray | None = None
    for c, col in by_column:
        ok = c.holds(col)
        column_mask = ok if column_mask is None else column_mask & ok
    cache: dict[int, bool] = {}

    def feasible(records: Any, idx: np.ndarray) -> np.ndarray:
        out = np.ones(len(idx), dtype=bool)
        if column_mask is not None:
            inside = idx < len(column_mask)
            out &= inside
            out[inside] &= column_mask[idx[inside]]
        if by_cell or predicate is not None:
            for j in np.flatnonzero(out):
                i = int(idx[j])
                hit = cache.get(i)
                if hit is None:
                    arch = records.arch_at(i)
                    hit = all(bool(c.holds(np.array([f(arch)]))[0]) for c, f in by_cell)
                    if hit and predicate is not None:
                        hit = bool(predicate(arch))
                    cache[i] = hit
                out[j] = hit
        return out

    text = " and ".join([str(c) for c in cons] + (["predicate"] if predicate is not None else []))
    oracle.constrain(feasible, text)
