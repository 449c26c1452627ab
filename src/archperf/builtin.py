"""archperf's own components, registered through the same hooks as third-party plugins.

Targets are lazy ``"module:attribute"`` strings so that listing plugins imports nothing heavy.
"""

from __future__ import annotations

from .hookspecs import Targets, hookimpl


@hookimpl
def archperf_search_spaces() -> Targets:
    return {
        "nb101": "archperf.spaces.nb101:NB101Space",
        "nb201": "archperf.spaces.nb201:NB201Space",
        "darts": "archperf.spaces.darts:DartsSpace",
    }
