"""Sane upper limits on the sizes of neural components (docs/guarantees.md).

Every built-in component checks its constructor arguments against these before it allocates a
tensor, so a saved ``component.json`` (or a config file) with ``hidden_dim = 10**9`` or
``num_layers = 10**6`` is a one-line ``ValueError`` instead of a 96 GB allocation or an hour of
building modules.  :func:`archperf.nn.serialization.load_component` also counts a saved
component's parameters without allocating them (on torch's ``meta`` device) and refuses more
than :data:`MAX_LOAD_PARAMETERS`.  The limits are far above anything archperf's models need
(the defaults use widths of 16–64 and 3–5 layers).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_CLASSES",
    "MAX_LAYERS",
    "MAX_LOAD_PARAMETERS",
    "MAX_NUM_OPS",
    "MAX_WIDTH",
    "check_int",
]

#: Widest layer: ``hidden_dim``, ``cond_dim``, ``z_dim``, ``in_dim`` and each MLP width.
MAX_WIDTH = 65536
#: Deepest stack: ``num_layers`` and the number of MLP hidden layers.
MAX_LAYERS = 64
#: Largest op vocabulary (``num_ops``).
MAX_NUM_OPS = 4096
#: Most condition classes (``num_classes``).
MAX_CLASSES = 65536
#: Most parameters (and buffer elements) of a component loaded from disk: 2**28, 1 GiB float32.
MAX_LOAD_PARAMETERS = 2**28


def check_int(name: str, value: Any, high: int, low: int = 1) -> int:
    """``value`` as an ``int`` in ``[low, high]``, else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value!r}")
    return value
