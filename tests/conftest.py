"""Shared fixtures: the real benchmark data folder (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

try:  # tiny tensors on a shared 2-core machine: one thread is 10-50x faster than two
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

from archperf.paths import DATA_ENV, find_data_dir


def _data_dir() -> Path | None:
    d = find_data_dir()
    return d if d is not None and d.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        pytest.skip(f"real benchmark data not found: set ${DATA_ENV} or place it at ../shared/data")
    return d


def require_file(root: Path, rel: str) -> Path:
    p = root / rel
    if not p.is_file():
        pytest.skip(f"{rel} not found under {root} (set ${DATA_ENV})")
    return p
