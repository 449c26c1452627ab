"""The Architecture Generator: valid-by-construction decoding, gradients, determinism, metrics
and ``archperf generate``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import Cell, CellBatch
from archperf.cli import main
from archperf.errors import InvalidCellError, UsageError
from archperf.metrics import evaluate_generation, novelty, uniqueness, validity
from archperf.nn.decoders import decoder_for, nb101_select
from archperf.nn.generator import ConditionalGenerator

SPACES = ["nb101", "nb201", "darts"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Any:
    """Small tensors: one intra-op thread is faster and steadier on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


_SPACE_CACHE: dict[str, Any] = {}


def _space(name: str) -> Any:
    if name not in _SPACE_CACHE:
        try:
            _SPACE_CACHE[name] = registry.create("search_space", name)
        except ModuleNotFoundError as exc:  # a space module another engineer has not landed
            pytest.skip(f"search space {name!r} is not available: {exc}")
    return _SPACE_CACHE[name]


_GEN_CACHE: dict[tuple[str, int | None], ConditionalGenerator] = {}


def _gen(name: str, num_classes: int | None = 5) -> ConditionalGenerator:
    key = (name, num_classes)
    if key not in _GEN_CACHE:
        _GEN_CACHE[key] = ConditionalGenerator(_space(name), num_classes=num_classes, seed=0)
    return _GEN_CACHE[key]


def _sample(space: Any, n: int, seed: int) -> list[Any]:
    """Valid architectures; NB101 by the official random-spec rule (no enumeration needed)."""
    if space.name == "nb101":
        return space.sample(n, seed=seed, method="rejection")  # type: ignore[no-any-return]
    return space.sample(n, seed=seed)  # type: ignore[no-any-return]


def _graphs(space: Any, archs: list[Any], max_nodes: int) -> CellBatch:
    cells = [space.to_graph(a) for a in archs]
    return CellBatch.from_cells(cells, len(space.op_names), max_nodes=max_nodes)


# ---- acceptance: 100 % valid, gradients, determinism --------------------------------------------


@pytest.mark.parametrize("name", SPACES)
def test_5000_untrained_samples_all_valid(name: str) -> None:
    gen = _gen(name)
    space = gen.space
    cond = np.arange(5000) % 5
    cells = gen.sample(cond, 5000, seed=123)
    assert len(cells) == 5000
    for c in cells:
        space.validate(c)
        if name == "nb101":
            assert space.prune(c) == c  # pruned form: no dangling vertices
    m = evaluate_generation(space, cells)
    assert m.validity == 1.0
    assert m.n_unique > 1  # an untrained generator still varies with z


@pytest.mark.parametrize("name", SPACES)
def test_stochastic_and_soft_decoding_valid(name: str) -> None:
    gen = ConditionalGenerator(_space(name), seed=1, hard=False, tau=2.0)
    cells = gen.sample(2, 1000, seed=5, stochastic=True)
    assert validity(gen.space, cells) == 1.0
    relaxed = gen.sample_relaxed(2, 500, seed=5)
    assert bool(((relaxed.ops > 0.01) & (relaxed.ops < 0.99)).any())  # soft op choices
    assert validity(gen.space, gen.decode(relaxed)) == 1.0


@pytest.mark.parametrize("hard", [True, False])
@pytest.mark.parametrize("name", SPACES)
def test_gradients_reach_every_parameter(name: str, hard: bool) -> None:
    from archperf.nn.discriminator import GINDiscriminator

    space = _space(name)
    gen = ConditionalGenerator(space, num_classes=5, seed=0, hard=hard)
    disc = GINDiscriminator(num_classes=5, num_ops=len(space.op_names), seed=0)
    g = torch.Generator().manual_seed(0)
    cond = torch.arange(64) % 5
    z_adj, z_ops = gen.sample_latent(64, g)
    relaxed = gen(cond, z_adj, z_ops, generator=g)
    assert relaxed.ops.requires_grad
    assert relaxed.adj.requires_grad == gen.decoder.uses_edges  # NB201: the graph is fixed
    loss = torch.nn.functional.binary_cross_entropy_with_logits(disc(relaxed, cond), torch.ones(64))
    loss.backward()
    for group, params in gen.parameter_groups().items():
        grads = [p.grad for p in params]
        assert all(gr is not None for gr in grads), group
        assert any(float(gr.abs().sum()) > 0 for gr in grads if gr is not None), group
    named = {n: p for n, p in gen.named_parameters()}
    dead = [n for n, p in named.items() if p.grad is None or float(p.grad.abs().sum()) == 0]
    assert dead == [], dead


