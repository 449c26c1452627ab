"""GIN encoders: dense, PyG and DGL backends agree; gradients, masking, permutation, seeds."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import Cell, CellBatch
from archperf.interfaces import Encoder
from archperf.nn.gin import DenseGIN, GINBase, dense_to_sparse, to_backend

# (max_nodes, num_ops) of each space's graph form: nb101, nb201 (op-on-node), darts (normal +
# reduce cells block-diagonal).
SPACES = {"nb101": (7, 5), "nb201": (8, 7), "darts": (22, 20)}
HAS_PYG = importlib.util.find_spec("torch_geometric") is not None
HAS_DGL = importlib.util.find_spec("dgl") is not None
BACKENDS = [
    "gin",
    pytest.param(
        "gin-pyg", marks=pytest.mark.skipif(not HAS_PYG, reason="torch_geometric not installed")
    ),
    pytest.param("gin-dgl", marks=pytest.mark.skipif(not HAS_DGL, reason="dgl not installed")),
]
SETTINGS = settings(max_examples=25, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread is much faster on a shared machine; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_batch(
    space: str,
    batch_size: int,
    seed: int,
    soft_adj: bool = True,
    soft_ops: bool = True,
    requires_grad: bool = False,
) -> CellBatch:
    """Random DAGs of a space's size: weighted edges, op distributions, ragged vertex counts."""
    n_max, k = SPACES[space]
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(2, n_max + 1, (batch_size,), generator=g)
    counts[0] = n_max
    mask = torch.arange(n_max).unsqueeze(0) < counts.unsqueeze(1)
    adj = (torch.rand(batch_size, n_max, n_max, generator=g) < 0.4).float().triu(1)
    if soft_adj:
        adj = adj * torch.rand(batch_size, n_max, n_max, generator=g)
    adj = adj * (mask.unsqueeze(1) & mask.unsqueeze(2))
    if soft_ops:
        ops = torch.softmax(2 * torch.randn(batch_size, n_max, k, generator=g), dim=-1)
        ops = ops * mask.unsqueeze(-1)
    else:
        ops = torch.randint(0, k, (batch_size, n_max), generator=g) * mask
    if requires_grad:
        adj.requires_grad_(True)
        if soft_ops:
            ops.requires_grad_(True)
    return CellBatch(adj, ops, mask, k)


def randomize_(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Perturb biases, eps, norm affines and batch-norm statistics (weights keep their init
    scale), so eval mode is not an identity and every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith(("running_mean", "bias", "eps")):
                t.add_(0.3 * torch.randn(t.shape, generator=g))
            elif t.dim() == 1:  # norm scales
                t.mul_(0.75 + 0.5 * torch.rand(t.shape, generator=g))
    return module


def make(name: str, space: str, **kw: object) -> GINBase:
    return registry.create("encoder", name, num_ops=SPACES[space][1], **kw)  # type: ignore[no-any-return]


# -- cross-backend equality ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "gin"])
@pytest.mark.parametrize("space", list(SPACES))
@pytest.mark.parametrize(
    ("direction", "pooling", "norm"),
    [("both", "sum", "batch"), ("in", "mean", "layer"), ("out", "sum", "none")],
)
def test_backends_agree(backend: str, space: str, direction: str, pooling: str, norm: str) -> None:
    dense = randomize_(
        make("gin", space, direction=direction, pooling=pooling, norm=norm, seed=0), 1
    )
    other = to_backend(dense, backend)
    assert type(other).__name__ != "DenseGIN"
    assert dense.state_dict().keys() == other.state_dict().keys()
    for soft in (True, False):
        batch = random_batch(space, 6, seed=3, soft_adj=soft, soft_ops=soft)
        for mode in ("eval", "train"):
            dense.train(mode == "train")
            other.train(mode == "train")
            a, b = dense(batch), other(batch)
            assert a.graph.shape == b.graph.shape == (6, dense.graph_dim)
            assert a.nodes.shape == b.nodes.shape
            # batch norm in train mode divides by batch std: slightly larger rounding
            tol = 1e-5 if mode == "eval" or norm != "batch" else 1e-4
            torch.testing.assert_close(a.graph, b.graph, atol=tol, rtol=1e-5)
            torch.testing.assert_close(a.nodes, b.nodes, atol=tol, rtol=1e-5)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "gin"])
