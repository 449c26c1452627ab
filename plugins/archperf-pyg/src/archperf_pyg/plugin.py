"""Entry point (group ``archperf``): registers the encoder ``gin-pyg`` lazily."""

from __future__ import annotations

from archperf.hookspecs import Targets, hookimpl


@hookimpl
def archperf_encoders() -> Targets:
    return {"gin-pyg": "archperf_pyg.gin:PygGIN"}
