"""Experiments: run specs, records, executors (local and Ray), tables, anytime plots and the
paper protocols.

Import-light: torch and ray are imported only when a run or a Ray executor starts.
"""

from __future__ import annotations

from .anytime import AnytimeCurve, anytime_curves, plot_anytime
from .executors import Executor, LocalExecutor, RayExecutor, RunError, make_executor
from .runner import SweepResult, comparable, load_record, run_many, run_one
from .spec import RunSpec, parse_seeds
from .tables import load_records, summarize, to_csv, to_markdown

__all__ = [
    "AnytimeCurve",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "RunError",
    "RunSpec",
    "SweepResult",
    "anytime_curves",
    "comparable",
    "load_record",
    "load_records",
    "make_executor",
    "parse_seeds",
    "plot_anytime",
    "run_many",
    "run_one",
    "summarize",
    "to_csv",
    "to_markdown",
]
