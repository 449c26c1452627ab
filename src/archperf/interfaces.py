"""The core interfaces of archperf, one small abstract class per concept.

Neural components (:class:`Encoder`, :class:`Predictor`, :class:`Discriminator`,
:class:`Generator`) are implemented as ``torch.nn.Module`` subclasses that also derive from these
ABCs; this module itself never imports torch.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np

from .errors import InvalidCellError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .cell import Cell, CellBatch

__all__ = [
    "Arch",
    "ArchPredictor",
    "Benchmark",
    "Condition",
    "Discriminator",
    "Encoder",
    "EncoderOutput",
    "EnumerableSpace",
    "Generator",
    "HasFeatures",
    "Predictor",
    "SearchSpace",
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


class Encoder(abc.ABC):
    """Graph encoder: a :class:`~archperf.cell.CellBatch` → node and graph embeddings.

    Must accept weighted (soft) adjacency and op distributions so gradients reach a generator.
    """

    graph_dim: int

    @abc.abstractmethod
    def forward(self, batch: CellBatch) -> EncoderOutput: ...


class Predictor(abc.ABC):
    """Performance predictor (PP): cells → predicted performance ``[B]``."""

    @abc.abstractmethod
    def forward(self, batch: CellBatch) -> torch.Tensor: ...


class Discriminator(abc.ABC):
    """D: (cells, condition) → logit ``[B]`` that the pair is real."""

    @abc.abstractmethod
    def forward(self, batch: CellBatch, condition: torch.Tensor) -> torch.Tensor: ...


class Generator(abc.ABC, Generic[Arch]):
    """Architecture generator (AG): (condition, z_A, z_X) → cells of a space."""

    space: SearchSpace[Arch]

    @abc.abstractmethod
    def forward(
        self, condition: torch.Tensor, z_adj: torch.Tensor, z_ops: torch.Tensor
    ) -> CellBatch:
        """Relaxed (differentiable) cells for training."""

    @abc.abstractmethod
    def decode(self, relaxed: CellBatch) -> list[Arch]:
        """Valid architectures of :attr:`space` from relaxed output (never invalid)."""


class Condition(abc.ABC):
    """Maps performance to a conditioning signal (e.g. rank classes) and back."""

    num_classes: int | None
    """Number of discrete classes, or None for a continuous condition."""

    @abc.abstractmethod
    def encode(self, performance: Iterable[float] | np.ndarray) -> np.ndarray:
        """Conditioning values for performances (class ids, or floats if continuous)."""

    @abc.abstractmethod
    def target(self, condition: np.ndarray) -> np.ndarray:
        """A representative performance for each condition value (for PP's γ3 term)."""

    def to_config(self) -> dict[str, Any]:
        return {}


class HasFeatures(abc.ABC, Generic[Arch]):
    """Ability of a search space: fixed-length numeric features of architectures, for models
    that do not read graphs (trees, MLPs).  Spaces list the kinds they offer in
    :attr:`feature_kinds`; ``"onehot"`` (ops per node or edge) is offered by every space that
    has this ability, ``"adjacency"`` and ``"path"`` where the space has them."""

    feature_kinds: ClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def features(self, archs: Sequence[Arch], kind: str = "onehot") -> np.ndarray:
        """A ``float32`` array ``[len(archs), d]``, ``d`` fixed per space and kind; an unknown
        ``kind`` is a ``ValueError`` naming the kinds offered."""


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
