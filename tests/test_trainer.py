"""Bi-Arch2Perf trainer: learning on real NB201 data, exact resume, determinism, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from archperf.spaces.nb201 import NB201Space
from archperf.stats import kendall_tau
from archperf.training.bi_arch2perf import (
    BiArch2Perf,
    History,
    NonFiniteLossError,
    TrainerConfig,
)
from conftest import tiny_trainer_config


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _synthetic(n: int, seed: int) -> tuple[list, np.ndarray]:
    """NB201 cells with a made-up but learnable score (for mechanics tests, not results)."""
    space = NB201Space()
    cells = space.sample(n, seed=seed)
    ops = np.array([c.ops[1:7] for c in cells], dtype=float)
    y = 70 + 3.0 * (ops == 4).sum(1) + 1.5 * (ops == 3).sum(1) - 4.0 * (ops == 1).sum(1)
    return cells, y


def _tiny(**kw: Any) -> TrainerConfig:
    cfg: TrainerConfig = tiny_trainer_config(**{"epochs": 4, "seed": 3, **kw})  # type: ignore[assignment]
    return cfg


def _weights(tr: BiArch2Perf) -> dict[str, torch.Tensor]:
    out = {}
    for name in ("predictor", "discriminator", "generator"):
        for k, v in getattr(tr, name).state_dict().items():
            out[f"{name}.{k}"] = v.clone()
    return out


def test_same_seed_same_losses_and_weights() -> None:
    cells, y = _synthetic(24, 0)
    pool, _ = _synthetic(64, 1)
    runs = []
    for _ in range(2):
        tr = BiArch2Perf(_tiny())
        before = torch.get_rng_state()
        h = tr.fit(cells, y, pool)
        assert torch.equal(torch.get_rng_state(), before)  # no hidden global RNG use
        runs.append((h, _weights(tr)))
    (h1, w1), (h2, w2) = runs
    assert h1.loss_discriminator == h2.loss_discriminator
    assert h1.loss_generator == h2.loss_generator
    assert h1.loss_predictor == h2.loss_predictor
    assert w1.keys() == w2.keys()
    for k in w1:
        assert torch.equal(w1[k], w2[k]), k
    # a different seed gives a different run
    h3 = BiArch2Perf(_tiny(seed=4)).fit(cells, y, pool)
    assert h3.loss_predictor != h1.loss_predictor


def test_resume_reproduces_uninterrupted_run(tmp_path: Path) -> None:
    cells, y = _synthetic(24, 0)
    pool, _ = _synthetic(64, 1)
    full = BiArch2Perf(_tiny())
    h_full = full.fit(cells, y, pool)

    ckpt = tmp_path / "ckpt"
    part = BiArch2Perf(_tiny())
    part.fit(cells, y, pool, checkpoint_dir=ckpt, stop_after_epoch=2)
    assert json.loads((ckpt / "checkpoint.json").read_text())["meta"]["epoch"] == 2
    resumed = BiArch2Perf(_tiny())  # a fresh process would build everything anew
    h_res = resumed.fit(cells, y, pool, checkpoint_dir=ckpt)
    assert h_res.epoch == [1, 2, 3, 4]
    assert h_res.loss_discriminator == h_full.loss_discriminator
    assert h_res.loss_generator == h_full.loss_generator
    assert h_res.loss_predictor == h_full.loss_predictor
    w_full, w_res = _weights(full), _weights(resumed)
    for k in w_full:
        assert torch.equal(w_full[k], w_res[k]), k


def test_warm_start_continues_training() -> None:
    """New labels: continue from the trained weights for a few epochs; a plain refit restarts."""
    cells, y = _synthetic(24, 0)
    more, y_more = _synthetic(8, 5)
    pool, _ = _synthetic(64, 1)
    tr = BiArch2Perf(_tiny())
    tr.fit(cells, y, pool)
    trained = _weights(tr)
    cond_before = tr.condition.to_config()
    h = tr.fit([*cells, *more], np.concatenate([y, y_more + 20]), pool, warm_start=True, epochs=2)
    assert h.epoch == [1, 2, 3, 4, 5, 6]
    assert tr.condition.to_config() != cond_before  # re-derived from the new labels
    # warm start = continuing: equal to a second identical warm start from the same weights
    tr2 = BiArch2Perf(_tiny())
    tr2.fit(cells, y, pool)
    assert all(torch.equal(trained[k], v) for k, v in _weights(tr2).items())
    tr2.fit([*cells, *more], np.concatenate([y, y_more + 20]), pool, warm_start=True, epochs=2)
    assert all(torch.equal(v, _weights(tr2)[k]) for k, v in _weights(tr).items())
    # without warm_start, fit starts over (same as a fresh trainer)
    fresh = BiArch2Perf(_tiny()).fit(cells, y, pool)
    again = tr.fit(cells, y, pool)
    assert again.epoch == [1, 2, 3, 4]
    assert again.loss_predictor == fresh.loss_predictor
    with pytest.raises(ValueError, match="checkpoint_dir"):
        tr.fit(cells, y, pool, warm_start=True, checkpoint_dir="x")


def test_resume_refuses_other_config(tmp_path: Path) -> None:
    cells, y = _synthetic(16, 0)
    BiArch2Perf(_tiny(epochs=1)).fit(cells, y, cells, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="different config"):
        BiArch2Perf(_tiny(epochs=2, alpha=0.3)).fit(cells, y, cells, checkpoint_dir=tmp_path)


def test_nonfinite_loss_names_loss_and_step() -> None:
    cells, y = _synthetic(16, 0)
    tr = BiArch2Perf(_tiny(lr_predictor=float("inf")))
    with pytest.raises(NonFiniteLossError, match=r"loss .* at epoch \d+, step \d+"):
        tr.fit(cells, y, cells)
    from archperf.errors import ArchperfError

    assert issubclass(NonFiniteLossError, ArchperfError)  # the CLI prints it as one line


def test_bad_labels() -> None:
    cells, y = _synthetic(8, 0)
    y[3] = np.nan
    with pytest.raises(ValueError, match="label 3 is not finite"):
        BiArch2Perf(_tiny()).fit(cells, y, cells)
    with pytest.raises(ValueError, match="labels of shape"):
        BiArch2Perf(_tiny()).fit(cells, y[:4], cells)


def test_config_round_trip_and_validation() -> None:
    cfg = _tiny(generator_loss="saturating", condition={"type": "rank", "threshold": 80.0})
    assert TrainerConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="generator_loss"):
        TrainerConfig(generator_loss="wasserstein")
    with pytest.raises(ValueError, match="alpha"):
        TrainerConfig(alpha=1.5)
    with pytest.raises(ValueError, match="unknown TrainerConfig fields"):
        TrainerConfig.from_dict({"epochs": 3, "lr": 0.1})


def test_pp_adversarial_term_reaches_predictor() -> None:
    """γ1 must move PP through the relaxed rank: with only γ1 active, PP's weights change."""
    cells, y = _synthetic(16, 0)
    tr = BiArch2Perf(_tiny(epochs=1))
    tr.fit(cells, y, cells)
    pred = tr.predictor
    pred.train()
    pred.zero_grad()
    from archperf.cell import CellBatch

    batch = CellBatch.from_cells(cells, num_ops=7, max_nodes=8)
    soft = tr._soft_condition(pred(batch))
    assert soft.shape == (16, 5)
    assert torch.allclose(soft.sum(1), torch.ones(16))
    tr.discriminator(batch, soft).sum().backward()
    grads = [p.grad for p in pred.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_history_save_load_plot(tmp_path: Path) -> None:
    cells, y = _synthetic(16, 0)
    tr = BiArch2Perf(_tiny(epochs=2))
    h = tr.fit(cells, y, cells, heldout=(cells[:8], y[:8]))
    assert len(h.heldout_kendall_tau) == 2 and h.heldout_kendall_tau[0] is not None
    h.save(tmp_path / "h.json")
    assert History.load(tmp_path / "h.json") == h
    png = h.plot(tmp_path / "h.png")
    assert png.stat().st_size > 1000
    out = tr.save(tmp_path / "model")
    for part in ("predictor", "discriminator", "generator"):
        assert (out / part / "component.json").is_file()


@pytest.mark.data
def test_learns_on_real_nb201(data_dir: Path) -> None:
    """On real NB201 CIFAR-10 validation accuracies, PP ranks unseen cells well above chance
    and above an untrained predictor."""
    from archperf.benchmarks.nb201 import NB201Benchmark

    bench = NB201Benchmark(dataset="cifar10", data_dir=data_dir)
    space = bench.space
    cells = list(space.enumerate())
    rng = np.random.default_rng(0)
    order = rng.permutation(len(cells))
    labeled = [cells[i] for i in order[:100]]
    unseen = [cells[i] for i in order[100:2100]]
    pool = [cells[i] for i in order[:3000]]
    y = bench.lookup(labeled, "val")
    y_unseen = bench.lookup(unseen, "val")
    cfg = TrainerConfig(
        space="nb201", epochs=30, progress=False, seed=0, device="cpu", unlabeled_batch_size=64
    )
    untrained = BiArch2Perf(TrainerConfig(**{**cfg.to_dict(), "epochs": 0}))
    untrained.fit(labeled, y, pool)
    tau_untrained = kendall_tau(untrained.predict(unseen), y_unseen)
    tr = BiArch2Perf(cfg)
    tr.fit(labeled, y, pool)
    tau = kendall_tau(tr.predict(unseen), y_unseen)
    print(f"tau={tau:.3f} untrained={tau_untrained:.3f}")
    assert tau > 0.3, tau
    assert tau > tau_untrained + 0.1, (tau, tau_untrained)


def test_history_plot_draws_no_empty_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a held-out set there is no rank-correlation panel (it would be all NaN)."""
    from matplotlib.figure import Figure

    seen: list[list[bool]] = []
    savefig = Figure.savefig

    def spy(fig: Figure, *args, **kwargs):  # which panels hold a finite point
        seen.append(
            [
                any(np.isfinite(np.asarray(line.get_ydata(), float)).any() for line in ax.lines)
                for ax in fig.axes
            ]
        )
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    cells, y = _synthetic(16, 0)
    plain = BiArch2Perf(_tiny(epochs=2)).fit(cells, y, cells)
    plain.plot(tmp_path / "plain.png")
    held = BiArch2Perf(_tiny(epochs=2)).fit(cells, y, cells, heldout=(cells[:8], y[:8]))
    held.plot(tmp_path / "held.png")
    assert seen == [[True], [True, True]]
