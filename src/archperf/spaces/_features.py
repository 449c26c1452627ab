"""Shared helpers of the spaces' :class:`~archperf.interfaces.HasFeatures` implementations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["build_features"]


def build_features(
    space_name: str,
    archs: Sequence[Any],
    kind: str,
    kinds: Sequence[str],
    parts: dict[str, Callable[[], np.ndarray]],
    single: type | tuple[type, ...],
) -> np.ndarray:
    """The features of ``kind`` (one of ``kinds``; ``"a+b"`` is ``a`` and ``b`` side by side),
    from the base kinds' builders in ``parts``, as a ``float32`` array.

    ``single`` is the architecture type: one architecture instead of a sequence is a
    ``TypeError`` (it would otherwise be read as a sequence of its parts).
    """
    if not isinstance(kind, str) or kind not in kinds:
        raise ValueError(
            f"unknown {space_name} feature kind {kind!r}; kinds are {', '.join(kinds)}"
        )
    if isinstance(archs, single):
        raise TypeError("features takes a sequence of architectures; wrap one in a list")
    arrays = [np.asarray(parts[name](), dtype=np.float32) for name in kind.split("+")]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=1)