@pytest.mark.parametrize("name", SPACES)
def test_same_seed_same_samples(name: str) -> None:
    a = ConditionalGenerator(_space(name), seed=7)
    b = ConditionalGenerator(_space(name), seed=7)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    s1 = a.sample(1, 300, seed=11)
    s2 = b.sample(1, 300, seed=11)
    assert s1 == s2
    assert a.sample(1, 300, seed=12) != s1
    r1, r2 = a.sample_relaxed(1, 50, seed=3), a.sample_relaxed(1, 50, seed=3)
    assert torch.equal(r1.adj, r2.adj) and torch.equal(r1.ops, r2.ops)
    # same seed and batch size, same samples
    assert a.sample(1, 300, seed=11, batch_size=64) == b.sample(1, 300, seed=11, batch_size=64)
    st1 = a.sample(1, 200, seed=4, stochastic=True)
    assert st1 == a.sample(1, 200, seed=4, stochastic=True)


@pytest.mark.parametrize("name", SPACES)
def test_hard_relaxed_is_exactly_the_decoded_graph(name: str) -> None:
    """Straight-through: the forward value equals space.to_graph of the decoded cell."""
    gen = _gen(name)
    relaxed = gen.sample_relaxed(torch.arange(200) % 5, 200, seed=2)
    archs = gen.decode(relaxed)
    ref = _graphs(gen.space, archs, relaxed.max_nodes)
    assert torch.equal(relaxed.mask, ref.mask)
    assert torch.allclose(relaxed.adj, ref.adj, atol=1e-6)
    assert torch.allclose(relaxed.ops, ref.op_onehot(), atol=1e-6)


@pytest.mark.parametrize("name", SPACES)
def test_decode_inverts_to_graph_on_valid_cells(name: str) -> None:
    space = _space(name)
    dec = decoder_for(space)
    archs = _sample(space, 300, seed=3)
    batch = _graphs(space, archs, space.max_nodes)
    assert dec.decode(batch) == archs


@pytest.mark.parametrize("name", SPACES)
def test_condition_changes_the_output(name: str) -> None:
    gen = _gen(name)
    g = torch.Generator().manual_seed(0)
    z_adj, z_ops = gen.sample_latent(8, g)
    s0, _ = gen.scores(torch.zeros(8, dtype=torch.long), z_adj, z_ops)
    s4, _ = gen.scores(torch.full((8,), 4), z_adj, z_ops)
    assert not torch.allclose(s0, s4)


# ---- decoders on arbitrary input (hypothesis) ----------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(SPACES),
    st.integers(0, 2**31 - 1),
    st.booleans(),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_decode_any_relaxed_batch_is_valid(
    name: str, seed: int, stochastic: bool, density: float
) -> None:
    """Random soft adjacency, op distributions and (NB101) masks always decode to valid cells."""
    space = _space(name)
    dec = decoder_for(space)
    rng = np.random.default_rng(seed)
    b, n, k = 16, space.max_nodes, len(space.op_names)
    adj = rng.random((b, n, n)) * (rng.random((b, n, n)) < density)
    ops = rng.dirichlet(np.ones(k), size=(b, n))
    mask = np.ones((b, n), dtype=bool)
    if name == "nb101":
        sizes = rng.integers(2, n + 1, size=b)
        mask = np.arange(n)[None, :] < sizes[:, None]
    batch = CellBatch(
        torch.from_numpy(adj).float(), torch.from_numpy(ops).float(), torch.from_numpy(mask), k
    )
    archs = dec.decode(batch, stochastic=stochastic, seed=seed)
    assert len(archs) == b
    for a in archs:
        space.validate(a)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 7), st.integers(0, 2**31 - 1), st.integers(1, 9))
