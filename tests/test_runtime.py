"""Threads and device (archperf.runtime): library work runs with the library's thread count, the
caller's count comes back afterwards, ARCHPERF_THREADS and explicit counts override it, and
asking for CUDA where there is none is one clear error (Python and the real CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import runtime
from archperf.benchmarks.base import Oracle
from archperf.cli import main
from archperf.cli.runtime_args import method_kwargs_with_device
from archperf.experiments import executors
from archperf.experiments.spec import RunSpec
from archperf.nn.generator import ConditionalGenerator
from archperf.nn.predictor import GINPredictor
from archperf.search.base import SearchMethod, SearchOutcome
from archperf.spaces.nb201 import NB201Space
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig
from conftest import tiny_trainer_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _caller_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The caller runs with 2 torch threads (not the library's 1), no ARCHPERF_THREADS."""
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(old)


def _tiny(**kw: Any) -> TrainerConfig:
    cfg: TrainerConfig = tiny_trainer_config(**{"epochs": 2, "seed": 0, **kw})  # type: ignore[assignment]
    return cfg


def _data() -> tuple[list[Any], np.ndarray, list[Any]]:
    space = NB201Space()
    cells = space.sample(12, seed=0)
    y = np.linspace(80.0, 90.0, len(cells))
    return cells, y, space.sample(40, seed=1)


def hook(seen: list[int]) -> Any:
    """An ``on_epoch`` callback that notes torch's thread count during training."""
    return lambda epoch, history: seen.append(torch.get_num_threads())


# ------------------------------------------------------------------------- the context manager
def test_threads_sets_and_restores_the_callers_count() -> None:
    with runtime.threads() as n:
        assert n == runtime.DEFAULT_THREADS == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_threads_restores_after_an_exception() -> None:
    with pytest.raises(KeyError), runtime.threads(3):
        assert torch.get_num_threads() == 3
        raise KeyError("inside")
    assert torch.get_num_threads() == 2


