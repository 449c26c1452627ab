"""NAS-Bench-Macro as a plugin distribution (plugins/archperf-nbmacro), added the way a user would:
registered only through the ``archperf`` entry-point group, and the core package never names it.

Tests of the plugin skip (with the reason) when the distribution is not installed; tests that
read the benchmark file skip when the data folder lacks it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import Cell, CellBatch
from archperf.cli import main
from archperf.errors import DataFileError, InvalidCellError
from archperf.paths import find_data_dir
from conftest import plugin_installed

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "archperf_nbmacro.plugin"
DATA_FILE = "nbmacro/nas-bench-macro_cifar10.json"
KEYS = st.text(alphabet="012", min_size=8, max_size=8)


needs_plugin = pytest.mark.skipif(
    not plugin_installed(PLUGIN),
    reason="the archperf-nbmacro distribution is not installed "
    "(pip install -e plugins/archperf-nbmacro)",
)


def _data_file() -> Path:
    root = find_data_dir()
    if root is None or not (root / DATA_FILE).is_file():
        pytest.skip(f"{DATA_FILE} not found in the data folder ({root}; set $ARCHPERF_DATA_DIR)")
    return root / DATA_FILE


@pytest.fixture(scope="module")
def space() -> Any:
    if not plugin_installed(PLUGIN):
        pytest.skip("the archperf-nbmacro distribution is not installed")
    return registry.create("search_space", "nbmacro")


@pytest.fixture(scope="module")
def bench() -> Any:
    if not plugin_installed(PLUGIN):
        pytest.skip("the archperf-nbmacro distribution is not installed")
    _data_file()
    return registry.create("benchmark", "nbmacro")


# ----------------------------------------------------------------------------- the core
def test_core_package_never_names_the_plugin() -> None:
    """The plugin works through hooks and generic code only: no file of src/archperf says
    'nbmacro' or 'macro' (any case)."""
    hits = []
    for path in sorted((ROOT / "src" / "archperf").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".txt", ".md", ".toml"):
            text = path.read_text(encoding="utf-8", errors="replace")
            hits += [
                f"{path.relative_to(ROOT)}:{n}"
                for n, line in enumerate(text.splitlines(), 1)
                if re.search("macro", line, re.I)
            ]
    assert not hits, f"the core names the plugin: {hits}"


@needs_plugin
def test_registered_through_the_entry_point_only() -> None:
    for kind in ("search_space", "benchmark", "decoder"):
        entry = registry.default_registry().entry(kind, "nbmacro")
        assert entry.distribution.split()[0] == "archperf-nbmacro", entry
        assert str(entry.target).startswith("archperf_nbmacro."), entry
    for path in (ROOT / "src" / "archperf").rglob("*.py"):
        assert "archperf_nbmacro" not in path.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- the space
@needs_plugin
def test_space_size_and_enumeration(space: Any) -> None:
    cells = list(space.enumerate())
    assert len(space) == 6561 == len(cells) == len(set(cells))
    texts = [space.to_text(c) for c in cells]
    assert texts == sorted(texts) and texts[0] == "00000000" and texts[-1] == "22222222"
    assert len(space.canonical_classes()) == 3969


@needs_plugin
@settings(max_examples=200, deadline=None)
@given(key=KEYS)
def test_text_round_trip(key: str) -> None:
    space = registry.create("search_space", "nbmacro")
    cell = space.from_text(key)
    space.validate(cell)
    assert space.to_text(cell) == key
    assert space.from_text(space.to_text(cell)) == cell
    assert space.to_graph(cell) == cell
    assert space.to_op_indices(cell) == tuple(int(c) for c in key)
    assert space.from_choices(space.to_op_indices(cell)) == cell


@needs_plugin
@settings(max_examples=200, deadline=None)
@given(key=KEYS, seed=st.integers(0, 2**32 - 1))
def test_mutate_changes_one_layer_and_the_function(key: str, seed: int) -> None:
    space = registry.create("search_space", "nbmacro")
    cell = space.from_text(key)
    child = space.mutate(cell, seed)
    space.validate(child)
    diff = [k for k in range(8) if space.to_text(child)[k] != key[k]]
    assert len(diff) == 1
    assert space.canonical(child) != space.canonical(cell)
    assert space.mutate(cell, seed) == child  # same seed, same child


@needs_plugin
@settings(max_examples=100, deadline=None)
@given(key=KEYS)
def test_canonical_is_a_key_of_the_same_class(key: str) -> None:
    space = registry.create("search_space", "nbmacro")
    cell = space.from_text(key)
    canon = space.canonical(cell)
    rep = space.from_text(canon)
    assert space.canonical(rep) == canon == space.to_text(space.canonical_arch(cell))
    # the first layer of each stage never moves; the others keep their non-identity order
    for a, b in ((0, 2), (2, 5), (5, 8)):
        assert canon[a] == key[a]
        assert canon[a + 1 : b].rstrip("0") == key[a + 1 : b].replace("0", "")
    f = space.features([cell, rep], "canonical")
    assert np.array_equal(f[0], f[1])


def test_canonical_examples() -> None:
    if not plugin_installed(PLUGIN):
        pytest.skip("the archperf-nbmacro distribution is not installed")
    space = registry.create("search_space", "nbmacro")
    assert space.canonical(space.from_text("00001000")) == "00010000"
    assert space.canonical(space.from_text("01000000")) == "01000000"  # no move across stages
    assert space.canonical(space.from_text("10000000")) != space.canonical(
        space.from_text("01000000")
    )  # an identity at a stride-2 layer is a real (1x1) convolution


@needs_plugin
def test_sample_is_seeded_and_uniform(space: Any) -> None:
    a, b = space.sample(2000, seed=3), space.sample(2000, seed=3)
    assert a == b and a != space.sample(2000, seed=4)
    for c in a[:50]:
        space.validate(c)
    counts = np.zeros((8, 3))
    for c in a:
        counts[np.arange(8), list(space.to_op_indices(c))] += 1
    assert np.all(np.abs(counts / 2000 - 1 / 3) < 0.05)
    with pytest.raises(ValueError):
        space.sample(-1)


@needs_plugin
def test_validate_names_the_broken_rule(space: Any) -> None:
    good = space.from_text("12021201")
    with pytest.raises(InvalidCellError, match=r"\[type\]"):
        space.validate("12021201")
    ops = good.ops.copy()
    ops[1] = 1  # 'identity' at the stride-2 layer 0: that layer holds conv1x1_s2 instead
    with pytest.raises(InvalidCellError, match=r"\[layer-op\].*layer 0"):
        space.validate(Cell(good.adjacency, ops))
    adj = good.adjacency.copy()
    adj[0, 2] = 1
    with pytest.raises(InvalidCellError, match=r"\[adjacency\]"):
        space.validate(Cell(adj, good.ops))
    with pytest.raises(InvalidCellError, match=r"\[num-vertices\]"):
        space.validate(Cell(np.zeros((3, 3)), [0, 1, 7]))
    ops = good.ops.copy()
    ops[-1] = 3
    with pytest.raises(InvalidCellError, match=r"\[output-op\]"):
        space.validate(Cell(good.adjacency, ops))
    for bad in ("0120120", "012012013", "0120a201", 12021201):
        with pytest.raises(InvalidCellError, match=r"\[text-format\]"):
            space.from_text(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidCellError, match=r"\[unknown-op\]"):
        space.from_choices([0, 1, 2, 3, 0, 1, 2, 0])


@needs_plugin
def test_features(space: Any) -> None:
    cells = space.sample(5, seed=0)
    f = space.features(cells)
    assert f.shape == (5, 24) and f.dtype == np.float32
    assert np.array_equal(f.sum(axis=1), np.full(5, 8.0))
    assert set(space.feature_kinds) == {"onehot", "canonical"}
    with pytest.raises(ValueError, match="onehot"):
        space.features(cells, "path")


@needs_plugin
def test_signature_for_the_plugin_space(space: Any) -> None:
    from archperf.analysis import signature

    cells = [space.from_text("22212220"), space.from_text("22212221")]
    sig = signature(space, cells)
    assert sig.ops.shape == (8, 3) and sig.ops.sum() == 16
    assert sig.most_likely_ops()[0] == "mb6_k5"


# ------------------------------------------------------------------------- the benchmark
@needs_plugin
def test_benchmark_metrics_and_known_values(bench: Any) -> None:
    raw = json.loads(_data_file().read_text(encoding="utf-8"))
    d = bench.describe()
    assert d["search_metric"] == "test_acc_0" and d["report_metric"] == "mean_acc_excl_0"
    assert "training 0" in d["report_metric_note"] and len(bench) == 6561
    space = bench.space
    keys = ["22212220", "00010000", "12021201"]
    cells = [space.from_text(k) for k in keys]
    val, test = bench.lookup(cells, "val"), bench.lookup(cells, "test")
    for k, v, t in zip(keys, val, test, strict=True):
        accs = raw[k]["test_acc"]
        assert v == pytest.approx(accs[0]) and t == pytest.approx((accs[1] + accs[2]) / 2)
    assert bench.lookup(cells, "params")[0] == 1_985_514
    assert bench.lookup(cells, "flops")[0] == raw["22212220"]["flops"]
    mean = np.asarray(bench.column("mean_acc"))
    assert round(float(mean.max()), 4) == 93.1267  # data/README.md's known value
    best = bench.arch_at(int(np.argmax(mean)))  # the first of the best network's keys
    assert space.canonical(best) == space.canonical(cells[0]) == "22212220"
    paper = registry.create("benchmark", "nbmacro", protocol="paper")
    assert paper.describe()["search_metric"] == paper.describe()["report_metric"] == "mean_acc"
    other = registry.create("benchmark", "nbmacro", search_training=2)
    assert other.describe()["search_metric"] == "test_acc_2"
    assert other.lookup(cells[:1], "test")[0] == pytest.approx(
        np.mean(raw[keys[0]]["test_acc"][:2])
    )
    assert bench.data_files() == (_data_file().resolve(),)


@needs_plugin
def test_canonical_classes_agree_with_the_data(bench: Any) -> None:
    """Equivalent keys (one canonical form) have identical results in the file, and keys of
    different classes have different results: canonical is exactly the benchmark's identity."""
    space = bench.space
    cells = list(space.enumerate())
    acc = np.stack([np.asarray(bench.lookup(cells, f"test_acc_{j}")) for j in range(3)], 1)
    by_class: dict[str, set[tuple[float, ...]]] = {}
    for c, row in zip(cells, acc, strict=True):
        by_class.setdefault(space.canonical(c), set()).add(tuple(row))
    assert all(len(v) == 1 for v in by_class.values())
    assert len({next(iter(v)) for v in by_class.values()}) == len(by_class) == 3969