def test_nb101_select_invariants(n: int, seed: int, max_edges: int) -> None:
    rng = np.random.default_rng(seed)
    prob = rng.random((n, n))
    on = rng.random((n, n)) < prob
    kept, alive = nb101_select(prob, on, max_edges)
    assert not np.tril(kept).any()  # DAG in vertex order
    assert alive[0] and alive[-1]
    # the most probable path alone may already be longer than max_edges only if n - 1 > max_edges
    assert kept.sum() <= max(max_edges, n - 1)
    assert not (kept & ~(on | _path_edges(prob))).any()  # only "on" edges or the best path
    # every living vertex is on an input -> output path
    reach = np.eye(n, dtype=bool)
    for _ in range(n):
        reach = reach | ((reach.astype(int) @ kept.astype(int)) > 0)
    assert all(reach[0, v] and reach[v, n - 1] for v in np.flatnonzero(alive))
    assert not kept[~alive].any() and not kept[:, ~alive].any()


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 7), st.integers(0, 2**31 - 1), st.integers(6, 9))
def test_nb101_keep_vertices_keeps_every_vertex(n: int, seed: int, max_edges: int) -> None:
    """With ``keep_vertices`` every vertex lives whenever the forced in- and out-edges fit in
    the cap; the cell stays a valid DAG within the cap either way."""
    rng = np.random.default_rng(seed)
    prob = rng.random((n, n))
    on = rng.random((n, n)) < prob
    kept, alive = nb101_select(prob, on, max_edges, keep_vertices=True)
    assert not np.tril(kept).any() and alive[0] and alive[-1]
    assert kept.sum() <= max(max_edges, n - 1)
    forced = np.zeros((n, n), dtype=bool)
    for v in range(1, n):
        forced[int(np.argmax(prob[:v, v])), v] = True
    for u in range(n - 1):
        if not forced[u].any():
            forced[u, u + 1 + int(np.argmax(prob[u, u + 1 :]))] = True
    if forced.sum() <= max_edges:  # the pruned forced set is smaller still
        assert alive.all()
        assert not (kept & ~(on | forced)).any()  # forced or switched-on edges only
    assert not (kept & ~(on | forced | _path_edges(prob))).any()
    reach = np.eye(n, dtype=bool)
    for _ in range(n):
        reach = reach | ((reach.astype(int) @ kept.astype(int)) > 0)
    assert all(reach[0, v] and reach[v, n - 1] for v in np.flatnonzero(alive))


def test_nb101_keep_vertices_reaches_every_seven_vertex_cell() -> None:
    """Sharp probabilities on a cell's edges decode to exactly that cell."""
    space = registry.search_space("nb101")
    dec = decoder_for(space, keep_vertices=True)
    cells = [c for c in space.sample(200, seed=3) if c.num_vertices == 7]
    assert len(cells) > 100
    for c in cells:
        prob = np.where(np.asarray(c.adjacency, dtype=bool), 0.95, 0.05)
        kept, alive = nb101_select(prob, prob > 0.5, 9, keep_vertices=True)
        assert alive.all() and np.array_equal(kept, np.asarray(c.adjacency, dtype=bool))
    assert dec.keep_vertices
    with pytest.raises(UsageError, match="does not take"):
        decoder_for(space, colour="red")


def _path_edges(prob: np.ndarray) -> np.ndarray:
    n = prob.shape[0]
    logp = np.log(np.clip(prob, 1e-9, 1.0))
    best = np.full(n, -np.inf)
    best[0] = 0
    pred = np.zeros(n, dtype=int)
    for j in range(1, n):
        c = best[:j] + logp[:j, j]
        pred[j] = int(np.argmax(c))
        best[j] = c[pred[j]]
    out = np.zeros((n, n), dtype=bool)
    j = n - 1
    while j:
        out[pred[j], j] = True
        j = pred[j]
    return out


def test_nb101_edge_cap_counts_living_edges() -> None:
    """The cap applies to the pruned cell: dead edges do not use up the 9-edge budget."""
    n = 7
    prob = np.triu(np.full((n, n), 0.9), 1)
    prob[0, 6] = 0.99  # the best path: input -> output directly
    kept, alive = nb101_select(prob, prob > 0.5, 9)
    assert kept[0, 6] and 1 < kept.sum() <= 9
    assert alive.sum() > 2
    prob[:, :] = 0.1
    prob[0, 6] = 0.2
    kept, alive = nb101_select(prob, prob > 0.5, 9)  # nothing on: only the path survives
    assert kept.sum() == 1 and alive.tolist() == [True, False, False, False, False, False, True]


