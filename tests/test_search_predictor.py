"""``semigan-nad`` ranked by a named ``arch_predictor`` (``predictor=NAME``) instead of PP."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.errors import UnknownComponentError, UsageError
from archperf.hookspecs import hookimpl
from archperf.interfaces import ArchPredictor
from archperf.search.semigan import SemiGANNAD
from archperf.spaces.nb201 import NB201Space

TINY: dict[str, Any] = {
    "initial": 5,
    "top_k": 5,
    "num_candidates": 64,
    "finetune_epochs": 1,
    "unlabeled_size": 500,
    "trainer": {"epochs": 2, "unlabeled_batch_size": 32},
}


class CountConv(ArchPredictor[Any]):
    """A stand-in model: the number of nor_conv_3x3 edges (it ignores its labels)."""

    name = "count-conv"
    fits: ClassVar[list[int]] = []

    def __init__(self, space: NB201Space, seed: int = 0, weight: float = 1.0) -> None:
        self.space, self.seed, self.weight = space, seed, weight

    def fit(self, archs: Sequence[Any], y: Any) -> CountConv:
        assert len(archs) == len(y)
        CountConv.fits.append(len(archs))
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        ops = [self.space.to_op_indices(a) for a in archs]
        return self.weight * np.array([o.count(3) for o in ops], dtype=np.float64)

    def save(self, path: Any) -> None:  # pragma: no cover - not used
        raise NotImplementedError

    @classmethod
    def load(cls, path: Any) -> CountConv:  # pragma: no cover - not used
        raise NotImplementedError


class _Plugin:
    @hookimpl
    def archperf_arch_predictors(self) -> dict[str, Any]:
        return {"count-conv": CountConv}


@pytest.fixture
def count_conv() -> Iterator[None]:
    reg = registry.default_registry()
    plugin = _Plugin()
    reg.register(plugin, name="test-count-conv")
    CountConv.fits.clear()
    try:
        yield
    finally:
        reg.plugin_manager.unregister(plugin)


@pytest.fixture(scope="module")
def embedded() -> NB201Benchmark:
    return NB201Benchmark("cifar10", data_dir="none")


@pytest.mark.parametrize("candidates", ["uniform", "pool", "generator"])
def test_named_predictor_ranks_and_the_budget_is_exact(
    embedded: NB201Benchmark, count_conv: None, candidates: str
) -> None:
    oracle = embedded.oracle(budget=27)
    method = SemiGANNAD(candidates=candidates, predictor="count-conv", **TINY)
    out = method.search(oracle, seed=1)
    charged = [r for r in oracle.history if r.charged]
    assert len(charged) == 27 == oracle.num_queries
    space = NB201Space()
    keys = [space.canonical(r.arch) for r in charged]
    assert len(set(keys[5:])) == len(keys[5:]) and not set(keys[5:]) & set(keys[:5])
    assert out.info["ranker"] == "count-conv"
    assert CountConv.fits == [5, 10, 15, 20, 25]  # refitted on every queried cell each round
    if candidates != "generator":
        assert out.info["device"] == "cpu"  # no Bi-Arch2Perf was trained
    # the proposals are the predictor's favourites: many nor_conv_3x3 edges
    conv = [space.to_op_indices(r.arch).count(3) for r in charged]
    assert np.mean(conv[5:]) > np.mean(conv[:5]) + 1
    for info in out.info["rounds"]:
        assert info["predicted"] == sorted(info["predicted"], reverse=True)


def test_same_seed_same_queries_and_settings_reach_the_model(
    embedded: NB201Benchmark, count_conv: None
) -> None:
    runs = []
    for _ in range(2):
        oracle = embedded.oracle(budget=15)
        out = SemiGANNAD(predictor="count-conv", predictor_settings={"weight": 2.0}, **TINY).search(
            oracle, seed=4
        )
        runs.append([embedded.space.to_text(r.arch) for r in oracle.history])
        assert max(out.info["rounds"][0]["predicted"]) % 2 == 0
    assert runs[0] == runs[1]


def test_config_names_the_predictor_only_when_set(count_conv: None) -> None:
    assert "predictor" not in SemiGANNAD().config()  # PP-ranked runs keep their old configs
    cfg = SemiGANNAD(predictor="count-conv", predictor_settings={"weight": 3}).config()
    assert cfg["predictor"] == "count-conv" and cfg["predictor_settings"] == {"weight": 3}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"predictor": "nope"}, UnknownComponentError, "no arch_predictor named 'nope'"),
        ({"predictor": 3}, UsageError, "name of an arch_predictor"),
        ({"predictor_settings": {"features": "path"}}, UsageError, "predictor is not"),
        ({"predictor": "xgb", "predictor_settings": {"seed": 1}}, UsageError, "seed is set"),
        ({"predictor": "xgb", "predictor_settings": "path"}, UsageError, "table"),
    ],
)
def test_bad_predictor_options_are_clear(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SemiGANNAD(**kwargs)


def test_bad_predictor_settings_fail_before_any_query(
    embedded: NB201Benchmark, count_conv: None
) -> None:
    from archperf.search.nacg import NACG

    for method in (
        SemiGANNAD(predictor="count-conv", predictor_settings={"colour": "red"}, **TINY),
        NACG(predictor="count-conv", predictor_settings={"colour": "red"}, **TINY_NACG),
    ):
        oracle = embedded.oracle(budget=20)
        with pytest.raises(UsageError, match=r"'count-conv' does not take .*'colour'"):
            method.search(oracle, seed=0)
        assert oracle.num_queries == 0


def test_xgb_ranks_a_search(embedded: NB201Benchmark) -> None:
    pytest.importorskip("xgboost", reason="xgboost is not installed: pip install 'archperf[xgb]'")
    oracle = embedded.oracle(budget=30)
    out = SemiGANNAD(
        predictor="xgb", predictor_settings={"n_estimators": 50, "features": "path"}, **TINY
    ).search(oracle, seed=0)
    assert oracle.num_queries == 30 and out.info["ranker"] == "xgb"


TINY_NACG: dict[str, Any] = {
    "num_candidates": 64,
    "unlabeled_size": 300,
    "trainer": {"epochs": 2, "unlabeled_batch_size": 32},
}


def test_nacg_ranked_by_a_named_predictor_keeps_the_budget(
    embedded: NB201Benchmark, count_conv: None
) -> None:
    from archperf.search.nacg import NACG, multi_round_nacg

    oracle = embedded.oracle(budget=24)
    out = multi_round_nacg(
        rounds=2, top_k=3, finetune_epochs=1, predictor="count-conv", **TINY_NACG
    ).search(oracle, seed=2)
    assert oracle.num_queries == 24 and out.info["ranker"] == "count-conv"
    assert CountConv.fits == [18, 21]  # the labelled cells, then + the first round's 3
    for info in out.info["rounds"]:
        assert info["predicted"] == sorted(info["predicted"], reverse=True)
    assert "predictor" not in NACG().config()
    assert NACG(predictor="count-conv").config()["predictor"] == "count-conv"
    with pytest.raises(UnknownComponentError, match="no arch_predictor named 'gbm'"):
        NACG(predictor="gbm")
