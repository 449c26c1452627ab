"""The ``dag-gru`` encoder of plugins/archperf-encoders (D-VAE's asynchronous message-passing
GRU): it matches a per-graph reference written from the equations, ignores padding wherever it
sits, reads only what reaches the output (forward) or leaves the input (reverse), passes
gradients to soft inputs, is seeded, saves and loads, and works as the Graph-VAE's encoder.

The shared encoder-plugin tests (shapes, generator, trainer, saving inside PP and D) run over it
too, in tests/test_encoder_plugins.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from archperf import registry
from archperf.cell import CellBatch
from archperf.errors import UnknownComponentError
from archperf.nn.gvae import GraphVAE
from archperf.nn.serialization import load_component, save_component
from archperf.spaces.nb201 import NB201Space
from conftest import plugin_installed

pytestmark = pytest.mark.skipif(
    not plugin_installed("archperf_encoders.plugin"),
    reason="the archperf-encoders distribution is not installed "
    "(pip install -e plugins/archperf-encoders)",
)

NUM_OPS = len(NB201Space().op_names)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _encoder(**kw: Any) -> Any:
    return registry.create("encoder", "dag-gru", NUM_OPS, **{"hidden_dim": 8, "seed": 0, **kw})


def _batch(n: int = 5, seed: int = 0) -> CellBatch:
    space = NB201Space()
    cells = [space.to_graph(a) for a in space.sample(n, seed=seed)]
    return CellBatch.from_cells(cells, NUM_OPS)


def _reference(enc: Any, adj: Tensor, x: Tensor, real: list[int]) -> tuple[Tensor, Tensor]:
    """One graph, vertex by vertex from the equations: node states ``[len(real), D]`` and the
    graph embedding, over the real vertices ``real`` (in order) only."""

    def run(p: Any, reverse: bool) -> dict[int, Tensor]:
        h: dict[int, Tensor] = {}
        for v in reversed(real) if reverse else real:
            nbrs = [w for w in real if (w > v if reverse else w < v)]
            h_in = torch.zeros(enc.hidden_dim)
            for w in nbrs:
                weight = adj[v, w] if reverse else adj[w, v]
                h_in = h_in + weight * torch.sigmoid(p.gate(h[w])) * p.mapper(h[w])
            h[v] = p.cell(x[v][None], h_in[None])[0]
        return h

    fwd = run(enc.forward_pass, False)
    nodes = torch.stack([fwd[v] for v in real])
    graph = fwd[real[-1]]
    if enc.bidirectional:
        rev = run(enc.reverse_pass, True)
        nodes = torch.cat([nodes, torch.stack([rev[v] for v in real])], -1)
        graph = torch.cat([graph, rev[real[0]]])
    return nodes, graph


# ----------------------------------------------------------------------------- the equations
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_the_per_graph_reference(bidirectional: bool) -> None:
    enc = _encoder(bidirectional=bidirectional).eval()
    b = _batch(4)
    gen = torch.Generator().manual_seed(0)
    adj = torch.triu(torch.rand(4, b.max_nodes, b.max_nodes, generator=gen), 1)  # soft edges
    x = torch.softmax(torch.randn(4, b.max_nodes, NUM_OPS, generator=gen), -1)
    with torch.no_grad():
        out = enc.forward_dense(adj, x, b.mask)
        assert enc.graph_dim == enc.node_dim == 8 * (2 if bidirectional else 1)
        for i in range(4):
            nodes, graph = _reference(enc, adj[i], x[i], list(range(b.max_nodes)))
            torch.testing.assert_close(out.nodes[i], nodes, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(out.graph[i], graph, atol=1e-5, rtol=1e-5)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 8),
    pads=st.lists(st.integers(0, 8), max_size=4),
    bidirectional=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_padding_anywhere_changes_nothing(
    n: int, pads: list[int], bidirectional: bool, seed: int
) -> None:
    """Padding vertices inserted at any positions (garbage ops and edges to and from them)
    leave the real vertices' states and the graph embedding as on the compact graph, and as the
    reference computes them; padding states are zero."""
    enc = _encoder(bidirectional=bidirectional).eval()
    gen = torch.Generator().manual_seed(seed)
    adj = torch.triu((torch.rand(n, n, generator=gen) < 0.5).float(), 1)
    ops = torch.randint(0, NUM_OPS, (n,), generator=gen)
    big = n + len(pads)
    is_pad = [False] * n
    for p in pads:  # each pad goes before the p-th slot of the growing order
        is_pad.insert(min(p, len(is_pad)), True)
    real = [i for i, pad in enumerate(is_pad) if not pad]
    big_adj = torch.rand(big, big, generator=gen)
    big_adj[np.ix_(real, real)] = adj
    big_ops = torch.randint(0, NUM_OPS, (big,), generator=gen)
    big_ops[real] = ops
    mask = ~torch.tensor(is_pad)
    compact = CellBatch(adj[None], ops[None], torch.ones(1, n, dtype=torch.bool), NUM_OPS)
    padded = CellBatch(big_adj[None], big_ops[None], mask[None], NUM_OPS)
    with torch.no_grad():
        ref, out = enc(compact), enc(padded)
        x = torch.nn.functional.one_hot(big_ops, NUM_OPS).float()
        nodes, graph = _reference(enc, big_adj, x, real)
    torch.testing.assert_close(out.graph, ref.graph, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.nodes[0, real], ref.nodes[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.graph[0], graph, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.nodes[0, real], nodes, atol=1e-5, rtol=1e-5)
    assert torch.all(out.nodes[0, ~mask] == 0)


def _dag(x_dangling: int) -> tuple[Tensor, Tensor, Tensor]:
    """0 → 1 → 3 (the output) and 0 → 2, where vertex 2 reaches no output; op of 2 given."""
    adj = torch.zeros(1, 4, 4)
    adj[0, 0, 1] = adj[0, 1, 3] = adj[0, 0, 2] = 1.0
    ops = torch.tensor([[0, 2, x_dangling, 1]])
    x = torch.nn.functional.one_hot(ops, NUM_OPS).float()
    return adj, x, torch.ones(1, 4, dtype=torch.bool)


def test_upstream_ops_change_the_embedding_and_dead_ends_do_not() -> None:
    """Forward, the graph embedding is the output's state: every op upstream of the output
    changes it, a vertex that does not reach the output does not.  The reverse pass reads what
    leaves the input, so there the dead end counts."""
    uni, bi = _encoder().eval(), _encoder(bidirectional=True).eval()
    with torch.no_grad():
        a2, a3 = uni.forward_dense(*_dag(2)).graph, uni.forward_dense(*_dag(3)).graph
        torch.testing.assert_close(a2, a3, atol=0, rtol=0)
        b2, b3 = bi.forward_dense(*_dag(2)).graph, bi.forward_dense(*_dag(3)).graph
        torch.testing.assert_close(b2[:, :8], b3[:, :8], atol=0, rtol=0)
        assert not torch.allclose(b2[:, 8:], b3[:, 8:])
        b = _batch(3)
        ref = uni(b).graph
        for v in range(b.max_nodes - 1):  # every vertex of an NB201 cell reaches the output
            ops = b.ops.clone()
            ops[:, v] = (ops[:, v] + 1) % NUM_OPS
            changed = uni(CellBatch(b.adj, ops, b.mask, NUM_OPS)).graph
            assert not torch.allclose(changed, ref), v


def test_only_the_upper_triangle_is_read() -> None:
    enc = _encoder(bidirectional=True).eval()
    b = _batch(3)
    noisy = b.adj + torch.tril(torch.rand(b.adj.shape, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        torch.testing.assert_close(
            enc(CellBatch(noisy, b.ops, b.mask, NUM_OPS)).graph, enc(b).graph, atol=0, rtol=0
        )


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_reach_soft_edges_and_ops(bidirectional: bool) -> None:
    b = _batch(3)
    adj = (b.adj * 0.7 + 0.1).requires_grad_(True)
    dist = torch.softmax(torch.randn(3, b.max_nodes, NUM_OPS), -1).requires_grad_(True)
    out = _encoder(bidirectional=bidirectional)(CellBatch(adj, dist, b.mask, NUM_OPS))
    out.graph.sum().backward()
    assert adj.grad is not None and dist.grad is not None
    upper = torch.triu(torch.ones(b.max_nodes, b.max_nodes, dtype=torch.bool), 1)
    assert bool((adj.grad[:, upper] != 0).all())  # every soft edge is read
    assert bool((adj.grad[:, ~upper] == 0).all())
    assert bool((dist.grad.abs().sum(-1) > 0).all())  # every vertex's op distribution


# ----------------------------------------------------------------------------- seeds, saving
def test_seeded_init_is_deterministic_and_leaves_the_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a, b, c = _encoder(seed=3), _encoder(seed=3), _encoder(seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    batch = _batch(4)
    with torch.no_grad():
        assert torch.equal(a(batch).graph, b(batch).graph)
        assert not torch.allclose(a(batch).graph, c(batch).graph)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_config_round_trip_saves_and_loads(bidirectional: bool, tmp_path: Path) -> None:
    enc = _encoder(bidirectional=bidirectional, in_dim=None).eval()
    cfg = enc.config()
    assert cfg == {
        "num_ops": NUM_OPS,
        "hidden_dim": 8,
        "bidirectional": bidirectional,
        "in_dim": None,
        "seed": 0,
    }
    assert type(enc).from_config(cfg).config() == cfg
    save_component(enc, tmp_path / "e")
    loaded = load_component(tmp_path / "e", expected_kind="encoder")
    assert type(loaded).registry_name == "dag-gru" and loaded.config() == cfg
    b = _batch(4)
    with torch.no_grad():
        assert torch.equal(loaded(b).graph, enc(b).graph)


def test_bad_arguments_are_one_line_errors() -> None:
    for kw, word in (
        ({"hidden_dim": 0}, "hidden_dim"),
        ({"hidden_dim": 2.5}, "hidden_dim"),
        ({"in_dim": 0}, "in_dim"),
        ({"bidirectional": "yes"}, "bidirectional"),
        ({"bidirectional": 1}, "bidirectional"),
    ):
        with pytest.raises(ValueError, match=word) as info:
            _encoder(**kw)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="num_ops"):
        registry.create("encoder", "dag-gru", 0)
    enc = _encoder()
    b = _batch(2)
    with pytest.raises(ValueError, match="x must be"):
        enc.forward_dense(b.adj, torch.zeros(2, b.max_nodes, NUM_OPS + 1), b.mask)
    with pytest.raises(ValueError, match="no real vertex"):
        enc(CellBatch(b.adj, b.ops, torch.zeros_like(b.mask), NUM_OPS))


# ----------------------------------------------------------------------------- in the Graph-VAE
TINY_VAE: dict[str, Any] = {
    "latent_dim": 8,
    "hidden_dim": 32,
    "encoder": "dag-gru",
    "encoder_kwargs": {"hidden_dim": 16},
}


@pytest.mark.parametrize("bidirectional", [False, True])
def test_graph_vae_trains_with_it_on_nb201(bidirectional: bool) -> None:
    kw = {**TINY_VAE, "encoder_kwargs": {"hidden_dim": 16, "bidirectional": bidirectional}}
    a, b = GraphVAE("nb201", seed=5, **kw), GraphVAE("nb201", seed=5, **kw)
    assert type(a.encoder).registry_name == "dag-gru"
    assert a.mean_head.in_features == 16 * (2 if bidirectional else 1)
    assert a.config()["encoder"] == "dag-gru"
    cells = a.space.sample(60, seed=3)
    ha = a.fit(cells, epochs=8, seed=1)
    hb = b.fit(cells, epochs=8, seed=1)
    assert ha == hb and all(np.isfinite(v) for h in ha for v in h.values())
    assert ha[-1]["recon"] < ha[0]["recon"]
    np.testing.assert_array_equal(a.encode(cells[:5]), b.encode(cells[:5]))
    rep = a.reconstruction(cells[:20])
    assert rep["valid"] == 1.0


def test_graph_vae_passes_bad_encoder_arguments_on_as_one_line() -> None:
    with pytest.raises(ValueError, match="hidden_dim"):
        GraphVAE("nb201", **{**TINY_VAE, "encoder_kwargs": {"hidden_dim": -1}})
    with pytest.raises(ValueError, match="bidirectional"):
        GraphVAE("nb201", **{**TINY_VAE, "encoder_kwargs": {"bidirectional": "no"}})


def test_gvae_nao_searches_with_it() -> None:
    from archperf.benchmarks.nb201 import NB201Benchmark

    tiny = {
        **TINY_VAE,
        "initial": 5,
        "top_k": 5,
        "pool": 30,
        "parents": 4,
        "steps": 6,
        "checkpoints": 3,
        "epochs": 3,
        "round_epochs": 1,
        "batch_size": 32,
    }
    method = registry.create("search_method", "gvae-nao", **tiny)
    assert method.config()["encoder"] == "dag-gru"
    oracle = NB201Benchmark("cifar10").oracle(budget=12)
    out = method.search(oracle, seed=0)
    assert oracle.num_queries == 12 and np.isfinite(out.value)
    with pytest.raises(UnknownComponentError, match="available: dag-gru"):
        registry.create("search_method", "gvae-nao", encoder="dag-gruu")
