"""The ``semigan-nad`` search and the trainer's pool averaging it relies on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.search.semigan import SemiGANNAD
from archperf.spaces.nb201 import NB201Space
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

TINY: dict[str, Any] = {
    "initial": 5,
    "top_k": 5,
    "num_candidates": 64,
    "finetune_epochs": 1,
    "unlabeled_size": 500,
    "trainer": {"epochs": 2, "unlabeled_batch_size": 32},
}


@pytest.fixture(scope="module")
def embedded() -> NB201Benchmark:
    return NB201Benchmark("cifar10", data_dir="none")


@pytest.fixture(scope="module")
def fitted() -> tuple[BiArch2Perf, list[Any]]:
    """PP alone on 40 cells, the whole NB201 space as pool."""
    space = NB201Space()
    cells = list(space.enumerate())
    rng = np.random.default_rng(0)
    idx = rng.choice(len(cells), 40, replace=False)
    y = rng.uniform(10, 90, size=40)
    cfg = TrainerConfig(epochs=3, adversarial=False, progress=False, device="cpu", seed=0)
    trainer = BiArch2Perf(cfg)
    trainer.fit([cells[i] for i in idx], y, cells)
    return trainer, cells


@pytest.mark.parametrize("candidates", ["generator", "uniform", "pool"])
def test_never_queries_two_equivalent_cells(embedded: NB201Benchmark, candidates: str) -> None:
    oracle = embedded.oracle(budget=40)
    SemiGANNAD(candidates=candidates, **TINY).search(oracle, seed=3)
    space = NB201Space()
    keys = [space.canonical(r.arch) for r in oracle.history if r.charged]
    assert len(keys) == 40
    assert len(set(keys[5:])) == len(keys[5:])  # proposals: all distinct classes
    assert not set(keys[5:]) & set(keys[:5])  # ... and none equivalent to a random one


def test_rounds_are_recorded(embedded: NB201Benchmark) -> None:
    out = SemiGANNAD(**TINY).search(embedded.oracle(budget=23), seed=0)
    rounds = out.info["rounds"]
    assert [len(r["values"]) for r in rounds] == [5, 5, 5, 3]
    assert all(r["proposed"] + r["filled_uniform"] == len(r["values"]) for r in rounds)
    assert [r["mutants"] for r in rounds] == [5 * 20, 5 * 20, 5 * 20, 5 * 20]
    assert all(r["drawn"] == 64 for r in rounds)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidates": "random"}, "candidates must be one of"),
        ({"initial": 1}, "initial must be an integer >= 2"),
        ({"top_k": 0}, "top_k must be an integer >= 1"),
        ({"trainer": {"seed": 1}}, "trainer.seed is set by the search"),
        ({"trainer": {"epochs": -1}}, "epochs must be >= 0"),
        ({"candidates": "generator", "trainer": {"adversarial": False}}, "needs a trained AG"),
    ],
)
def test_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SemiGANNAD(**kwargs)


def test_budget_too_small_is_one_clear_error(embedded: NB201Benchmark) -> None:
    with pytest.raises(ValueError, match=r"needs a budget of at least 11 .*--budget"):
        SemiGANNAD().search(embedded.oracle(budget=10), seed=0)


def test_registered() -> None:
    method = registry.create("search_method", "semigan-nad", candidates="uniform")
    assert isinstance(method, SemiGANNAD)
    assert method.config()["candidates"] == "uniform"


# ---- pool averaging -----------------------------------------------------------------------


def test_equivalent_pool_cells_get_one_prediction(fitted: tuple[BiArch2Perf, list[Any]]) -> None:
    trainer, _ = fitted
    space = trainer.space
    classes = space.canonical_classes()  # type: ignore[attr-defined]
    big = max(classes.values(), key=len)
    pred = trainer.predict(big)
    assert np.allclose(pred, pred[0])
    raw = trainer.predict(big, raw=True)
    assert not np.allclose(raw, raw[0])  # PP alone tells them apart: the mean is a change
    assert pred[0] == pytest.approx(float(raw.mean()), rel=1e-9, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 15_624), min_size=1, max_size=30))
def test_predict_agrees_with_pool_predictions(
    fitted: tuple[BiArch2Perf, list[Any]], idx: list[int]
) -> None:
    trainer, cells = fitted
    pool = trainer.pool_predictions()
    assert np.allclose(trainer.predict([cells[i] for i in idx]), pool[idx])


def test_pool_averaging_off_gives_raw_predictions() -> None:
    space = NB201Space()
    cells = list(space.enumerate())[:600]
    y = np.linspace(20, 80, 30)
    cfg = TrainerConfig(
        epochs=2, adversarial=False, pool_averaging=False, progress=False, device="cpu"
    )
    trainer = BiArch2Perf(cfg)
    trainer.fit(cells[:30], y, cells)
    assert np.array_equal(trainer.predict(cells[:50]), trainer.predict(cells[:50], raw=True))


def test_component_kwargs_size_their_encoders() -> None:
    """predictor_kwargs reach PP's encoder; D keeps its own defaults (layer norm, 3 layers)."""
    space = NB201Space()
    cells = list(space.enumerate())[:100]
    cfg = TrainerConfig(
        epochs=1,
        progress=False,
        device="cpu",
        predictor_kwargs={"hidden_dim": 24, "norm": "layer"},
    )
    trainer = BiArch2Perf(cfg)
    trainer.fit(cells[:20], np.linspace(20, 80, 20), cells)
    enc = trainer.predictor.encoder  # type: ignore[union-attr]
    assert (enc.hidden_dim, enc.norm, enc.num_layers) == (24, "layer", 4)
    denc = trainer.discriminator.encoder  # type: ignore[union-attr]
    assert (denc.norm, denc.num_layers) == ("layer", 3)


