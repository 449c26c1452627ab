"""Threads and device: what archperf does with torch's CPU threads, and how to choose them.

Library calls (Bi-Arch2Perf training and prediction, every search, PP predictions, AG sampling)
run with one torch thread by default and give the caller's thread count back afterwards. An
explicit count wins: ``TrainerConfig(threads=N)``, then an enclosing ``archperf.runtime.threads(N)``
block, then ``$ARCHPERF_THREADS``. ``TrainerConfig(device=...)`` takes auto, cpu, cuda or
cuda:N; asking for CUDA where torch has none is a ``ValueError`` at once.
Run: python examples/threads_and_device.py   (a few seconds; docs/performance.md has the timings)
"""

from __future__ import annotations

import os

import torch

from archperf import runtime
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

bench = NB201Benchmark(dataset="cifar10")  # the data rule: nb201.csv, else the embedded data
labeled = bench.space.sample(20, seed=0)
labels = bench.lookup(labeled, "val")
pool = bench.space.sample(300, seed=1)


def threads_during_fit(threads: int | None = None) -> list[int]:
    """torch's thread count seen at the end of each training epoch."""
    seen: list[int] = []
    cfg = TrainerConfig(
        space="nb201",
        epochs=2,
        unlabeled_batch_size=64,
        progress=False,
        device="cpu",
        threads=threads,
    )
    BiArch2Perf(cfg).fit(
        labeled, labels, pool, on_epoch=lambda e, h: seen.append(torch.get_num_threads())
    )
    return seen


env = os.environ.get(runtime.THREADS_ENV)
print(
    f"torch's default here: {torch.get_num_threads()} threads; library default: "
    f"{runtime.resolve_threads()} (${runtime.THREADS_ENV} {'=' + env if env else 'unset'})"
)
print("during fit (defaults):        ", threads_during_fit())
print("during fit (threads=2):       ", threads_during_fit(threads=2))
with runtime.threads(2):  # covers every library call inside the block
    print("inside runtime.threads(2):    ", threads_during_fit())
print(f"after the calls, the caller still has {torch.get_num_threads()} threads")

print("device auto resolves to:", runtime.resolve_device("auto"))
try:
    TrainerConfig(device="cuda")
    print("CUDA is available: TrainerConfig(device='cuda') accepted")
except ValueError as exc:
    print("TrainerConfig(device='cuda') ->", exc)