@pytest.mark.parametrize("space", list(SPACES))
def test_backends_agree_on_gradients(backend: str, space: str) -> None:
    dense = randomize_(make("gin", space, norm="layer", seed=0), 2)
    other = to_backend(dense, backend)
    grads = []
    for enc in (dense, other):
        batch = random_batch(space, 5, seed=4, requires_grad=True)
        enc(batch).graph.square().sum().backward()
        assert batch.adj.grad is not None and batch.ops.grad is not None
        grads.append((batch.adj.grad, batch.ops.grad, enc.eps.grad))
    for ga, gb in zip(*grads, strict=True):
        torch.testing.assert_close(ga, gb, atol=1e-4, rtol=1e-4)


def test_to_backend_copies_config_and_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "gin" in registry.names("encoder")
    enc = make("gin", "nb201", seed=5, direction="in", pooling="mean")
    back = to_backend(enc, "gin")
    assert back is not enc and back.config() == enc.config()
    for (k1, v1), (k2, v2) in zip(enc.state_dict().items(), back.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)
    monkeypatch.setattr(registry, "get", lambda kind, name: dict)
    with pytest.raises(ValueError, match="not a GIN backend"):
        to_backend(enc, "dict")


# -- shapes, interface, registry ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("space", list(SPACES))
def test_shapes_every_space(backend: str, space: str) -> None:
    enc = make(backend, space, hidden_dim=16, num_layers=5)
    assert isinstance(enc, Encoder)
    batch = random_batch(space, 4, seed=0, soft_ops=False)
    out = enc(batch)
    n_max = SPACES[space][0]
    assert out.nodes.shape == (4, n_max, 16)
    assert out.graph.shape == (4, 5 * 16) and enc.graph_dim == 80
    assert torch.all(out.nodes[~batch.mask] == 0)
    assert torch.isfinite(out.graph).all()


def test_forward_dense_takes_arbitrary_features() -> None:
    enc = DenseGIN(num_ops=7, in_dim=11, seed=0)
    adj = torch.rand(3, 8, 8).triu(1).requires_grad_(True)
    x = torch.randn(3, 8, 11, requires_grad=True)
    mask = torch.ones(3, 8, dtype=torch.bool)
    out = enc.forward_dense(adj, x, mask)
    out.graph.sum().backward()
    assert adj.grad is not None and x.grad is not None
    assert x.grad.abs().sum() > 0 and adj.grad.triu(1).abs().sum() > 0
    with pytest.raises(ValueError, match="in_dim"):
        enc(random_batch("nb201", 2, seed=0))


# -- gradients ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("direction", ["in", "out", "both"])
def test_gradients_reach_soft_adjacency_and_ops(backend: str, direction: str) -> None:
    enc = randomize_(make(backend, "nb201", direction=direction, norm="layer", seed=1), 3)
    batch = random_batch("nb201", 4, seed=2, requires_grad=True)
    enc(batch).graph.sum().backward()
    adj_g, ops_g = batch.adj.grad, batch.ops.grad
    assert adj_g is not None and ops_g is not None
    pair = batch.mask.unsqueeze(1) & batch.mask.unsqueeze(2)
    # every real vertex pair gets a gradient (zero entries included); padding gets none
    assert (adj_g[pair] != 0).float().mean() > 0.9
    assert torch.all(adj_g[~pair] == 0)
    assert torch.all(ops_g[batch.mask].abs().sum(-1) > 0)
    assert torch.all(ops_g[~batch.mask] == 0)