# ---- conditions and inputs -----------------------------------------------------------------------


def test_bad_conditions_and_latents() -> None:
    gen = _gen("nb201")
    z = gen.sample_latent(3)
    with pytest.raises(ValueError, match="index 1 is 5"):
        gen(torch.tensor([0, 5, 1]), *z)
    with pytest.raises(ValueError, match="class ids"):
        gen(torch.tensor([0.0, 1.0, 2.0]), *z)
    with pytest.raises(ValueError, match="z_ops"):
        gen(torch.tensor([0, 1, 2]), z[0], z[1][:, :, :4])
    with pytest.raises(ValueError, match="whole numbers"):
        gen.sample([0.5, 1, 2], 3, seed=0)
    with pytest.raises(ValueError, match="3 values"):
        gen.sample([0, 1], 3, seed=0)


def test_continuous_condition_generator() -> None:
    gen = _gen("nb201", num_classes=None)
    cells = gen.sample(np.linspace(-2, 2, 100), 100, seed=0)
    assert validity(gen.space, cells) == 1.0
    with pytest.raises(ValueError, match="floats"):
        gen(torch.tensor([1, 2]), *gen.sample_latent(2))
    with pytest.raises(ValueError, match="index 1 is not finite"):
        gen(torch.tensor([1.0, math.nan]), *gen.sample_latent(2))


def test_unknown_space_and_bad_args() -> None:
    from archperf.interfaces import SearchSpace

    class Other(SearchSpace[Cell]):
        name = "other"
        op_names = ("input", "output")
        max_nodes = 2

        def validate(self, arch: Cell) -> None: ...
        def canonical(self, arch: Cell) -> str:
            return ""

        def to_text(self, arch: Cell) -> str:
            return ""

        def from_text(self, text: str) -> Cell:
            return Cell([[0]], [0])

        def to_graph(self, arch: Cell) -> Cell:
            return arch

        def sample(self, n: int, seed: Any = None) -> list[Cell]:
            return []

        def mutate(self, arch: Cell, seed: Any = None) -> Cell:
            return arch

    with pytest.raises(ValueError, match=r"no generator decoder.*with one: darts, nb101, nb201"):
        ConditionalGenerator(Other())
    with pytest.raises(ValueError, match="tau"):
        ConditionalGenerator(_space("nb201"), tau=0.0)
    with pytest.raises(ValueError, match="num_layers"):
        ConditionalGenerator(_space("nb201"), num_layers=0)


def test_registered_and_saved(tmp_path: Path) -> None:
    from archperf.nn.serialization import load_component, save_component

    assert registry.get("generator", "semigan") is ConditionalGenerator
    gen = ConditionalGenerator("darts", num_classes=5, seed=3, tau=0.7)
    save_component(gen, tmp_path / "ag")
    back = load_component(tmp_path / "ag", expected_kind="generator")
    assert isinstance(back, ConditionalGenerator) and back.config() == gen.config()
    assert back.sample(0, 50, seed=1) == gen.sample(0, 50, seed=1)


# ---- metrics -------------------------------------------------------------------------------------


def test_metrics_on_raw_and_duplicate_cells() -> None:
    space = _space("nb201")
    good = space.sample(20, seed=0)
    raw = [Cell(np.zeros((8, 8), dtype=np.uint8), good[0].ops), "not a cell"]  # invalid
    archs = good + good[:5] + raw
    m = evaluate_generation(space, archs, reference=good[:10])
    assert m.n == 27 and m.n_valid == 25
    assert m.validity == 25 / 27 == validity(space, archs)
    distinct = len({space.canonical(c) for c in good})
    assert m.uniqueness == distinct / 27 == uniqueness(space, archs)
    ref = {space.canonical(c) for c in good[:10]}
    novel = sum(space.canonical(c) not in ref for c in good + good[:5])
    assert m.novelty == novel / 25 == novelty(space, archs, good[:10])
    assert novelty(space, good, good) == 0.0
    with pytest.raises(ValueError, match="empty"):
        validity(space, [])
    assert math.isnan(evaluate_generation(space, raw).novelty)
    with pytest.raises(InvalidCellError, match="reference cell 1"):
        novelty(space, good, [good[0], raw[0]])


