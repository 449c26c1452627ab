"""Entry point (group ``archperf``): registers the encoder ``gin-dgl`` lazily."""

from __future__ import annotations

from archperf.hookspecs import Targets, hookimpl


@hookimpl
def archperf_encoders() -> Targets:
    return {"gin-dgl": "archperf_dgl.gin:DglGIN"}
