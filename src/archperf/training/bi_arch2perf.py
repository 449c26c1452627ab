"""Bi-Arch2Perf: the semi-supervised adversarial trainer of SemiGAN-NAD (paper §3.1, eqs. 3–10).

Three players are trained in alternation on every batch, in the order of the paper's appendix C
(D → AG → PP):

* **D** maximises ``β1 + α·β2 + (1−α)·β3``: real labeled pairs ``(A, ŷ)`` are positive;
  unlabeled cells paired with PP's predicted rank (β2) and AG's generated cells paired with their
  condition (β3) are negative.
* **AG** minimises ``(1−α)·E[log(1 − D(AG(ŷ, z), ŷ))]`` (eq. 10, ``generator_loss="saturating"``)
  or, by default, the non-saturating ``−(1−α)·E[log D(AG(ŷ, z), ŷ)]``: same fixed point, but it
  gives the generator useful gradients early, when D rejects its samples confidently.  By
  default AG also minimises an AC-GAN class loss (D's class head on its samples against their
  condition) and a collision-probability floor against mode collapse; ``TrainerConfig.paper()``
  turns both off (docs/training.md, "The generator obeys its condition").
* **PP** minimises ``α·γ1 + γ2 + α_p·γ3``: adversarial on unlabeled cells (PP wants D to accept
  its predicted rank), MSE on labeled cells, MSE of generated cells against the representative
  performance of their condition.

PP's predicted rank must be differentiable for γ1 to reach PP: the rank discretization is relaxed
into class probabilities ``P(class ≤ k) = σ((y − b_k)/(τ·step))`` over the condition's class
boundaries ``b_k`` (a continuous condition uses the standardised prediction directly).  All
adversarial terms use binary cross-entropy on D's logits.  MSE terms are computed on labels
standardised by the labeled set's mean and std, so the weights do not depend on the unit.

Everything random comes from the trainer's own seeded generators; checkpoints store them, so a
resumed run reproduces the uninterrupted one exactly on CPU.

:class:`BiArch2Perf` is the facade; the parts are found by name in :mod:`archperf.training`:
``config`` (:class:`TrainerConfig`), ``assembly`` (building the players), ``losses`` (the pieces
of the objectives), ``loop`` (a step, and the epochs), ``checkpointing`` (checkpoints and saved
models), ``pool`` (the unlabeled pool and pool averaging), ``history`` (:class:`History`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch
from torch import Tensor, nn

from .. import registry
from ..errors import check_finite_predictions
from ..interfaces import Condition, Predictor, SearchSpace
from ..nn.batching import GraphTable, predict_table
from ..runtime import resolve_device, threads
from .assembly import Players, build_condition, build_encoder_for, build_players
from .checkpoint import atomic_write_bytes, has_checkpoint, remove_checkpoint
from .checkpointing import RESUME_MAY_CHANGE, restore_checkpoint, save_checkpoint, save_trained
from .config import DIVERSITY_TERMS, TrainerConfig
from .history import History
from .loop import Stepper, TrainingData, run_epochs
from .losses import NonFiniteLossError, diversity_penalty
from .pool import UnlabeledPool

__all__ = [
    "DIVERSITY_TERMS",
    "BiArch2Perf",
    "GraphTable",
    "History",
    "NonFiniteLossError",
    "TrainerConfig",
    "resolve_device",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def _in_config_threads(method: _F) -> _F:
    """Run a trainer method inside :func:`archperf.runtime.threads` with ``config.threads``."""

    @functools.wraps(method)
    def wrapper(self: BiArch2Perf, *args: Any, **kwargs: Any) -> Any:
        with threads(self.config.threads):
            return method(self, *args, **kwargs)

    return cast(_F, wrapper)


class BiArch2Perf:
    """The Bi-Arch2Perf trainer: assemble components, :meth:`fit`, then use :attr:`predictor`
    and :attr:`generator`.

    Components come from the registry by the names in ``config`` or as objects
    (``predictor=``, ``discriminator=``, ``generator=``, ``condition=``).  With
    ``config.adversarial=False`` only PP is trained: :attr:`discriminator` and
    :attr:`generator` stay None (none is built).
    """

    def __init__(
        self,
        config: TrainerConfig | None = None,
        *,
        space: SearchSpace[Any] | None = None,
        predictor: nn.Module | None = None,
        discriminator: nn.Module | None = None,
        generator: nn.Module | None = None,
        condition: Condition | None = None,
    ) -> None:
        self.config = config or TrainerConfig()
        self.device = resolve_device(self.config.device)
        self.space: SearchSpace[Any] = registry.search_space(space or self.config.space)
        self._given: dict[str, nn.Module | None] = {
            "predictor": predictor,
            "discriminator": discriminator,
            "generator": generator,
        }
        self._given_condition = condition
        self.condition: Condition | None = condition
        self.players: Players | None = None
        self.history = History()
        self._pool: UnlabeledPool | None = None

    # -- the players -------------------------------------------------------------------------

    @property
    def predictor(self) -> nn.Module | None:
        """PP (None before :meth:`fit`)."""
        return None if self.players is None else self.players.predictor

    @property
    def discriminator(self) -> nn.Module | None:
        """D (None before :meth:`fit`, and without adversarial training)."""
        return None if self.players is None else self.players.discriminator

    @property
    def generator(self) -> nn.Module | None:
        """AG (None before :meth:`fit`, and without adversarial training)."""
        return None if self.players is None else self.players.generator

    @property
    def opt_p(self) -> torch.optim.Optimizer | None:
        return None if self.players is None else self.players.opt_predictor

    @property
    def opt_d(self) -> torch.optim.Optimizer | None:
        return None if self.players is None else self.players.opt_discriminator

    @property
    def opt_g(self) -> torch.optim.Optimizer | None:
        return None if self.players is None else self.players.opt_generator

    def _build_condition(self, labels: np.ndarray) -> Condition:
        return build_condition(self.config, labels)

    def _encoder(self, kind: str, name: str, kw: dict[str, Any], seed: int) -> nn.Module:
        return build_encoder_for(self.config, self.space, kind, name, kw, seed)

    def _build(self, labels: np.ndarray) -> None:
        if self.condition is None:
            self.condition = self._build_condition(labels)
        self.players = build_players(
            self.config, self.space, self.condition, self._given, self.device
        )

    def _stepper(self, y_std: float = 1.0, class_weights: Tensor | None = None) -> Stepper:
        assert self.players is not None and self.condition is not None
        return Stepper(self.config, self.players, self.condition, self.device, y_std, class_weights)

    def _soft_condition(self, pred: Tensor) -> Tensor:
        """PP's prediction as a differentiable condition (class probabilities or a float)."""
        assert self.condition is not None
        return self.condition.soft(pred, self.config.soft_rank_temperature)

    def _diversity(self, probs: Tensor, gen_cls: Tensor) -> Tensor:
        """AG's diversity penalty (:func:`~archperf.training.losses.diversity_penalty`)."""
        cfg = self.config
        return diversity_penalty(probs, gen_cls, cfg.diversity, cfg.collision_target)

    # -- training ------------------------------------------------------------------------------

    @_in_config_threads
    def fit(
        self,
        labeled: Sequence[Any],
        labels: Sequence[float] | np.ndarray,
        unlabeled: Sequence[Any],
        heldout: tuple[Sequence[Any], Sequence[float] | np.ndarray] | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = True,
        stop_after_epoch: int | None = None,
        on_epoch: Callable[[int, History], None] | None = None,
        warm_start: bool = False,
        epochs: int | None = None,
    ) -> History:
        """Train on ``labeled`` (with ``labels``, e.g. validation accuracy in %) and the
        ``unlabeled`` pool; return the :class:`History`.

        With ``checkpoint_dir``, a checkpoint is written atomically every
        ``checkpoint_every`` epochs and, when ``resume``, training continues from the last one.
        ``stop_after_epoch`` ends early (used to simulate an interruption).

        ``warm_start=True`` continues from the current weights and optimiser states (e.g. after
        new labels arrived) for ``epochs`` more epochs (default ``config.epochs``); the rank
        condition is re-derived from the new labels unless it was given.  The history goes on.
        """
        cfg = self.config
        y = np.asarray(labels, dtype=np.float64)
        if y.ndim != 1 or y.shape[0] != len(labeled):
            raise ValueError(f"{len(labeled)} labeled cells but labels of shape {y.shape}")
        if y.shape[0] < 2:
            raise ValueError("Bi-Arch2Perf needs at least two labeled cells")
        if not np.isfinite(y).all():
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"label {bad} is not finite ({y[bad]})")
        extra = cfg.epochs if epochs is None else int(epochs)
        if extra < 0:
            raise ValueError(f"epochs must be >= 0, got {extra}")
        if warm_start and self.players is not None:
            if checkpoint_dir is not None:
                raise ValueError("warm_start does not combine with checkpoint_dir")
            if self._given_condition is None:
                self.condition = self._build_condition(y)
            first_epoch = len(self.history.epoch)
        else:
            self.condition = self._given_condition  # None: derived from these labels
            self.history = History()
            self._build(y)
            first_epoch = 0
        last_epoch = first_epoch + extra
        players, condition = self.players, self.condition
        assert players is not None and condition is not None
        pp = players.predictor

        lab = GraphTable(self.space, labeled)
        unl = self._set_pool(unlabeled)
        held = GraphTable(self.space, heldout[0]) if heldout is not None else None
        held_y = np.asarray(heldout[1], dtype=np.float64) if heldout is not None else None
        y_mean, y_std = float(y.mean()), float(y.std()) or 1.0
        assert isinstance(pp, Predictor)
        pp.set_target_scale(y_mean, y_std)
        y_t = torch.as_tensor(y, dtype=torch.float32, device=self.device)
        cls_all = self._cond_tensor(y)
        class_weights = None
        if cfg.class_loss_balanced and condition.num_classes is not None:
            counts = torch.bincount(cls_all, minlength=condition.num_classes).float()
            class_weights = torch.where(
                counts > 0, len(y) / (counts.numel() * counts.clamp_min(1.0)), 0.0
            )

        rng = np.random.default_rng(cfg.seed if first_epoch == 0 else [cfg.seed, first_epoch])
        tgen = torch.Generator(device="cpu").manual_seed(cfg.seed + 1_000_003 * first_epoch)
        start_epoch = first_epoch
        ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if ckpt is not None and resume and has_checkpoint(ckpt):
            start_epoch, self.history = restore_checkpoint(
                ckpt, cfg, players, condition, rng, tgen, last_epoch
            )
        elif ckpt is not None:
            remove_checkpoint(ckpt)  # a crash before our first save must not resume the old run
            atomic_write_bytes(ckpt / "config.json", cfg.to_json().encode("utf-8"))

        def checkpoint(epoch: int) -> None:
            assert ckpt is not None and self.condition is not None
            save_checkpoint(ckpt, cfg, players, self.condition, self.history, epoch, rng, tgen)

        run_epochs(
            self._stepper(y_std, class_weights),
            TrainingData(lab, y_t, cls_all, unl, held, held_y),
            self.history,
            rng,
            tgen,
            start_epoch=start_epoch,
            first_epoch=first_epoch,
            last_epoch=last_epoch,
            save_checkpoint=checkpoint if ckpt is not None else None,
            on_epoch=on_epoch,
            stop_after_epoch=stop_after_epoch,
        )
        for module in (pp, players.generator, players.discriminator):
            if module is not None:
                module.eval()
        if self._pool is not None:
            self._pool.forget()  # the weights changed
        return self.history

    def _cond_tensor(self, values: np.ndarray) -> Tensor:
        assert self.condition is not None
        enc = self.condition.encode(values)
        if self.condition.num_classes is not None:
            return torch.as_tensor(enc, dtype=torch.long, device=self.device)
        return torch.as_tensor(enc, dtype=torch.float32, device=self.device)

    # -- prediction ----------------------------------------------------------------------------

    def _predict_table(self, table: GraphTable, batch_size: int = 2048) -> np.ndarray:
        assert self.predictor is not None
        return predict_table(self.predictor, table.batches(batch_size, self.device))

    def _set_pool(self, archs: Sequence[Any]) -> GraphTable:
        """The unlabeled pool as a table, with its equivalence classes (``space.canonical``)
        when ``pool_averaging``.  Both are kept while the same sequence object comes again
        (a search that fits round after round on one pool converts it once)."""
        if self._pool is not None and self._pool.holds(archs):
            self._pool.forget()
            return self._pool.table
        self._pool = UnlabeledPool(self.space, archs, self.config.pool_averaging)
        return self._pool.table

    @_in_config_threads
    def pool_predictions(self) -> np.ndarray:
        """:meth:`predict` for every cell of the last ``fit``'s unlabeled pool, in pool order
        (without converting the cells again)."""
        if self.predictor is None or self._pool is None:
            raise RuntimeError("call fit() first")
        out = self._pool.predictions(self._predict_table)
        check_finite_predictions(out, "the trainer's predictor (PP)")
        return out

    @_in_config_threads
    def predict(
        self, archs: Sequence[Any], batch_size: int = 2048, raw: bool = False
    ) -> np.ndarray:
        """PP's predicted performance for architectures of the space (numpy ``[B]``).

        With ``config.pool_averaging`` (default) a cell that is equivalent (same
        ``space.canonical``) to cells of the last ``fit``'s unlabeled pool gets PP's mean
        prediction over those pool cells: equivalent cells compute the same function, and the
        mean removes PP's disagreement between them.  ``raw=True`` gives PP's own output.
        """
        if self.predictor is None:
            raise RuntimeError("call fit() first")
        if len(archs) == 0:
            return np.zeros(0, dtype=np.float64)
        out = self._predict_table(GraphTable(self.space, archs), batch_size)
        if not raw and self._pool is not None:
            out = self._pool.average(archs, out, self._predict_table)
        check_finite_predictions(out, "the trainer's predictor (PP)")
        return out

    # -- saving --------------------------------------------------------------------------------

    #: Config fields that may change between a run and its resume (where and how fast it runs).
    _RESUME_MAY_CHANGE = RESUME_MAY_CHANGE

    def save(self, directory: str | Path) -> Path:
        """Save the trained predictor and, with adversarial training, the discriminator and
        generator (safetensors + JSON each) plus the config, the condition and the history,
        then ``manifest.json`` with the hash of each (written last: loading a component of an
        interrupted re-save is a clear error)."""
        if self.players is None or self.condition is None:
            raise RuntimeError("call fit() first")
        return save_trained(directory, self.config, self.players, self.condition, self.history)