def test_pool_candidates_without_mutants(embedded: NB201Benchmark) -> None:
    oracle = embedded.oracle(budget=15)
    out = SemiGANNAD(candidates="pool", parents=0, **TINY).search(oracle, seed=2)
    assert oracle.num_queries == 15
    assert all(r["mutants"] == 0 for r in out.info["rounds"])


def test_predict_of_nothing_is_empty(fitted: tuple[BiArch2Perf, list[Any]]) -> None:
    assert fitted[0].predict([]).shape == (0,)


def test_generator_candidates_train_without_pp_guidance() -> None:
    """PP guidance made AG's NB301 search worse (bench/results/
    semigan_search_nb301_generator_guidance_partial.json): the search turns it off unless asked."""
    from archperf.search.semigan import SemiGANNAD

    cfg = SemiGANNAD(candidates="generator")._trainer_config({})
    assert cfg.adversarial and cfg.predictor_guidance_weight == 0.0
    asked = SemiGANNAD(candidates="generator", trainer={"predictor_guidance_weight": 1.0})
    assert asked._trainer_config({}).predictor_guidance_weight == 1.0


# ---- candidates="auto": one recipe per kind of space ---------------------------------------


def test_auto_is_uniform_on_an_enumerable_space(embedded: NB201Benchmark) -> None:
    """The default (``"auto"``) searches NB201 exactly like ``candidates="uniform"``."""
    auto = SemiGANNAD(**TINY)
    assert auto.config()["candidates"] == "auto"
    assert auto.for_space(embedded.space).candidates == "uniform"
    a, b = embedded.oracle(budget=15), embedded.oracle(budget=15)
    out = auto.search(a, seed=2)
    SemiGANNAD(**{**TINY, "candidates": "uniform"}).search(b, seed=2)
    assert [r.record for r in a.history] == [r.record for r in b.history]
    assert out.info["settings"]["candidates"] == "uniform"
    assert out.info["settings"]["parents"] == 5  # ROUND_DEFAULTS
    untouched = SemiGANNAD().config()
    assert untouched["initial"] is None and untouched["parents"] is None


def test_auto_lets_the_generator_propose_where_the_space_cannot_be_enumerated() -> None:
    """On DARTS ``"auto"`` is AG in ``rounds`` rounds after ``budget − rounds·top_k`` random
    cells, no mutants, guidance on; given settings win; the budget is exact; it matches
    multi-round NACG with the same settings query for query."""
    from archperf.search.nacg import multi_round_nacg
    from archperf.search.semigan import GENERATOR_RECIPE, GENERATOR_TRAINER
    from test_gvae_nao import synthetic_oracle

    tiny = {"num_candidates": 40, "unlabeled_size": 60, "top_k": 3, "rounds": 2}
    trainer = {"epochs": 2, "unlabeled_batch_size": 32}
    method = SemiGANNAD(**tiny, trainer=trainer)
    space = registry.create("search_space", "darts")
    resolved = method.for_space(space)
    got = resolved.settings()
    assert got["candidates"] == "generator" and got["parents"] == GENERATOR_RECIPE["parents"]
    assert got["finetune_epochs"] == GENERATOR_RECIPE["finetune_epochs"]
    assert got["rounds"] == 2 and got["initial"] is None and got["num_candidates"] == 40
    assert got["trainer"] == {**GENERATOR_TRAINER, **trainer}
    oracle = synthetic_oracle("darts", 14)
    out = method.search(oracle, seed=1)
    assert oracle.num_queries == 14 and len(out.info["rounds"]) == 2
    assert out.info["initial"] == 8 and out.info["settings"]["candidates"] == "generator"
    twin = synthetic_oracle("darts", 14)
    multi_round_nacg(
        rounds=2,
        top_k=3,
        num_candidates=40,
        unlabeled_size=60,
        finetune_epochs=GENERATOR_RECIPE["finetune_epochs"],
        trainer={**GENERATOR_TRAINER, **trainer},
    ).search(twin, seed=1)
    # record ids of this synthetic table follow lookup order, so compare the cells themselves
    assert [space.canonical(r.arch) for r in oracle.history] == [
        space.canonical(r.arch) for r in twin.history
    ]
    with pytest.raises(ValueError, match=r"at least 8, got 7: raise --budget"):
        SemiGANNAD(top_k=3, rounds=2).search(synthetic_oracle("darts", 7), seed=0)
    with pytest.raises(ValueError, match="rounds"):
        SemiGANNAD(rounds=0)
