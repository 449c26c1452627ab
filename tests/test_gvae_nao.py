"""Graph-VAE NAO: the graph VAE (valid decoding, finite loss terms, ascent on the predicted
objective, determinism), the ``gvae-nao`` search (exact budget, determinism, the trade-off and
its Pareto front) and the two-objective helpers of :mod:`archperf.pareto`.

Spaces without data get a synthetic benchmark (values and a ``params`` property from a hash of
``space.canonical``); the NB201 tests use the embedded NB201 records (no data folder needed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.benchmarks.base import GrowingRecordIndex, MetricSource, Oracle, RecordIndex
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.errors import UsageError
from archperf.nn.gvae import GraphVAE
from archperf.pareto import hypervolume_2d, non_dominated, pareto_front, reference_point
from archperf.search.gvae_nao import GVAENAO

SPACES = ("nb201", "nb101", "darts")
TINY_MODEL: dict[str, Any] = {
    "latent_dim": 8,
    "hidden_dim": 32,
    "encoder_kwargs": {"hidden_dim": 16, "num_layers": 2},
}
TINY: dict[str, Any] = {
    **TINY_MODEL,
    "initial": 5,
    "top_k": 5,
    "pool": 40,
    "parents": 4,
    "steps": 8,
    "checkpoints": 4,
    "epochs": 4,
    "round_epochs": 1,
    "batch_size": 32,
}


# ------------------------------------------------------------------- synthetic benchmark
def _hash(key: str, salt: str) -> float:
    return int(hashlib.sha1((salt + key).encode()).hexdigest()[:8], 16) / 2**32


class _HashMetric(MetricSource):
    def __init__(self, records: RecordIndex[Any], salt: str, low: float, span: float) -> None:
        self.records, self.salt, self.low, self.span = records, salt, low, span

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        keys = [str(self.records.key_at(int(i))) for i in indices]
        return np.array([self.low + self.span * _hash(k, self.salt) for k in keys])


def synthetic_oracle(space_name: str, budget: int) -> Oracle[Any]:
    """Every valid cell answerable; value in [50, 100) and ``params`` in [1, 3) per function."""
    space = registry.create("search_space", space_name)
    records: GrowingRecordIndex[Any] = GrowingRecordIndex(space.canonical, key_name="canonical")
    info = {"benchmark": f"synthetic-{space_name}", "search_metric": "hash"}
    props = {"params": _HashMetric(records, "params", 1.0, 2.0)}
    return Oracle(space, records, _HashMetric(records, "", 50.0, 50.0), info, budget, props)


# ---------------------------------------------------------------------------- the model
@pytest.mark.parametrize("space", SPACES)
def test_decoding_is_valid_and_loss_terms_finite(space: str) -> None:
    model = GraphVAE(space, seed=0, **TINY_MODEL)
    cells = model.space.sample(12, seed=1)
    codes = np.random.default_rng(0).normal(0.0, 3.0, (20, model.latent_dim))
    for cell in model.decode(codes):
        model.space.validate(cell)
    terms = model.loss(
        model.batch(cells),
        torch.linspace(-1, 1, 12),
        torch.full((12,), float("nan")),
        torch.Generator().manual_seed(0),
    )
    for key in ("recon", "kl", "perf", "total"):
        assert torch.isfinite(terms[key]), key
    assert terms["recon"].item() > 0 and terms["kl"].item() >= 0
    assert terms["cost"].item() == 0.0  # no cost target given: the term is off
    history = model.fit(cells, perf=np.arange(12.0), cost=np.arange(12.0) % 3, epochs=3)
    assert len(history) == 3 and all(np.isfinite(v) for h in history for v in h.values())
    rep = model.reconstruction(cells)
    assert rep["valid"] == 1.0 and 0.0 <= rep["accuracy"] <= 1.0


def test_nb201_reconstruction_learns_and_is_deterministic() -> None:
    cells = GraphVAE("nb201", **TINY_MODEL).space.sample(120, seed=3)
    a = GraphVAE("nb201", seed=5, **TINY_MODEL)
    b = GraphVAE("nb201", seed=5, **TINY_MODEL)
    before = a.reconstruction(cells)["accuracy"]
    ha = a.fit(cells, epochs=25, seed=1)
    hb = b.fit(cells, epochs=25, seed=1)
    assert ha == hb
    np.testing.assert_array_equal(a.encode(cells[:5]), b.encode(cells[:5]))
    after = a.reconstruction(cells)["accuracy"]
    assert ha[-1]["recon"] < ha[0]["recon"] and after > before


# ------------------------------------------------------------- autoregressive decoder
AR_SPACES = ("nb201", "nb101")


@pytest.mark.parametrize("space", AR_SPACES)
def test_autoregressive_decoding_is_valid_and_teacher_forced_loss_finite(space: str) -> None:
    model = GraphVAE(space, seed=0, decoder="autoregressive", **TINY_MODEL)
    assert model.config()["decoder"] == "autoregressive"
    cells = model.space.sample(12, seed=1)
    codes = np.random.default_rng(0).normal(0.0, 3.0, (30, model.latent_dim))
    out = model.decode(codes)
    assert len(out) == 30
    for cell in out:
        model.space.validate(cell)
    batch = model.batch(cells)
    z = torch.randn(12, model.latent_dim, generator=torch.Generator().manual_seed(0))
    forced = model.scores(z, batch)
    free = model.scores(z)
    assert forced[0].shape == free[0].shape
    assert not torch.equal(forced[0], free[0])  # the target's choices are fed forward
    terms = model.loss(batch, generator=torch.Generator().manual_seed(0))
    assert all(torch.isfinite(terms[k]) for k in ("recon", "kl", "total"))
    terms["total"].backward()
    grads = [p.grad for p in model.decoder_net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_autoregressive_is_deterministic_under_a_seed() -> None:
    cells = GraphVAE("nb101", **TINY_MODEL).space.sample(40, seed=2)
    runs = []
    for _ in range(2):
        model = GraphVAE("nb101", seed=3, decoder="autoregressive", **TINY_MODEL)
        hist = model.fit(cells, epochs=3, seed=4)
        codes = np.random.default_rng(1).normal(size=(8, model.latent_dim))
        runs.append((hist, [model.space.to_text(c) for c in model.decode(codes)]))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("space", AR_SPACES)
def test_autoregressive_reconstructs_a_tiny_training_set(space: str) -> None:
    model = GraphVAE(space, seed=0, decoder="autoregressive", **TINY_MODEL)
    cells = model.space.sample(16, seed=5)
    before = model.reconstruction(cells)["accuracy"]
    hist = model.fit(cells, epochs=100, batch_size=8, lr=1e-2, seed=0)
    after = model.reconstruction(cells)
    assert hist[-1]["recon"] < 0.5 * hist[0]["recon"]
    assert after["valid"] == 1.0 and after["accuracy"] >= 0.875 > before


def test_decoder_choice_bad_input_is_one_line() -> None:
    # per-space defaults, as measured in docs/gvae_nao.md
    assert GraphVAE("nb101", **TINY_MODEL).decoder_kind == "autoregressive"
    assert GraphVAE("nb201", **TINY_MODEL).decoder_kind == "one-shot"
    assert GraphVAE("darts", **TINY_MODEL).decoder_kind == "one-shot"
    with pytest.raises(UsageError, match="decoder must be one of one-shot, autoregressive"):
        GraphVAE("nb201", decoder="rnn", **TINY_MODEL)
    with pytest.raises(UsageError, match="'darts' does not, use decoder='one-shot'"):
        GraphVAE("darts", decoder="autoregressive", **TINY_MODEL)
    with pytest.raises(UsageError, match="decoder must be one of"):
        GVAENAO(decoder="gru")


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_gradient_steps_increase_the_predicted_objective(lam: float) -> None:
    model = GraphVAE("nb201", seed=0, **TINY_MODEL)
    cells = model.space.sample(40, seed=0)
    rng = np.random.default_rng(0)
    model.fit(cells, perf=rng.normal(size=40), cost=rng.normal(size=40), epochs=3)
    path, values = model.ascend(model.encode(cells[:6]), steps=20, step_size=0.01, lam=lam)
    assert path.shape == (21, 6, model.latent_dim) and values.shape == (21, 6)
    assert (values[-1] > values[0]).all()
    assert (np.diff(values, axis=0) >= -1e-6).mean() > 0.95  # small steps: nearly monotone


def test_model_bad_input_is_one_line() -> None:
    with pytest.raises(UsageError, match="latent_dim"):
        GraphVAE("nb201", latent_dim=0)
    model = GraphVAE("nb201", **TINY_MODEL)
    with pytest.raises(UsageError, match=r"codes must have shape \[B, 8\]"):
        model.decode(np.zeros((2, 3)))
    with pytest.raises(UsageError, match="perf must have one value"):
        model.fit(model.space.sample(4, seed=0), perf=[1.0, 2.0], epochs=1)


# ----------------------------------------------------------------------------- the search
@pytest.mark.parametrize("space", SPACES)
def test_budget_exact_and_deterministic(space: str) -> None:
    a, b, c = (synthetic_oracle(space, 17) for _ in range(3))
    out = GVAENAO(**TINY).search(a, seed=3)
    GVAENAO(**TINY).search(b, seed=3)
    GVAENAO(**TINY).search(c, seed=4)
    assert a.num_queries == 17
    charged = [r for r in a.history if r.charged]
    assert len(charged) == 17 and len({r.record for r in charged}) == 17
    trace = [(r.record, r.value) for r in a.history]
    assert trace == [(r.record, r.value) for r in b.history]
    assert trace != [(r.record, r.value) for r in c.history]
    assert out.value == max(r.value for r in a.history)
    rounds = out.info["rounds"]
    assert sum(r["proposed"] + r["filled_random"] for r in rounds) == 12
    assert out.info["filled_random"] == sum(r["filled_random"] for r in rounds)


def test_lambda_sweep_returns_the_pareto_front_of_queried_cells() -> None:
    oracle = synthetic_oracle("nb201", 20)
    out = GVAENAO(**TINY, cost="params", lambdas=[0.0, 1.0, 4.0]).search(oracle, seed=0)
    assert [r["lam"] for r in out.info["rounds"]] == [0.0, 1.0, 4.0]
    front = out.info["front"]
    archs = [r.arch for r in oracle.history]
    acc = np.array([r.value for r in oracle.history])
    cost = oracle.property_values(archs, "params")
    assert len(front) == int(non_dominated(acc, cost).sum())
    assert {f["value"] for f in front} == set(acc[non_dominated(acc, cost)].tolist())
    assert [f["params"] for f in front] == sorted(f["params"] for f in front)


def test_search_bad_input_is_one_line() -> None:
    with pytest.raises(UsageError, match="name it with cost="):
        GVAENAO(lam=1.0)
    with pytest.raises(UsageError, match="lambdas"):
        GVAENAO(cost="params", lambdas=[])
    with pytest.raises(UsageError, match="initial"):
        GVAENAO(initial=1)
    with pytest.raises(UsageError, match="no cell property 'flops'"):
        GVAENAO(**TINY, cost="flops").search(synthetic_oracle("nb201", 10), seed=0)
    assert registry.create("search_method", "gvae-nao").config()["latent_dim"] == 56


def test_nb201_params_are_free_properties_and_searchable() -> None:
    bench = NB201Benchmark("cifar10", data_dir="none")
    oracle = bench.oracle(budget=15)
    cells = bench.space.sample(5, seed=0)
    assert "params_mb" in oracle.properties
    np.testing.assert_array_equal(
        oracle.property_values(cells, "params_mb"), bench.lookup(cells, "params_mb")
    )
    assert oracle.num_queries == 0  # reading a property charges nothing
    with pytest.raises(UsageError, match="unknown cell property"):
        oracle.property_values(cells, "val")
    out = GVAENAO(**TINY, cost="params_mb", lam=0.5).search(oracle, seed=0)
    assert oracle.num_queries == 15 and out.info["front"]


# ----------------------------------------------------------------------------- pareto
def test_pareto_on_hand_made_points() -> None:
    acc = [90, 92, 91, 92, 85, 93]
    cost = [1.0, 2.0, 2.0, 3.0, 0.5, 5.0]
    assert non_dominated(acc, cost).tolist() == [True, True, False, False, True, True]
    assert pareto_front(acc, cost).tolist() == [4, 0, 1, 5]
    # reference (80, 6): strips 0.5-1 at 85, 1-2 at 90, 2-5 at 92, 5-6 at 93
    hv = hypervolume_2d(acc, cost, ref=(80.0, 6.0))
    assert hv == pytest.approx(5 * 0.5 + 10 * 1 + 12 * 3 + 13 * 1)
    assert reference_point(acc, cost) == (85.0, 5.0)
    assert hypervolume_2d(acc, cost, ref=(95.0, 6.0)) == 0.0
    with pytest.raises(UsageError, match="same length"):
        non_dominated([1.0], [1.0, 2.0])


points = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=25).map(
    lambda xs: (np.array([x[0] for x in xs], float), np.array([x[1] for x in xs], float))
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pts=points, extra=st.tuples(st.integers(0, 50), st.integers(0, 50)))
def test_pareto_invariants(pts: tuple[np.ndarray, np.ndarray], extra: tuple[int, int]) -> None:
    acc, cost = pts
    mask = non_dominated(acc, cost)
    assert mask.any()
    for i in np.flatnonzero(mask):  # nothing dominates a front point
        dom = (acc >= acc[i]) & (cost <= cost[i]) & ((acc > acc[i]) | (cost < cost[i]))
        assert not dom.any()
    for i in np.flatnonzero(~mask):  # something dominates every other point
        dom = (acc >= acc[i]) & (cost <= cost[i]) & ((acc > acc[i]) | (cost < cost[i]))
        assert dom.any()
    ref = (-1.0, 51.0)
    hv = hypervolume_2d(acc, cost, ref)
    assert hv == pytest.approx(hypervolume_2d(acc[mask], cost[mask], ref))  # front suffices
    more = hypervolume_2d(np.append(acc, extra[0]), np.append(cost, extra[1]), ref)
    assert more >= hv - 1e-9  # adding a point never lowers the hypervolume
    assert hv <= (acc.max() - ref[0]) * (ref[1] - cost.min()) + 1e-9


def test_runner_records_both_objectives() -> None:
    from archperf.experiments.runner import run_one
    from archperf.experiments.spec import RunSpec

    spec = RunSpec(
        method="gvae-nao",
        method_kwargs={**TINY, "cost": "params_mb", "lam": 1.0},
        benchmark="nb201",
        dataset="cifar10",
        budget=12,
        seed=0,
        benchmark_kwargs={"data_dir": "none"},
    )
    rec = run_one(spec)
    params = rec["cell_properties"]["params_mb"]
    assert len(params) == len(rec["queries"]) and all(p > 0 for p in params)
    assert rec["outcome_info"]["cost"] == "params_mb"

    from archperf.experiments.tables import hypervolume_markdown, summarize_hypervolume

    rs = run_one(RunSpec("rs", "nb201", "cifar10", 12, 0, benchmark_kwargs={"data_dir": "none"}))
    rows = summarize_hypervolume([rec, rs], "params_mb", (0.0, 2.0))
    assert [r["label"] for r in rows] == ["gvae-nao", "rs"]
    acc = [q["value"] for q in rs["queries"] if q["charged"]]
    cost = [c for q, c in zip(rs["queries"], rs["cell_properties"]["params_mb"], strict=True)]
    assert rows[1]["hv_mean"] == pytest.approx(hypervolume_2d(acc, cost, (0.0, 2.0)))
    assert "| rs | 12 | 1 |" in hypervolume_markdown(rows)
    with pytest.raises(ValueError, match="no cell property 'flops'"):
        summarize_hypervolume([rs], "flops", (0.0, 1.0))


# ------------------------------------------------------------- two-objective RE baseline
def test_re_pareto_budget_determinism_and_front() -> None:
    from archperf.search.pareto_evolution import ParetoEvolution

    a, b = synthetic_oracle("nb201", 30), synthetic_oracle("nb201", 30)
    out = ParetoEvolution(cost="params", population_size=8, sample_size=3).search(a, seed=1)
    ParetoEvolution(cost="params", population_size=8, sample_size=3).search(b, seed=1)
    assert a.num_queries == 30
    assert [r.record for r in a.history] == [r.record for r in b.history]
    archs = [r.arch for r in a.history]
    acc = np.array([r.value for r in a.history])
    cost = a.property_values(archs, "params")
    assert len(out.info["front"]) == int(non_dominated(acc, cost).sum())
    assert out.value == acc.max()
    with pytest.raises(UsageError, match="no cell property 'flops'"):
        ParetoEvolution(cost="flops").search(synthetic_oracle("nb201", 5), seed=0)
    assert registry.create("search_method", "re-pareto", cost="params_mb").config()["cost"]


def test_plot_fronts(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    from archperf.pareto import plot_fronts

    fig = plot_fronts({"a": ([90, 92, 85], [1.0, 2.0, 0.5])}, ([93, 88], [1.5, 0.4]), "params")
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "true front"]


def test_search_under_a_constraint_queries_feasible_cells_only() -> None:
    from archperf.constraints import constrain

    bench = NB201Benchmark("cifar10", data_dir="none")
    oracle = bench.oracle(budget=15)
    constrain(oracle, bench, ["params_mb<=0.3"])
    GVAENAO(**TINY, cost="params_mb", lam=1.0).search(oracle, seed=0)
    archs = [r.arch for r in oracle.history]
    assert oracle.num_queries == 15
    assert max(oracle.property_values(archs, "params_mb")) <= 0.3