@needs_plugin
def test_oracle_accounting(bench: Any) -> None:
    space = bench.space
    oracle = bench.oracle(budget=3)
    a, b = space.from_text("00001000"), space.from_text("00010000")
    oracle.query([a, a, b])
    assert oracle.num_queries == 2  # record key = the exact key: equivalent keys cost twice
    assert "mean_acc_excl_0" not in json.dumps(oracle.describe())


@needs_plugin
def test_bad_arguments_and_missing_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cifar10 only"):
        registry.create("benchmark", "nbmacro", dataset="cifar100", data_dir=tmp_path)
    with pytest.raises(ValueError, match="search_training"):
        registry.create("benchmark", "nbmacro", search_training=3, data_dir=tmp_path)
    with pytest.raises(DataFileError, match="no benchmark data folder"):
        registry.create("benchmark", "nbmacro", data_dir="none")
    with pytest.raises(DataFileError, match=r"has no nbmacro/nas-bench-macro_cifar10\.json"):
        registry.create("benchmark", "nbmacro", data_dir=tmp_path)
    with pytest.raises(DataFileError, match="does not exist"):
        registry.create("benchmark", "nbmacro", source=tmp_path / "nope.json")


def _damaged(tmp_path: Path, edit: Any) -> Path:
    raw = json.loads(_data_file().read_text(encoding="utf-8"))
    edit(raw)
    p = tmp_path / "nbmacro" / "nas-bench-macro_cifar10.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(raw), encoding="utf-8")
    return p