def test_uniqueness_uses_canonical_forms() -> None:
    space = _space("nb201")
    # two different cells computing the same function (ops on dead edges differ)
    a = space.from_ops(["none", "none", "none", "nor_conv_3x3", "none", "none"])
    b = space.from_ops(["avg_pool_3x3", "none", "none", "nor_conv_3x3", "none", "none"])
    assert a != b and space.canonical(a) == space.canonical(b)
    assert uniqueness(space, [a, b]) == 0.5


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40), st.integers(0, 40))
def test_metric_bounds(seed: int, n: int, n_ref: int) -> None:
    space = _space("nb201")
    archs = space.sample(n, seed=seed)
    ref = space.sample(n_ref, seed=seed + 1)
    m = evaluate_generation(space, archs, ref)
    assert m.validity == 1.0
    assert 0 < m.uniqueness <= 1.0
    assert 0.0 <= m.novelty <= 1.0
    assert evaluate_generation(space, archs, archs).novelty == 0.0
    assert json.loads(json.dumps(m.to_dict()))["n"] == n


def test_validity_on_undecoded_nb101_cells() -> None:
    space = _space("nb101")
    ops = [0, 1, 2, 3, 1, 2, 4]
    full = Cell(np.triu(np.ones((7, 7), dtype=np.uint8), 1), ops)  # 21 edges, none dangling
    no_path = np.zeros((7, 7), dtype=np.uint8)
    no_path[0, 1] = no_path[0, 2] = no_path[2, 3] = 1  # the output is unreachable
    dangling = np.zeros((7, 7), dtype=np.uint8)
    dangling[0, 1] = dangling[1, 6] = dangling[0, 2] = 1  # vertices 2..5 off every path
    raws = [full, Cell(no_path, ops), Cell(dangling, ops)]
    assert [space.is_valid(c) for c in raws] == [False, False, True]  # official NB101 rule
    fixed = decoder_for(space).decode(CellBatch.from_cells(raws, len(space.op_names)))
    assert validity(space, raws) == 1 / 3
    assert validity(space, fixed) == 1.0
    for c in fixed:  # decoded cells are already pruned
        assert space.prune(c) == c and c.num_edges <= 9
    assert fixed[2] == space.prune(raws[2])


# ---- CLI -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPACES)
def test_cli_generate_untrained(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    space = _space(name)
    assert main(["generate", "--space", name, "-n", "40", "--seed", "3", "--untrained"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 40
    for line in lines:
        space.validate(space.from_text(line))
    assert "validity   1.0000 (40/40)" in err
    assert "uniqueness" in err and "no --reference given" in err
    main(["generate", "--space", name, "-n", "40", "--seed", "3", "--untrained"])
    assert capsys.readouterr().out == out  # same seed, same cells


def test_cli_generate_model_reference_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archperf.nn.serialization import save_component

    space = _space("nb201")
    save_component(ConditionalGenerator(space, num_classes=3, seed=0), tmp_path / "ag")
    ref = tmp_path / "ref.txt"
    ref.write_text("\n".join(space.to_text(c) for c in space.sample(50, seed=0)) + "\n")
    out = tmp_path / "cells.txt"
    argv = ["generate", "--space", "nb201", "-n", "30", "--model", str(tmp_path / "ag")]
    rc = main([*argv, "--condition", "2", "--reference", str(ref), "-o", str(out)])
    assert rc == 0
    _, err = capsys.readouterr()
    assert len(out.read_text().splitlines()) == 30
    assert f"of {ref})" in err and "condition 2" in err
    assert main([*argv, "--condition", "3"]) == 2  # not a class of a 3-class generator
    assert "0..2" in capsys.readouterr().err
    assert main(["generate", "--space", "darts", "-n", "3", "--model", str(tmp_path / "ag")]) == 2
    assert "for space 'nb201'" in capsys.readouterr().err
    ref.write_text("|bogus~0|\n")
    assert main([*argv, "--reference", str(ref)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_cli_continuous_needs_condition(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--space", "nb201", "-n", "5", "--untrained", "--num-classes", "0"]
    assert main(argv) == 2
    assert "continuous" in capsys.readouterr().err
    assert main([*argv, "--condition", "0.5"]) == 0
