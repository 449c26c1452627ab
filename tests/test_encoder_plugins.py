"""The encoders of the plugin distribution plugins/archperf-encoders (``transformer``, ``mlp``,
``dag-gru``): registered only through the ``archperf`` entry-point group, they plug into PP, D
and AG as the GIN does, and the core package never names them.

Tests of the plugin skip (with the reason) when the distribution is not installed.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import CellBatch
from archperf.interfaces import DenseEncoder, Encoder
from archperf.nn.serialization import load_component, save_component
from archperf.spaces.nb201 import NB201Space
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig
from conftest import plugin_installed, tiny_trainer_config

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("transformer", "mlp", "dag-gru")
NUM_OPS = len(NB201Space().op_names)


pytestmark = pytest.mark.skipif(
    not plugin_installed("archperf_encoders.plugin"),
    reason="the archperf-encoders distribution is not installed "
    "(pip install -e plugins/archperf-encoders)",
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _encoder(name: str, **kw: Any) -> Any:
    return registry.create("encoder", name, NUM_OPS, **{"hidden_dim": 8, "seed": 0, **kw})


def _batch(n: int = 6, seed: int = 0, max_nodes: int | None = None) -> CellBatch:
    space = NB201Space()
    cells = [space.to_graph(a) for a in space.sample(n, seed=seed)]
    return CellBatch.from_cells(cells, NUM_OPS, max_nodes=max_nodes)


def _synthetic(n: int, seed: int) -> tuple[list[Any], np.ndarray]:
    """NB201 cells with a made-up but learnable score (for mechanics tests, not results)."""
    space = NB201Space()
    cells = space.sample(n, seed=seed)
    ops = np.array([c.ops[1:7] for c in cells], dtype=float)
    y = 70 + 3.0 * (ops == 4).sum(1) + 1.5 * (ops == 3).sum(1) - 4.0 * (ops == 1).sum(1)
    return cells, y


# ----------------------------------------------------------------------------- registration
def test_registered_through_the_entry_point_only() -> None:
    eps = [ep for ep in importlib.metadata.entry_points(group="archperf") if ep.name == "encoders"]
    assert [ep.value for ep in eps] == ["archperf_encoders.plugin"]
    for name in NAMES:
        cls = registry.get("encoder", name)
        assert cls.__module__.startswith("archperf_encoders.")
        assert cls.registry_name == name
        assert issubclass(cls, Encoder) and issubclass(cls, DenseEncoder)


def test_core_package_never_names_the_plugin_encoders() -> None:
    """No file of src/archperf names the plugin, its modules, its classes or its encoders'
    registry names (the hook ``archperf_encoders`` itself is the core's and allowed)."""
    pattern = re.compile(
        r"archperf-encoders|archperf_encoders\.\w|GraphTransformer|MLPEncoder|DAGGRUEncoder"
        r"|[\"'](transformer|mlp|dag-gru)[\"']"
    )
    hits = []
    for path in sorted((ROOT / "src" / "archperf").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".txt", ".md", ".toml"):
            text = path.read_text(encoding="utf-8", errors="replace")
            hits += [
                f"{path.relative_to(ROOT)}:{n}"
                for n, line in enumerate(text.splitlines(), 1)
                if pattern.search(line)
            ]
    assert not hits, f"the core names the plugin encoders: {hits}"


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_padding_zero(name: str) -> None:
    enc = _encoder(name, hidden_dim=12)
    b = _batch(5, max_nodes=11)
    out = enc(b)
    assert enc.graph_dim == 12 and enc.node_dim == 12 and enc.num_ops == NUM_OPS
    assert tuple(out.nodes.shape) == (5, 11, 12)
    assert tuple(out.graph.shape) == (5, 12)
    assert torch.all(out.nodes[~b.mask] == 0)
    assert torch.isfinite(out.graph).all()


@settings(max_examples=10, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    extra=st.integers(1, 5),
    seed=st.integers(0, 10_000),
)
def test_padding_does_not_change_the_output(name: str, extra: int, seed: int) -> None:
    """Extra padding vertices (any op id, any edges to them) leave every real output alone."""
    enc = _encoder(name).eval()
    b = _batch(4, seed=seed)
    n = b.max_nodes
    rng = torch.Generator().manual_seed(seed)
    big_n = n + extra
    adj = torch.rand(4, big_n, big_n, generator=rng)  # garbage weights at padding
    adj[:, :n, :n] = b.adj
    ops = torch.randint(0, NUM_OPS, (4, big_n), generator=rng)
    ops[:, :n] = b.ops
    mask = torch.zeros(4, big_n, dtype=torch.bool)
    mask[:, :n] = b.mask
    padded = CellBatch(adj, ops, mask, NUM_OPS)
    with torch.no_grad():
        ref, out = enc(b), enc(padded)
    torch.testing.assert_close(out.graph, ref.graph, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.nodes[:, :n], ref.nodes, atol=1e-5, rtol=1e-5)
    assert torch.all(out.nodes[:, n:] == 0)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_reaches_soft_inputs(name: str) -> None:
    b = _batch(3)
    adj = (b.adj * 0.7 + 0.1).requires_grad_(True)
    dist = torch.softmax(torch.randn(3, b.max_nodes, NUM_OPS), -1).requires_grad_(True)
    out = _encoder(name)(CellBatch(adj, dist, b.mask, NUM_OPS))
    (out.graph.sum() + out.nodes.sum()).backward()
    assert adj.grad is not None and dist.grad is not None
    real_pairs = b.mask.unsqueeze(2) & b.mask.unsqueeze(1)
    assert adj.grad[real_pairs].abs().sum() > 0
    assert dist.grad[b.mask].abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_generator_takes_the_encoder_and_gradients_reach_it(name: str) -> None:
    default = registry.create("generator", "semigan", "nb201", 3, hidden_dim=8, seed=0)
    in_dim = int(default.encoder.in_dim)
    enc = _encoder(name, in_dim=in_dim)
    g = registry.create("generator", "semigan", "nb201", 3, hidden_dim=8, seed=0, encoder=enc)
    assert g.node_dim == 8
    z_adj, z_ops = g.sample_latent(4, torch.Generator().manual_seed(0))
    relaxed = g(torch.tensor([0, 1, 2, 0]), z_adj, z_ops, torch.Generator().manual_seed(1))
    pp = registry.create("predictor", "gin", encoder=_encoder(name))
    pp(relaxed).sum().backward()
    grads = [p.grad for p in g.encoder.parameters() if p.grad is not None]
    assert grads and sum(float(gr.abs().sum()) for gr in grads) > 0
    cells = g.sample(0, 4, seed=0)
    assert len(cells) == 4 and all(NB201Space().is_valid(c) for c in cells)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_one_clear_error(name: str) -> None:
    enc = _encoder(name)
    b = _batch(2)
    with pytest.raises(ValueError, match="num_ops"):
        enc(CellBatch(b.adj, b.ops, b.mask, NUM_OPS + 1))
    with pytest.raises(ValueError, match="no real vertex"):
        enc(CellBatch(b.adj, b.ops, torch.zeros_like(b.mask), NUM_OPS))
    with pytest.raises(ValueError, match="hidden_dim"):
        registry.create("encoder", name, NUM_OPS, hidden_dim=0)
    with pytest.raises(TypeError, match="CellBatch"):
        enc(b.adj)


def test_transformer_heads_and_mlp_size_limits() -> None:
    with pytest.raises(ValueError, match="multiple of num_heads"):
        _encoder("transformer", hidden_dim=10, num_heads=4)
    small = _encoder("mlp", max_nodes=4)
    with pytest.raises(ValueError, match="max_nodes=4"):
        small(_batch(2))


# ----------------------------------------------------------------------------- saving
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["encoder", "predictor", "discriminator"])
def test_save_load_round_trip(name: str, kind: str, tmp_path: Path) -> None:
    enc = _encoder(name)
    if kind == "encoder":
        module = enc
    elif kind == "predictor":
        module = registry.create("predictor", "gin", encoder=enc, mlp_dims=[8])
    else:
        module = registry.create("discriminator", "gin", 3, encoder=enc, mlp_dims=[8])
    b = _batch(4)
    module.eval()
    args = (b,) if kind != "discriminator" else (b, torch.tensor([0, 1, 2, 0]))
    out = module(*args)
    ref = out.graph if kind == "encoder" else out
    save_component(module, tmp_path / "m")
    loaded = load_component(tmp_path / "m", expected_kind=kind)
    assert type(loaded) is type(module) and loaded.config() == module.config()
    again = loaded(*args)
    assert torch.equal(again.graph if kind == "encoder" else again, ref)


