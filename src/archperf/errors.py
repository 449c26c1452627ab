"""Exceptions shared across archperf."""

from __future__ import annotations

__all__ = [
    "BudgetExhaustedError",
    "DataFileError",
    "InvalidCellError",
    "UnknownCellError",
    "UnknownComponentError",
]


class InvalidCellError(ValueError):
    """A cell breaks a rule of its search space.

    ``rule`` is a short stable identifier (e.g. ``"max-edges"``); the message says what is wrong.
    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"[{rule}] {message}")


class UnknownComponentError(KeyError):
    """``registry.get`` was asked for a name that no plugin registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnknownCellError(KeyError):
    """A benchmark has no record of a (valid) cell; it is never guessed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class BudgetExhaustedError(RuntimeError):
    """A search asked for more unique cells than its query budget allows."""


class DataFileError(OSError):
    """A benchmark data file is missing, unreadable, truncated or of the wrong format."""
