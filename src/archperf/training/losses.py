"""The pieces of Bi-Arch2Perf's objectives (docs/training.md, "Objectives").

* :func:`bce`: binary cross-entropy on logits against all-real or all-fake targets (β1–β3,
  γ1, eq. 10);
* :func:`supervised_mse`: PP's γ2 (and γ3) on standardised targets;
* :func:`diversity_penalty` and :func:`choice_entropy`: AG's terms against mode collapse
  (``TrainerConfig.diversity``, ``choice_sharpness_weight``);
* :func:`checked`: a loss's value, or :class:`NonFiniteLossError` naming it.

How they are combined per step, and in which order the players are updated, is in
:mod:`archperf.training.loop`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from ..errors import ArchperfError

__all__ = [
    "NonFiniteLossError",
    "bce",
    "checked",
    "choice_entropy",
    "diversity_penalty",
    "supervised_mse",
]


class NonFiniteLossError(ArchperfError, FloatingPointError):
    """A loss became NaN or infinite; the message names the loss, the epoch and the step (the
    CLI prints it as one line)."""


def bce(logits: Tensor, real: bool) -> Tensor:
    """``BCE(logits, 1)`` for ``real``, else ``BCE(logits, 0)`` (mean over the batch)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def supervised_mse(pred: Tensor, y: Tensor, y_std: float) -> Tensor:
    """``MSE((pred − y) / y_std, 0)``: squared error in units of the labels' std."""
    return F.mse_loss((pred.float() - y) / y_std, torch.zeros_like(y))


def checked(name: str, value: Tensor, epoch: int, step: int) -> float:
    """``value`` as a float; :class:`NonFiniteLossError` naming the loss if NaN or infinite."""
    v = float(value.detach())
    if not math.isfinite(v):
        raise NonFiniteLossError(
            f"loss {name} is {v} at epoch {epoch}, step {step}; lower the learning rates or "
            "check the labels for NaN/inf"
        )
    return v


def choice_entropy(probs: Tensor) -> Tensor:
    """Mean entropy of each sample's choice distributions ``[B, M, K]``."""
    p32 = probs.float()
    return -(p32 * p32.clamp_min(1e-12).log()).sum(-1).mean()


def diversity_penalty(probs: Tensor, gen_cls: Tensor, kind: str, collision_target: float) -> Tensor:
    """AG's diversity penalty on choice probabilities ``[B, M, K]`` of samples conditioned on
    ``gen_cls`` (``TrainerConfig.diversity`` names ``kind``)."""
    probs = probs.float()
    floor = math.log(collision_target)
    if kind == "collision":
        log_coll = probs.pow(2).sum(-1).clamp_min(1e-30).log().sum(-1)  # [B]
        return F.relu(log_coll - floor).mean()
    # a class condition: one group per class; a continuous one: the whole batch
    groups = (
        [torch.ones_like(gen_cls, dtype=torch.bool)]
        if gen_cls.dtype.is_floating_point
        else [gen_cls == c for c in torch.unique(gen_cls).tolist()]
    )
    if kind == "pair-collision":
        total = torch.zeros((), device=probs.device)
        for sel in groups:
            n = int(sel.sum())
            if n < 2:
                continue
            p = probs[sel]
            # log P(draw of sample i == draw of sample j) = Σ_m log ⟨p_i,m, p_j,m⟩
            log_pair = torch.einsum("imk,jmk->ijm", p, p).clamp_min(1e-30).log().sum(-1)
            off = ~torch.eye(n, dtype=torch.bool, device=p.device)
            log_coll = torch.logsumexp(log_pair[off], 0) - math.log(n * (n - 1))
            total = total + F.relu(log_coll - floor) * sel.float().mean()
        return total
    if kind == "entropy":
        return (probs * probs.clamp_min(1e-12).log()).sum(-1).mean()
    total = torch.zeros((), device=probs.device)
    for sel in groups:
        pbar = probs[sel].mean(0)
        total = total + (pbar * pbar.clamp_min(1e-12).log()).sum(-1).mean() * sel.float().mean()
    return total
