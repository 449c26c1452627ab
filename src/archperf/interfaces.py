"""The core interfaces of archperf, one small abstract class per concept.

Neural components (:class:`Encoder`, :class:`Predictor`, :class:`Discriminator`,
:class:`Generator`) are implemented as ``torch.nn.Module`` subclasses that also derive from these
ABCs; this module itself never imports torch.

Everything the trainer (:mod:`archperf.training`), the searches (:mod:`archperf.search`) and the
runner (:mod:`archperf.experiments.runner`) call on a component is declared here, so a plugin
knows what to implement.  Optional abilities are small interfaces of their own, tested with
``isinstance``: :class:`HasClassHead` (a discriminator's AC-GAN class head),
:class:`HasChoiceProbs` (a generator's choice probabilities, for the diversity terms),
:class:`DenseEncoder` (an encoder of dense node features, used inside a generator),
:class:`HasFeatures` and :class:`HasEdgeOps` (spaces), :class:`SemiSupervised` (an
``ArchPredictor`` that learns from unlabeled architectures too).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import numpy as np

from .errors import InvalidCellError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .benchmarks.base import Oracle
    from .cell import Cell, CellBatch

__all__ = [
    "Arch",
    "ArchPredictor",
    "Benchmark",
    "Component",
    "Condition",
    "DenseEncoder",
    "Discriminator",
    "Encoder",
    "EncoderOutput",
    "EnumerableSpace",
    "Generator",
    "HasChoiceProbs",
    "HasClassHead",
    "HasEdgeOps",
    "HasFeatures",
    "Predictor",
    "SearchSpace",
    "SemiSupervised",
    "as_rng",
]

Arch = TypeVar("Arch")
"""A space's native architecture type: immutable and hashable (``Cell`` for NB101/NB201)."""


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy ``Generator`` from a seed, or the generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


class SearchSpace(abc.ABC, Generic[Arch]):
    """The rules of a search space: validity, identity, text forms, sampling and mutation.

    A space is pure rules: it holds no benchmark data and no model.  ``to_graph`` gives the
    op-on-node :class:`~archperf.cell.Cell` that encoders consume, with op ids indexing
    :attr:`op_names` and at most :attr:`max_nodes` vertices.
    """

    name: ClassVar[str]
    op_names: tuple[str, ...]
    max_nodes: int

    @abc.abstractmethod
    def validate(self, arch: Arch) -> None:
        """Raise :class:`InvalidCellError` naming the broken rule, or return None."""

    def is_valid(self, arch: Arch) -> bool:
        try:
            self.validate(arch)
        except InvalidCellError:
            return False
        return True

    @abc.abstractmethod
    def canonical(self, arch: Arch) -> str:
        """A string identical for all architectures that compute the same function."""

    @abc.abstractmethod
    def to_text(self, arch: Arch) -> str:
        """The space's one-line text form (inverse of :meth:`from_text`)."""

    @abc.abstractmethod
    def from_text(self, text: str) -> Arch:
        """Parse the text form; raise :class:`InvalidCellError` on malformed or invalid input."""

    @abc.abstractmethod
    def to_graph(self, arch: Arch) -> Cell:
        """The op-on-node graph form used by GNN encoders."""

    def to_record(self, arch: Arch) -> dict[str, Any]:
        """A JSON-ready description (text form and canonical id); spaces may add fields."""
        return {"text": self.to_text(arch), "canonical": self.canonical(arch)}

    @abc.abstractmethod
    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> list[Arch]:
        """``n`` valid architectures drawn at random (uniform over the space where stated)."""

    @abc.abstractmethod
    def mutate(self, arch: Arch, seed: int | np.random.Generator | None = None) -> Arch:
        """A valid neighbour of ``arch`` that differs from it (spaces document whether the
        difference is required to be canonical, i.e. functional)."""


class EnumerableSpace(SearchSpace[Arch]):
    """A space small enough to list completely."""

    @abc.abstractmethod
    def enumerate(self) -> Iterator[Arch]:
        """Every distinct architecture of the space exactly once (NB101: one per graph hash;
        NB201: all 15,625 cells, including functionally equivalent ones)."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of architectures :meth:`enumerate` yields."""


