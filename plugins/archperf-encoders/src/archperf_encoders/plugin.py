"""Entry point (group ``archperf``): registers the encoders ``transformer``, ``mlp`` and
``dag-gru`` lazily."""

from __future__ import annotations

from archperf.hookspecs import Targets, hookimpl


@hookimpl
def archperf_encoders() -> Targets:
    return {
        "transformer": "archperf_encoders.transformer:GraphTransformer",
        "mlp": "archperf_encoders.mlp:MLPEncoder",
        "dag-gru": "archperf_encoders.dag_gru:DAGGRUEncoder",
    }
