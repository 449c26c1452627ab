"""The ``xgb`` arch_predictor: determinism, save/load, clear errors, the missing extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.errors import ArchperfError, CheckpointError, UsageError
from archperf.spaces.darts import DartsSpace
from archperf.spaces.nb101 import NB101Space
from archperf.spaces.nb201 import NB201Space


def test_missing_xgboost_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs with or without xgboost installed: an import that fails says how to install."""
    from archperf.predictors import xgb as module

    monkeypatch.setitem(sys.modules, "xgboost", None)  # `import xgboost` raises ImportError
    with pytest.raises(module.XGBoostMissingError, match=r"pip install 'archperf\[xgb\]'") as e:
        registry.create("arch_predictor", "xgb", space=NB201Space(), seed=0)
    assert isinstance(e.value, ArchperfError) and isinstance(e.value, ImportError)
    assert "\n" not in str(e.value)


def test_registered_without_importing_xgboost() -> None:
    assert "xgb" in registry.names("arch_predictor")


xgboost = pytest.importorskip(
    "xgboost", reason="xgboost is not installed: pip install 'archperf[xgb]'"
)

SMALL = {"n_estimators": 30, "max_depth": 3}


def _data(n: int = 60, seed: int = 0) -> tuple[NB201Space, list, np.ndarray]:
    space = NB201Space()
    cells = space.sample(n, seed)
    ops = np.array([space.to_op_indices(c) for c in cells])
    y = 80 + 2.0 * (ops == 3).sum(1) - 1.5 * (ops == 0).sum(1) + np.sin(np.arange(n))
    return space, cells, y


def _fit(space, cells, y, seed=0, **kw):
    return registry.create("arch_predictor", "xgb", space=space, seed=seed, **{**SMALL, **kw}).fit(
        cells, y
    )


def test_fit_predict_is_deterministic_for_a_seed() -> None:
    space, cells, y = _data()
    test = space.sample(200, 9)
    a = _fit(space, cells, y, seed=3).predict(test)
    b = _fit(space, cells, y, seed=3).predict(test)
    c = _fit(space, cells, y, seed=4).predict(test)
    assert a.dtype == np.float64 and a.shape == (200,)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)  # row and column subsampling follow the seed
    assert np.array_equal(_fit(space, cells, y, seed=np.int64(3)).predict(test), a)
    assert np.corrcoef(_fit(space, cells, y).predict(cells), y)[0, 1] > 0.8  # it learns


def test_predictions_are_in_the_target_units_and_empty_input_works() -> None:
    space, cells, y = _data()
    model = _fit(space, cells, y)
    pred = model.predict(cells)
    assert abs(pred.mean() - y.mean()) < 1.0
    assert model.predict([]).shape == (0,)


@pytest.mark.parametrize("features", ["onehot", "path", "onehot+path"])
def test_save_load_round_trip_gives_equal_predictions(tmp_path: Path, features: str) -> None:
    space, cells, y = _data()
    model = _fit(space, cells, y, features=features, objective="rank:pairwise")
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m")
    test = space.sample(100, 5)
    assert np.array_equal(loaded.predict(test), model.predict(test))
    assert loaded.to_config() == model.to_config()
    settings_doc = json.loads((tmp_path / "m" / "settings.json").read_text())
    assert settings_doc["space"] == "nb201" and settings_doc["config"]["features"] == features
    model_doc = json.loads((tmp_path / "m" / "model.json").read_text())  # XGBoost's own JSON
    assert "learner" in model_doc
    assert not list((tmp_path / "m").glob("*.pkl"))


@pytest.mark.parametrize(
    ("space", "kind"),
    [(NB101Space(), "onehot+adjacency"), (NB101Space(), "path"), (DartsSpace(), "onehot+path")],
)
def test_other_spaces(tmp_path: Path, space, kind: str) -> None:
    archs = (
        space.sample(40, 1, method="rejection") if space.name == "nb101" else space.sample(40, 1)
    )
    y = np.random.default_rng(0).normal(90, 2, size=40)
    model = _fit(space, archs, y, features=kind)
    model.save(tmp_path)
    assert np.array_equal(type(model).load(tmp_path).predict(archs), model.predict(archs))