class Benchmark(abc.ABC, Generic[Arch]):
    """An oracle that answers performance queries for architectures of one space.

    ``query`` returns the *search* metric (validation accuracy) only; ``report`` returns the
    *test* metric and must be used only after a search ended.  Implementations live in
    :mod:`archperf.benchmarks` (see its ``base`` module for budgets and query accounting).
    """

    name: ClassVar[str]
    space: SearchSpace[Arch]

    @abc.abstractmethod
    def query(self, archs: Sequence[Arch]) -> np.ndarray:
        """Search metric (validation accuracy, %) for each architecture."""

    @abc.abstractmethod
    def report(self, archs: Sequence[Arch]) -> np.ndarray:
        """Test metric for each architecture: for reporting, never for searching."""

    @abc.abstractmethod
    def oracle(self, budget: int | None = None, protocol: str | None = None) -> Oracle[Arch]:
        """A fresh :class:`~archperf.benchmarks.base.Oracle` over the search metric, with a
        query ``budget`` (None: unlimited) and a query ``protocol`` (None: the benchmark's)."""

    @abc.abstractmethod
    def describe(self, protocol: str | None = None) -> dict[str, Any]:
        """A JSON-ready description for run records: at least ``source``, ``search_metric`` and
        ``report_metric``; keys starting with ``report_`` are notes on the reported metric."""

    def evaluations(self, oracle: Any) -> int | None:
        """How many distinct records the benchmark evaluated for ``oracle``, counted where a
        search cannot reach (a surrogate's model process), or None where it keeps no such
        count (a table needs none: its oracle holds only the search metric).  The runner
        refuses a run that evaluated more than its query log holds."""
        return None

    def data_files(self) -> tuple[Path, ...]:
        """The files (or folders) the benchmark's values come from; run records store a content
        hash of them, so results made on other data are never reused.  Default: none known."""
        return tuple(getattr(self, "_data_files", ()))


@dataclass(frozen=True)
class EncoderOutput:
    """Node embeddings ``[B, N, D]`` and the graph embedding ``[B, G]``."""

    nodes: torch.Tensor
    graph: torch.Tensor


class Component:
    """A neural component that can be saved and rebuilt (:mod:`archperf.nn.serialization`).

    ``registry_kind`` (``"encoder"``, ``"predictor"``, ...) and ``registry_name`` say where the
    registry finds the class again; :meth:`config` gives JSON-ready constructor arguments (a
    nested component as a spec ``{"kind", "name", "config"}``) and :meth:`from_config` builds
    an equal, untrained component from them.
    """

    registry_kind: ClassVar[str]
    registry_name: ClassVar[str]

    def config(self) -> dict[str, Any]:
        """JSON-ready constructor arguments (inverse of :meth:`from_config`)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not describe itself: implement config() to save it"
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """The component built from :meth:`config`'s output (default: ``cls(**config)``)."""
        return cls(**dict(config))


class Encoder(Component, abc.ABC):
    """Graph encoder: a :class:`~archperf.cell.CellBatch` → node and graph embeddings.

    Must accept weighted (soft) adjacency and op distributions so gradients reach a generator.
    ``num_ops`` is the op vocabulary it reads (None: any).
    """

    graph_dim: int
    num_ops: int | None

    @abc.abstractmethod
    def forward(self, batch: CellBatch) -> EncoderOutput: ...


class DenseEncoder(abc.ABC):
    """Ability of an encoder: message passing over dense node *features* (not op ids), as a
    generator's own network needs (its nodes carry latent codes and the condition).

    ``forward_dense(adj [B, N, N], x [B, N, in_dim], mask [B, N])``; ``in_dim`` is the width of
    ``x`` it was built for, ``node_dim`` the width of the node embeddings it returns.
    """

    in_dim: int

    @property
    @abc.abstractmethod
    def node_dim(self) -> int:
        """Width of :attr:`EncoderOutput.nodes`."""

    @abc.abstractmethod
    def forward_dense(
        self, adj: torch.Tensor, x: torch.Tensor, mask: torch.Tensor
    ) -> EncoderOutput: ...


class Predictor(Component, abc.ABC):
    """Performance predictor (PP): cells → predicted performance ``[B]``.

    The trainer regresses on standardised targets: :meth:`set_target_scale` fixes the unit of
    the output (``raw * std + mean``), kept with the weights so a saved PP predicts in the
    benchmark's own unit.
    """

    @abc.abstractmethod
    def forward(self, batch: CellBatch) -> torch.Tensor: ...

    @abc.abstractmethod
    def set_target_scale(self, mean: float, std: float) -> None:
        """Outputs become ``raw * std + mean`` (std finite and > 0, else ``ValueError``)."""


