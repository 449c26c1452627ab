"""Entry point (group ``archperf``): registers space, benchmark and decoder ``nbmacro`` lazily."""

from __future__ import annotations

from archperf.hookspecs import Targets, hookimpl


@hookimpl
def archperf_search_spaces() -> Targets:
    return {"nbmacro": "archperf_nbmacro.space:NBMacroSpace"}


@hookimpl
def archperf_benchmarks() -> Targets:
    return {"nbmacro": "archperf_nbmacro.benchmark:NBMacroBenchmark"}


@hookimpl
def archperf_decoders() -> Targets:
    return {"nbmacro": "archperf_nbmacro.decoder:NBMacroDecoder"}