# ----------------------------------------------------------------------------- training
def _train(name: str, seed: int) -> tuple[Any, BiArch2Perf]:
    cells, y = _synthetic(24, 0)
    pool, _ = _synthetic(48, 1)
    cfg: TrainerConfig = tiny_trainer_config(  # type: ignore[assignment]
        epochs=2, seed=seed, encoder=name, encoder_kwargs={"hidden_dim": 8}
    )
    tr = BiArch2Perf(cfg)
    return tr.fit(cells, y, pool), tr


@pytest.mark.parametrize("name", NAMES)
def test_trainer_with_the_encoder_is_seeded(name: str) -> None:
    h1, tr1 = _train(name, 0)
    assert type(tr1.predictor.encoder).registry_name == name
    assert type(tr1.discriminator.encoder).registry_name == name
    assert type(tr1.generator.encoder).registry_name == name  # TrainerConfig.encoder reaches AG
    assert all(np.isfinite(h1.loss_predictor))
    h2, tr2 = _train(name, 0)
    assert h1.loss_predictor == h2.loss_predictor
    assert h1.loss_discriminator == h2.loss_discriminator
    for (k1, v1), (k2, v2) in zip(
        tr1.predictor.state_dict().items(), tr2.predictor.state_dict().items(), strict=True
    ):
        assert k1 == k2 and torch.equal(v1, v2), k1
    cells, _ = _synthetic(8, 5)
    np.testing.assert_array_equal(tr1.predict(cells), tr2.predict(cells))


