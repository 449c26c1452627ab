"""The Discriminator (D) of SemiGAN-NAD: is this (architecture, condition) pair real?

GIN graph embedding (3 layers by default) concatenated with an embedding of the condition →
MLP → one logit (``conditioning="concat"``, the paper's D).  The condition is a class id
(``nn.Embedding``, e.g. a performance-rank class) or, when ``num_classes is None``, a continuous
value (``nn.Linear(1, cond_dim)``).

``conditioning="projection"`` is the projection discriminator of Miyato & Koyama (2018):
``logit = ψ(φ(x)) + ⟨embed(y), P φ(x)⟩``, so the condition enters as an inner product with the
graph embedding ``φ(x)`` and cannot be ignored as easily as one more input of an MLP.
``aux_classifier=True`` adds an AC-GAN head (Odena et al., 2017): :meth:`classify` gives class
logits ``[B, C]`` from the same graph embedding, trained on real cells and used to tell the
generator which class its samples look like.

>>> d = GraphDiscriminator(num_classes=4, num_ops=7)   # a 3-layer GIN; encoder=... for another
>>> logits = d(batch, torch.tensor([0, 3]))        # [B]; train with BCE-with-logits
>>> d.prob(batch, torch.tensor([0, 3]))            # sigmoid(logits)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..cell import CellBatch
from ..interfaces import Discriminator, Encoder, HasClassHead
from .encoders import build_encoder, encoder_spec
from .gin import init_seeded
from .limits import MAX_CLASSES, MAX_WIDTH, check_int
from .predictor import _check_dims, build_mlp

__all__ = ["CONDITIONINGS", "GINDiscriminator", "GraphDiscriminator"]

#: How D combines the condition with the graph embedding.
CONDITIONINGS = ("concat", "projection")


class GraphDiscriminator(nn.Module, Discriminator, HasClassHead):
    """D: (cells, condition) → logit ``[B]`` that the pair is real, over any encoder
    (``GINDiscriminator`` is this class under its first name; registry name ``"gin"``).

    Args:
        num_classes: number of condition classes, or None for a continuous condition.
        cond_dim: width of the condition embedding.
        num_layers: GIN depth (paper: 3) when ``encoder`` is None.
        encoder: any encoder module with ``graph_dim`` (or a saved encoder spec dict).
        num_ops: op vocabulary size (required when ``encoder`` is None).
        hidden_dim, direction, pooling: for the default :class:`DenseGIN`.
        norm: GIN normalisation; default ``"layer"`` because batch statistics would differ
            between all-real and all-generated batches and leak which is which to D.
        mlp_dims: hidden widths of the MLP head after the concatenation.
        dropout: dropout in the head.
        conditioning: ``"concat"`` (paper) or ``"projection"`` (see the module doc).
        aux_classifier: add the class head of :meth:`classify` (class conditions only).
        fake_class: the class head gets one more output, the last, for generated cells (the
            semi-supervised GAN of Salimans et al., 2016); needs ``aux_classifier``.
        seed: if given, parameters are initialised from it (global RNG untouched).
    """

    registry_kind: ClassVar[str] = "discriminator"
    registry_name: ClassVar[str] = "gin"
    encoder: nn.Module

    def __init__(
        self,
        num_classes: int | None,
        cond_dim: int = 16,
        num_layers: int = 3,
        encoder: Encoder | Mapping[str, Any] | None = None,
        num_ops: int | None = None,
        hidden_dim: int = 32,
        mlp_dims: Sequence[int] = (64,),
        direction: str = "both",
        pooling: str = "sum",
        norm: str = "layer",
        dropout: float = 0.0,
        conditioning: str = "concat",
        aux_classifier: bool = False,
        fake_class: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if num_classes is not None:
            check_int("num_classes", num_classes, MAX_CLASSES)
        check_int("cond_dim", cond_dim, MAX_WIDTH)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        if aux_classifier and num_classes is None:
            raise ValueError("aux_classifier needs class conditions (num_classes is None)")
        self.conditioning = conditioning
        if fake_class and not aux_classifier:
            raise ValueError("fake_class needs aux_classifier=True")
        self.aux_classifier = bool(aux_classifier)
        self.fake_class = bool(fake_class)
        self.num_classes = num_classes
        self.cond_dim = cond_dim
        self.mlp_dims = _check_dims("mlp_dims", mlp_dims)
        self.dropout = float(dropout)
        self.seed = seed
        with init_seeded(seed):
            enc, graph_dim, enc_ops = build_encoder(
                "GraphDiscriminator",
                encoder,
                num_ops,
                hidden_dim=hidden_dim,
                num_layers=num_layers,
                direction=direction,
                pooling=pooling,
                norm=norm,
            )
            self.encoder = enc
            self.cond_embed: nn.Module = (
                nn.Embedding(num_classes, cond_dim)
                if num_classes is not None
                else nn.Linear(1, cond_dim)
            )
            head_in = graph_dim + cond_dim if conditioning == "concat" else graph_dim
            self.head = build_mlp(head_in, self.mlp_dims, 1, self.dropout)
            # created after the paper's modules, so the paper's D initialises as before
            self.project: nn.Linear | None = (
                nn.Linear(graph_dim, cond_dim, bias=False) if conditioning == "projection" else None
            )
            self.classifier: nn.Linear | None = (
                nn.Linear(graph_dim, int(num_classes or 0) + int(self.fake_class))
                if self.aux_classifier
                else None
            )
        self.num_ops = enc_ops

    def config(self) -> dict[str, Any]:
        """JSON-ready constructor arguments (the encoder as a registry spec)."""
        return {
            "num_classes": self.num_classes,
            "cond_dim": self.cond_dim,
            "encoder": encoder_spec(self.encoder),
            "mlp_dims": list(self.mlp_dims),
            "dropout": self.dropout,
            "conditioning": self.conditioning,
            "aux_classifier": self.aux_classifier,
            "fake_class": self.fake_class,
            "seed": self.seed,
        }

    def embed_condition(self, condition: Tensor, batch_size: int) -> Tensor:
        """Validate ``condition`` ``[B]`` and embed it as ``[B, cond_dim]``."""
        if not isinstance(condition, Tensor):
            raise TypeError(f"condition must be a tensor, got {type(condition).__name__}")
        if (
            self.num_classes is not None
            and condition.dim() == 2
            and condition.dtype.is_floating_point
        ):
            return self._embed_distribution(condition, batch_size)
        if condition.dim() != 1 or condition.shape[0] != batch_size:
            raise ValueError(
                f"condition must be [B] = [{batch_size}], got shape {tuple(condition.shape)}"
            )
        if self.num_classes is not None:
            if condition.dtype.is_floating_point or condition.dtype == torch.bool:
                raise ValueError(
                    f"this discriminator takes class ids (long) for its {self.num_classes} "
                    f"classes, got {condition.dtype}"
                )
            if condition.numel() and (
                int(condition.min()) < 0 or int(condition.max()) >= self.num_classes
            ):
                raise ValueError(
                    f"condition class ids must lie in [0, {self.num_classes}), got "
                    f"[{int(condition.min())}, {int(condition.max())}]"
                )
            out: Tensor = self.cond_embed(condition.long())
            return out
        if not condition.dtype.is_floating_point:
            raise ValueError(
                f"this discriminator has a continuous condition (num_classes=None): pass float "
                f"values, got {condition.dtype}"
            )
        if not bool(torch.isfinite(condition).all()):
            raise ValueError("condition values must be finite")
        dtype = next(self.cond_embed.parameters()).dtype
        out = self.cond_embed(condition.to(dtype).unsqueeze(-1))
        return out

    def _embed_distribution(self, probs: Tensor, batch_size: int) -> Tensor:
        """Soft condition: class probabilities ``[B, C]`` → the expected class embedding.

        Lets a differentiable relaxation of a predicted rank (Bi-Arch2Perf's γ1 term) pass
        gradients into whatever produced the probabilities.
        """
        want = (batch_size, self.num_classes)
        if tuple(probs.shape) != want:
            raise ValueError(
                f"a soft condition must be class probabilities {list(want)}, "
                f"got shape {tuple(probs.shape)}"
            )
        if not bool(torch.isfinite(probs).all()):
            raise ValueError("soft condition probabilities must be finite")
        weight = self.cond_embed.weight
        assert isinstance(weight, Tensor)
        return probs.to(weight.dtype) @ weight

    def _logit(self, graph: Tensor, condition: Tensor) -> Tensor:
        cond = self.embed_condition(condition.to(graph.device), graph.shape[0]).to(graph.dtype)
        if self.project is None:
            out: Tensor = self.head(torch.cat([graph, cond], dim=-1)).squeeze(-1)
            return out
        return self.head(graph).squeeze(-1) + (cond * self.project(graph)).sum(-1)

    def forward(self, batch: CellBatch, condition: Tensor) -> Tensor:
        """Logits ``[B]`` (use ``BCEWithLogitsLoss``; :meth:`prob` gives probabilities)."""
        return self._logit(self.encoder(batch).graph, condition)

    @property
    def has_class_head(self) -> bool:
        """Whether :meth:`classify` works (``aux_classifier=True``)."""
        return self.classifier is not None

    @property
    def has_fake_class(self) -> bool:
        """Whether the class head's last class stands for generated cells (``fake_class``)."""
        return self.fake_class

    def classify(self, batch: CellBatch) -> Tensor:
        """AC-GAN class logits ``[B, C]``, ``[B, C + 1]`` with ``fake_class`` (needs
        ``aux_classifier=True``)."""
        if self.classifier is None:
            raise RuntimeError("this discriminator has no class head (aux_classifier=False)")
        out: Tensor = self.classifier(self.encoder(batch).graph)
        return out

    def forward_with_classes(self, batch: CellBatch, condition: Tensor) -> tuple[Tensor, Tensor]:
        """``(forward(batch, condition), classify(batch))`` from one encoder pass."""
        if self.classifier is None:
            raise RuntimeError("this discriminator has no class head (aux_classifier=False)")
        graph = self.encoder(batch).graph
        return self._logit(graph, condition), self.classifier(graph)

    def prob(self, batch: CellBatch, condition: Tensor) -> Tensor:
        """``sigmoid(forward(batch, condition))``: probability that each pair is real."""
        return torch.sigmoid(self.forward(batch, condition))


GINDiscriminator = GraphDiscriminator
"""The first name of :class:`GraphDiscriminator` (kept: saved models and user code use it)."""