def test_sparse_conversion_keeps_zero_edges_only_for_grad() -> None:
    batch = random_batch("nb101", 3, seed=0)
    x = batch.op_onehot()
    sg = dense_to_sparse(batch.adj, x, batch.mask)
    assert sg.src.numel() == int((batch.adj != 0).sum())
    assert torch.all(sg.weight != 0)
    sg_all = dense_to_sparse(batch.adj, x, batch.mask, keep_zero_edges=True)
    assert sg_all.src.numel() == int((batch.mask.sum(1) ** 2).sum())
    assert sg.x.shape[0] == int(batch.mask.sum())


# -- masking and permutation (hypothesis) ---------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 8, num_ops: int = 7) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, max_nodes))
    bits = draw(st.lists(st.booleans(), min_size=n * n, max_size=n * n))
    adj = np.triu(np.array(bits, dtype=np.uint8).reshape(n, n), 1)
    ops = np.array(draw(st.lists(st.integers(0, num_ops - 1), min_size=n, max_size=n)))
    return adj, ops


def _batch_from(adj: np.ndarray, ops: np.ndarray, weights: np.ndarray | None = None) -> CellBatch:
    a = torch.tensor(adj, dtype=torch.float32)
    if weights is not None:
        a = a * torch.tensor(weights, dtype=torch.float32)
    n = a.shape[0]
    return CellBatch(
        a.unsqueeze(0),
        torch.tensor(ops, dtype=torch.long).unsqueeze(0),
        torch.ones(1, n, dtype=torch.bool),
        7,
    )


_ENCODERS = {
    d: randomize_(DenseGIN(7, direction=d, seed=0), 7).eval() for d in ("in", "out", "both")
}


@SETTINGS
@given(
    dag=dags(),
    extra=st.integers(1, 4),
    direction=st.sampled_from(["in", "out", "both"]),
    seed=st.integers(0, 2**16),
)
def test_padding_vertices_do_not_change_outputs(
    dag: tuple[np.ndarray, np.ndarray], extra: int, direction: str, seed: int
) -> None:
    adj, ops = dag
    n = adj.shape[0]
    enc = _ENCODERS[direction]
    ref = enc(_batch_from(adj, ops))
    g = torch.Generator().manual_seed(seed)
    m = n + extra
    big_adj = torch.rand(1, m, m, generator=g)  # garbage edges to, from and among padding
    big_adj[0, :n, :n] = torch.tensor(adj, dtype=torch.float32)
    big_ops = torch.randint(0, 7, (1, m), generator=g)
    big_ops[0, :n] = torch.tensor(ops)
    mask = torch.zeros(1, m, dtype=torch.bool)
    mask[0, :n] = True
    out = enc(CellBatch(big_adj, big_ops, mask, 7))
    torch.testing.assert_close(out.graph, ref.graph, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.nodes[:, :n], ref.nodes, atol=1e-5, rtol=1e-5)
    assert torch.all(out.nodes[:, n:] == 0)


