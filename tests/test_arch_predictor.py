"""The stand-alone predictor: registry kind ``arch_predictor``, name ``"gin"`` (issue #14)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.errors import ArchperfError, NotFittedError, UsageError
from archperf.interfaces import ArchPredictor
from archperf.nn.serialization import ComponentFormatError
from archperf.predictors.gin import GINArchPredictor
from archperf.spaces.nb201 import NB201Space
from archperf.stats import kendall_tau


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _synthetic(n: int, seed: int) -> tuple[list, np.ndarray]:
    """NB201 cells with a made-up but learnable score (for mechanics tests, not results)."""
    cells = NB201Space().sample(n, seed=seed)
    ops = np.array([c.ops[1:7] for c in cells], dtype=float)
    y = 70 + 3.0 * (ops == 4).sum(1) + 1.5 * (ops == 3).sum(1) - 4.0 * (ops == 1).sum(1)
    return cells, y


def _small(**kw: object) -> GINArchPredictor:
    out = registry.create(
        "arch_predictor", "gin", **{"space": "nb201", "seed": 3, "epochs": 15, **kw}
    )
    assert isinstance(out, GINArchPredictor)
    return out


@pytest.fixture(scope="module")
def fitted() -> tuple[GINArchPredictor, list, list]:
    cells, y = _synthetic(64, 0)
    pool = NB201Space().sample(600, seed=1) + cells
    return _small().fit(cells, y, pool=pool), cells, pool


def test_registered_and_learns(fitted: tuple[GINArchPredictor, list, list]) -> None:
    model, _, _ = fitted
    assert isinstance(model, ArchPredictor) and registry.get("arch_predictor", "gin") is (
        GINArchPredictor
    )
    test, truth = _synthetic(200, 7)
    pred = model.predict(test)
    assert pred.dtype == np.float64 and pred.shape == (200,)
    assert kendall_tau(pred, truth) > 0.5  # a learnable synthetic score is learned


def test_same_seed_same_model_other_seed_another() -> None:
    cells, y = _synthetic(24, 2)
    test = NB201Space().sample(30, seed=9)
    a = _small(epochs=3).fit(cells, y).predict(test)
    b = _small(epochs=3).fit(cells, y).predict(test)
    c = registry.create("arch_predictor", "gin", space="nb201", seed=4, epochs=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c.fit(cells, y).predict(test))


def test_clear_errors() -> None:
    cells, y = _synthetic(8, 0)
    model = _small(epochs=1)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(cells)
    with pytest.raises(NotFittedError):
        model.save("never-written")
    with pytest.raises(UsageError, match="8 architectures but y has shape"):
        model.fit(cells, y[:5])
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(UsageError, match=r"y\[3\] is nan"):
        model.fit(cells, bad)
    with pytest.raises(UsageError, match="at least two"):
        model.fit(cells[:1], y[:1])
    with pytest.raises(UsageError, match="epochs must be >= 0"):
        registry.create("arch_predictor", "gin", space="nb201", epochs=-1)
    with pytest.raises(UsageError, match="SearchSpace or a registered name"):
        GINArchPredictor(space=3)  # type: ignore[arg-type]
    assert issubclass(NotFittedError, ArchperfError) and issubclass(UsageError, ArchperfError)
    assert model.fit(cells, y).predict([]).shape == (0,)  # fit returns self


def test_targets_outside_a_percent_range_are_fine() -> None:
    """A stand-alone model regresses any finite target (latency, log-scale, negative)."""
    cells, y = _synthetic(16, 4)
    pred = _small(epochs=2).fit(cells, -1e3 * y).predict(cells)
    assert np.isfinite(pred).all()


def test_save_load_round_trip_and_tampering(
    fitted: tuple[GINArchPredictor, list, list], tmp_path: Path
) -> None:
    model, _, pool = fitted
    model.save(tmp_path / "m")
    back = GINArchPredictor.load(tmp_path / "m")
    assert back.to_config() == model.to_config()
    test = NB201Space().sample(50, seed=5) + pool[:20]
    np.testing.assert_array_equal(back.predict(test), model.predict(test))
    assert not list((tmp_path / "m").rglob("*.pt")) and not list((tmp_path / "m").rglob("*.pkl"))
    doc_path = tmp_path / "m" / "arch_predictor.json"
    doc = json.loads(doc_path.read_text())
    doc["pool"]["mean"][0] += 1.0
    doc_path.write_text(json.dumps(doc))
    with pytest.raises(ComponentFormatError, match="not the file recorded"):
        GINArchPredictor.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        GINArchPredictor.load(tmp_path / "nothing")


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_predictions_do_not_depend_on_order_or_company(
    fitted: tuple[GINArchPredictor, list, list], data: st.DataObject
) -> None:
    """A cell's prediction is a function of the cell: the same in any order and batch, and
    equal for equivalent cells of the pool (pool averaging)."""
    model, _, pool = fitted
    idx = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=40))
    archs = [pool[i] for i in idx]
    perm = data.draw(st.permutations(range(len(archs))))
    once = model.predict(archs)
    again = model.predict([archs[i] for i in perm])
    np.testing.assert_array_equal(again, once[list(perm)])
    space = NB201Space()
    by_class: dict[str, float] = {}
    for a, p in zip(archs, once, strict=True):
        assert by_class.setdefault(space.canonical(a), p) == p


def test_default_recipe_on_real_nb201() -> None:
    """With the real NB201 validation accuracies: the default model with a pool is the recipe
    of docs/training.md (PP alone + pool averaging), and ranks the other cells well."""
    from conftest import require_data_file

    require_data_file("nb201/nb201.csv")
    from archperf.benchmarks.nb201 import NB201Benchmark
    from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

    bench = NB201Benchmark(dataset="cifar10")
    cells = list(bench.space.enumerate())
    y = np.asarray(bench.lookup(cells, "val"), dtype=np.float64)
    order = np.random.default_rng(1000).permutation(len(cells))
    lab, rest = order[:100], order[100:]
    labeled = [cells[i] for i in lab]
    others = [cells[i] for i in rest]
    model = registry.create("arch_predictor", "gin", space="nb201", seed=0)
    pred = model.fit(labeled, y[lab], pool=cells).predict(others)
    cfg = TrainerConfig(space="nb201", seed=0, adversarial=False, progress=False, device="cpu")
    recipe = BiArch2Perf(cfg)
    recipe.fit(labeled, y[lab], cells)
    np.testing.assert_array_equal(pred, recipe.predict(others))
    assert kendall_tau(pred, y[rest]) > 0.65  # docs: 0.730 ± 0.018 over 5 seeds at 100 labels