@pytest.mark.parametrize("name", NAMES)
def test_trainer_generator_with_the_encoder_saves_and_loads(name: str, tmp_path: Path) -> None:
    """AG takes the plugin encoder by name (TrainerConfig.encoder) or as a spec in
    generator_kwargs; the saved generator names it and loads to the same samples."""
    cells, y = _synthetic(16, 0)
    spec = {"kind": "encoder", "name": name, "config": {"num_ops": NUM_OPS, "in_dim": 40}}
    for gen_kwargs in ({"hidden_dim": 8}, {"hidden_dim": 8, "encoder": spec}):
        cfg: TrainerConfig = tiny_trainer_config(  # type: ignore[assignment]
            epochs=1, seed=0, encoder=name, generator_kwargs=gen_kwargs
        )
        tr = BiArch2Perf(cfg)
        tr.fit(cells, y, cells)
        assert type(tr.generator.encoder).registry_name == name
        assert tr.generator.encoder.in_dim == 40
        tr.save(tmp_path / str(len(gen_kwargs)))
        loaded = load_component(tmp_path / str(len(gen_kwargs)) / "generator", "generator")
        assert type(loaded.encoder).registry_name == name
        assert loaded.sample(0, 6, seed=1) == tr.generator.sample(0, 6, seed=1)


def test_generator_encoder_by_name_errors() -> None:
    """A name-built encoder gets the generator's in_dim; wrong arguments are named."""
    g = registry.create("generator", "semigan", "nb201", 3, hidden_dim=8, seed=0, encoder="mlp")
    assert g.encoder.in_dim == 16 + 16 + 8 and g.config()["encoder"]["name"] == "mlp"
    with pytest.raises(ValueError, match="in_dim is set by the generator"):
        registry.create(
            "generator", "semigan", "nb201", 3, encoder="mlp", encoder_kwargs={"in_dim": 3}
        )
    with pytest.raises(ValueError, match="takes no argument"):
        registry.create(
            "generator", "semigan", "nb201", 3, encoder="mlp", encoder_kwargs={"bogus": 1}
        )
    with pytest.raises(ValueError, match="encoder_kwargs go with"):
        registry.create("generator", "semigan", "nb201", 3, encoder_kwargs={"hidden_dim": 4})


# ----------------------------------------------------------------------------- shortest paths
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 7), pad=st.integers(0, 3), seed=st.integers(0, 10_000))
def test_shortest_path_buckets_match_breadth_first_search(n: int, pad: int, seed: int) -> None:
    from archperf_encoders.transformer import shortest_path_buckets

    rng = np.random.default_rng(seed)
    adj = np.triu(rng.random((n, n)) < 0.35, k=1)
    big = np.zeros((n + pad, n + pad), dtype=np.float32)
    big[:n, :n] = adj
    mask = np.arange(n + pad) < n
    max_d = 3
    got = shortest_path_buckets(torch.tensor(big)[None], torch.tensor(mask)[None], max_d)[0]
    und = adj | adj.T
    for s in range(n + pad):
        dist = {s: 0}
        frontier = [s] if s < n else []
        while frontier:
            nxt = []
            for u in frontier:
                for v in np.flatnonzero(und[u]):
                    if int(v) not in dist:
                        dist[int(v)] = dist[u] + 1
                        nxt.append(int(v))
            frontier = nxt
        for t in range(n + pad):
            want = max_d + 1 if s >= n or t not in dist else min(dist[t], max_d)
            assert int(got[s, t]) == want, (s, t)


def test_transformer_distance_bias_pads_saves_and_changes_the_output(tmp_path: Path) -> None:
    plain = _encoder("transformer").eval()
    spd = _encoder("transformer", max_distance=4).eval()
    b = _batch(4)
    wide = _batch(4, max_nodes=b.max_nodes + 3)
    with torch.no_grad():
        out = spd(b).graph
        torch.testing.assert_close(spd(wide).graph, out, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(out, plain(b).graph)
    save_component(spd, tmp_path / "e")
    again = load_component(tmp_path / "e", expected_kind="encoder")
    assert again.config()["max_distance"] == 4
    with torch.no_grad():
        assert torch.equal(again(b).graph, out)
    with pytest.raises(ValueError, match="max_distance"):
        _encoder("transformer", max_distance=-1)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("space_name", ["nb101", "nb201", "darts"])
def test_default_sizes_read_every_core_space(name: str, space_name: str) -> None:
    space = registry.create("search_space", space_name)
    k = len(space.op_names)
    cells = [space.to_graph(a) for a in space.sample(3, seed=0)]
    enc = registry.create("encoder", name, k, seed=0)
    out = enc(CellBatch.from_cells(cells, k))
    assert tuple(out.graph.shape) == (3, enc.graph_dim) and torch.isfinite(out.graph).all()