def _set(key: str, field: str, value: Any) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        raw[key][field] = value

    return edit


@needs_plugin
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw.pop("01201201"), "expected all 6,561"),
        (lambda raw: raw.update({"0120120x": raw["01201201"]}), "not NAS-Bench-Macro keys"),
        (_set("01201201", "test_acc", [90.0, 91.0]), "3 accuracies"),
        (_set("01201201", "test_acc", [90.0, 91.0, 1e9]), r"in \[0, 100\]"),
        (_set("01201201", "params", -5), "finite and >= 0"),
        (_set("01201201", "mean_acc", 10.0), "not the mean"),
        (_set("01201201", "flops", "many"), "must be a number"),
        (lambda raw: raw["01201201"].pop("std"), "lacks field"),
    ],
)
def test_damaged_data_is_one_clear_error(tmp_path: Path, edit: Any, message: str) -> None:
    path = _damaged(tmp_path, edit)
    with pytest.raises(DataFileError, match=message) as exc:
        registry.create("benchmark", "nbmacro", source=path)
    assert "\n" not in str(exc.value)


@needs_plugin
def test_truncated_file_and_source_folder(tmp_path: Path) -> None:
    src = _data_file()
    p = tmp_path / "cut.json"
    p.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(DataFileError, match="not valid JSON"):
        registry.create("benchmark", "nbmacro", source=p)
    (tmp_path / "nbmacro").mkdir()
    shutil.copy(src, tmp_path / "nbmacro" / src.name)
    b = registry.create("benchmark", "nbmacro", source=tmp_path)  # a folder holding the file
    assert b.describe()["records"] == 6561
    b2 = registry.create("benchmark", "nbmacro", data_dir=tmp_path)
    assert b2.data_files() == (tmp_path / "nbmacro" / src.name,)


