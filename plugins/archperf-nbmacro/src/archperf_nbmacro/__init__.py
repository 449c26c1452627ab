"""archperf-nbmacro: NAS-Bench-Macro (Su et al., CVPR 2021) for archperf.

Registers, through the ``archperf`` entry-point group only, the search space ``nbmacro``
(:mod:`archperf_nbmacro.space`), the benchmark ``nbmacro`` (:mod:`archperf_nbmacro.benchmark`)
and the generator decoder for the space (:mod:`archperf_nbmacro.decoder`, imports torch).
Importing this package is light: nothing is imported until a component is requested.
"""

from __future__ import annotations

__version__ = "0.1.0"
