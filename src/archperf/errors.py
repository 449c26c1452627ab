"""Exceptions shared across archperf.

Every error that a user can cause (a bad argument, a missing or wrong data file, a cell outside
the space, a budget the benchmark cannot hold, ...) derives from :class:`ArchperfError`; the
``archperf`` command prints those as one line and exits with status 2.  Each one also derives
from the built-in type its callers expect (``ValueError``, ``KeyError``, ``OSError``,
``RuntimeError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "ArchperfError",
    "BudgetExhaustedError",
    "CheckpointError",
    "DataFileError",
    "DataMismatchError",
    "InfeasibleCellError",
    "InvalidCellError",
    "NonFinitePredictionError",
    "NotEnoughCellsError",
    "NotFittedError",
    "QueryContractError",
    "UnknownCellError",
    "UnknownComponentError",
    "UsageError",
]


class ArchperfError(Exception):
    """Base of every user-facing archperf error: its message alone says what to fix."""


class UsageError(ArchperfError, ValueError):
    """A bad argument, option, configuration file or value (e.g. a budget larger than the
    benchmark)."""


class InvalidCellError(ArchperfError, ValueError):
    """A cell breaks a rule of its search space.

    ``rule`` is a short stable identifier (e.g. ``"max-edges"``); the message says what is wrong.
    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"[{rule}] {message}")


class UnknownComponentError(ArchperfError, KeyError):
    """``registry.get`` was asked for a name that no plugin registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnknownCellError(ArchperfError, KeyError):
    """A benchmark has no record of a (valid) cell; it is never guessed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InfeasibleCellError(UnknownCellError):
    """A cell breaks the oracle's constraint (:mod:`archperf.constraints`): never evaluated,
    never charged."""


class BudgetExhaustedError(ArchperfError, RuntimeError):
    """A search asked for more unique cells than its query budget allows."""


class QueryContractError(ArchperfError, RuntimeError):
    """A search broke the query contract (its query log exceeds the budget, or the oracle's
    accounting was rewritten): the run's record is refused."""


class NotEnoughCellsError(ArchperfError, RuntimeError):
    """A search could not find enough new cells the oracle can answer."""


class DataFileError(ArchperfError, OSError):
    """A benchmark data file is missing, unreadable, truncated or of the wrong format."""


class DataMismatchError(ArchperfError, ValueError):
    """Saved results (a run record or a query journal) belong to other data or another run."""


class CheckpointError(ArchperfError, ValueError):
    """A training checkpoint is incomplete, damaged, tampered with or does not fit the run; the
    message names the file."""


class NotFittedError(ArchperfError, RuntimeError):
    """A model was asked to predict (or be saved) before it was fitted."""


class NonFinitePredictionError(ArchperfError, FloatingPointError):
    """A predictor's output is NaN or infinite (its weights are, or they overflow); predictions
    are never returned as NaN silently."""


def check_finite_predictions(values: object, who: str = "the predictor") -> None:
    """Raise :class:`NonFinitePredictionError` when the numpy array ``values`` holds NaN/inf."""
    import numpy as np

    arr = np.asarray(values)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise NonFinitePredictionError(
            f"{who} predicts NaN or infinity for {int(bad.sum())} of {arr.size} cells (first: "
            f"item {first}); its weights or target scale are not finite or overflow: retrain "
            "it or load a good save"
        )
