"""pluggy hook specifications: one hook per component kind.

A plugin is any module or object with functions decorated by :data:`hookimpl` and named after
these specs; it is found through the entry-point group ``archperf``.  Each hook returns a mapping
``name -> target`` where *target* is the component itself (a class or factory) or a lazy
``"package.module:attribute"`` string, imported only when the component is requested.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "archperf"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Targets = dict[str, Any]

#: Component kinds and the hook that registers each.
KINDS: dict[str, str] = {
    "search_space": "archperf_search_spaces",
    "benchmark": "archperf_benchmarks",
    "encoder": "archperf_encoders",
    "generator": "archperf_generators",
    "predictor": "archperf_predictors",
    "discriminator": "archperf_discriminators",
    "condition": "archperf_conditions",
    "search_method": "archperf_search_methods",
    "arch_predictor": "archperf_arch_predictors",
    "decoder": "archperf_decoders",
}


@hookspec
def archperf_search_spaces() -> Targets:  # type: ignore[empty-body]
    """Search spaces (:class:`archperf.interfaces.SearchSpace` subclasses)."""


@hookspec
def archperf_benchmarks() -> Targets:  # type: ignore[empty-body]
    """Benchmark oracles (:class:`archperf.interfaces.Benchmark` factories)."""


@hookspec
def archperf_encoders() -> Targets:  # type: ignore[empty-body]
    """Graph encoders (:class:`archperf.interfaces.Encoder`)."""


@hookspec
def archperf_generators() -> Targets:  # type: ignore[empty-body]
    """Architecture generators (:class:`archperf.interfaces.Generator`)."""


@hookspec
def archperf_predictors() -> Targets:  # type: ignore[empty-body]
    """Performance predictors (:class:`archperf.interfaces.Predictor`)."""


@hookspec
def archperf_discriminators() -> Targets:  # type: ignore[empty-body]
    """Discriminators (:class:`archperf.interfaces.Discriminator`)."""


@hookspec
def archperf_conditions() -> Targets:  # type: ignore[empty-body]
    """Conditions (:class:`archperf.interfaces.Condition`)."""


@hookspec
def archperf_search_methods() -> Targets:  # type: ignore[empty-body]
    """Search methods (NACG, random search, evolution, ...)."""


@hookspec
def archperf_arch_predictors() -> Targets:  # type: ignore[empty-body]
    """Stand-alone performance models (:class:`archperf.interfaces.ArchPredictor`): ``fit``,
    ``predict``, ``save``, ``load``."""


@hookspec
def archperf_decoders() -> Targets:  # type: ignore[empty-body]
    """Generator decoders (:class:`archperf.nn.decoders.SpaceDecoder` subclasses built as
    ``cls(space)``), registered under the name of the search space they decode."""
