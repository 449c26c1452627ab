"""Shared fixtures: the real benchmark data folder (skipped with a reason when absent) and a
made-up NB201 table for tests that need a data folder but not the real numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

try:  # tiny tensors on a shared 2-core machine: one thread is 10-50x faster than two
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

from archperf.paths import DATA_ENV, find_data_dir, no_data_reason

NO_DATA = f"real benchmark data not found: {no_data_reason()}"


def _data_dir() -> Path | None:
    d = find_data_dir()
    return d if d is not None and d.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        pytest.skip(NO_DATA)
    return d


def require_file(root: Path, rel: str) -> Path:
    p = root / rel
    if not p.is_file():
        pytest.skip(f"{rel} not found under {root} (set ${DATA_ENV})")
    return p


def require_data_file(rel: str) -> Path:
    """``rel`` under the real data folder, or skip (for tests without the ``data_dir`` fixture)."""
    d = _data_dir()
    if d is None:
        pytest.skip(NO_DATA)
    return require_file(d, rel)


def write_fake_nb201_csv(root: Path, offset: float = 0.0) -> Path:
    """``root/nb201/nb201.csv`` in the real layout with made-up accuracies: record ``i`` has
    validation accuracy ``50 + (i % 400) / 10 + offset`` and test accuracy 1 point more."""
    from archperf.spaces.nb201 import NB201Space

    space = NB201Space()
    cols = ["cifar10_valid_val", "cifar10_test", "cifar100_val", "cifar100_test"]
    cols += ["imagenet16_val", "imagenet16_test"]
    lines = ["index,arch_str," + ",".join(cols)]
    for i, cell in enumerate(space.enumerate()):
        val = 50 + (i % 400) / 10 + offset
        lines.append(f"{i},{space.to_text(cell)}," + ",".join(f"{val + j % 2:g}" for j in range(6)))
    path = root / "nb201" / "nb201.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_trainer_config(**kw: object) -> object:
    """A TrainerConfig with tiny components (width 8) for mechanics tests on NB201, not
    results; ``kw`` overrides any field (``epochs`` and ``seed`` are required)."""
    from archperf.training.bi_arch2perf import TrainerConfig

    base: dict[str, object] = dict(
        space="nb201",
        labeled_batch_size=8,
        unlabeled_batch_size=16,
        progress=False,
        device="cpu",
        predictor_kwargs={"hidden_dim": 8, "mlp_dims": [8]},
        discriminator_kwargs={"hidden_dim": 8, "mlp_dims": [8]},
        generator_kwargs={"hidden_dim": 8},
    )
    base.update(kw)
    return TrainerConfig(**base)  # type: ignore[arg-type]


def default_sigint() -> None:
    """``preexec_fn`` for a child that a test interrupts: SIGINT back to its default, so the
    child's Python raises KeyboardInterrupt even when the test run itself was started where
    SIGINT is ignored (``cmd &`` in a script, some CI runners), which children inherit."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def plugin_installed(module: str) -> bool:
    """Whether the distribution registering ``module`` under the ``archperf`` entry-point group
    is installed (e.g. ``"archperf_encoders.plugin"``)."""
    import importlib.metadata

    return any(ep.value == module for ep in importlib.metadata.entry_points(group="archperf"))
