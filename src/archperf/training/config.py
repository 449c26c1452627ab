"""``TrainerConfig``: everything that defines a Bi-Arch2Perf run (serialises to JSON)."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..nn.decoders import STRUCTURES
from ..runtime import check_device

__all__ = ["DIVERSITY_TERMS", "GENERATION_RECIPES", "TrainerConfig"]

#: AG's diversity terms (``TrainerConfig.diversity``).
DIVERSITY_TERMS = ("collision", "pair-collision", "entropy", "marginal-entropy")

#: Generator settings per space where the defaults do not meet issue #11's generator targets
#: (``bench/generator_condition.py``; docs/training.md): :meth:`TrainerConfig.for_generation`.
#: Other spaces (NB201, plugin spaces) use the defaults.  The searches do not use these.
GENERATION_RECIPES: dict[str, dict[str, Any]] = {
    # NB301: decoders that read each node's inputs; classes over the labels' own spread
    "darts": {
        "generator_kwargs": {"skip": True},
        "condition": {"type": "rank", "quantile": 0.8, "step_quantile": 0.2},
    },
    # NB101: every vertex kept alive by decoding, the collision term on the raw edges with a
    # floor low enough to act on them (estimated from 256 generated cells a step), and an op
    # floor near NB101's least op collision (3**-5 = 0.0041)
    "nb101": {
        "generator_kwargs": {"skip": True, "decoder_kwargs": {"keep_vertices": True}},
        "diversity_structure": "edges",
        "collision_target": 3e-8,
        "op_collision_target": 0.005,
        "generator_batch_size": 256,
    },
}


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

    ``adversarial`` (default True): train D and AG against PP (the paper's trainer); ``False``
    trains PP alone on its supervised term γ2, and builds neither D nor AG (so a space without
    a generator decoder can train a predictor; saving writes the predictor only).

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
    * ``class_loss_fake_weight`` [0]: D's class head has one more class, the last, for
      generated cells (Salimans et al., 2016: labeled and pseudo-labeled unlabeled cells in
      their classes, AG's cells in the extra one), trained with this weight; AG's class loss
      then also pushes its cells out of that class, towards cells like the space's.  Needs
      ``class_loss_weight > 0``.
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
    * ``op_collision_target`` [0 = off]: a second floor of the same diversity term, on the op
      choices alone (:meth:`HasChoiceProbs.op_choices` of the ``diversity_structure``
      probabilities; on NB101 the live-weighted interior ops).  The whole-cell floor can be met
      by edge noise alone while the samples share their ops (NB101 seed 0: 15 of the 16
      seven-vertex class-0 cells had the same ops); this floor forbids that.  NB101's ops
      cannot go below 3⁻⁵ ≈ 4e-3, so targets of about 8e-3 to 5e-2 (docs/training.md measures
      two).  Needs ``diversity_weight > 0``.
    * ``choice_sharpness_weight`` [0]: weight of the mean entropy of each generated sample's
      choice distributions (those of ``diversity_structure``) in AG's loss: sharp choices, so
      that the diversity comes from the latent and a sample is what its noise-free
      probabilities say.  Needs ``diversity_weight > 0``.  Without it NB101's edges sit at
      q ≈ 0.5 (diversity from the decoding noise alone), and random graphs prune to a few small
      cells (docs/training.md).
    * ``limit_weight`` [0]: AG pays this weight × the mean probability that a sample breaks a
      hard limit of the space that decoding enforces (:meth:`HasChoiceProbs.over_limit`; NB101:
      more than 9 edges, which the decoder drops, often killing vertices, so that many raw graphs
      decode to a few small cells).  Spaces without such a limit: no effect.  Needs
      ``diversity_weight > 0`` and ``diversity_structure`` ``"edges"`` or ``"live"``.
    * ``generator_unpruned`` [False]: D, D's class head and PP judge AG's cells *before* the
      decoder's repairs (:meth:`HasChoiceProbs.generate` with ``unpruned=True``; NB101: the raw
      7-vertex graph, no edge cap, no pruning), so every edge score gets a gradient and dead
      vertices or extra edges are something D can reject.  Spaces whose decoding repairs
      nothing (NB201, DARTS): no effect.  Needs ``diversity_weight > 0``.
    * ``predictor_guidance_weight`` [1; paper 0]: PP as the classifier of AG's condition: AG
      adds this weight × the negative log-likelihood of its samples' own classes under PP's
      soft rank (:meth:`Condition.soft` of PP's prediction; a continuous condition: the squared
      error of the standardised prediction).  PP is not updated by this term.  It makes the
      generated cells' accuracy fall class by class (docs/training.md).

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
    class_loss_fake_weight: float = 0.0
    diversity_weight: float = 3.0
    diversity: str = "pair-collision"
    collision_target: float = 1.85e-4
    op_collision_target: float = 0.0
    diversity_structure: str = "live"
    choice_sharpness_weight: float = 0.0
    limit_weight: float = 0.0
    generator_unpruned: bool = False
    predictor_guidance_weight: float = 1.0
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
            "class_loss_fake_weight",
            "diversity_weight",
            "choice_sharpness_weight",
            "limit_weight",
            "predictor_guidance_weight",
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
        if not 0.0 <= self.op_collision_target < 1.0:
            raise ValueError(
                f"op_collision_target must lie in [0, 1) (0 = off), got {self.op_collision_target}"
            )
        for name in ("limit_weight", "generator_unpruned"):
            if getattr(self, name) and not self.diversity_weight > 0:
                raise ValueError(
                    f"{name} acts through AG's diversity term: it needs diversity_weight > 0"
                )
        if self.limit_weight > 0 and self.diversity_structure == "ops":
            raise ValueError(
                "limit_weight needs the edge choices: diversity_structure 'edges' or 'live', "
                "not 'ops'"
            )
        if self.class_loss_fake_weight > 0 and not self.class_loss_weight > 0:
            raise ValueError("class_loss_fake_weight needs class_loss_weight > 0 (D's class head)")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ValueError(f"threads must be an integer >= 1 or None, got {self.threads!r}")
        try:
            check_device(self.device)
        except ValueError as exc:
            raise ValueError(f"TrainerConfig.device={self.device!r}: {exc}") from None

    @classmethod
    def for_generation(cls, space: str, **overrides: Any) -> TrainerConfig:
        """The defaults with :data:`GENERATION_RECIPES`' settings for ``space`` (a space name;
        none for spaces without a recipe), then ``overrides``: the trainer to use when the
        generator's samples are the point (``archperf generate``, analysis)."""
        base: dict[str, Any] = {"space": space, **copy.deepcopy(GENERATION_RECIPES.get(space, {}))}
        return cls.from_dict(base | overrides)

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
            "predictor_guidance_weight": 0.0,
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