def test_load_refuses_damaged_or_mismatched_saves(tmp_path: Path) -> None:
    from archperf.predictors.xgb import XGBPredictor

    space, cells, y = _data()
    _fit(space, cells, y, features="onehot").save(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        XGBPredictor.load(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match=r"space 'nb201', not 'darts'"):
        XGBPredictor.load(tmp_path, space=DartsSpace())
    model = (tmp_path / "model.json").read_bytes()
    (tmp_path / "model.json").write_bytes(model.replace(b'"', b"'", 1))
    with pytest.raises(CheckpointError, match="SHA-256"):
        XGBPredictor.load(tmp_path)
    (tmp_path / "model.json").write_bytes(model)
    doc = json.loads((tmp_path / "settings.json").read_text())
    for key, value, message in [
        ("version", 99, "format version 99"),
        ("format", "pickle", "not a saved xgb predictor"),
        ("target_scale", [0.0, float("nan")], "not valid JSON|two finite"),
        ("target_scale", [0.0, -1.0], "non-positive"),
        ("num_features", 7, "reads 7 features"),
        ("config", {**doc["config"], "max_depth": 0}, "bad config"),
        ("config", {**doc["config"], "features": "path"}, "30 features but .* gives 84"),
    ]:
        (tmp_path / "settings.json").write_text(json.dumps({**doc, key: value}))
        with pytest.raises(CheckpointError, match=message):
            XGBPredictor.load(tmp_path)
    (tmp_path / "settings.json").write_text("[" * 100000)
    with pytest.raises(CheckpointError, match="deeper"):
        XGBPredictor.load(tmp_path)


def test_not_xgboost_json_is_refused(tmp_path: Path) -> None:
    import hashlib

    from archperf.predictors.xgb import XGBPredictor

    space, cells, y = _data()
    _fit(space, cells, y).save(tmp_path)
    junk = b'{"hello": "world"}'
    (tmp_path / "model.json").write_bytes(junk)
    doc = json.loads((tmp_path / "settings.json").read_text())
    doc["model_sha256"] = hashlib.sha256(junk).hexdigest()
    (tmp_path / "settings.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="not an XGBoost model"):
        XGBPredictor.load(tmp_path)


def test_bad_input_is_one_clear_line() -> None:
    space, cells, y = _data(10)
    make = registry.create
    cases = [
        (lambda: make("arch_predictor", "xgb", space=space, features="adjacency"), "kinds are"),
        (lambda: make("arch_predictor", "xgb", space=space, max_depth=0), "max_depth"),
        (lambda: make("arch_predictor", "xgb", space=space, learning_rate=float("nan")), "rate"),
        (lambda: make("arch_predictor", "xgb", space=space, seed=True), "seed"),
        (lambda: make("arch_predictor", "xgb", space=space, objective="l1"), "objective"),
        (lambda: make("arch_predictor", "xgb", space="nb201"), "SearchSpace"),
        (lambda: _fit(space, cells, y[:5]), "10 architectures but 5 targets"),
        (lambda: _fit(space, cells[:1], y[:1]), "at least 2"),
        (lambda: _fit(space, cells, np.where(np.arange(10) == 3, np.nan, y)), "item 3 is nan"),
        (lambda: _fit(space, cells, ["a"] * 10), "numbers"),
        (lambda: make("arch_predictor", "xgb", space=space).predict(cells), "not fitted"),
        (lambda: make("arch_predictor", "xgb", space=space).save("x"), "not fitted"),
        (lambda: _fit(space, cells, y).predict("abc"), "sequence"),
    ]
    for call, message in cases:
        with pytest.raises(UsageError, match=message) as e:
            call()
        assert "\n" not in str(e.value)


def test_space_without_features_is_refused() -> None:
    from archperf.interfaces import SearchSpace

    class Bare(SearchSpace[int]):  # a space without the HasFeatures ability
        name = "bare"
        validate = canonical = to_text = from_text = to_graph = sample = mutate = None  # type: ignore[assignment]

    Bare.__abstractmethods__ = frozenset()
    with pytest.raises(UsageError, match="'bare' has no features"):
        registry.create("arch_predictor", "xgb", space=Bare())


@given(st.integers(0, 2**16), st.lists(st.integers(0, 4), min_size=6, max_size=6))
@settings(deadline=None, max_examples=15)
def test_path_model_gives_equal_predictions_where_only_a_dead_edge_differs(
    seed: int, ops: list[int]
) -> None:
    """On path features a change on a dead edge (edge 1←0 is none: edges 2←1 and 3←1 carry
    nothing) is invisible to the model, as it is to the network."""
    space = NB201Space()
    cells = space.sample(40, seed)
    y = np.random.default_rng(seed).normal(size=40)
    model = _fit(space, cells, y, seed=seed % 7, features="path")
    dead = [0, *ops[1:]]
    other = list(dead)
    other[2], other[4] = (dead[2] + 1) % 5, (dead[4] + 2) % 5
    pred = model.predict([space.from_ops(dead), space.from_ops(other)])
    assert pred[0] == pred[1]


@pytest.mark.parametrize("name", ["nb101", "nb201", "darts"])
def test_default_features_are_offered_by_each_builtin_space(name: str) -> None:
    space = registry.create("search_space", name)
    assert space.tree_features in space.feature_kinds
    model = registry.create("arch_predictor", "xgb", space=space)
    assert model.features == space.tree_features == model.to_config()["features"]