# --------------------------------------------------------------------------- the decoder
@needs_plugin
def test_decoder_round_trip_and_relaxation(space: Any) -> None:
    import torch

    from archperf.nn.decoders import decoder_for

    dec = decoder_for(space)
    assert (dec.num_nodes, dec.op_dim, dec.uses_edges) == (10, 3, False)
    cells = space.sample(20, seed=1)
    batch = CellBatch.from_cells(cells, len(space.op_names))
    assert dec.decode(batch) == cells
    logits = torch.randn(6, 10, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    hard = dec.relax(logits, None, tau=0.7, hard=True, generator=torch.Generator().manual_seed(1))
    decoded = dec.decode(hard)
    ref = CellBatch.from_cells([space.to_graph(c) for c in decoded], len(space.op_names))
    assert torch.equal(hard.adj, ref.adj) and torch.allclose(hard.ops, ref.op_onehot())
    hard.ops.sum().backward()  # straight-through: gradients reach the scores
    assert logits.grad is not None
    soft = dec.relax(logits.detach(), None, hard=False, gumbel=False)
    assert torch.allclose(soft.ops.sum(-1), torch.ones(6, 10))
    assert dec.decode(soft) == [space.from_choices(r) for r in logits.argmax(-1)[:, 1:9].tolist()]
    drawn = dec.decode(soft, stochastic=True, seed=0)
    assert drawn == dec.decode(soft, stochastic=True, seed=0)
    assert dec.choice_probs(logits, None).shape == (6, 8, 3)


@needs_plugin
def test_generator_samples_valid_cells(space: Any) -> None:
    gen = registry.create("generator", "semigan", space, 5, seed=0)
    cells = gen.sample(0, 16, seed=0)
    assert len(cells) == 16 and all(space.is_valid(c) for c in cells)


# ------------------------------------------------------------------- commands and methods
@needs_plugin
def test_space_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["space", "sample", "nbmacro", "-n", "3", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["canonical"]
    f = tmp_path / "cells.txt"
    f.write_text("22212220\n2221222\n")
    assert main(["space", "validate", "nbmacro", str(f)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ok" and "text-format" in out[1]


@needs_plugin
@pytest.mark.parametrize("method", ["rs", "re"])
def test_search_command(method: str, bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["search", "--method", method, "--benchmark", "nbmacro", "--budget", "30"]
    assert main([*args, "--seed", "0", "--no-save", "--no-journal", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "queries:      30 of budget 30" in out and "(mean_acc_excl_0)" in out


@needs_plugin
@pytest.mark.slow
def test_learned_searches_run(bench: Any) -> None:
    """semigan-nad and nacg (the trainer and the generator) run on the plugin's space."""
    for name, kwargs in (
        ("semigan-nad", {"top_k": 10, "finetune_epochs": 1, "trainer": {"epochs": 2}}),
        ("nacg", {"trainer": {"epochs": 2}, "finetune_epochs": 1}),
    ):
        method = registry.create("search_method", name, **kwargs)
        oracle = bench.oracle(budget=30)
        out = method.search(oracle, seed=0)
        assert oracle.num_queries <= 30 and bench.space.is_valid(out.best)


@needs_plugin
def test_analyze_and_generate_commands(
    bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = tmp_path / "cells.txt"
    cells.write_text("22212220\n00010000\n00001000\n12021201\n")
    out = tmp_path / "an"
    args = ["analyze", "--space", "nbmacro", "--cells", str(cells), "--out", str(out)]
    assert main([*args, "--no-figures", "--no-progress", "--top-k", "2"]) == 0
    data = json.loads((out / "analysis.json").read_text())
    assert data["quality"]["generation"]["uniqueness"] == 0.75  # two keys, one network
    assert data["signatures"]["generated"]["rows"][0] == "L0/s2"
    assert main(["generate", "--space", "nbmacro", "--untrained", "-n", "4"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    trained = tmp_path / "trained"
    args = ["analyze", "--space", "nbmacro", "--labels", "8", "--epochs", "1", "-n", "30"]
    assert main([*args, "--out", str(trained), "--no-figures", "--no-progress"]) == 0
    data = json.loads((trained / "analysis.json").read_text())
    assert data["quality"]["generation"]["validity"] == 1.0
    assert "all 6,561 cells" in data["setup"]["space_cells"]
    bad = ["analyze", "--space", "nbmacro", "--benchmark", "nb201", "--cells", str(cells)]
    assert main([*bad, "--out", str(out), "--data-dir", "none"]) == 2


@needs_plugin
def test_run_and_table_commands(
    bench: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    args = ["run", "--methods", "rs,re", "--benchmark", "nbmacro", "--budget", "12"]
    assert (
        main([*args, "--seeds", "0-1", "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    )
    assert len(list(out.glob("*.json"))) == 4
    capsys.readouterr()
    assert main(["table", str(out)]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| nbmacro")]
    assert len(rows) == 2 and all("test_acc_0 → mean_acc_excl_0" in r for r in rows)


# ------------------------------------------------------------------ Graph-VAE NAO on it
def _gvae_tiny() -> dict[str, Any]:
    """test_gvae_nao's tiny gvae-nao settings, with 6 initial cells."""
    from test_gvae_nao import TINY

    return {**TINY, "initial": 6}


@needs_plugin
def test_gvae_decodes_valid_plugin_cells(space: Any) -> None:
    """The VAE of gvae-nao builds on the plugin's space with no core edit: any code decodes to
    a valid network, and the loss terms are finite."""
    import torch

    from archperf.nn.gvae import GraphVAE

    model = GraphVAE(
        "nbmacro", seed=0, **{k: _gvae_tiny()[k] for k in ("latent_dim", "hidden_dim")}
    )
    codes = np.random.default_rng(0).normal(0.0, 3.0, (30, model.latent_dim))
    for cell in model.decode(codes):
        space.validate(cell)
    cells = space.sample(12, seed=1)
    terms = model.loss(
        model.batch(cells),
        torch.linspace(-1, 1, 12),
        torch.linspace(1, -1, 12),
        torch.Generator().manual_seed(0),
    )
    for key in ("recon", "kl", "perf", "cost", "total"):
        assert torch.isfinite(terms[key]), key
    assert model.reconstruction(cells)["valid"] == 1.0


@needs_plugin
@pytest.mark.parametrize("cost", ["params", "flops"])
def test_gvae_nao_two_objectives_on_the_plugin(bench: Any, cost: str) -> None:
    """gvae-nao with a lambda sweep on NAS-Bench-Macro's params or FLOPs: exact budget, the
    same queries under a seed, and the front it returns is that of its queried cells."""
    method = registry.create("search_method", "gvae-nao", **_gvae_tiny(), cost=cost, lambdas=[0, 1])
    a, b = bench.oracle(budget=21), bench.oracle(budget=21)
    out = method.search(a, seed=2)
    registry.create("search_method", "gvae-nao", **_gvae_tiny(), cost=cost, lambdas=[0, 1]).search(
        b, seed=2
    )
    charged = [r for r in a.history if r.charged]
    assert a.num_queries == 21 == len({r.record for r in charged})
    assert [(r.record, r.value) for r in a.history] == [(r.record, r.value) for r in b.history]
    assert [r["lam"] for r in out.info["rounds"]] == [0.0, 1.0, 0.0]
    archs = [r.arch for r in a.history]
    acc = np.array([r.value for r in a.history])
    costs = a.property_values(archs, cost)
    from archperf.pareto import non_dominated

    front = out.info["front"]
    assert len(front) == int(non_dominated(acc, costs).sum())
    assert [f[cost] for f in front] == sorted(f[cost] for f in front)
