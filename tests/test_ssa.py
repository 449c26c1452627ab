"""The Semi-Supervised Assessor (``ssa`` arch_predictor, issue #16): its neighbour graph on
hand-made cells, determinism, save/load, input errors, and its use in a predictor-guided search.
Made-up targets: these test mechanics, not ranking quality (bench/predictor_ssa.py does that)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.errors import NotFittedError, UsageError
from archperf.interfaces import SemiSupervised
from archperf.nn.serialization import ComponentFormatError
from archperf.predictors.ssa import (
    SSAPredictor,
    approx_neighbour_graph,
    ivf_lists,
    neighbour_graph,
)
from archperf.search.guided import NPENAS
from archperf.spaces.nb201 import NB201Space

SPACE = NB201Space()
TINY: dict[str, Any] = {"hidden_dim": 8, "num_layers": 2, "latent_dim": 8, "gcn_dim": 8}
TINY.update(steps=15, k=4)


def cell(ops: tuple[int, ...]) -> Any:
    """An NB201 cell from its six edge ops (0 none, 1 skip, 2 conv1x1, 3 conv3x3, 4 pool)."""
    return SPACE.from_ops(ops)


def _data(n: int = 60, seed: int = 0) -> tuple[list[Any], np.ndarray]:
    cells = SPACE.sample(n, seed)
    y = np.array([sum(o == 3 for o in SPACE.to_op_indices(c)) for c in cells], dtype=float)
    return cells, y + 0.1 * np.arange(n) % 1.0


def test_neighbour_graph_is_exact_on_hand_made_rows() -> None:
    ref = np.array([[0, 0], [1, 0], [0, 3], [5, 5], [1.1, 0.2]], dtype=np.float32)
    nbr = neighbour_graph(ref, 2)
    assert nbr.tolist() == [[1, 4], [4, 0], [0, 4], [2, 4], [1, 0]]
    # a query row is never its own neighbour there: the whole reference is searched
    assert neighbour_graph(ref, 1, query=ref[[3]]).tolist() == [[3]]
    with pytest.raises(UsageError, match="more than 5 cells"):
        neighbour_graph(ref, 5)


def test_neighbours_of_hand_made_cells_are_their_single_edge_mutants() -> None:
    """In the default features (NB201: canonical paths), a cell's nearest cells are one edge
    change away, and an equivalent cell (an op on a dead edge changed) is at distance 0."""
    base = (3, 3, 3, 3, 3, 3)
    near = [(2, 3, 3, 3, 3, 3), (3, 3, 3, 3, 3, 2)]
    far = [(0, 0, 0, 0, 0, 0), (4, 4, 4, 4, 4, 1), (1, 1, 1, 1, 1, 1)]
    model = SSAPredictor(space=SPACE)
    assert model.settings["features"] == "canonical-path"
    cells = [cell(base)] + [cell(o) for o in near] + [cell(o) for o in far]
    nbr = neighbour_graph(model.features_of(cells), 2)
    assert sorted(nbr[0].tolist()) == [1, 2]
    # dead edge: edge 0 (node 0 -> 1) feeds nothing when every edge out of node 1 is 'none'
    a, b = cell((3, 0, 0, 3, 0, 0)), cell((2, 0, 0, 3, 0, 0))
    assert SPACE.canonical(a) == SPACE.canonical(b)
    f = model.features_of([a, b, cell((3, 3, 3, 3, 3, 3))])
    assert neighbour_graph(f, 1)[0].tolist() == [1]
    assert float(np.abs(f[0] - f[1]).sum()) == 0.0


def test_approximate_graph_finds_nearly_all_true_neighbours() -> None:
    rng = np.random.default_rng(0)  # 120 columns, nearly all variance in 10 directions
    ref = rng.normal(size=(3000, 10)) @ rng.normal(size=(10, 120))
    ref = (ref + 0.01 * rng.normal(size=ref.shape)).astype(np.float32)
    exact = neighbour_graph(ref, 5)
    approx = approx_neighbour_graph(ref, 5, dim=16)
    assert approx.shape == exact.shape and (approx != np.arange(3000)[:, None]).all()
    d = ((ref[:, None] - ref[exact]) ** 2).sum(-1)[:, -1:]
    recall = (((ref[:, None] - ref[approx]) ** 2).sum(-1) <= d + 1e-3).mean()
    assert recall > 0.95
    query = ref[:7] + 0.01
    assert np.array_equal(approx_neighbour_graph(ref, 3, query, dim=16)[:, 0], np.arange(7))
    # narrow features are searched exactly
    assert np.array_equal(approx_neighbour_graph(ref[:, :10], 4), neighbour_graph(ref[:, :10], 4))


def _clusters(per: int = 12, seed: int = 0) -> np.ndarray:
    """Five tight clusters of ``per`` rows, far apart, with distinct distances inside each."""
    rng = np.random.default_rng(seed)
    centres = 10.0 * np.eye(5, 6)
    rows = centres.repeat(per, 0) + rng.uniform(0, 1, size=(5 * per, 6))
    return rows.astype(np.float32)


def test_inverted_file_graph_is_exact_on_separated_clusters() -> None:
    ref = _clusters()
    exact = neighbour_graph(ref, 4)
    for nprobe in (1, 2, 5):
        ivf = approx_neighbour_graph(ref, 4, lists=5, nprobe=nprobe)
        assert ivf.shape == (60, 4) and ivf.dtype == np.int64
        assert (ivf != np.arange(60)[:, None]).all()  # no row is its own neighbour
        assert np.array_equal(ivf, exact)
    # the lists are the clusters; a query finds its cluster's rows, nearest first
    _, assign = ivf_lists(torch.from_numpy(ref), 5, seed=0)
    assert sorted(np.bincount(assign.numpy()).tolist()) == [12] * 5
    assert len({tuple(assign[i * 12 : i * 12 + 12].unique().tolist()) for i in range(5)}) == 5
    query = ref[[3, 30]] + 0.01
    got = approx_neighbour_graph(ref, 3, query, lists=5, nprobe=1)
    assert np.array_equal(got, neighbour_graph(ref, 3, query))
    # wide features: projected on 4 directions, then re-ranked by the true distances
    wide = np.concatenate([ref, np.zeros((60, 70), dtype=np.float32)], 1)
    assert np.array_equal(approx_neighbour_graph(wide, 4, dim=4, lists=5, nprobe=2), exact)


def test_inverted_file_graph_is_deterministic_and_checks_its_settings() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(500, 8)).astype(np.float32)
    a = approx_neighbour_graph(ref, 6, lists=20, nprobe=3, tie_seed=2)
    assert np.array_equal(a, approx_neighbour_graph(ref, 6, lists=20, nprobe=3, tie_seed=2))
    assert a.shape == (500, 6) and (a != np.arange(500)[:, None]).all()
    assert all(len(set(row)) == 6 for row in a.tolist())  # no repeated neighbour
    tiny = approx_neighbour_graph(ref[:8], 6, lists=4, nprobe=1)  # lists too small: all rows
    assert np.array_equal(tiny, neighbour_graph(ref[:8], 6))
    with pytest.raises(UsageError, match="nprobe must be an integer >= 1"):
        approx_neighbour_graph(ref, 3, lists=4, nprobe=0)
    with pytest.raises(UsageError, match="lists must be an integer >= 1"):
        approx_neighbour_graph(ref, 3, lists=0)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(6, 60),
    d=st.integers(1, 5),
    k=st.integers(1, 5),
    lists=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_inverted_file_probing_every_list_is_an_exact_search(
    n: int, d: int, k: int, lists: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 4, size=(n, d)).astype(np.float32)  # small integers: many ties
    ivf = approx_neighbour_graph(ref, k, lists=lists, nprobe=lists, tie_seed=seed)
    exact = neighbour_graph(ref, k, tie_seed=seed)
    assert ivf.shape == (n, k) and (ivf != np.arange(n)[:, None]).all()
    dist = ((ref[:, None] - ref[ivf]) ** 2).sum(-1)
    kth = ((ref - ref[exact[:, -1]]) ** 2).sum(-1)
    assert (dist <= kth[:, None]).all()  # distance recall exactly 1
    assert np.array_equal(np.sort(dist, 1), np.sort(((ref[:, None] - ref[exact]) ** 2).sum(-1), 1))


def test_ties_do_not_favour_early_rows_and_are_fixed_by_the_seed() -> None:
    ref = np.zeros((50, 3), dtype=np.float32)  # every row equal: all ties
    a = neighbour_graph(ref, 5, tie_seed=0)
    assert np.array_equal(a, neighbour_graph(ref, 5, tie_seed=0))
    assert not np.array_equal(a, neighbour_graph(ref, 5, tie_seed=1))
    assert set(a[10].tolist()) != {0, 1, 2, 3, 4}


def test_fit_predict_is_deterministic_and_fitted_cells_keep_their_outputs() -> None:
    cells, y = _data()
    pool = SPACE.sample(200, 7)
    new = SPACE.sample(30, 99)
    runs = []
    for _ in range(2):
        m = registry.create("arch_predictor", "ssa", space="nb201", seed=3, **TINY)
        assert isinstance(m, SemiSupervised)
        m.fit(cells, y, unlabeled=pool)
        runs.append((m.predict(pool[:20]), m.predict(new)))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    assert runs[0][1].dtype == np.float64 and np.isfinite(runs[0][1]).all()
    other = SSAPredictor(space="nb201", seed=4, **TINY).fit(cells, y, unlabeled=pool)
    assert not np.array_equal(other.predict(new), runs[0][1])
    # a query does not change the fitted nodes; a batch predicts as its items one by one
    # (up to float32 rounding)
    assert np.array_equal(m.predict(pool[:20]), runs[0][0])
    assert m.predict(new[:1])[0] == pytest.approx(runs[0][1][0], rel=1e-6)
    assert m.predict([]).shape == (0,)


def test_labels_alone_and_a_tiny_graph_work() -> None:
    cells, y = _data(6)
    m = SSAPredictor(space="nb201", **{**TINY, "k": 10}).fit(cells, y)  # k capped at 5
    assert m.predict(SPACE.sample(3, 1)).shape == (3,)
    with_ae = SSAPredictor(space="nb201", recon_weight=0.5, pretrain_steps=3, **TINY)
    assert np.isfinite(with_ae.fit(cells, y, unlabeled=SPACE.sample(20, 2)).predict(cells)).all()
    no_graph = SSAPredictor(space="nb201", **{**TINY, "gcn_layers": 0}).fit(cells, y)
    assert np.isfinite(no_graph.predict(SPACE.sample(3, 1))).all()
    wide = {"features": "onehot+path+canonical-path", "knn": "approx"}  # 154 columns
    approx = SSAPredictor(space="nb201", **TINY, **wide).fit(cells, y, SPACE.sample(300, 3))
    assert np.isfinite(approx.predict(SPACE.sample(5, 4))).all()


def test_save_load_round_trip(tmp_path: Path) -> None:
    cells, y = _data()
    pool = SPACE.sample(100, 5)
    new = SPACE.sample(20, 11)
    m = SSAPredictor(space="nb201", seed=1, **TINY).fit(cells, y, unlabeled=pool)
    m.save(tmp_path / "m")
    back = SSAPredictor.load(tmp_path / "m")
    assert back.to_config() == m.to_config()
    assert np.array_equal(back.predict(cells + pool), m.predict(cells + pool))
    assert np.array_equal(back.predict(new), m.predict(new))
    assert (tmp_path / "m" / "manifest.json").is_file()
    m2 = SSAPredictor(space="nb201", seed=2, **TINY).fit(cells, y, unlabeled=pool)
    m2.save(tmp_path / "m2")
    (tmp_path / "m" / "graph.safetensors").write_bytes(
        (tmp_path / "m2" / "graph.safetensors").read_bytes()
    )  # a mixed save: the same shapes, another model
    with pytest.raises(ComponentFormatError, match="is not the file recorded in"):
        SSAPredictor.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="not a saved SSAPredictor"):
        SSAPredictor.load(tmp_path / "nothing")


def test_bad_input_is_one_clear_line() -> None:
    cells, y = _data(10)
    m = SSAPredictor(space="nb201", **TINY)
    with pytest.raises(NotFittedError, match="not fitted"):
        m.predict(cells)
    with pytest.raises(NotFittedError, match="nothing to save"):
        m.save("nowhere")
    cases = [
        ((cells, y[:-1]), "10 architectures but y has shape"),
        ((cells[:1], y[:1]), "at least two labeled"),
        ((cells, np.where(np.arange(10) == 3, np.nan, y)), r"y\[3\] is nan"),
        ((cells, ["a"] * 10), "y must be numbers"),
        (([*cells[:9], "|bogus|"], y), r"archs\[9\] is not a valid nb201 architecture"),
    ]
    for args, match in cases:
        with pytest.raises(UsageError, match=match):
            m.fit(*args)
    with pytest.raises(UsageError, match=r"unlabeled\[1\] is not a valid"):
        m.fit(cells, y, unlabeled=[cells[0], None])
    with pytest.raises(UsageError, match="unlabeled must be a sequence"):
        m.fit(cells, y, unlabeled=5)  # type: ignore[arg-type]
    for kw, match in [
        ({"k": 0}, "k must be an integer >= 1"),
        ({"recon_weight": -1}, "recon_weight must be a number >= 0"),
        ({"lr": float("nan")}, "lr must be a number > 0"),
        ({"features": "bogus"}, "features 'bogus' is not offered"),
        ({"encoder": "bogus"}, "encoder must be a registered encoder"),
        ({"knn": "lsh"}, "knn must be one of auto, exact, approx"),
        ({"hidden_dim": 10**9}, "hidden_dim"),
    ]:
        with pytest.raises(UsageError, match=match):
            SSAPredictor(space="nb201", **kw)


def test_guides_npenas_with_the_candidates_as_unlabeled_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int, int]] = []
    real_fit = SSAPredictor.fit

    def spy(self: SSAPredictor, archs: Any, y: Any, unlabeled: Any = None) -> SSAPredictor:
        seen.append((len(archs), len(unlabeled or [])))
        return real_fit(self, archs, y, unlabeled=unlabeled)

    monkeypatch.setattr(SSAPredictor, "fit", spy)
    oracle = NB201Benchmark("cifar10", data_dir="none").oracle(budget=23)
    method = registry.create(
        "search_method",
        "npenas",
        initial=5,
        top_k=6,
        parents=3,
        mutations=5,
        predictor="ssa",
        predictor_settings=TINY,
    )
    assert isinstance(method, NPENAS)
    out = method.search(oracle, seed=0)
    assert oracle.num_queries == 23
    assert [n for n, _ in seen] == [5, 11, 17]
    rounds = out.info["rounds"]
    assert [u for _, u in seen] == [r["new_candidates"] for r in rounds]
    assert all(u > 0 for _, u in seen)