@SETTINGS
@given(
    dag=dags(),
    perm_seed=st.integers(0, 2**16),
    direction=st.sampled_from(["in", "out", "both"]),
    weighted=st.booleans(),
)
def test_vertex_permutation_keeps_graph_embedding(
    dag: tuple[np.ndarray, np.ndarray], perm_seed: int, direction: str, weighted: bool
) -> None:
    adj, ops = dag
    n = adj.shape[0]
    rng = np.random.default_rng(perm_seed)
    w = rng.uniform(0.1, 1.0, size=(n, n)) if weighted else None
    perm = rng.permutation(n)
    # relabel vertex perm[i] as i: same graph, different vertex order
    adj_p = adj[np.ix_(perm, perm)]
    w_p = w[np.ix_(perm, perm)] if w is not None else None
    enc = _ENCODERS[direction]
    a = enc(_batch_from(adj, ops, w))
    b = enc(_batch_from(adj_p, ops[perm], w_p))
    torch.testing.assert_close(a.graph, b.graph, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(a.nodes[0, perm], b.nodes[0], atol=1e-4, rtol=1e-5)


def test_padding_and_permutation_with_batch_norm_in_train_mode() -> None:
    """Masked batch norm: statistics over real vertices only, in any order."""
    enc = randomize_(DenseGIN(5, norm="batch", seed=0), 3).train()
    batch = random_batch("nb101", 6, seed=9)
    ref = enc(batch).graph
    n = batch.max_nodes
    pad = CellBatch(
        torch.nn.functional.pad(batch.adj, (0, 3, 0, 3), value=0.7),
        torch.nn.functional.pad(batch.ops, (0, 0, 0, 3), value=0.3),
        torch.nn.functional.pad(batch.mask, (0, 3), value=False),
        5,
    )
    torch.testing.assert_close(enc(pad).graph, ref, atol=1e-4, rtol=1e-5)
    order = torch.randperm(batch.batch_size)
    shuffled = CellBatch(batch.adj[order], batch.ops[order], batch.mask[order], 5)
    torch.testing.assert_close(enc(shuffled).graph, ref[order], atol=1e-4, rtol=1e-5)
    assert n == 7


# -- direction semantics ------------------------------------------------------------------------


def test_direction_in_sees_only_predecessors() -> None:
    # chain 0 → 1 → 2 → 3; with "in", vertex 0 has no predecessors so its embedding cannot
    # depend on the ops of 1..3; with "out" vertex 3 is the one that sees nothing.
    adj = np.diag(np.ones(3, dtype=np.uint8), 1)
    ops_a, ops_b = np.array([0, 1, 2, 3]), np.array([0, 4, 5, 6])
    ops_c, ops_d = np.array([1, 2, 0, 3]), np.array([6, 5, 4, 3])
    enc_in, enc_out, enc_both = _ENCODERS["in"], _ENCODERS["out"], _ENCODERS["both"]
    na = enc_in(_batch_from(adj, ops_a)).nodes[0]
    nb = enc_in(_batch_from(adj, ops_b)).nodes[0]
    torch.testing.assert_close(na[0], nb[0])
    assert not torch.allclose(na[3], nb[3])
    nc = enc_out(_batch_from(adj, ops_c)).nodes[0]
    nd = enc_out(_batch_from(adj, ops_d)).nodes[0]
    torch.testing.assert_close(nc[3], nd[3])
    assert not torch.allclose(nc[0], nd[0])
    ne = enc_both(_batch_from(adj, ops_a)).nodes[0]
    nf = enc_both(_batch_from(adj, ops_b)).nodes[0]
    assert not torch.allclose(ne[0], nf[0]) and not torch.allclose(ne[3], nf[3])


def test_sum_pooling_counts_repeated_structure_mean_does_not() -> None:
    adj1 = np.array([[0, 1], [0, 0]], dtype=np.uint8)
    adj2 = np.zeros((4, 4), dtype=np.uint8)
    adj2[0, 1] = adj2[2, 3] = 1  # the same edge twice, disconnected
    s = DenseGIN(7, pooling="sum", norm="none", seed=0).eval()
    m = DenseGIN(7, pooling="mean", norm="none", seed=0).eval()
    ops1, ops2 = np.array([2, 3]), np.array([2, 3, 2, 3])
    torch.testing.assert_close(
        s(_batch_from(adj2, ops2)).graph, 2 * s(_batch_from(adj1, ops1)).graph
    )
    torch.testing.assert_close(m(_batch_from(adj2, ops2)).graph, m(_batch_from(adj1, ops1)).graph)


# -- determinism and errors ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_init_and_outputs(backend: str) -> None:
    state = torch.random.get_rng_state()
    a, b = make(backend, "darts", seed=42), make(backend, "darts", seed=42)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    c = make(backend, "darts", seed=43)
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka
    assert any(
        not torch.equal(va, vc)
        for va, vc in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )
    batch = random_batch("darts", 3, seed=1)
    assert torch.equal(a(batch).graph, b(batch).graph)


def test_bad_input_is_refused_clearly() -> None:
    enc = DenseGIN(7)
    batch = random_batch("nb201", 2, seed=0, soft_ops=False)
    with pytest.raises(ValueError, match="num_ops=5"):
        enc(CellBatch(batch.adj[:, :7, :7], batch.ops[:, :7], batch.mask[:, :7], 5))
    with pytest.raises(ValueError, match=r"op ids must lie in \[0, 7\)"):
        enc(CellBatch(batch.adj, batch.ops + 7 * batch.mask, batch.mask, 7))
    with pytest.raises(ValueError, match="mask must be a bool"):
        enc.forward_dense(batch.adj, batch.op_onehot(), batch.mask.float())
    with pytest.raises(ValueError, match="adj must be"):
        enc.forward_dense(batch.adj[:, :, :3], batch.op_onehot(), batch.mask)
    with pytest.raises(ValueError, match="x must be"):
        enc.forward_dense(batch.adj, batch.op_onehot()[..., :3], batch.mask)
    empty = batch.mask.clone()
    empty[1] = False
    with pytest.raises(ValueError, match=r"graphs \[1\] have no real vertex"):
        enc.forward_dense(batch.adj, batch.op_onehot(), empty)
    with pytest.raises(TypeError, match="CellBatch"):
        enc(batch.adj)  # type: ignore[arg-type]
    for kwargs, msg in [
        ({"direction": "sideways"}, "direction"),
        ({"pooling": "max"}, "pooling"),
        ({"norm": "group"}, "norm"),
        ({"num_layers": 0}, "num_layers"),
        ({"hidden_dim": -1}, "hidden_dim"),
        ({"in_dim": 0}, "in_dim"),
    ]:
        with pytest.raises(ValueError, match=msg):
            DenseGIN(7, **kwargs)  # type: ignore[arg-type]


def test_cells_from_a_real_space_encode() -> None:
    try:
        space = registry.create("search_space", "nb201")
    except (ImportError, AttributeError) as exc:  # pragma: no cover - space not built yet
        pytest.skip(f"nb201 space not available: {exc}")
    cells = space.sample(16, seed=0)
    graphs = [space.to_graph(c) for c in cells]
    assert all(isinstance(g, Cell) for g in graphs)
    batch = CellBatch.from_cells(graphs, num_ops=len(space.op_names), max_nodes=space.max_nodes)
    enc = DenseGIN.for_space(space, seed=0).eval()
    out = enc(batch)
    assert out.graph.shape == (16, enc.graph_dim)
    assert torch.isfinite(out.graph).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_on_cuda(backend: str) -> None:
    enc = make(backend, "nb201", seed=0).cuda().eval()
    batch = random_batch("nb201", 4, seed=0).to("cuda")
    out = enc(batch)
    assert out.graph.device.type == "cuda" and out.nodes.device.type == "cuda"
    ref = to_backend(enc, "gin").cpu()(random_batch("nb201", 4, seed=0)).graph
    torch.testing.assert_close(out.graph.cpu(), ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if getattr(b, "values", [b])[0] != "gin"])
def test_trainer_builds_every_backend_like_the_dense_gin(backend: str) -> None:
    """PP's encoder gets the same arguments on every backend (a PyG/DGL GIN's forwarding
    ``__init__(*args, **kwargs)`` once hid them, so the trainer built a smaller default GIN),
    and the trained predictors agree with the dense one."""
    from archperf.spaces.nb201 import NB201Space
    from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

    cells = NB201Space().sample(24, seed=3)
    y = np.linspace(60.0, 90.0, len(cells))
    preds, configs = [], []
    for name in ("gin", backend):
        cfg = TrainerConfig(
            space="nb201",
            encoder=name,
            epochs=2,
            labeled_batch_size=8,
            adversarial=False,
            progress=False,
            device="cpu",
            seed=0,
            predictor_kwargs={"hidden_dim": 16},
        )
        tr = BiArch2Perf(cfg)
        tr.fit(cells[:16], y[:16], unlabeled=cells[:16])
        configs.append(tr.predictor.encoder.config())
        preds.append(tr.predict(cells[16:]))
    assert configs[0] == configs[1]
    assert configs[0]["hidden_dim"] == 16 and configs[0]["num_layers"] == 4
    np.testing.assert_allclose(preds[0], preds[1], rtol=0, atol=1e-3)
