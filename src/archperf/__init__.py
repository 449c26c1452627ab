"""archperf: learn the joint distribution of architectures and their performance.

``import archperf`` is light: heavy optional packages (torch_geometric, dgl, onnxruntime, ray)
are imported only by the modules that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .cell import Cell, CellBatch
from .errors import (
    ArchperfError,
    BudgetExhaustedError,
    DataFileError,
    InvalidCellError,
    UnknownCellError,
    UnknownComponentError,
)

__all__ = [
    "ArchperfError",
    "BudgetExhaustedError",
    "Cell",
    "CellBatch",
    "DataFileError",
    "InvalidCellError",
    "UnknownCellError",
    "UnknownComponentError",
    "__version__",
]

# Lazy re-exports: resolved on first access so that `import archperf` does not import torch.
_LAZY_NN = {
    "load_component": "archperf.nn.serialization",
    "load_predictor": "archperf.nn.serialization",
    "save_component": "archperf.nn.serialization",
}


def __getattr__(name: str) -> object:
    module = _LAZY_NN.get(name)
    if module is None:
        raise AttributeError(f"module 'archperf' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
