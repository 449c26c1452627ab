"""Generation metrics over a search space: validity, uniqueness and novelty.

Pure functions of a space and lists of architectures (nothing is trained or queried):

* **validity** = valid / n: the fraction that pass ``space.validate`` (any objects may be
  measured, including raw undecoded cells);
* **uniqueness** = distinct canonical forms among the valid ones / n (invalid cells count in the
  denominator and never as unique);
* **novelty** = valid cells whose canonical form is not in the reference set / valid cells
  (every valid cell counts, duplicates included).

Empty inputs raise ``ValueError``; novelty of a list without a valid cell is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .errors import InvalidCellError
from .interfaces import SearchSpace

__all__ = [
    "GenerationMetrics",
    "canonical_forms",
    "evaluate_generation",
    "novelty",
    "uniqueness",
    "validity",
]


def _forms(space: SearchSpace[Any], archs: Sequence[Any]) -> list[str | None]:
    """The canonical form of each valid architecture, None for invalid ones."""
    out: list[str | None] = []
    for a in archs:
        try:
            space.validate(a)
            out.append(space.canonical(a))
        except InvalidCellError:
            out.append(None)
    return out


def _nonempty(archs: Iterable[Any], what: str = "archs") -> list[Any]:
    items = list(archs)
    if not items:
        raise ValueError(f"{what} is empty: the metric is undefined for zero cells")
    return items


def canonical_forms(space: SearchSpace[Any], reference: Iterable[Any]) -> set[str]:
    """Canonical forms of a reference set; InvalidCellError (naming the index) if one is invalid."""
    forms: set[str] = set()
    for i, a in enumerate(reference):
        try:
            space.validate(a)
        except InvalidCellError as exc:
            raise InvalidCellError(exc.rule, f"reference cell {i}: {exc}") from exc
        forms.add(space.canonical(a))
    return forms


@dataclass(frozen=True)
class GenerationMetrics:
    """Counts behind the three metrics; fractions are properties (NaN for a zero denominator)."""

    n: int
    n_valid: int
    n_unique: int
    n_novel: int
    reference_size: int

    @property
    def validity(self) -> float:
        return self.n_valid / self.n if self.n else math.nan

    @property
    def uniqueness(self) -> float:
        return self.n_unique / self.n if self.n else math.nan

    @property
    def novelty(self) -> float:
        return self.n_novel / self.n_valid if self.n_valid else math.nan

    def to_dict(self) -> dict[str, float | int]:
        """Counts and fractions, JSON-ready."""
        d: dict[str, float | int] = dict(asdict(self))
        d.update(validity=self.validity, uniqueness=self.uniqueness, novelty=self.novelty)
        return d


def evaluate_generation(
    space: SearchSpace[Any],
    archs: Iterable[Any],
    reference: Iterable[Any] | None = None,
    *,
    reference_forms: set[str] | None = None,
) -> GenerationMetrics:
    """All three metrics in one pass.  ``reference`` are architectures (validated), or give
    their canonical forms as ``reference_forms``; with neither, every valid cell is novel."""
    items = _nonempty(archs)
    if reference is not None and reference_forms is not None:
        raise ValueError("give reference or reference_forms, not both")
    ref = set(reference_forms or ())
    if reference is not None:
        ref = canonical_forms(space, reference)
    forms = _forms(space, items)
    valid = [f for f in forms if f is not None]
    return GenerationMetrics(
        n=len(items),
        n_valid=len(valid),
        n_unique=len(set(valid)),
        n_novel=sum(f not in ref for f in valid),
        reference_size=len(ref),
    )


def validity(space: SearchSpace[Any], archs: Iterable[Any]) -> float:
    """Fraction of ``archs`` that pass ``space.validate``."""
    items = _nonempty(archs)
    return sum(space.is_valid(a) for a in items) / len(items)


def uniqueness(space: SearchSpace[Any], archs: Iterable[Any]) -> float:
    """Distinct canonical forms among the valid architectures, divided by ``len(archs)``."""
    return evaluate_generation(space, archs).uniqueness


def novelty(
    space: SearchSpace[Any],
    archs: Iterable[Any],
    reference: Iterable[Any] | None = None,
    *,
    reference_forms: set[str] | None = None,
) -> float:
    """Fraction of the valid architectures whose canonical form is not in the reference."""
    return evaluate_generation(space, archs, reference, reference_forms=reference_forms).novelty
