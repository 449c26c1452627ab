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
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import progress, registry
from ..cell import CellBatch
from ..conditions import condition_for_labels
from ..errors import CheckpointError, check_finite_predictions
from ..interfaces import (
    Condition,
    Discriminator,
    Generator,
    HasChoiceProbs,
    HasClassHead,
    Predictor,
    SearchSpace,
)
from ..nn.batching import GraphTable, predict_table
from ..nn.decoders import STRUCTURES
from ..nn.encoders import build_encoder, encoder_arguments
from ..runtime import check_device, resolve_device, threads
from ..stats import kendall_tau, spearman_rho
from .checkpoint import (
    atomic_write_bytes,
    has_checkpoint,
    load_checkpoint,
    remove_checkpoint,
    save_state,
)

__all__ = [
    "BiArch2Perf",
    "GraphTable",
    "History",
    "NonFiniteLossError",
    "TrainerConfig",
    "resolve_device",
]


#: AG's diversity terms (``TrainerConfig.diversity``).
DIVERSITY_TERMS = ("collision", "pair-collision", "entropy", "marginal-entropy")


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names the loss, the epoch and the step."""


_F = TypeVar("_F", bound=Callable[..., Any])


def _in_config_threads(method: _F) -> _F:
    """Run a trainer method inside :func:`archperf.runtime.threads` with ``config.threads``."""

    @functools.wraps(method)
    def wrapper(self: BiArch2Perf, *args: Any, **kwargs: Any) -> Any:
        with threads(self.config.threads):
            return method(self, *args, **kwargs)

    return cast(_F, wrapper)


@dataclass
class TrainerConfig:
    """Everything that defines a Bi-Arch2Perf run; serialises to JSON.

    Component names refer to the registry (``archperf plugins``); ``*_kwargs`` are passed to the
    component constructors.  ``condition`` is a condition config: ``{"type": "rank",
    "threshold": 93.0}``, ``{"type": "rank", "quantile": 0.8}`` (threshold = that quantile of
    the labels) or ``{"type": "continuous"}`` (standardised with the labels' mean and std).

    ``predictor_batch_size``: labeled cells in PP's supervised term (γ2) per step; ``None``
    (default) uses every labeled cell at every step, while D's real pairs still come in batches
    of ``labeled_batch_size``.  ``pool_averaging`` (default on): :meth:`BiArch2Perf.predict`
    averages PP over each cell's equivalence class in the unlabeled pool (see there).
    ``alpha_p`` defaults to 0 (the paper uses 0.5): the γ3 term lowers PP's ranking
    (docs/training.md quotes the bench).

    Generator / discriminator fields (the defaults fix the paper's generator collapse and its
    ignored condition, see docs/training.md; the paper's values in brackets, :meth:`paper` gives
    them all):

    * ``generator_conditions``: the classes AG generates for in a step: ``"labeled"`` [paper]
      (those of the labeled batch) or ``"uniform"`` (drawn uniformly over the classes, so every
      class is trained equally often).
    * ``generator_batch_size``: generated cells per step [None: the labeled batch size].
    * ``generator_latent_ops`` [False]: build the built-in generator with ``latent_ops=True``
      (a direct latent → op-score path, so the latent can pick among modes).
    * ``discriminator_conditioning``: ``"concat"`` [paper] or ``"projection"`` (Miyato & Koyama:
      the condition enters D's logit as an inner product with the graph embedding).
    * ``class_loss_weight`` [0]: AC-GAN.  D gets a class head trained with cross-entropy on the
      labeled cells' classes; AG adds this weight × the cross-entropy of D's class head on its
      samples against their condition.  Class (rank) conditions only: with a continuous
      condition it is not used.
    * ``class_loss_unlabeled_weight`` [0]: weight of the unlabeled batch, labeled with the class
      of PP's (detached) prediction, in D's class loss.
    * ``class_loss_balanced`` [False]: weight D's class loss on labeled cells by
      ``n / (C · n_c)`` (inverse class frequency in the labeled set), so rare classes count as
      much as common ones.
    * ``diversity_weight`` [0]: weight of a diversity term in AG's loss (against mode
      collapse), on the noise-free op choice probabilities ``p[m, k]`` of each sample:
      ``diversity="collision"``: ``relu(Σ_m log Σ_k p[m,k]² − log collision_target)``, a floor
      on the probability that two independent draws give the same cell (2e-4: about 90%
      distinct cells among 1,000 draws); ``"pair-collision"``: the same floor on the collision
      probability of two *different* samples of a class in the batch (so diversity may also come
      from the latent); ``"entropy"``: minus the mean entropy of each sample's
      distributions; ``"marginal-entropy"``: minus the entropy of the batch-mean distribution
      of each class.
    * ``diversity_structure`` ["live"]: which choices of a cell the diversity term sees
      (:meth:`SpaceDecoder.choice_probs`): ``"ops"`` the op choices only; ``"edges"`` also the
      edge choices (NB101); ``"live"`` the edge and op choices weighted by their vertices'
      relaxed liveness (NB101), so choices that pruning drops do not count as diversity.  Only
      NB101 chooses edges: on NB201 and DARTS the three are the same op choices.  With
      ``"ops"`` NB101's term can never be met (5 ops × 3: collision ≥ 3⁻⁵ ≈ 4e-3) and its
      cells collapse (docs/training.md).
    * ``choice_sharpness_weight`` [0]: weight of the mean entropy of each generated sample's
      choice distributions (those of ``diversity_structure``) in AG's loss: sharp choices, so
      that the diversity comes from the latent and a sample is what its noise-free
      probabilities say.  Needs ``diversity_weight > 0``.  Without it NB101's edges sit at
      q ≈ 0.5 (diversity from the decoding noise alone), and random graphs prune to a few small
      cells (docs/training.md).

    Where it runs (neither changes what is trained, only where and how fast):

    * ``device``: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
      ``"cuda:N"``; naming CUDA where torch has none is a ``ValueError`` here, at construction.
      CPU and GPU runs of one seed give different numbers.
    * ``threads``: torch CPU threads while :meth:`BiArch2Perf.fit`, ``predict`` and
      ``pool_predictions`` run (the caller's count is restored afterwards); ``None`` (default)
      takes an enclosing :func:`archperf.runtime.threads` block's count, else
      ``$ARCHPERF_THREADS``, else 1 (docs/performance.md, "Threads and device").
    """

    space: str = "nb201"
    condition: dict[str, Any] = field(default_factory=lambda: {"type": "rank", "quantile": 0.8})
    encoder: str = "gin"
    predictor: str = "gin"
    discriminator: str = "gin"
    generator: str = "semigan"
    predictor_kwargs: dict[str, Any] = field(default_factory=dict)
    discriminator_kwargs: dict[str, Any] = field(default_factory=dict)
    generator_kwargs: dict[str, Any] = field(default_factory=dict)
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 60
    labeled_batch_size: int = 16
    unlabeled_batch_size: int = 256
    steps_per_epoch: int | None = None
    lr_predictor: float = 1e-3
    lr_discriminator: float = 2e-4
    lr_generator: float = 1e-3
    weight_decay: float = 1e-5
    alpha: float = 0.5
    alpha_p: float = 0.0
    predictor_batch_size: int | None = None
    pool_averaging: bool = True
    generator_loss: str = "non-saturating"
    adversarial: bool = True
    soft_rank_temperature: float = 0.25
    generator_conditions: str = "uniform"
    generator_batch_size: int | None = 128
    generator_latent_ops: bool = True
    discriminator_conditioning: str = "concat"
    class_loss_weight: float = 2.0
    class_loss_unlabeled_weight: float = 1.0
    class_loss_balanced: bool = True
    diversity_weight: float = 3.0
    diversity: str = "pair-collision"
    collision_target: float = 1.85e-4
    diversity_structure: str = "live"
    choice_sharpness_weight: float = 0.0
    device: str = "auto"
    threads: int | None = None
    amp: bool = False
    seed: int = 0
    checkpoint_every: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        for name in ("labeled_batch_size", "unlabeled_batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.predictor_batch_size is not None and self.predictor_batch_size < 1:
            raise ValueError(
                f"predictor_batch_size must be >= 1 or None, got {self.predictor_batch_size}"
            )
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 or None, got {self.steps_per_epoch}")
        for name in ("alpha", "alpha_p"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {v}")
        if self.generator_loss not in ("non-saturating", "saturating"):
            raise ValueError(
                "generator_loss must be 'non-saturating' or 'saturating', "
                f"got {self.generator_loss!r}"
            )
        if not self.soft_rank_temperature > 0:
            raise ValueError("soft_rank_temperature must be > 0")
        if self.generator_conditions not in ("labeled", "uniform"):
            raise ValueError("generator_conditions must be 'labeled' or 'uniform'")
        if self.generator_batch_size is not None and self.generator_batch_size < 1:
            raise ValueError(
                f"generator_batch_size must be >= 1 or None, got {self.generator_batch_size}"
            )
        if self.discriminator_conditioning not in ("concat", "projection"):
            raise ValueError("discriminator_conditioning must be 'concat' or 'projection'")
        for name in (
            "class_loss_weight",
            "class_loss_unlabeled_weight",
            "diversity_weight",
            "choice_sharpness_weight",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        if self.diversity not in DIVERSITY_TERMS:
            raise ValueError(f"diversity must be one of {DIVERSITY_TERMS}, got {self.diversity!r}")
        if self.diversity_structure not in STRUCTURES:
            raise ValueError(
                f"diversity_structure must be one of {STRUCTURES}, got {self.diversity_structure!r}"
            )
        if not 0.0 < self.collision_target < 1.0:
            raise ValueError(f"collision_target must lie in (0, 1), got {self.collision_target}")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ValueError(f"threads must be an integer >= 1 or None, got {self.threads!r}")
        try:
            check_device(self.device)
        except ValueError as exc:
            raise ValueError(f"TrainerConfig.device={self.device!r}: {exc}") from None

    @classmethod
    def paper(cls, **overrides: Any) -> TrainerConfig:
        """The paper's trainer (SemiGAN-NAD as published): α = α_p = 0.5, no class loss, no
        diversity term, concatenating D, AG conditioned on the labeled batch's classes, no pool
        averaging."""
        base: dict[str, Any] = {
            "alpha": 0.5,
            "alpha_p": 0.5,
            "pool_averaging": False,
            "generator_conditions": "labeled",
            "generator_batch_size": None,
            "generator_latent_ops": False,
            "discriminator_conditioning": "concat",
            "class_loss_weight": 0.0,
            "class_loss_unlabeled_weight": 0.0,
            "class_loss_balanced": False,
            "diversity_weight": 0.0,
        }
        return cls.from_dict(base | overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainerConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainerConfig fields: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainerConfig:
        return cls.from_dict(json.loads(text))


@dataclass
class History:
    """Per-epoch mean losses and, with a held-out labeled split, PP's rank correlations."""

    epoch: list[int] = field(default_factory=list)
    loss_discriminator: list[float] = field(default_factory=list)
    loss_generator: list[float] = field(default_factory=list)
    loss_predictor: list[float] = field(default_factory=list)
    mse_labeled: list[float] = field(default_factory=list)
    heldout_kendall_tau: list[float | None] = field(default_factory=list)
    heldout_spearman_rho: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[Any]]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        atomic_write_bytes(Path(path), json.dumps(self.to_dict(), indent=2).encode("utf-8"))

    @classmethod
    def from_dict(cls, data: dict[str, list[Any]]) -> History:
        return cls(**{k: list(v) for k, v in data.items()})

    @classmethod
    def load(cls, path: str | Path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def plot(self, path: str | Path) -> Path:
        """The three losses per epoch and, when training had a held-out set, its Kendall τ and
        Spearman ρ in a second panel (PNG or SVG by suffix)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        heldout = any(t is not None for t in self.heldout_kendall_tau)
        fig, axes = plt.subplots(1, 2 if heldout else 1, figsize=(10 if heldout else 5, 3.6))
        ax1 = axes[0] if heldout else axes
        ax1.plot(self.epoch, self.loss_discriminator, label="D")
        ax1.plot(self.epoch, self.loss_generator, label="AG")
        ax1.plot(self.epoch, self.loss_predictor, label="PP")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("mean loss")
        ax1.legend()
        if heldout:
            ax2 = axes[1]
            taus = [t if t is not None else math.nan for t in self.heldout_kendall_tau]
            rhos = [r if r is not None else math.nan for r in self.heldout_spearman_rho]
            ax2.plot(self.epoch, taus, label="Kendall τ")
            ax2.plot(self.epoch, rhos, label="Spearman ρ")
            ax2.set_xlabel("epoch")
            ax2.set_ylabel("held-out rank correlation")
            ax2.legend()
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return out


def _bce(logits: Tensor, real: bool) -> Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


class BiArch2Perf:
    """The Bi-Arch2Perf trainer: assemble components, :meth:`fit`, then use :attr:`predictor`
    and :attr:`generator`.

    Components come from the registry by the names in ``config`` or as objects
    (``predictor=``, ``discriminator=``, ``generator=``, ``condition=``).
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
        self._given = {
            "predictor": predictor,
            "discriminator": discriminator,
            "generator": generator,
        }
        self._given_condition = condition
        self._class_weights: Tensor | None = None
        self._class_loss = False
        self.condition: Condition | None = condition
        self.predictor: nn.Module | None = None
        self.discriminator: nn.Module | None = None
        self.generator: nn.Module | None = None
        self.history = History()
        self._pool_archs: Sequence[Any] | None = None
        self._pool_table: GraphTable | None = None
        self._pool_group: np.ndarray | None = None
        self._pool_index: dict[str, int] = {}
        self._pool_means: np.ndarray | None = None

    # -- assembly ----------------------------------------------------------------------------

    def _build_condition(self, labels: np.ndarray) -> Condition:
        return condition_for_labels(self.config.condition, labels)

    def _encoder(self, kind: str, name: str, kw: dict[str, Any], seed: int) -> nn.Module:
        """The encoder of a PP or D built by the trainer (see
        :func:`~archperf.nn.encoders.encoder_arguments`: the component's own defaults, then
        ``encoder_kwargs``, then the encoder arguments in its ``*_kwargs``, popped from ``kw``)."""
        args = encoder_arguments(
            registry.get(kind, name), self.config.encoder, self.config.encoder_kwargs, kw
        )
        args.pop("seed", None)
        enc, _, _ = build_encoder(
            kind, None, len(self.space.op_names), name=self.config.encoder, seed=seed, **args
        )
        return enc

    def _build(self, labels: np.ndarray) -> None:
        cfg = self.config
        seed = cfg.seed
        if self.condition is None:
            self.condition = self._build_condition(labels)
        num_classes = self.condition.num_classes
        pp = self._given["predictor"]
        if pp is None:
            kw = {"seed": seed, **cfg.predictor_kwargs}
            if "encoder" not in kw:
                kw["encoder"] = self._encoder("predictor", cfg.predictor, kw, seed)
            pp = registry.create("predictor", cfg.predictor, **kw)
        d = self._given["discriminator"]
        if d is None:
            kw = {"seed": seed + 1, **cfg.discriminator_kwargs}
            if cfg.discriminator_conditioning != "concat":
                kw.setdefault("conditioning", cfg.discriminator_conditioning)
            if cfg.class_loss_weight > 0 and num_classes is not None:
                kw.setdefault("aux_classifier", True)
            if "encoder" not in kw:
                kw["encoder"] = self._encoder("discriminator", cfg.discriminator, kw, seed + 1)
            d = registry.create("discriminator", cfg.discriminator, num_classes, **kw)
        g = self._given["generator"]
        if g is None:
            kw = {"seed": seed + 2, **cfg.generator_kwargs}
            if cfg.generator_latent_ops:
                kw.setdefault("latent_ops", True)
            g = registry.create("generator", cfg.generator, self.space, num_classes, **kw)
        for obj, want, role in (
            (pp, Predictor, "predictor"),
            (d, Discriminator, "discriminator"),
            (g, Generator, "generator"),
        ):
            if not (isinstance(obj, nn.Module) and isinstance(obj, want)):
                raise TypeError(
                    f"the {role} must be an nn.Module implementing archperf.interfaces."
                    f"{want.__name__}, got {type(obj).__name__}"
                )
        self._class_loss = cfg.class_loss_weight > 0 and num_classes is not None
        if self._class_loss and not (isinstance(d, HasClassHead) and d.has_class_head):
            raise ValueError(
                "class_loss_weight > 0 needs a discriminator with a class head "
                "(GraphDiscriminator(aux_classifier=True))"
            )
        if cfg.diversity_weight > 0 and not isinstance(g, HasChoiceProbs):
            raise ValueError("diversity_weight > 0 needs a generator with generate()")
        self.predictor, self.discriminator, self.generator = (
            pp.to(self.device),
            d.to(self.device),
            g.to(self.device),
        )
        self.opt_p = torch.optim.Adam(
            pp.parameters(), lr=cfg.lr_predictor, weight_decay=cfg.weight_decay
        )
        self.opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_discriminator, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_generator, betas=(0.5, 0.999))

    # -- pieces of the objectives ----------------------------------------------------------------

    def _cond_tensor(self, values: np.ndarray) -> Tensor:
        assert self.condition is not None
        enc = self.condition.encode(values)
        if self.condition.num_classes is not None:
            return torch.as_tensor(enc, dtype=torch.long, device=self.device)
        return torch.as_tensor(enc, dtype=torch.float32, device=self.device)

    def _soft_condition(self, pred: Tensor) -> Tensor:
        """PP's prediction as a differentiable condition (class probabilities or a float)."""
        assert self.condition is not None
        return self.condition.soft(pred, self.config.soft_rank_temperature)

    def _check(self, name: str, value: Tensor, epoch: int, step: int) -> float:
        v = float(value.detach())
        if not math.isfinite(v):
            raise NonFiniteLossError(
                f"loss {name} is {v} at epoch {epoch}, step {step}; lower the learning rates or "
                "check the labels for NaN/inf"
            )
        return v

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

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
        if warm_start and self.predictor is not None:
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
        assert self.predictor is not None and self.condition is not None
        assert self.discriminator is not None and self.generator is not None
        pp, d, g = self.predictor, self.discriminator, self.generator

        lab = GraphTable(self.space, labeled)
        unl = self._set_pool(unlabeled)
        held = GraphTable(self.space, heldout[0]) if heldout is not None else None
        held_y = np.asarray(heldout[1], dtype=np.float64) if heldout is not None else None
        y_mean, y_std = float(y.mean()), float(y.std()) or 1.0
        assert isinstance(pp, Predictor)
        pp.set_target_scale(y_mean, y_std)
        y_t = torch.as_tensor(y, dtype=torch.float32, device=self.device)
        cls_all = self._cond_tensor(y)
        self._class_weights = None
        if cfg.class_loss_balanced and self.condition.num_classes is not None:
            counts = torch.bincount(cls_all, minlength=self.condition.num_classes).float()
            self._class_weights = torch.where(
                counts > 0, len(y) / (counts.numel() * counts.clamp_min(1.0)), 0.0
            )

        steps = cfg.steps_per_epoch or max(1, math.ceil(len(lab) / cfg.labeled_batch_size))
        rng = np.random.default_rng(cfg.seed if first_epoch == 0 else [cfg.seed, first_epoch])
        tgen = torch.Generator(device="cpu").manual_seed(cfg.seed + 1_000_003 * first_epoch)
        start_epoch = first_epoch
        ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if ckpt is not None and resume and has_checkpoint(ckpt):
            start_epoch = self._load_checkpoint(ckpt, rng, tgen, last_epoch)
        elif ckpt is not None:
            remove_checkpoint(ckpt)  # a crash before our first save must not resume the old run
            atomic_write_bytes(ckpt / "config.json", cfg.to_json().encode("utf-8"))

        pbs = cfg.predictor_batch_size
        pp_full = pbs is None or pbs >= len(lab)
        lab_full = lab.batch(np.arange(len(lab)), self.device) if pp_full else None
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
                        pp_lab, pp_y = lab.batch(pi, self.device), y_t[pi.to(self.device)]
                    losses = self._step(
                        lab.batch(li, self.device),
                        y_t[li.to(self.device)],
                        cls_all[li.to(self.device)],
                        unl.batch(ui, self.device),
                        pp_lab,
                        pp_y,
                        tgen,
                        epoch,
                        step,
                        y_mean,
                        y_std,
                    )
                    sums += losses
                means = sums / steps
                h = self.history
                h.epoch.append(epoch + 1)
                h.loss_discriminator.append(float(means[0]))
                h.loss_generator.append(float(means[1]))
                h.loss_predictor.append(float(means[2]))
                h.mse_labeled.append(float(means[3]))
                if held is not None and held_y is not None and len(held) >= 2:
                    pred = self._predict_table(held)
                    h.heldout_kendall_tau.append(kendall_tau(pred, held_y))
                    h.heldout_spearman_rho.append(spearman_rho(pred, held_y))
                else:
                    h.heldout_kendall_tau.append(None)
                    h.heldout_spearman_rho.append(None)
                h.seconds.append(time.perf_counter() - t0)
                if ckpt is not None and (
                    (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == last_epoch
                ):
                    self._save_checkpoint(ckpt, epoch + 1, rng, tgen)
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
        pp.eval()
        g.eval()
        d.eval()
        self._pool_means = None  # the weights changed
        return self.history

    def _step(
        self,
        lab: CellBatch,
        y: Tensor,
        cls: Tensor,
        unl: CellBatch,
        pp_lab: CellBatch,
        pp_y: Tensor,
        tgen: torch.Generator,
        epoch: int,
        step: int,
        y_mean: float,
        y_std: float,
    ) -> np.ndarray:
        cfg = self.config
        assert self.predictor is not None and self.condition is not None
        assert self.discriminator is not None and self.generator is not None
        pp, d, g = self.predictor, self.discriminator, self.generator
        a, a_p = cfg.alpha, cfg.alpha_p
        pp.train()
        d.train()
        g.train()
        if not cfg.adversarial:
            with self._autocast():
                gamma2 = F.mse_loss((pp(pp_lab).float() - pp_y) / y_std, torch.zeros_like(pp_y))
            lp = self._check("PP (γ2, supervised only)", gamma2, epoch, step)
            self.opt_p.zero_grad(set_to_none=True)
            gamma2.backward()
            self.opt_p.step()
            return np.array([0.0, 0.0, lp, lp])
        fake, gen_cls, probs = self._generate(cls, tgen)
        lam = cfg.class_loss_weight if self._class_loss else 0.0
        lam_u = cfg.class_loss_unlabeled_weight

        # ---- D: real labeled pairs vs. (unlabeled, PP's rank) and (generated, condition)
        with self._autocast():
            # PP is updated last, so this forward serves both D's β2 (detached) and PP's γ1.
            pred_u = pp(unl).float()
            if not bool(torch.isfinite(pred_u).all()):  # would poison D's condition first
                self._check(
                    "PP (α·γ1 + γ2 + α_p·γ3; PP predicts NaN/inf)", pred_u.sum(), epoch, step
                )
            soft_u = self._soft_condition(pred_u.detach())
            loss_cls = torch.zeros((), device=self.device)
            if lam > 0:
                assert isinstance(d, HasClassHead)
                logit_lab, cl_lab = d.forward_with_classes(lab, cls)
                loss_cls = F.cross_entropy(cl_lab.float(), cls, weight=self._class_weights)
            else:
                logit_lab = d(lab, cls)
            loss_d = _bce(logit_lab, True)
            if lam > 0 and lam_u > 0:
                assert isinstance(d, HasClassHead)
                logit_unl, cl_unl = d.forward_with_classes(unl, soft_u)
                pseudo = self.condition.hard(pred_u.detach())
                loss_cls = loss_cls + lam_u * F.cross_entropy(cl_unl.float(), pseudo)
            else:
                logit_unl = d(unl, soft_u)
            loss_d = loss_d + a * _bce(logit_unl, False)
            fake_detached = CellBatch(fake.adj.detach(), fake.ops.detach(), fake.mask, fake.num_ops)
            loss_d = loss_d + (1 - a) * _bce(d(fake_detached, gen_cls), False)
            if lam > 0:
                loss_d = loss_d + lam * loss_cls
        ld = self._check("D (β1 + α·β2 + (1−α)·β3 + class loss)", loss_d, epoch, step)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # ---- AG: fool the updated D with the same generated cells
        with self._autocast():
            if lam > 0:
                assert isinstance(d, HasClassHead)
                logits_g, cl_g = d.forward_with_classes(fake, gen_cls)
            else:
                logits_g = d(fake, gen_cls)
            if cfg.generator_loss == "non-saturating":
                loss_g = (1 - a) * _bce(logits_g, True)
            else:  # eq. 10 as written: minimise log(1 - D) = -BCE(logits, 0)
                loss_g = -(1 - a) * _bce(logits_g, False)
            if lam > 0:
                loss_g = loss_g + lam * F.cross_entropy(cl_g.float(), gen_cls)
            if probs is not None:
                loss_g = loss_g + cfg.diversity_weight * self._diversity(probs, gen_cls)
                if cfg.choice_sharpness_weight > 0:
                    p32 = probs.float()
                    ent = -(p32 * p32.clamp_min(1e-12).log()).sum(-1).mean()
                    loss_g = loss_g + cfg.choice_sharpness_weight * ent
        lg = self._check("AG (eq. 10 + class loss + diversity)", loss_g, epoch, step)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()

        # ---- PP: MSE on labeled + adversarial on unlabeled + MSE on generated cells
        assert self.condition is not None
        target = torch.as_tensor(
            self.condition.target(gen_cls.detach().cpu().numpy()),
            dtype=torch.float32,
            device=self.device,
        )
        with self._autocast():
            gamma2 = F.mse_loss((pp(pp_lab).float() - pp_y) / y_std, torch.zeros_like(pp_y))
            gamma1 = _bce(d(unl, self._soft_condition(pred_u)), True)
            gamma3 = F.mse_loss(
                (pp(fake_detached).float() - target) / y_std, torch.zeros_like(target)
            )
            loss_p = a * gamma1 + gamma2 + a_p * gamma3
        lp = self._check("PP (α·γ1 + γ2 + α_p·γ3)", loss_p, epoch, step)
        self.opt_p.zero_grad(set_to_none=True)
        loss_p.backward()
        self.opt_p.step()
        d.zero_grad(set_to_none=True)  # γ1's gradients into D are not D's update
        return np.array([ld, lg, lp, float(gamma2.detach())])

    def _generate(
        self, cls: Tensor, tgen: torch.Generator
    ) -> tuple[CellBatch, Tensor, Tensor | None]:
        """AG's cells for this step, their conditions, and (with an entropy term) the op
        choice probabilities."""
        cfg = self.config
        g = self.generator
        assert g is not None and self.condition is not None
        n_gen = cfg.generator_batch_size or int(cls.shape[0])
        if cfg.generator_conditions == "uniform" and self.condition.num_classes is not None:
            gen_cls = torch.randint(0, self.condition.num_classes, (n_gen,), generator=tgen).to(
                self.device
            )
        elif n_gen == int(cls.shape[0]):
            gen_cls = cls
        else:
            gen_cls = cls[torch.arange(n_gen, device=cls.device) % int(cls.shape[0])]
        assert isinstance(g, Generator)
        z_adj, z_ops = g.sample_latent(n_gen, tgen)
        z_adj, z_ops = z_adj.to(self.device), z_ops.to(self.device)
        with self._autocast():
            if cfg.diversity_weight > 0:
                assert isinstance(g, HasChoiceProbs)
                fake, probs = g.generate(
                    gen_cls, z_adj, z_ops, generator=tgen, structure=cfg.diversity_structure
                )
                return fake, gen_cls, probs
            return g(gen_cls, z_adj, z_ops, generator=tgen), gen_cls, None

    def _diversity(self, probs: Tensor, gen_cls: Tensor) -> Tensor:
        """AG's diversity penalty on choice probabilities ``[B, M, K]`` (see ``diversity``)."""
        probs = probs.float()
        kind = self.config.diversity
        floor = math.log(self.config.collision_target)
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

    def _predict_table(self, table: GraphTable, batch_size: int = 2048) -> np.ndarray:
        assert self.predictor is not None
        return predict_table(self.predictor, table.batches(batch_size, self.device))

    def _set_pool(self, archs: Sequence[Any]) -> GraphTable:
        """The unlabeled pool as a table, with its equivalence classes (``space.canonical``)
        when ``pool_averaging``.  Both are kept while the same sequence object comes again
        (a search that fits round after round on one pool converts it once)."""
        self._pool_means = None
        if (
            self._pool_archs is archs
            and self._pool_table is not None
            and len(archs) == len(self._pool_table)
        ):
            return self._pool_table
        table = GraphTable(self.space, archs)
        self._pool_archs, self._pool_table = archs, table
        self._pool_group, self._pool_index = None, {}
        if self.config.pool_averaging:
            index: dict[str, int] = {}
            group = np.fromiter(
                (index.setdefault(self.space.canonical(a), len(index)) for a in archs),
                dtype=np.int64,
                count=len(archs),
            )
            if len(index) < len(archs):  # all singletons (e.g. sampled DARTS): nothing to average
                self._pool_group, self._pool_index = group, index
        return table

    def _class_means(self) -> np.ndarray | None:
        """PP's mean prediction per equivalence class of the pool (cached until the next fit)."""
        if self._pool_group is None:
            return None
        if self._pool_means is None:
            assert self._pool_table is not None and self._pool_group is not None
            raw = self._predict_table(self._pool_table)
            sums = np.bincount(self._pool_group, weights=raw, minlength=len(self._pool_index))
            counts = np.bincount(self._pool_group, minlength=len(self._pool_index))
            self._pool_means = sums / np.maximum(counts, 1)
        return self._pool_means

    @_in_config_threads
    def pool_predictions(self) -> np.ndarray:
        """:meth:`predict` for every cell of the last ``fit``'s unlabeled pool, in pool order
        (without converting the cells again)."""
        if self.predictor is None or self._pool_table is None:
            raise RuntimeError("call fit() first")
        means = self._class_means()
        if means is not None:
            assert self._pool_group is not None
            out = means[self._pool_group]
        else:
            out = self._predict_table(self._pool_table)
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
        means = None if raw else self._class_means()
        if means is not None:
            for i, a in enumerate(archs):
                g = self._pool_index.get(self.space.canonical(a))
                if g is not None:
                    out[i] = means[g]
        check_finite_predictions(out, "the trainer's predictor (PP)")
        return out

    # -- checkpoints -------------------------------------------------------------------------

    def _state(self, epoch: int, rng: np.random.Generator, tgen: torch.Generator) -> dict[str, Any]:
        assert self.predictor is not None and self.discriminator is not None
        assert self.generator is not None and self.condition is not None
        return {
            "epoch": epoch,
            "predictor": self.predictor.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "generator": self.generator.state_dict(),
            "opt_predictor": self.opt_p.state_dict(),
            "opt_discriminator": self.opt_d.state_dict(),
            "opt_generator": self.opt_g.state_dict(),
            "numpy_rng": json.dumps(rng.bit_generator.state),
            "torch_rng": tgen.get_state(),
            "condition": json.dumps(self.condition.to_config()),
            "history": self.history.to_dict(),
        }

    def _save_checkpoint(
        self, directory: Path, epoch: int, rng: np.random.Generator, tgen: torch.Generator
    ) -> None:
        meta = {"epoch": epoch, "config": self.config.to_dict()}
        save_state(self._state(epoch, rng, tgen), directory, meta=meta)

    #: Config fields that may change between a run and its resume (where and how fast it runs).
    _RESUME_MAY_CHANGE = ("epochs", "progress", "device", "threads")

    def _load_checkpoint(
        self,
        directory: Path,
        rng: np.random.Generator,
        tgen: torch.Generator,
        last_epoch: int,
    ) -> int:
        """Restore the verified checkpoint in ``directory``; return its epoch.

        Everything is checked before the trainer's state is touched: the files (manifest,
        hashes, see :mod:`archperf.training.checkpoint`), the config it was made with, the
        epoch (an integer in ``[0, last_epoch]``), the history (one entry per epoch) and the
        RNG states; any problem is a :class:`~archperf.errors.CheckpointError` (a
        ``ValueError``) naming the checkpoint.
        """
        assert self.predictor is not None and self.discriminator is not None
        assert self.generator is not None and self.condition is not None
        ck = load_checkpoint(directory)
        where = ck.manifest
        old = ck.meta.get("config")
        if not isinstance(old, dict):
            raise CheckpointError(f"{where}: meta.config must be the run's config object")
        mine = self.config.to_dict()
        diff = sorted(
            k
            for k in set(old) | set(mine)
            if k not in self._RESUME_MAY_CHANGE
            and (k not in mine or old.get(k, mine[k]) != mine[k])
        )
        if diff:
            raise CheckpointError(
                f"checkpoint in {directory} was made with a different config "
                f"(differs in: {', '.join(diff)}); use another directory or resume=False"
            )
        st = ck.state
        keys = {
            "epoch",
            "predictor",
            "discriminator",
            "generator",
            "opt_predictor",
            "opt_discriminator",
            "opt_generator",
            "numpy_rng",
            "torch_rng",
            "condition",
            "history",
        }
        if set(st) != keys:
            raise CheckpointError(
                f"{where}: the state must have the keys {sorted(keys)}, got {sorted(st)}"
            )
        epoch = st["epoch"]
        if type(epoch) is not int or not 0 <= epoch <= last_epoch:
            raise CheckpointError(
                f"{where}: epoch {epoch!r} is not an integer in [0, {last_epoch}] (the epochs "
                "this run trains); use resume=False to start over or raise epochs"
            )
        if ck.meta.get("epoch") != epoch:
            raise CheckpointError(
                f"{where}: meta.epoch {ck.meta.get('epoch')!r} disagrees with the state's {epoch}"
            )
        try:
            history = History.from_dict(st["history"])
        except (TypeError, AttributeError) as exc:
            raise CheckpointError(f"{where}: bad history: {exc}") from None
        for f in fields(History):
            if len(getattr(history, f.name)) != epoch:
                raise CheckpointError(
                    f"{where}: history.{f.name} has {len(getattr(history, f.name))} entries "
                    f"for {epoch} epochs"
                )
        if history.epoch != list(range(1, epoch + 1)):
            raise CheckpointError(f"{where}: history.epoch is not 1..{epoch}")
        try:
            condition = json.loads(st["condition"])
            np_state = json.loads(st["numpy_rng"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{where}: bad condition or RNG state: {exc}") from None
        if condition != self.condition.to_config():
            raise CheckpointError(f"checkpoint in {directory} used another condition")
        torch_state = st["torch_rng"]
        if not (isinstance(torch_state, torch.Tensor) and torch_state.dtype == torch.uint8):
            raise CheckpointError(f"{where}: torch_rng must be a uint8 tensor")
        probe_rng, probe_tgen = np.random.default_rng(), torch.Generator(device="cpu")
        try:  # on throwaway generators first, so a bad state changes nothing
            probe_rng.bit_generator.state = np_state
            probe_tgen.set_state(torch_state)
        except (TypeError, ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{where}: bad RNG state: {exc}") from None
        pairs = (
            (self.predictor, "predictor"),
            (self.discriminator, "discriminator"),
            (self.generator, "generator"),
            (self.opt_p, "opt_predictor"),
            (self.opt_d, "opt_discriminator"),
            (self.opt_g, "opt_generator"),
        )
        for obj, key in pairs:
            try:
                obj.load_state_dict(st[key])
            except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
                text = " ".join(str(exc).split())
                raise CheckpointError(
                    f"{where}: {key} does not fit this run's model: {text}"
                ) from None
        rng.bit_generator.state = np_state
        tgen.set_state(torch_state)
        self.history = history
        return epoch

    def save(self, directory: str | Path) -> Path:
        """Save the trained predictor, discriminator and generator (safetensors + JSON each)
        plus the config, the condition and the history, then ``manifest.json`` with the hash
        of each (written last: loading a component of an interrupted re-save is a clear
        error)."""
        from ..nn.serialization import CONFIG_FILE, save_component, write_bundle_manifest

        if self.predictor is None or self.condition is None:
            raise RuntimeError("call fit() first")
        assert self.discriminator is not None and self.generator is not None
        out = Path(directory)
        save_component(self.predictor, out / "predictor")
        save_component(self.discriminator, out / "discriminator")
        save_component(self.generator, out / "generator")
        atomic_write_bytes(out / "config.json", self.config.to_json().encode("utf-8"))
        atomic_write_bytes(
            out / "condition.json", json.dumps(self.condition.to_config()).encode("utf-8")
        )
        self.history.save(out / "history.json")
        names = [f"{c}/{CONFIG_FILE}" for c in ("predictor", "discriminator", "generator")]
        write_bundle_manifest(out, [*names, "config.json", "condition.json", "history.json"])
        return out
