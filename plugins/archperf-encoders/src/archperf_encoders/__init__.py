"""archperf-encoders: three encoders beside GIN, registered through the ``archperf`` entry point.

* ``transformer`` (:class:`~archperf_encoders.transformer.GraphTransformer`): self-attention
  over the vertices of a cell with an additive, per-head bias from the (soft) adjacency.
* ``mlp`` (:class:`~archperf_encoders.mlp.MLPEncoder`): a non-graph baseline, the flattened
  adjacency upper triangle and op distributions into one MLP.
* ``dag-gru`` (:class:`~archperf_encoders.dag_gru.DAGGRUEncoder`): D-VAE's asynchronous
  message-passing GRU, one vertex at a time in topological order (optionally both directions).

Importing this package is light; the encoders are imported when the registry first asks for them.
"""

from __future__ import annotations

__version__ = "0.1.0"
