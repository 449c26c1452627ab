"""The unlabeled pool of a training run and *pool averaging*.

Equivalent cells (same ``space.canonical``) compute the same function, so a model's mean
prediction over a cell's equivalence class in the pool is a better estimate than its own
output for that cell (docs/training.md, "Pool averaging").  :class:`UnlabeledPool` keeps the
pool as a :class:`~archperf.nn.batching.GraphTable` with its classes, and caches the class
means until the model changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..interfaces import SearchSpace
from ..nn.batching import GraphTable

__all__ = ["UnlabeledPool"]


class UnlabeledPool:
    """An unlabeled pool: its table and, when it holds equivalent cells and averaging is on,
    the equivalence class of each cell."""

    def __init__(self, space: SearchSpace[Any], archs: Sequence[Any], averaging: bool) -> None:
        self.space = space
        self.archs = archs
        self.table = GraphTable(space, archs)
        self.group: np.ndarray | None = None
        self.index: dict[str, int] = {}
        self._means: np.ndarray | None = None
        if averaging:
            index: dict[str, int] = {}
            group = np.fromiter(
                (index.setdefault(space.canonical(a), len(index)) for a in archs),
                dtype=np.int64,
                count=len(archs),
            )
            if len(index) < len(archs):  # all singletons (e.g. sampled DARTS): nothing to average
                self.group, self.index = group, index

    def holds(self, archs: Sequence[Any]) -> bool:
        """Whether ``archs`` is this pool's very sequence object (then it is not converted
        again: a search that fits round after round on one pool converts it once)."""
        return self.archs is archs and len(archs) == len(self.table)

    def forget(self) -> None:
        """Drop the cached class means (the model changed)."""
        self._means = None

    def class_means(self, predict: Callable[[GraphTable], np.ndarray]) -> np.ndarray | None:
        """The mean of ``predict`` over each equivalence class (None without averaging),
        cached until :meth:`forget`."""
        if self.group is None:
            return None
        if self._means is None:
            raw = predict(self.table)
            sums = np.bincount(self.group, weights=raw, minlength=len(self.index))
            counts = np.bincount(self.group, minlength=len(self.index))
            self._means = sums / np.maximum(counts, 1)
        return self._means

    def predictions(self, predict: Callable[[GraphTable], np.ndarray]) -> np.ndarray:
        """The (averaged) prediction of every pool cell, in pool order."""
        means = self.class_means(predict)
        if means is not None:
            assert self.group is not None
            out: np.ndarray = means[self.group]
            return out
        return predict(self.table)

    def average(
        self,
        archs: Sequence[Any],
        raw: np.ndarray,
        predict: Callable[[GraphTable], np.ndarray],
    ) -> np.ndarray:
        """``raw`` predictions of ``archs`` with each cell equivalent to pool cells replaced by
        its class mean (in place; returned)."""
        means = self.class_means(predict)
        if means is not None:
            for i, a in enumerate(archs):
                g = self.index.get(self.space.canonical(a))
                if g is not None:
                    raw[i] = means[g]
        return raw