class _Boom(Exception):
    pass


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.none(),
        lambda inner: st.tuples(
            st.one_of(st.none(), st.integers(1, 3)), st.booleans(), st.lists(inner, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_nested_blocks_always_restore(tree: Any) -> None:
    """Whatever the nesting, the counts and where exceptions are raised: inside a block torch
    runs with its resolved count, and after it the count of the code around it is back."""

    def run(node: Any, outer: int, enclosing: int | None) -> None:
        if node is None:
            return
        count, boom, children = node
        want = count if count is not None else enclosing or runtime.DEFAULT_THREADS
        try:
            with runtime.threads(count):
                assert torch.get_num_threads() == want
                for child in children:
                    run(child, want, want)
                    assert torch.get_num_threads() == want
                if boom:
                    raise _Boom
        except _Boom:
            pass
        assert torch.get_num_threads() == outer

    torch.set_num_threads(2)
    run(tree, 2, None)
    assert torch.get_num_threads() == 2


def test_precedence_explicit_then_enclosing_then_env_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert runtime.resolve_threads() == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "3")
    assert runtime.resolve_threads() == 3
    assert runtime.resolve_threads(2) == 2
    with runtime.threads(2):
        assert runtime.resolve_threads() == 2  # the enclosing block beats the variable
        with runtime.threads():
            assert torch.get_num_threads() == 2
    with runtime.threads():
        assert torch.get_num_threads() == 3


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_env_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(runtime.THREADS_ENV, value)
    with pytest.raises(ValueError, match=r"\$ARCHPERF_THREADS must be an integer >= 1"):
        runtime.resolve_threads()
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("value", [0, -2, True, 1.5])
def test_bad_counts_are_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        runtime.resolve_threads(value)
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        TrainerConfig(threads=value)


# ------------------------------------------------------------------------- library entry points
def test_trainer_runs_with_library_threads_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    cells, y, pool = _data()
    seen: list[int] = []
    trainer = BiArch2Perf(_tiny())
    trainer.fit(cells, y, pool, on_epoch=hook(seen))
    trainer.fit(cells, y, pool, warm_start=True, epochs=1, on_epoch=hook(seen))
    assert seen == [1, 1, 1] and torch.get_num_threads() == 2

    calls: list[int] = []
    real = BiArch2Perf._predict_table

    def spy(self: BiArch2Perf, *a: Any, **k: Any) -> np.ndarray:
        calls.append(torch.get_num_threads())
        return real(self, *a, **k)

    monkeypatch.setattr(BiArch2Perf, "_predict_table", spy)
    trainer.predict(cells[:3])
    trainer.pool_predictions()
    assert calls and set(calls) == {1} and torch.get_num_threads() == 2


def test_trainer_threads_field_and_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    cells, y, pool = _data()
    seen: list[int] = []
    BiArch2Perf(_tiny(epochs=1, threads=3)).fit(cells, y, pool, on_epoch=hook(seen))
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    torch.set_num_threads(1)
    BiArch2Perf(_tiny(epochs=1)).fit(cells, y, pool, on_epoch=hook(seen))
    BiArch2Perf(_tiny(epochs=1, threads=3)).fit(cells, y, pool, on_epoch=hook(seen))
    assert seen == [3, 2, 3]
    assert torch.get_num_threads() == 1


def test_trainer_restores_threads_when_fit_raises() -> None:
    cells, y, pool = _data()

    def stop(epoch: int, h: Any) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        BiArch2Perf(_tiny()).fit(cells, y, pool, on_epoch=stop)
    assert torch.get_num_threads() == 2


def test_resume_accepts_another_device_name_and_thread_count(tmp_path: Path) -> None:
    cells, y, pool = _data()
    BiArch2Perf(_tiny(epochs=2)).fit(cells, y, pool, checkpoint_dir=tmp_path, stop_after_epoch=1)
    h = BiArch2Perf(_tiny(epochs=2, device="auto", threads=2)).fit(
        cells, y, pool, checkpoint_dir=tmp_path
    )
    assert h.epoch == [1, 2]


def test_predictor_and_generator_use_library_threads() -> None:
    space = NB201Space()
    seen: list[int] = []

    class Spy(GINPredictor):
        def forward(self, batch: Any) -> torch.Tensor:
            seen.append(torch.get_num_threads())
            return super().forward(batch)

    Spy.for_space(space, hidden_dim=8, mlp_dims=(8,), seed=0).predict(
        space.sample(5, seed=0), space=space
    )
    gen = ConditionalGenerator(space, num_classes=3, seed=0)
    real = gen.forward

    def spy(*a: Any, **k: Any) -> Any:
        seen.append(torch.get_num_threads())
        return real(*a, **k)

    gen.forward = spy  # type: ignore[method-assign]
    assert len(gen.sample(0, 4, seed=0)) == 4
    assert seen == [1, 1] and torch.get_num_threads() == 2


class _ThirdParty(SearchMethod):
    """A plugin's method: no thread handling of its own."""

    name = "third-party"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def config(self) -> dict[str, Any]:
        return {}

    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        self.seen.append(torch.get_num_threads())
        oracle.query(oracle.space.sample(2, seed=seed))
        if seed == 99:
            raise RuntimeError("plugin failed")
        return SearchOutcome.from_oracle(oracle)


class _Child(_ThirdParty):
    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with runtime.threads(3):
            return super().search(oracle, seed)


def _oracle() -> Oracle[Any]:
    from archperf.benchmarks.nb201 import NB201Benchmark
    from archperf.paths import find_data_dir

    data = find_data_dir()
    has_csv = data is not None and (data / "nb201" / "nb201.csv").is_file()
    return NB201Benchmark("cifar10", data_dir=data if has_csv else "none").oracle(budget=5)


def test_every_search_method_runs_in_library_threads() -> None:
    method = _ThirdParty()
    method.search(_oracle(), 0)
    with pytest.raises(RuntimeError, match="plugin failed"):
        method.search(_oracle(), 99)
    assert method.seen == [1, 1] and torch.get_num_threads() == 2
    child = _Child()
    child.search(_oracle(), seed=0)  # keyword seed, as the runner calls it
    assert child.seen == [3] and torch.get_num_threads() == 2


def test_executor_runs_get_one_thread_whatever_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.THREADS_ENV, "3")
    seen: list[int] = []

    def fake_run_one(spec: RunSpec, progress: bool = False) -> dict[str, Any]:
        seen.append(runtime.resolve_threads())
        return {"key": spec.key()}

    monkeypatch.setattr(executors, "run_one", fake_run_one)
    spec = RunSpec("rs", "nb201", "cifar10", 5, 0)
    [(_, rec)] = list(executors.LocalExecutor(workers=1).map([spec]))
    assert rec == {"key": spec.key()} and seen == [1] and torch.get_num_threads() == 2


