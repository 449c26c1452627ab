"""archperf: learn the joint distribution of architectures and their performance.

``import archperf`` is light: heavy optional packages (torch_geometric, dgl, onnxruntime, ray)
are imported only by the modules that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .cell import Cell, CellBatch
from .errors import (
    BudgetExhaustedError,
    DataFileError,
    InvalidCellError,
    UnknownCellError,
    UnknownComponentError,
)

__all__ = [
    "BudgetExhaustedError",
    "Cell",
    "CellBatch",
    "DataFileError",
    "InvalidCellError",
    "UnknownCellError",
    "UnknownComponentError",
    "__version__",
]
