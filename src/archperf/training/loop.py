"""Bi-Arch2Perf's training loop: one step of the three players, and the epochs around it.

Per step, in the order of the paper's appendix C (D → AG → PP):

1. **D** on real labeled pairs (positive), unlabeled cells with PP's soft rank (negative, β2)
   and AG's cells with their condition (negative, β3), plus the class loss;
2. **AG** against the updated D (eq. 10), plus class loss, diversity and sharpness terms;
3. **PP** on ``α·γ1 + γ2 + α_p·γ3``.

Without adversarial training a step is PP's supervised term γ2 alone.  :meth:`Stepper.step`
returns the step's losses as a :class:`StepLosses`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from .. import progress
from ..cell import CellBatch
from ..interfaces import Condition, Generator, HasChoiceProbs, HasClassHead
from ..nn.batching import GraphTable, predict_table
from ..stats import kendall_tau, spearman_rho
from .assembly import Players
from .config import TrainerConfig
from .history import History
from .losses import bce, checked, choice_entropy, diversity_penalty, supervised_mse

__all__ = ["StepBatch", "StepLosses", "Stepper", "TrainingData", "run_epochs"]


class StepLosses(NamedTuple):
    """The losses of one step (0.0 for D and AG without adversarial training)."""

    discriminator: float
    generator: float
    predictor: float
    mse_labeled: float
    """PP's supervised term γ2 alone."""


@dataclass
class StepBatch:
    """What one step trains on: D's labeled batch (cells, labels, classes), an unlabeled batch,
    and PP's labeled cells with their labels."""

    labeled: CellBatch
    y: Tensor
    classes: Tensor
    unlabeled: CellBatch
    pp_labeled: CellBatch
    pp_y: Tensor