# ------------------------------------------------------------------------------------ device
def test_device_errors_and_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    msg = f"TrainerConfig.device='cuda': CUDA is not available (torch {torch.__version__})"
    with pytest.raises(ValueError) as err:
        TrainerConfig(device="cuda")
    assert str(err.value) == msg
    with pytest.raises(ValueError, match="CUDA is not available"):
        TrainerConfig(device="cuda:1")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        TrainerConfig(device="gpu")
    assert runtime.resolve_device("auto") == torch.device("cpu")
    assert str(BiArch2Perf(_tiny(device="auto")).device) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert runtime.resolve_device("auto") == torch.device("cuda")
    assert runtime.check_device("cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match="no CUDA device 1: this machine has 1"):
        runtime.check_device("cuda:1")


def test_device_kwargs_for_methods_with_a_trainer() -> None:
    assert method_kwargs_with_device("rs", {}, "cpu") == {}  # no trainer: ignored
    assert method_kwargs_with_device("nacg", {"top_k": 3}, None) == {"top_k": 3}
    # auto is the trainer's default: same kwargs, so the same run key as no --device
    assert method_kwargs_with_device("nacg", {}, "auto") == {}
    assert method_kwargs_with_device("nacg-mr", {"trainer": {"epochs": 2}}, "cpu") == {
        "trainer": {"epochs": 2, "device": "cpu"}
    }
    assert method_kwargs_with_device("semigan-nad", {}, "cpu") == {"trainer": {"device": "cpu"}}
    with pytest.raises(ValueError, match=r"--device cpu contradicts --set trainer\.device=auto"):
        method_kwargs_with_device("nacg", {"trainer": {"device": "auto"}}, "cpu")


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CUDA_VISIBLE_DEVICES": "", **(env or {})}  # no CUDA, on any machine
    return subprocess.run(
        [sys.executable, "-m", "archperf", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=full,
    )


SEARCH = ["--benchmark", "nb201", "--budget", "12", "--no-progress"]


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["search", "--method", "nacg", *SEARCH, "--device", "cuda"], "--device cuda: "),
        (["search", "--method", "rs", *SEARCH, "--device", "cuda"], "--device cuda: "),
        (
            ["search", "--method", "nacg", *SEARCH, "--set", "trainer.device=cuda"],
            "TrainerConfig.device='cuda': ",
        ),
        (["run", "--methods", "rs,nacg", *SEARCH, "--out", "x", "--device", "cuda"], "--device "),
        (["reproduce", "table2", "--out", "x", "--device", "cuda"], "--device cuda: "),
        (["analyze", "--space", "nb201", "--out", "x", "--device", "cuda"], "--device cuda: "),
        (["generate", "--space", "nb201", "--untrained", "--device", "cuda"], "--device cuda: "),
    ],
    ids=["search", "search-rs", "search-set", "run", "reproduce", "analyze", "generate"],
)
def test_cli_cuda_without_cuda_is_one_line(argv: list[str], prefix: str, tmp_path: Path) -> None:
    argv = [str(tmp_path / "x") if a == "x" else a for a in argv]
    proc = _cli(*argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"archperf {argv[0]}: error: {prefix}")
    assert "CUDA is not available (torch " in proc.stderr
    assert not (tmp_path / "x").exists()  # nothing ran


def test_cli_device_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    sets = ["trainer.epochs=1", "unlabeled_size=200", "num_candidates=50", "top_k=2"]
    proc = _cli(
        *["search", "--method", "nacg", *SEARCH, "--device", "cpu", "-o", str(out)],
        *(x for s in sets for x in ("--set", s)),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads(out.read_text())
    assert rec["spec"]["method_kwargs"]["trainer"] == {"epochs": 1, "device": "cpu"}
    assert rec["method_config"]["trainer"]["device"] == "cpu"
    assert rec["outcome_info"]["device"] == "cpu"


def test_cli_threads_use_the_library_mechanism(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[int] = []
    real = BiArch2Perf._build

    def spy(self: BiArch2Perf, labels: np.ndarray) -> None:
        seen.append(torch.get_num_threads())
        real(self, labels)

    monkeypatch.setattr(BiArch2Perf, "_build", spy)
    argv = ["search", "--method", "nacg", *SEARCH, "--set", "trainer.epochs=1"]
    argv += ["--set", "unlabeled_size=100", "--set", "num_candidates=20", "--set", "top_k=2"]
    assert main(argv) == 0
    assert main([*argv, "--threads", "3"]) == 0
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    assert main(argv) == 0
    assert seen == [1, 3, 2]
    assert torch.get_num_threads() == 2  # the caller's count survives the command
    assert main([*argv, "--threads", "0"]) == 2
    assert capsys.readouterr().err.strip().endswith("--threads must be >= 1, got 0")
