"""Analysis of generated architectures (SemiGAN-NAD §4.3.2–4.3.3, appendix B).

* :mod:`.quality` — Table 4: validity, uniqueness, novelty, and the share of generated cells
  above accuracy thresholds next to the share of the whole benchmark;
* :mod:`.signatures` — figures 2 / 3: edge and op frequencies of a cell set;
* :mod:`.graphs` — figures 4 / 5: op presence and shortest input → output path lengths;
* :mod:`.plots` — the figures (matplotlib, imported only when drawing);
* :mod:`.report` — :func:`analyze` runs everything and writes JSON, Markdown and figures.

Nothing here trains or imports torch; ``archperf analyze`` (``archperf.cli.analyze_cmd``)
trains Bi-Arch2Perf and then calls :func:`analyze`.
"""

from __future__ import annotations

from .graphs import (
    DISCONNECTED,
    nb201_edge_adjacency,
    op_presence,
    path_length_histogram,
    path_lengths,
    shortest_path_length,
)
from .quality import (
    NB101_THRESHOLDS,
    NB201_THRESHOLDS,
    Threshold,
    default_thresholds,
    quality_table,
    thresholds_from_quantiles,
)
from .report import (
    AnalysisResult,
    analyze,
    random_records,
    space_cells,
    top_generated,
    top_of_benchmark,
)
from .signatures import Signature, compare_signatures, nb101_slots, signature

__all__ = [
    "DISCONNECTED",
    "NB101_THRESHOLDS",
    "NB201_THRESHOLDS",
    "AnalysisResult",
    "Signature",
    "Threshold",
    "analyze",
    "compare_signatures",
    "default_thresholds",
    "nb101_slots",
    "nb201_edge_adjacency",
    "op_presence",
    "path_length_histogram",
    "path_lengths",
    "quality_table",
    "random_records",
    "shortest_path_length",
    "signature",
    "space_cells",
    "thresholds_from_quantiles",
    "top_generated",
    "top_of_benchmark",
]
