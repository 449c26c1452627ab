"""archperf-pyg: the archperf GIN encoder on PyTorch Geometric.

Importing this package is light; :mod:`archperf_pyg.gin` imports torch_geometric.
"""

from __future__ import annotations

__version__ = "0.1.0"