class Discriminator(Component, abc.ABC):
    """D: (cells, condition) → logit ``[B]`` that the pair is real.

    ``condition`` is class ids ``[B]`` (long), class probabilities ``[B, C]`` (a soft
    condition, :meth:`Condition.soft`), or floats ``[B]`` for a continuous condition.
    """

    num_classes: int | None

    @abc.abstractmethod
    def forward(self, batch: CellBatch, condition: torch.Tensor) -> torch.Tensor: ...


class HasClassHead(abc.ABC):
    """Ability of a discriminator: an AC-GAN class head (the trainer's class loss needs it)."""

    @property
    @abc.abstractmethod
    def has_class_head(self) -> bool:
        """Whether this instance has the head (a class may build it only on request)."""

    @property
    def has_fake_class(self) -> bool:
        """Whether the head's last class stands for generated cells (default: no)."""
        return False

    @abc.abstractmethod
    def classify(self, batch: CellBatch) -> torch.Tensor:
        """Class logits ``[B, C]``, or ``[B, C + 1]`` where the last class stands for generated
        cells (the trainer's ``class_loss_fake_weight`` needs that)."""

    @abc.abstractmethod
    def forward_with_classes(
        self, batch: CellBatch, condition: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(forward(batch, condition), classify(batch))`` from one pass."""


class Generator(Component, abc.ABC, Generic[Arch]):
    """Architecture generator (AG): (condition, z_A, z_X) → cells of a space."""

    space: SearchSpace[Arch]
    num_classes: int | None

    @abc.abstractmethod
    def forward(
        self,
        condition: torch.Tensor,
        z_adj: torch.Tensor,
        z_ops: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> CellBatch:
        """Relaxed (differentiable) cells for training; ``generator`` seeds any noise."""

    @abc.abstractmethod
    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The latent ``(z_adj, z_ops)`` of ``n`` samples, drawn from ``generator``."""

    @abc.abstractmethod
    def decode(self, relaxed: CellBatch) -> list[Arch]:
        """Valid architectures of :attr:`space` from relaxed output (never invalid)."""

    @abc.abstractmethod
    def sample(
        self, condition: Any, n: int, seed: int | None = None, stochastic: bool = False
    ) -> list[Arch]:
        """``n`` valid architectures for ``condition`` (a class id, a float, or ``n`` of them);
        same ``seed``, same architectures."""


class HasChoiceProbs(abc.ABC):
    """Ability of a generator: the noise-free probabilities of its choices, on which the
    trainer's diversity terms act (``TrainerConfig.diversity_weight``)."""

    @abc.abstractmethod
    def generate(
        self,
        condition: torch.Tensor,
        z_adj: torch.Tensor,
        z_ops: torch.Tensor,
        generator: torch.Generator | None = None,
        structure: str = "live",
        unpruned: bool = False,
    ) -> tuple[CellBatch, torch.Tensor]:
        """``(forward(...), probabilities [B, M, K])`` over ``M`` choices of ``K`` options;
        ``unpruned``: the cells before the decoder's repairs (edge cap, pruning) instead of
        ``forward``'s (the trainer asks for it only with ``generator_unpruned``)."""

    def op_choices(self, probs: torch.Tensor) -> torch.Tensor:
        """The rows of :meth:`generate`'s probabilities that are op choices (the trainer's
        ``op_collision_target`` acts on them); default: every row."""
        return probs

    def over_limit(self, probs: torch.Tensor) -> torch.Tensor:
        """``[B]``: for each sample, the (approximate) probability that its cell breaks a hard
        limit of the space that decoding then enforces (NB101: more than 9 edges), from
        :meth:`generate`'s probabilities; the trainer's ``limit_weight`` acts on it.
        Default: zeros (no such limit)."""
        return probs.new_zeros(probs.shape[0])


class Condition(abc.ABC):
    """Maps performance to a conditioning signal (e.g. rank classes) and back.

    For the trainer a condition also supplies its *differentiable* form (:meth:`soft`, so PP's
    adversarial term has a gradient) and, for class conditions, the hard classes of
    predictions (:meth:`hard`).  A plugin condition implements these to be trainable.
    """

    num_classes: int | None
    """Number of discrete classes, or None for a continuous condition."""

    @abc.abstractmethod
    def encode(self, performance: Iterable[float] | np.ndarray) -> np.ndarray:
        """Conditioning values for performances (class ids, or floats if continuous)."""

    @abc.abstractmethod
    def target(self, condition: np.ndarray) -> np.ndarray:
        """A representative performance for each condition value (for PP's γ3 term)."""

    def soft(self, pred: torch.Tensor, temperature: float) -> torch.Tensor:
        """A differentiable condition of predictions ``[B]``: class probabilities ``[B, C]``
        (``temperature`` > 0 in class widths: smaller is sharper), or floats ``[B]`` for a
        continuous condition.  Default: ``TypeError`` (the condition cannot be trained on)."""
        raise TypeError(
            f"condition {type(self).__name__} has no differentiable form for PP's adversarial term"
        )

    def hard(self, pred: torch.Tensor) -> torch.Tensor:
        """Class ids (long ``[B]``) of predictions, without a range check (a model may predict
        outside the valid range).  Class conditions only; default: ``TypeError``."""
        raise TypeError(f"condition {type(self).__name__} has no hard classes of predictions")

    @property
    def best_class_threshold(self) -> float | None:
        """The performance above which a value is in the best class (class 0), or None (no
        such boundary, e.g. a continuous condition)."""
        return None

    def to_config(self) -> dict[str, Any]:
        return {}


class HasFeatures(abc.ABC, Generic[Arch]):
    """Ability of a search space: fixed-length numeric features of architectures, for models
    that do not read graphs (trees, MLPs).  Spaces list the kinds they offer in
    :attr:`feature_kinds`; ``"onehot"`` (ops per node or edge) is offered by every space that
    has this ability, ``"adjacency"`` and ``"path"`` where the space has them."""

    feature_kinds: ClassVar[tuple[str, ...]]
    #: The kind a tree model should use when none is asked for (the space's best measured
    #: one: ``bench/predictor_xgb.py``); one of :attr:`feature_kinds`.
    tree_features: ClassVar[str] = "onehot"

    @abc.abstractmethod
    def features(self, archs: Sequence[Arch], kind: str = "onehot") -> np.ndarray:
        """A ``float32`` array ``[len(archs), d]``, ``d`` fixed per space and kind; an unknown
        ``kind`` is a ``ValueError`` naming the kinds offered."""


class HasEdgeOps(abc.ABC, Generic[Arch]):
    """Ability of a search space whose architectures are one op per edge of a fixed layout
    (NB201): the op index of every edge, in the space's edge order."""

    @abc.abstractmethod
    def to_op_indices(self, arch: Arch) -> tuple[int, ...]:
        """The op index of each edge (validates ``arch``)."""


class ArchPredictor(abc.ABC, Generic[Arch]):
    """A performance model used on its own, in the style of scikit-learn: architectures of one
    space in, predicted performance out.  Registered under the kind ``"arch_predictor"``;
    ``registry.create("arch_predictor", name, space=space, seed=seed, **settings)``.

    ``fit`` is deterministic for a given ``seed`` on CPU; ``save``/``load`` never pickle.
    """

    name: ClassVar[str]
    space: SearchSpace[Arch]

    @abc.abstractmethod
    def fit(self, archs: Sequence[Arch], y: Sequence[float] | np.ndarray) -> ArchPredictor[Arch]:
        """Train on ``archs`` with targets ``y`` (same length, finite); returns ``self``."""

    @abc.abstractmethod
    def predict(self, archs: Sequence[Arch]) -> np.ndarray:
        """``float64`` predictions ``[len(archs)]``; raises if not fitted."""

    @abc.abstractmethod
    def save(self, path: str | Path) -> None:
        """Write the fitted model to the folder ``path`` (created if needed)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, path: str | Path) -> ArchPredictor[Any]:
        """A fitted model read back from :meth:`save`'s folder, validated on load."""

    def to_config(self) -> dict[str, Any]:
        """The settings that rebuild this model (JSON-ready)."""
        return {}


class SemiSupervised(abc.ABC):
    """Ability of an :class:`ArchPredictor`: ``fit`` also learns from unlabeled architectures
    of the space.  The predictor-guided searches (:mod:`archperf.search.guided`) pass each
    round's candidates as ``unlabeled`` to predictors with this ability, and nothing else to
    the others."""

    @abc.abstractmethod
    def fit(
        self,
        archs: Sequence[Any],
        y: Sequence[float] | np.ndarray,
        unlabeled: Sequence[Any] | None = None,
    ) -> Any:
        """Train on ``archs`` with targets ``y`` and the ``unlabeled`` architectures (any
        number, possibly overlapping ``archs``); returns ``self``."""
