"""Progress of long work: searches and the trainer report phases and epochs, bars draw only on
a terminal, and ``archperf search`` shows the training epochs instead of stalling."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archperf import progress
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.experiments import RunSpec, run_one
from archperf.search.nacg import NACG
from archperf.search.random import RandomSearch
from archperf.search.semigan import SemiGANNAD
from archperf.spaces.nb201 import NB201Space
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

ROOT = Path(__file__).resolve().parents[1]
TINY_TRAINER = {"epochs": 3, "unlabeled_batch_size": 32}


class Recorder:
    """A reporter that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def phase(self, name: str) -> None:
        self.events.append(("phase", name))

    def epoch(self, done: int, total: int, info: str = "") -> None:
        self.events.append(("epoch", done, total))

    def queries(self, used: int, budget: int | None) -> None:
        self.events.append(("queries", used, budget))

    def phases(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "phase"]

    def epochs_in(self, name: str) -> list[tuple[int, int]]:
        """The (done, total) epoch reports while phase ``name`` was current."""
        out, current = [], None
        for e in self.events:
            if e[0] == "phase":
                current = e[1]
            elif e[0] == "epoch" and current == name:
                out.append((e[1], e[2]))
        return out


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def embedded() -> NB201Benchmark:
    return NB201Benchmark("cifar10")


def test_trainer_reports_every_epoch_to_the_context_reporter() -> None:
    space = NB201Space()
    cells = space.sample(12, seed=0)
    y = np.linspace(60, 90, 12)
    rec = Recorder()
    cfg = TrainerConfig(epochs=3, unlabeled_batch_size=16, progress=False, device="cpu")
    trainer = BiArch2Perf(cfg)
    with progress.using(rec):
        trainer.fit(cells, y, cells)
        trainer.fit(cells, y, cells, warm_start=True, epochs=2)  # counted from 0 again
    epochs = [e[1:] for e in rec.events if e[0] == "epoch"]
    assert epochs == [(0, 3), (1, 3), (2, 3), (3, 3), (0, 2), (1, 2), (2, 2)]


def test_nacg_reports_its_phases_and_the_training_epochs(embedded: NB201Benchmark) -> None:
    rec = Recorder()
    method = NACG(trainer=TINY_TRAINER, num_candidates=64, unlabeled_size=300)
    with progress.using(rec):
        method.search(embedded.oracle(budget=12), seed=0)
    assert rec.phases() == ["7 random cells", "training", "generating"]
    assert rec.epochs_in("training") == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_semigan_nad_reports_rounds_and_epochs(embedded: NB201Benchmark) -> None:
    rec = Recorder()
    method = SemiGANNAD(
        initial=4, top_k=4, num_candidates=64, unlabeled_size=300, finetune_epochs=1,
        trainer=TINY_TRAINER,
    )  # fmt: skip
    with progress.using(rec):
        method.search(embedded.oracle(budget=12), seed=0)
    assert rec.phases() == [
        "4 random cells",
        "round 1/2: training",
        "round 1/2: ranking candidates",
        "round 2/2: fine-tuning",
        "round 2/2: ranking candidates",
    ]
    assert rec.epochs_in("round 1/2: training")[-1] == (3, 3)
    assert rec.epochs_in("round 2/2: fine-tuning") == [(0, 1), (1, 1)]


def test_bar_draws_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    bar = progress.Bar("x", 10, file=quiet)
    bar.phase("training")
    bar.epoch(2, 5)
    bar.queries(3, 10)
    bar.close()
    assert not bar.enabled and quiet.getvalue() == ""

    tty = FakeTTY()
    bar = progress.Bar("nacg", 10, file=tty, interval=0.0)
    bar.queries(5, 10)
    bar.phase("training")
    bar.epoch(2, 60, "PP 0.5")
    text = tty.getvalue()
    bar.close()
    assert "5/10 queries" in text and "training, epoch 2/60 (PP 0.5)" in text
    assert "<" not in text.split("queries")[-1]  # no ETA: the query rate says nothing here


def test_a_search_shows_a_bar_on_a_terminal_unless_silenced(
    embedded: NB201Benchmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    RandomSearch().search(embedded.oracle(budget=20), seed=0)
    assert "rs: " in tty.getvalue() and "20/20 queries" in tty.getvalue()

    tty.seek(0)
    tty.truncate()
    with progress.silenced():
        RandomSearch().search(embedded.oracle(budget=20), seed=0)
    assert tty.getvalue() == ""


def test_run_one_without_progress_is_silent_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    run_one(RunSpec("rs", "nb201", "cifar10", 10, 0), progress=False)
    assert tty.getvalue() == ""
    run_one(RunSpec("rs", "nb201", "cifar10", 10, 0), progress=True)
    assert "rs nb201/cifar10 seed 0" in tty.getvalue()
    assert "rs: " not in tty.getvalue()  # the search's own bar stays closed: one bar only


def _run_on_terminal(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``argv`` with standard error on a pseudo-terminal (120 columns)."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child has closed the terminal
                break
            if not data:
                break
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    rc = proc.wait(timeout=600)
    reader.join(timeout=10)
    os.close(master)
    return rc, out, b"".join(chunks).decode(errors="replace")


NACG_ARGV = [
    "-m", "archperf", "search", "--method", "nacg", "--benchmark", "nb201", "--budget", "12",
    "--set", "trainer.epochs=4", "--set", "unlabeled_size=300", "--set", "num_candidates=64",
    "--set", "trainer.unlabeled_batch_size=32", "--no-save",
]  # fmt: skip


def test_search_cli_shows_the_training_epochs_on_a_terminal(tmp_path: Path) -> None:
    rc, out, err = _run_on_terminal([sys.executable, *NACG_ARGV], tmp_path)
    assert rc == 0, err
    frames = err.replace("\r", "\n")
    assert "queries:      12 of budget 12" in out
    assert "7/12 queries" in frames and "training, epoch 4/4" in frames
    assert "generating" in frames


def test_search_cli_is_quiet_when_not_on_a_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, *NACG_ARGV], capture_output=True, text=True, cwd=tmp_path, env=env,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "queries [" not in proc.stderr and "epoch" not in proc.stderr


def test_trainer_alone_shows_an_epoch_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    space = NB201Space()
    cells = space.sample(12, seed=0)
    cfg = TrainerConfig(epochs=2, unlabeled_batch_size=16, device="cpu")  # progress=True
    BiArch2Perf(cfg).fit(cells, np.linspace(60, 90, 12), cells)
    assert "training: 100%" in tty.getvalue() and "2/2 epochs" in tty.getvalue()
    tty.seek(0)
    tty.truncate()
    BiArch2Perf(TrainerConfig(**{**cfg.to_dict(), "progress": False})).fit(
        cells, np.linspace(60, 90, 12), cells
    )
    assert tty.getvalue() == ""


def test_analyze_shows_training_then_its_phases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archperf.cli import main

    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    argv = ["analyze", "--space", "nb201", "--labels", "12", "--epochs", "2", "-n", "40",
            "--top-k", "8", "--out", str(tmp_path), "--no-figures"]  # fmt: skip
    assert main(argv) == 0
    text = tty.getvalue()
    assert "analyze nb201: 100%" in text and "2/2 epochs" in text
    assert "generating 40 cells" in text and "analyzing" in text
    tty.seek(0)
    tty.truncate()
    assert main([*argv, "--no-progress"]) == 0
    assert "epochs [" not in tty.getvalue()
