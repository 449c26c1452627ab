"""Building Bi-Arch2Perf's players from a config: PP, and when trained adversarially, D and AG.

Components come from the registry by the names in :class:`~.config.TrainerConfig` (with their
``*_kwargs``), or are given as objects.  Each must be an ``nn.Module`` implementing its
interface (:class:`~archperf.interfaces.Predictor`, ``Discriminator``, ``Generator``).  With
``adversarial=False`` only PP is trained, so neither D nor AG is built (a space without a
generator decoder can then still train a predictor).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import registry
from ..conditions import condition_for_labels
from ..interfaces import (
    Condition,
    Discriminator,
    Generator,
    HasChoiceProbs,
    HasClassHead,
    Predictor,
    SearchSpace,
)
from ..nn.encoders import build_encoder, encoder_arguments
from .config import TrainerConfig

__all__ = ["Players", "build_condition", "build_encoder_for", "build_players"]


@dataclass
class Players:
    """The trained modules and their optimisers; D and AG are None without adversarial
    training.  ``class_loss``: D's class head and AG's class loss are in use."""

    predictor: nn.Module
    opt_predictor: torch.optim.Optimizer
    discriminator: nn.Module | None = None
    generator: nn.Module | None = None
    opt_discriminator: torch.optim.Optimizer | None = None
    opt_generator: torch.optim.Optimizer | None = None
    class_loss: bool = False


def build_condition(config: TrainerConfig, labels: np.ndarray) -> Condition:
    """The condition ``config.condition`` asks for, completed from ``labels``."""
    return condition_for_labels(config.condition, labels)


def build_encoder_for(
    config: TrainerConfig,
    space: SearchSpace[Any],
    kind: str,
    name: str,
    kw: dict[str, Any],
    seed: int,
) -> nn.Module:
    """The encoder of a PP or D built by the trainer (its arguments:
    :func:`~archperf.nn.encoders.encoder_arguments`; encoder arguments are popped from ``kw``)."""
    args = encoder_arguments(registry.get(kind, name), config.encoder, config.encoder_kwargs, kw)
    args.pop("seed", None)
    enc, _, _ = build_encoder(
        kind, None, len(space.op_names), name=config.encoder, seed=seed, **args
    )
    return enc


def _check(obj: Any, want: type, role: str) -> None:
    if not (isinstance(obj, nn.Module) and isinstance(obj, want)):
        raise TypeError(
            f"the {role} must be an nn.Module implementing archperf.interfaces."
            f"{want.__name__}, got {type(obj).__name__}"
        )


def build_players(
    config: TrainerConfig,
    space: SearchSpace[Any],
    condition: Condition,
    given: dict[str, nn.Module | None],
    device: torch.device,
) -> Players:
    """PP (and with ``config.adversarial`` D and AG) from ``given`` objects or the registry,
    on ``device``, with their Adam optimisers."""
    cfg = config
    seed = cfg.seed
    num_classes = condition.num_classes
    pp = given.get("predictor")
    if pp is None:
        kw = {"seed": seed, **cfg.predictor_kwargs}
        if "encoder" not in kw:
            kw["encoder"] = build_encoder_for(cfg, space, "predictor", cfg.predictor, kw, seed)
        pp = registry.create("predictor", cfg.predictor, **kw)
    _check(pp, Predictor, "predictor")
    assert pp is not None
    pp = pp.to(device)
    players = Players(
        predictor=pp,
        opt_predictor=torch.optim.Adam(
            pp.parameters(), lr=cfg.lr_predictor, weight_decay=cfg.weight_decay
        ),
    )
    if not cfg.adversarial:
        return players
    d = given.get("discriminator")
    if d is None:
        kw = {"seed": seed + 1, **cfg.discriminator_kwargs}
        if cfg.discriminator_conditioning != "concat":
            kw.setdefault("conditioning", cfg.discriminator_conditioning)
        if cfg.class_loss_weight > 0 and num_classes is not None:
            kw.setdefault("aux_classifier", True)
            if cfg.class_loss_fake_weight > 0:
                kw.setdefault("fake_class", True)
        if "encoder" not in kw:
            kw["encoder"] = build_encoder_for(
                cfg, space, "discriminator", cfg.discriminator, kw, seed + 1
            )
        d = registry.create("discriminator", cfg.discriminator, num_classes, **kw)
    g = given.get("generator")
    if g is None:
        kw = {"seed": seed + 2, **cfg.generator_kwargs}
        if cfg.generator_latent_ops:
            kw.setdefault("latent_ops", True)
        if "encoder" not in kw and cfg.encoder != "gin":
            kw["encoder"] = cfg.encoder  # AG's encoder is the configured one too
            if cfg.encoder_kwargs:
                kw.setdefault("encoder_kwargs", dict(cfg.encoder_kwargs))
            gen_cls = registry.get("generator", cfg.generator)
            if "encoder" not in inspect.signature(gen_cls).parameters:
                raise ValueError(
                    f"generator {cfg.generator!r} takes no encoder argument, so "
                    f"TrainerConfig.encoder={cfg.encoder!r} cannot reach it"
                )
        g = registry.create("generator", cfg.generator, space, num_classes, **kw)
    _check(d, Discriminator, "discriminator")
    _check(g, Generator, "generator")
    assert d is not None and g is not None
    class_loss = cfg.class_loss_weight > 0 and num_classes is not None
    if class_loss and not (isinstance(d, HasClassHead) and d.has_class_head):
        raise ValueError(
            "class_loss_weight > 0 needs a discriminator with a class head "
            "(GraphDiscriminator(aux_classifier=True))"
        )
    if class_loss and cfg.class_loss_fake_weight > 0:
        assert isinstance(d, HasClassHead)
        if not d.has_fake_class:
            raise ValueError(
                "class_loss_fake_weight > 0 needs a class head with a class for generated "
                "cells (GraphDiscriminator(aux_classifier=True, fake_class=True))"
            )
    if cfg.diversity_weight > 0 and not isinstance(g, HasChoiceProbs):
        raise ValueError("diversity_weight > 0 needs a generator with generate()")
    d, g = d.to(device), g.to(device)
    players.discriminator, players.generator = d, g
    players.opt_discriminator = torch.optim.Adam(
        d.parameters(), lr=cfg.lr_discriminator, betas=(0.5, 0.999)
    )
    players.opt_generator = torch.optim.Adam(
        g.parameters(), lr=cfg.lr_generator, betas=(0.5, 0.999)
    )
    players.class_loss = class_loss
    return players
