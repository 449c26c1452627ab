"""Performance Predictor and Discriminator: shapes on every space, conditions, predict(), errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import Cell, CellBatch
from archperf.interfaces import Discriminator, Predictor
from archperf.nn.discriminator import GINDiscriminator
from archperf.nn.gin import DenseGIN
from archperf.nn.predictor import GINPredictor

SPACES = {"nb101": (7, 5), "nb201": (8, 7), "darts": (22, 20)}
HAS_PYG = importlib.util.find_spec("torch_geometric") is not None


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_batch(space: str, batch_size: int, seed: int, soft: bool = False) -> CellBatch:
    n_max, k = SPACES[space]
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(2, n_max + 1, (batch_size,), generator=g)
    mask = torch.arange(n_max).unsqueeze(0) < counts.unsqueeze(1)
    adj = (torch.rand(batch_size, n_max, n_max, generator=g) < 0.4).float().triu(1)
    adj = adj * (mask.unsqueeze(1) & mask.unsqueeze(2))
    if soft:
        ops = torch.softmax(torch.randn(batch_size, n_max, k, generator=g), -1)
        adj = adj * torch.rand(adj.shape, generator=g)
        adj.requires_grad_(True)
        ops.requires_grad_(True)
    else:
        ops = torch.randint(0, k, (batch_size, n_max), generator=g) * mask
    return CellBatch(adj, ops, mask, k)


def random_cells(space: str, n: int, seed: int) -> list[Cell]:
    b = random_batch(space, n, seed)
    out = []
    for i in range(n):
        m = int(b.mask[i].sum())
        out.append(Cell(b.adj[i, :m, :m].numpy().astype(int), b.ops[i, :m].numpy()))
    return out


# -- predictor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("space", list(SPACES))
def test_predictor_shapes_and_gradients(space: str) -> None:
    pp = GINPredictor(num_ops=SPACES[space][1], seed=0)
    assert isinstance(pp, Predictor)
    assert pp.encoder.num_layers == 4  # paper default
    y = pp(random_batch(space, 5, seed=1))
    assert y.shape == (5,) and torch.isfinite(y).all()
    soft = random_batch(space, 5, seed=2, soft=True)
    pp(soft).sum().backward()
    assert soft.adj.grad is not None and soft.adj.grad.abs().sum() > 0
    assert soft.ops.grad is not None and soft.ops.grad.abs().sum() > 0


def test_predictor_takes_any_encoder() -> None:
    enc = DenseGIN(7, hidden_dim=8, num_layers=5, direction="in", seed=0)
    pp = GINPredictor(enc, mlp_dims=(16,), seed=0)
    assert pp.encoder is enc and pp.num_ops == 7
    assert pp(random_batch("nb201", 3, seed=0)).shape == (3,)
    with pytest.raises(ValueError, match="num_ops=5 but the encoder has num_ops=7"):
        GINPredictor(enc, num_ops=5)
    with pytest.raises(ValueError, match="needs num_ops"):
        GINPredictor()
    with pytest.raises(ValueError, match="mlp_dims"):
        GINPredictor(num_ops=7, mlp_dims=(0,))
    if HAS_PYG:
        pyg = registry.create("encoder", "gin-pyg", num_ops=7, seed=0)
        pp2 = GINPredictor(pyg, seed=0).eval()
        assert pp2(random_batch("nb201", 3, seed=0)).shape == (3,)


def test_target_scale_maps_outputs() -> None:
    pp = GINPredictor(num_ops=5, seed=0).eval()
    batch = random_batch("nb101", 4, seed=0)
    raw = pp(batch)
    pp.set_target_scale(90.0, 2.5)
    torch.testing.assert_close(pp(batch), raw * 2.5 + 90.0)
    with pytest.raises(ValueError, match="std > 0"):
        pp.set_target_scale(0.0, 0.0)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 16))
def test_predict_batches_give_the_same_answer(n: int, batch_size: int) -> None:
    cells = random_cells("nb201", n, seed=n)
    pp = _PP
    whole = pp.predict(cells, batch_size=1024)
    chunked = pp.predict(cells, batch_size=batch_size)
    assert whole.shape == (n,) and whole.dtype == np.float64
    np.testing.assert_allclose(whole, chunked, rtol=1e-5, atol=1e-5)


_PP = GINPredictor(num_ops=7, seed=3)


def test_predict_restores_mode_and_needs_no_grad() -> None:
    pp = GINPredictor(num_ops=7, seed=0).train()
    cells = random_cells("nb201", 6, seed=0)
    out = pp.predict(cells)
    assert pp.training  # mode restored
    pp.eval()
    ref = pp(CellBatch.from_cells(cells, num_ops=7)).detach().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    batch_out = pp.predict(CellBatch.from_cells(cells, num_ops=7), batch_size=4)
    np.testing.assert_allclose(batch_out, ref, rtol=1e-5, atol=1e-6)
    assert pp.predict([]).shape == (0,)
    with pytest.raises(TypeError, match="pass space="):
        pp.predict(["not a cell"])
    with pytest.raises(ValueError, match="op id 9 >= num_ops=7"):
        pp.predict([Cell([[0, 1], [0, 0]], [0, 9])])


def test_predict_with_a_registered_space() -> None:
    try:
        space = registry.create("search_space", "nb201")
    except (ImportError, AttributeError) as exc:  # pragma: no cover - space not built yet
        pytest.skip(f"nb201 space not available: {exc}")
    pp = GINPredictor.for_space(space, seed=0)
    archs = space.sample(10, seed=0)
    by_name = pp.predict(archs, space="nb201")
    by_obj = pp.predict(archs, space=space)
    assert by_name.shape == (10,)
    np.testing.assert_array_equal(by_name, by_obj)
    with pytest.raises(ValueError, match="ops but the model was built for num_ops=5"):
        GINPredictor(num_ops=5).predict(archs, space=space)


def test_predictor_determinism() -> None:
    a, b = GINPredictor(num_ops=7, seed=11), GINPredictor(num_ops=7, seed=11)
    for va, vb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb)
    batch = random_batch("nb201", 4, seed=0)
    assert torch.equal(a(batch), b(batch))
    assert not torch.equal(a(batch), GINPredictor(num_ops=7, seed=12)(batch))


# -- discriminator ------------------------------------------------------------------------------


@pytest.mark.parametrize("space", list(SPACES))
@pytest.mark.parametrize("num_classes", [4, None])
def test_discriminator_shapes_every_space(space: str, num_classes: int | None) -> None:
    d = GINDiscriminator(num_classes, num_ops=SPACES[space][1], seed=0)
    assert isinstance(d, Discriminator)
    assert d.encoder.num_layers == 3  # paper default
    batch = random_batch(space, 6, seed=0, soft=True)
    cond = torch.tensor([0, 1, 2, 3, 0, 1]) if num_classes else torch.rand(6)
    logits = d(batch, cond)
    assert logits.shape == (6,)
    p = d.prob(batch, cond)
    torch.testing.assert_close(p, torch.sigmoid(logits))
    assert torch.all((p > 0) & (p < 1))
    torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones(6)).backward()
    assert batch.adj.grad is not None and batch.adj.grad.abs().sum() > 0
    assert batch.ops.grad is not None and batch.ops.grad.abs().sum() > 0


def test_condition_changes_the_logit() -> None:
    batch = random_batch("nb201", 4, seed=0)
    d = GINDiscriminator(4, num_ops=7, seed=0).eval()
    a = d(batch, torch.zeros(4, dtype=torch.long))
    b = d(batch, torch.full((4,), 3))
    assert not torch.allclose(a, b)
    dc = GINDiscriminator(None, num_ops=7, seed=0).eval()
    assert not torch.allclose(dc(batch, torch.zeros(4)), dc(batch, torch.ones(4)))


def test_discriminator_refuses_bad_conditions() -> None:
    batch = random_batch("nb201", 3, seed=0)
    d = GINDiscriminator(4, num_ops=7)
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 4\)"):
        d(batch, torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="takes class ids"):
        d(batch, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"condition must be \[B\] = \[3\]"):
        d(batch, torch.tensor([0, 1]))
    dc = GINDiscriminator(None, num_ops=7)
    with pytest.raises(ValueError, match="continuous condition"):
        dc(batch, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="finite"):
        dc(batch, torch.tensor([0.0, float("nan"), 1.0]))
    with pytest.raises(ValueError, match="num_classes"):
        GINDiscriminator(0, num_ops=7)
    with pytest.raises(ValueError, match="needs num_ops"):
        GINDiscriminator(3)


def test_discriminator_determinism_and_custom_encoder() -> None:
    batch = random_batch("darts", 3, seed=0)
    cond = torch.tensor([0, 1, 1])
    a = GINDiscriminator(2, num_ops=20, seed=5)
    b = GINDiscriminator(2, num_ops=20, seed=5)
    assert torch.equal(a(batch, cond), b(batch, cond))
    enc = DenseGIN(20, hidden_dim=8, num_layers=5, seed=0)
    d = GINDiscriminator(2, encoder=enc, cond_dim=4, mlp_dims=(8, 8))
    assert d(batch, cond).shape == (3,)
    assert d.config()["encoder"]["config"]["num_layers"] == 5


# -- real data ----------------------------------------------------------------------------------


def test_predictor_learns_real_nb201_ranking(data_dir: Path) -> None:
    """A few seconds of training on 500 real NB201 cells ranks 1,000 held-out cells well."""
    import pandas as pd
    from scipy.stats import spearmanr

    from conftest import require_file

    csv = require_file(data_dir, "nb201/nb201.csv")
    try:
        space = registry.create("search_space", "nb201")
    except (ImportError, AttributeError) as exc:  # pragma: no cover - space not built yet
        pytest.skip(f"nb201 space not available: {exc}")
    df = pd.read_csv(csv, usecols=["arch_str", "cifar10_valid_val"])
    idx = np.random.default_rng(0).permutation(len(df))[:1500]
    cells = [space.to_graph(space.from_text(df["arch_str"].iloc[i])) for i in idx]
    acc = df["cifar10_valid_val"].to_numpy()[idx]
    k = len(space.op_names)
    train = CellBatch.from_cells(cells[:500], num_ops=k, max_nodes=space.max_nodes)
    y = torch.tensor(acc[:500], dtype=torch.float32)
    pp = GINPredictor(num_ops=k, seed=0, target_mean=float(y.mean()), target_std=float(y.std()))
    opt = torch.optim.Adam(pp.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        sel = torch.randperm(500, generator=gen)[:100]
        sub = CellBatch(train.adj[sel], train.ops[sel], train.mask[sel], k)
        loss = ((pp(sub) - y[sel]) / pp.target_std).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    pred = pp.predict(cells[500:], space=space)
    rho = spearmanr(pred, acc[500:]).statistic
    assert rho > 0.7, f"Spearman {rho:.3f} on held-out NB201 cells"


def test_discriminator_soft_condition_matches_hard_one_hot() -> None:
    """One-hot class probabilities give exactly the logits of the class ids."""
    import torch

    from archperf.cell import CellBatch
    from archperf.nn.discriminator import GINDiscriminator
    from archperf.spaces.nb201 import NB201Space

    space = NB201Space()
    cells = space.sample(6, seed=0)
    batch = CellBatch.from_cells(cells, num_ops=len(space.op_names), max_nodes=8)
    d = GINDiscriminator(5, num_ops=len(space.op_names), seed=0).eval()
    ids = torch.tensor([0, 1, 2, 3, 4, 0])
    hard = d(batch, ids)
    soft = d(batch, torch.nn.functional.one_hot(ids, 5).float())
    assert torch.allclose(hard, soft, atol=1e-6)
    with pytest.raises(ValueError, match="class probabilities"):
        d(batch, torch.ones(6, 4))
