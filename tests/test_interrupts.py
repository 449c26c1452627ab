"""Interrupts and shared sweeps (issue #13), on real processes driven with signals.

A sweep of 2 fast runs (RS) then 2 slow ones (RE, a few seconds each) with 2 workers: Ctrl-C
(SIGINT to the process group, as a terminal sends it) comes while the slow runs are in progress.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import default_sigint, write_fake_nb201_csv

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def fake_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_nb201_csv(tmp_path_factory.mktemp("nb201data"))


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["ARCHPERF_CACHE_DIR"] = str(tmp_path / "cache")
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def _sweep(fake_csv: Path, out: Path, tmp_path: Path, quiet: bool = True) -> subprocess.Popen:
    argv = [sys.executable, "-m", "archperf", *(["-q"] if quiet else []), "run"]
    argv += ["--methods", "rs,re"]
    argv += ["--benchmark", "nb201", "--source", str(fake_csv), "--budget", "13000"]
    argv += ["--seeds", "0-1", "--out", str(out), "--no-progress", "--workers", "2"]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
        start_new_session=True,  # its own process group: killpg is a terminal's Ctrl-C
        preexec_fn=default_sigint,
    )


def _records(out: Path) -> list[Path]:
    return sorted(out.glob("*.json")) if out.is_dir() else []


def _wait_for_records(p: subprocess.Popen, out: Path, n: int, limit: float = 120.0) -> None:
    t0 = time.monotonic()
    while len(_records(out)) < n:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() - t0 < limit, "the sweep made no records"
        time.sleep(0.05)


def _interrupt(p: subprocess.Popen, times: int, group: bool) -> tuple[int, str, float]:
    """SIGINT ``times`` times, 0.2 s apart, to the process group (a terminal's Ctrl-C) or to
    the main process only (``kill -INT``)."""
    t0 = time.monotonic()
    for i in range(times):
        if i:
            time.sleep(0.2)
        try:
            (os.killpg if group else os.kill)(p.pid, signal.SIGINT)
        except ProcessLookupError:
            break
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGABRT)  # faulthandler prints every thread's stack
        _, err = p.communicate()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        pytest.fail(f"the sweep hung after Ctrl-C:\n{err[-6000:]}")
    return p.returncode, err, time.monotonic() - t0


@pytest.mark.parametrize(("times", "group"), [(1, True), (2, True), (1, False), (2, False)])
def test_ctrl_c_keeps_finished_runs_and_exits_130(
    times: int, group: bool, fake_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    p = _sweep(fake_csv, out, tmp_path)
    _wait_for_records(p, out, 2)  # the two RS runs; the RE runs are starting
    time.sleep(0.5)
    kept = _records(out)
    rc, err, took = _interrupt(p, times, group)
    assert rc == 130
    assert took < 5.0, f"took {took:.1f} s to stop"  # it used to wait for the runs (or hang)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err, err
    assert set(kept) <= set(_records(out))  # finished work is kept
    assert not list(out.glob("*.lock")) and not list(out.glob(".*.tmp"))


def test_two_sweeps_share_the_work(fake_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    a = _sweep(fake_csv, out, tmp_path, quiet=False)
    b = _sweep(fake_csv, out, tmp_path, quiet=False)
    done = 0
    for p in (a, b):
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        m = re.search(r"(\d+) run\(s\) done, (\d+) already in", err)
        assert m is not None, err
        done += int(m.group(1))
    assert len(_records(out)) == 4 and not list(out.glob("*.lock"))
    assert done == 4  # each run ran once, in one of the two processes (it was 8: both ran all)


def test_stale_lock_of_a_dead_process_is_taken_over(fake_csv: Path, tmp_path: Path) -> None:
    from archperf.experiments.locks import RunLock, lock_owner_alive

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "x.lock"
    import socket

    lock.write_text(f"{dead.pid} {socket.gethostname()}\n")
    assert not lock_owner_alive(lock)
    mine = RunLock(lock)
    assert mine.acquire() and lock.read_text().split()[0] == str(os.getpid())
    assert not RunLock(lock).acquire()  # a live holder keeps it
    mine.release()
    assert not lock.exists()


@pytest.mark.parametrize(("times", "group"), [(2, True), (1, False)])
def test_ctrl_c_during_reproduce(times: int, group: bool, fake_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "table2"
    argv = [sys.executable, "-m", "archperf", "-q", "reproduce", "table2", "--out", str(out)]
    argv += ["--only", "rs,re", "--seeds", "500", "--data-dir", str(fake_csv.parent.parent)]
    argv += ["--workers", "2", "--no-progress"]
    p = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
        start_new_session=True,
        preexec_fn=default_sigint,
    )
    _wait_for_records(p, out, 5)
    kept = _records(out)
    rc, err, took = _interrupt(p, times, group)
    assert rc == 130 and took < 5.0, (rc, took, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archperf reproduce: interrupted"), err
    assert set(kept) <= set(_records(out)) and not list(out.glob("*.lock"))


def test_a_dead_worker_fails_its_run_and_is_replaced(fake_csv: Path) -> None:
    """A worker killed mid-run (out of memory, ``kill -9``) gives a RunError for its run; a
    fresh worker takes the runs still queued, and the pool ends without hanging."""
    import multiprocessing

    from archperf.experiments.executors import LocalExecutor, RunError
    from archperf.experiments.spec import RunSpec

    def spec(method: str, budget: int, seed: int) -> RunSpec:
        src = {"source": str(fake_csv)}
        return RunSpec(method, "nb201", "cifar10", budget, seed, benchmark_kwargs=src)

    # worker 0 runs the fast RS run then the 2nd RE run; worker 1 the 1st RE run (seconds)
    specs = [spec("rs", 20, 0), spec("re", 13000, 0), spec("re", 13000, 1), spec("rs", 20, 1)]
    results = {}
    t0 = time.monotonic()
    for s, r in LocalExecutor(workers=2).map(specs):
        if not results:  # the first result is the fast run: both workers now hold an RE run
            assert s.key() == specs[0].key()
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        results[s.key()] = r
    assert time.monotonic() - t0 < 60
    assert set(results) == {s.key() for s in specs}
    for s in specs[1:3]:
        err = results[s.key()]
        assert isinstance(err, RunError) and "worker process died" in str(err), err
    for s in (specs[0], specs[3]):  # the last run went to a replacement worker
        assert isinstance(results[s.key()], dict), results[s.key()]
    assert not multiprocessing.active_children()