class Stepper:
    """One training step of the players (see the module doc)."""

    def __init__(
        self,
        config: TrainerConfig,
        players: Players,
        condition: Condition,
        device: torch.device,
        y_std: float,
        class_weights: Tensor | None,
    ) -> None:
        self.config = config
        self.players = players
        self.condition = condition
        self.device = device
        self.y_std = y_std
        d = players.discriminator
        if class_weights is not None and isinstance(d, HasClassHead) and d.has_fake_class:
            class_weights = F.pad(class_weights, (0, 1), value=1.0)  # the generated-cells class
        self.class_weights = class_weights

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def soft_condition(self, pred: Tensor) -> Tensor:
        """PP's prediction as a differentiable condition (:meth:`Condition.soft`)."""
        return self.condition.soft(pred, self.config.soft_rank_temperature)

    def step(self, b: StepBatch, tgen: torch.Generator, epoch: int, step: int) -> StepLosses:
        cfg = self.config
        pl = self.players
        pp = pl.predictor
        y_std = self.y_std
        pp.train()
        if not cfg.adversarial:
            with self.autocast():
                gamma2 = supervised_mse(pp(b.pp_labeled), b.pp_y, y_std)
            lp = checked("PP (γ2, supervised only)", gamma2, epoch, step)
            pl.opt_predictor.zero_grad(set_to_none=True)
            gamma2.backward()
            pl.opt_predictor.step()
            return StepLosses(0.0, 0.0, lp, lp)
        d, g = pl.discriminator, pl.generator
        opt_d, opt_g = pl.opt_discriminator, pl.opt_generator
        assert d is not None and g is not None and opt_d is not None and opt_g is not None
        a, a_p = cfg.alpha, cfg.alpha_p
        d.train()
        g.train()
        fake, gen_cls, probs = self.generate(b.classes, tgen)
        lam = cfg.class_loss_weight if pl.class_loss else 0.0
        lam_u = cfg.class_loss_unlabeled_weight
        lab, cls, unl = b.labeled, b.classes, b.unlabeled

        # ---- D: real labeled pairs vs. (unlabeled, PP's rank) and (generated, condition)
        with self.autocast():
            # PP is updated last, so this forward serves both D's β2 (detached) and PP's γ1.
            pred_u = pp(unl).float()
            if not bool(torch.isfinite(pred_u).all()):  # would poison D's condition first
                checked("PP (α·γ1 + γ2 + α_p·γ3; PP predicts NaN/inf)", pred_u.sum(), epoch, step)
            soft_u = self.soft_condition(pred_u.detach())
            loss_cls = torch.zeros((), device=self.device)
            if lam > 0:
                assert isinstance(d, HasClassHead)
                logit_lab, cl_lab = d.forward_with_classes(lab, cls)
                loss_cls = F.cross_entropy(cl_lab.float(), cls, weight=self.class_weights)
            else:
                logit_lab = d(lab, cls)
            loss_d = bce(logit_lab, True)
            if lam > 0 and lam_u > 0:
                assert isinstance(d, HasClassHead)
                logit_unl, cl_unl = d.forward_with_classes(unl, soft_u)
                pseudo = self.condition.hard(pred_u.detach())
                loss_cls = loss_cls + lam_u * F.cross_entropy(cl_unl.float(), pseudo)
            else:
                logit_unl = d(unl, soft_u)
            loss_d = loss_d + a * bce(logit_unl, False)
            fake_detached = CellBatch(fake.adj.detach(), fake.ops.detach(), fake.mask, fake.num_ops)
            lam_f = cfg.class_loss_fake_weight if lam > 0 else 0.0
            if lam_f > 0:
                assert isinstance(d, HasClassHead)
                logit_fake, cl_fake = d.forward_with_classes(fake_detached, gen_cls)
                fake_class = torch.full_like(gen_cls, int(cl_fake.shape[-1]) - 1)  # the last
                loss_cls = loss_cls + lam_f * F.cross_entropy(cl_fake.float(), fake_class)
            else:
                logit_fake = d(fake_detached, gen_cls)
            loss_d = loss_d + (1 - a) * bce(logit_fake, False)
            if lam > 0:
                loss_d = loss_d + lam * loss_cls
        ld = checked("D (β1 + α·β2 + (1−α)·β3 + class loss)", loss_d, epoch, step)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        # ---- AG: fool the updated D with the same generated cells
        with self.autocast():
            if lam > 0:
                assert isinstance(d, HasClassHead)
                logits_g, cl_g = d.forward_with_classes(fake, gen_cls)
            else:
                logits_g = d(fake, gen_cls)
            if cfg.generator_loss == "non-saturating":
                loss_g = (1 - a) * bce(logits_g, True)
            else:  # eq. 10 as written: minimise log(1 - D) = -BCE(logits, 0)
                loss_g = -(1 - a) * bce(logits_g, False)
            if lam > 0:
                loss_g = loss_g + lam * F.cross_entropy(cl_g.float(), gen_cls)
            if cfg.predictor_guidance_weight > 0:
                # PP classifies AG's cells; its gradients from here are cleared before its step
                soft = self.soft_condition(pp(fake).float())
                if soft.dim() == 2:  # class probabilities
                    guide = F.nll_loss(soft.clamp_min(1e-8).log(), gen_cls)
                else:
                    guide = F.mse_loss(soft, gen_cls.float())
                loss_g = loss_g + cfg.predictor_guidance_weight * guide
            if probs is not None:
                loss_g = loss_g + cfg.diversity_weight * diversity_penalty(
                    probs, gen_cls, cfg.diversity, cfg.collision_target
                )
                if cfg.op_collision_target > 0:
                    assert isinstance(g, HasChoiceProbs)
                    loss_g = loss_g + cfg.diversity_weight * diversity_penalty(
                        g.op_choices(probs), gen_cls, cfg.diversity, cfg.op_collision_target
                    )
                if cfg.choice_sharpness_weight > 0:
                    loss_g = loss_g + cfg.choice_sharpness_weight * choice_entropy(probs)
                if cfg.limit_weight > 0:
                    assert isinstance(g, HasChoiceProbs)
                    loss_g = loss_g + cfg.limit_weight * g.over_limit(probs).mean()
        lg = checked("AG (eq. 10 + class loss + diversity)", loss_g, epoch, step)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        # ---- PP: MSE on labeled + adversarial on unlabeled + MSE on generated cells
        target = torch.as_tensor(
            self.condition.target(gen_cls.detach().cpu().numpy()),
            dtype=torch.float32,
            device=self.device,
        )
        with self.autocast():
            gamma2 = supervised_mse(pp(b.pp_labeled), b.pp_y, y_std)
            gamma1 = bce(d(unl, self.soft_condition(pred_u)), True)
            gamma3 = supervised_mse(pp(fake_detached), target, y_std)
            loss_p = a * gamma1 + gamma2 + a_p * gamma3
        lp = checked("PP (α·γ1 + γ2 + α_p·γ3)", loss_p, epoch, step)
        pl.opt_predictor.zero_grad(set_to_none=True)
        loss_p.backward()
        pl.opt_predictor.step()
        d.zero_grad(set_to_none=True)  # γ1's gradients into D are not D's update
        return StepLosses(ld, lg, lp, float(gamma2.detach()))

    def generate(
        self, cls: Tensor, tgen: torch.Generator
    ) -> tuple[CellBatch, Tensor, Tensor | None]:
        """AG's cells for this step, their conditions, and (with a diversity term) the choice
        probabilities."""
        cfg = self.config
        g = self.players.generator
        assert isinstance(g, Generator)
        n_gen = cfg.generator_batch_size or int(cls.shape[0])
        if cfg.generator_conditions == "uniform" and self.condition.num_classes is not None:
            gen_cls = torch.randint(0, self.condition.num_classes, (n_gen,), generator=tgen).to(
                self.device
            )
        elif n_gen == int(cls.shape[0]):
            gen_cls = cls
        else:
            gen_cls = cls[torch.arange(n_gen, device=cls.device) % int(cls.shape[0])]
        z_adj, z_ops = g.sample_latent(n_gen, tgen)
        z_adj, z_ops = z_adj.to(self.device), z_ops.to(self.device)
        with self.autocast():
            if cfg.diversity_weight > 0:
                assert isinstance(g, HasChoiceProbs)
                extra = {"unpruned": True} if cfg.generator_unpruned else {}
                fake, probs = g.generate(
                    gen_cls,
                    z_adj,
                    z_ops,
                    generator=tgen,
                    structure=cfg.diversity_structure,
                    **extra,
                )
                return fake, gen_cls, probs
            return g(gen_cls, z_adj, z_ops, generator=tgen), gen_cls, None


