"""archperf-dgl: the archperf GIN encoder on DGL.

Importing this package is light; :mod:`archperf_dgl.gin` imports dgl.
"""

from __future__ import annotations

__version__ = "0.1.0"