@dataclass
class TrainingData:
    """The tables a run trains on: labeled cells with labels and classes, the unlabeled pool,
    and an optional held-out labeled split for PP's rank correlations per epoch."""

    labeled: GraphTable
    y: Tensor
    classes: Tensor
    unlabeled: GraphTable
    heldout: GraphTable | None = None
    heldout_y: np.ndarray | None = None


def run_epochs(
    stepper: Stepper,
    data: TrainingData,
    history: History,
    rng: np.random.Generator,
    tgen: torch.Generator,
    start_epoch: int,
    first_epoch: int,
    last_epoch: int,
    save_checkpoint: Callable[[int], None] | None = None,
    on_epoch: Callable[[int, History], None] | None = None,
    stop_after_epoch: int | None = None,
) -> None:
    """Train epochs ``start_epoch .. last_epoch − 1`` (appending to ``history``), reporting
    each to the progress reporter (a bar of its own when none is active and
    ``config.progress``) and calling ``save_checkpoint(epoch)`` every ``checkpoint_every``
    epochs and at the last."""
    cfg = stepper.config
    device = stepper.device
    lab, unl, y_t, cls_all = data.labeled, data.unlabeled, data.y, data.classes
    held, held_y = data.heldout, data.heldout_y
    extra = last_epoch - first_epoch
    steps = cfg.steps_per_epoch or max(1, math.ceil(len(lab) / cfg.labeled_batch_size))
    pbs = cfg.predictor_batch_size
    pp_full = pbs is None or pbs >= len(lab)
    lab_full = lab.batch(np.arange(len(lab)), device) if pp_full else None
    reporter = progress.current()
    own_bar = None
    if reporter is None and cfg.progress:  # no search around: a bar of our own (terminal only)
        own_bar = reporter = progress.Bar("training", extra, "epochs")
    if reporter is not None:
        reporter.epoch(start_epoch - first_epoch, extra)
    try:
        for epoch in range(start_epoch, last_epoch):
            t0 = time.perf_counter()
            sums = np.zeros(4)
            perm = rng.permutation(len(lab))
            pperm = None if pp_full else rng.permutation(len(lab))
            bs = min(cfg.labeled_batch_size, len(lab))
            for step in range(steps):
                li = torch.as_tensor(perm[(step * bs + np.arange(bs)) % len(lab)])
                ui = torch.as_tensor(rng.integers(0, len(unl), size=cfg.unlabeled_batch_size))
                if lab_full is not None:
                    pp_lab, pp_y = lab_full, y_t
                else:
                    assert pperm is not None and pbs is not None
                    pi = torch.as_tensor(pperm[(step * pbs + np.arange(pbs)) % len(lab)])
                    pp_lab, pp_y = lab.batch(pi, device), y_t[pi.to(device)]
                batch = StepBatch(
                    labeled=lab.batch(li, device),
                    y=y_t[li.to(device)],
                    classes=cls_all[li.to(device)],
                    unlabeled=unl.batch(ui, device),
                    pp_labeled=pp_lab,
                    pp_y=pp_y,
                )
                sums += np.array(stepper.step(batch, tgen, epoch, step))
            means = sums / steps
            h = history
            h.epoch.append(epoch + 1)
            h.loss_discriminator.append(float(means[0]))
            h.loss_generator.append(float(means[1]))
            h.loss_predictor.append(float(means[2]))
            h.mse_labeled.append(float(means[3]))
            if held is not None and held_y is not None and len(held) >= 2:
                pred = predict_table(stepper.players.predictor, held.batches(2048, device))
                h.heldout_kendall_tau.append(kendall_tau(pred, held_y))
                h.heldout_spearman_rho.append(spearman_rho(pred, held_y))
            else:
                h.heldout_kendall_tau.append(None)
                h.heldout_spearman_rho.append(None)
            h.seconds.append(time.perf_counter() - t0)
            if save_checkpoint is not None and (
                (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == last_epoch
            ):
                save_checkpoint(epoch + 1)
            if reporter is not None:
                losses_text = f"PP {means[2]:.3f}"
                if cfg.adversarial:
                    losses_text = f"D {means[0]:.3f} AG {means[1]:.3f} " + losses_text
                reporter.epoch(epoch + 1 - first_epoch, extra, losses_text)
            if on_epoch is not None:
                on_epoch(epoch + 1, h)
            if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
                break
    finally:
        if own_bar is not None:
            own_bar.close()
