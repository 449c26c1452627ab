"""The Architecture Generator (AG) of SemiGAN-NAD: (condition, z_A, z_X) → cells of a space.

Per generator node ``v`` (the space's decoder fixes the nodes: the 7 NB101 vertices, the 8 NB201
vertices, or the 2 × 6 nodes of the two DARTS cells), with ``c`` the condition embedding and
``e_v`` a one-hot of the node's position:

1. an initial soft, fully connected graph from ``z_A``:
   ``A0[i, j] = sigmoid(⟨Q [z_A,i; e_i], K [z_A,j; e_j]⟩ / √h)`` (no self loops);
2. node features ``x_v = [z_X,v; c; e_v]``;
3. a 5-layer GIN (:class:`~archperf.nn.gin.DenseGIN`, layer norm, both directions) on
   ``(A0, x)`` → node features ``h_v``;
4. linear decoders: edge scores ``⟨S h_i, T h_j⟩ / √h + b`` for ``i → j``, op scores
   ``W h_v + U c`` per node (DARTS: ``W h_j + W' h_i + U c`` per edge ``j → i``);
5. the space's :class:`~archperf.nn.decoders.SpaceDecoder` turns the scores into a relaxed
   :class:`~archperf.cell.CellBatch` (Gumbel-softmax, straight-through when ``hard``) and the
   relaxed cells into valid architectures (:meth:`ConditionalGenerator.decode`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..cell import CellBatch
from ..interfaces import DenseEncoder, Generator, HasChoiceProbs, SearchSpace
from ..runtime import with_threads
from .decoders import SpaceDecoder, decoder_for
from .gin import DenseGIN, init_seeded
from .limits import MAX_CLASSES, MAX_LAYERS, MAX_WIDTH, check_int

__all__ = ["ConditionalGenerator"]


class ConditionalGenerator(nn.Module, Generator[Any], HasChoiceProbs):
    """AG: condition embedding + latent ``z_A``, ``z_X`` → relaxed cells → valid cells.

    Args:
        space: a :class:`~archperf.interfaces.SearchSpace` or its registry name
            (``"nb101"``, ``"nb201"``, ``"darts"``).
        num_classes: number of condition classes (e.g. ``RankCondition.num_classes``), or None
            for a continuous condition (one float per cell).
        cond_dim: width of the condition embedding (paper: 16).
        z_dim: width of ``z_A`` and ``z_X`` per node (paper: 16); both standard normal.
        hidden_dim: GIN width.
        num_layers: GIN depth (paper: 5).
        tau: Gumbel-softmax temperature (may be changed during training: ``gen.tau = 0.5``).
        hard: straight-through: the forward value is the one-hot graph of a *valid* decoded
            cell, gradients are those of the soft probabilities.  ``False``: soft probabilities.
        gumbel: perturb scores with Gumbel (NB101 edges: logistic) noise in :meth:`forward`.
            Without noise the output is a deterministic function of ``(condition, z)``.
        latent_ops: add a direct linear path ``V z_X,v`` from each node's latent to its op
            scores, so the latent can select among modes (a mixture) without passing the GIN.
        skip: the decoders read ``[h_v; z_A,v; z_X,v; c; e_v]`` instead of ``h_v`` alone, so a
            node's position and latent reach the edge and op scores even where the GIN's
            messages over the dense soft graph ``A0`` make every ``h_v`` alike.
        decoder_kwargs: arguments of the space's decoder (:func:`decoder_for`), e.g.
            ``{"keep_vertices": True}`` on NB101.
        encoder: the message-passing network of step 3: a
            :class:`~archperf.interfaces.DenseEncoder` module (or a saved encoder spec) with
            ``in_dim = z_dim + cond_dim + num_nodes``; its ``node_dim`` replaces ``hidden_dim``
            in the decoders.  Default: a :class:`DenseGIN` of ``hidden_dim`` × ``num_layers``
            (layer norm, both directions).  A registry name (``encoder="my-encoder"``) builds that
            encoder with this ``in_dim``, the generator's ``hidden_dim``/``num_layers`` where it
            takes them, and ``encoder_kwargs``.
        encoder_kwargs: arguments of an encoder given by name.
        seed: if given, parameters are initialised from it (global RNG untouched).
    """

    registry_kind: ClassVar[str] = "generator"
    registry_name: ClassVar[str] = "semigan"
    positions: Tensor

    def __init__(
        self,
        space: SearchSpace[Any] | str,
        num_classes: int | None = 5,
        cond_dim: int = 16,
        z_dim: int = 16,
        hidden_dim: int = 32,
        num_layers: int = 5,
        tau: float = 1.0,
        hard: bool = True,
        gumbel: bool = True,
        latent_ops: bool = False,
        skip: bool = False,
        decoder_kwargs: Mapping[str, Any] | None = None,
        seed: int | None = None,
        encoder: DenseEncoder | Mapping[str, Any] | str | None = None,
        encoder_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if num_classes is not None:
            check_int("num_classes", num_classes, MAX_CLASSES)
        cond_dim = check_int("cond_dim", cond_dim, MAX_WIDTH)
        z_dim = check_int("z_dim", z_dim, MAX_WIDTH)
        hidden_dim = check_int("hidden_dim", hidden_dim, MAX_WIDTH)
        num_layers = check_int("num_layers", num_layers, MAX_LAYERS)
        if not (math.isfinite(float(tau)) and float(tau) > 0):
            raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
        from ..registry import search_space

        self.space = search_space(space)
        self.decoder_kwargs = dict(decoder_kwargs or {})
        with torch.device("cpu"):  # constants, moved to the data's device where used
            self.decoder: SpaceDecoder = decoder_for(self.space, **self.decoder_kwargs)
        self.num_classes = num_classes
        self.cond_dim, self.z_dim, self.hidden_dim, self.num_layers = (
            cond_dim,
            z_dim,
            hidden_dim,
            num_layers,
        )
        self.tau = float(tau)
        self.hard = bool(hard)
        self.gumbel = bool(gumbel)
        self.latent_ops = bool(latent_ops)
        self.skip = bool(skip)
        self.seed = seed
        n, k = self.decoder.num_nodes, self.decoder.op_dim
        self.num_nodes = n
        self.register_buffer("positions", torch.eye(n), persistent=False)
        with init_seeded(seed):
            self.cond_embed: nn.Module = (
                nn.Embedding(num_classes, cond_dim)
                if num_classes is not None
                else nn.Linear(1, cond_dim)
            )
            self.adj_query = nn.Linear(z_dim + n, hidden_dim)
            self.adj_key = nn.Linear(z_dim + n, hidden_dim)
            self.gin: nn.Module = self._build_encoder(encoder, z_dim + cond_dim + n, encoder_kwargs)
            node_dim = self.node_dim + (2 * z_dim + cond_dim + n if self.skip else 0)
            self.op_node = nn.Linear(node_dim, k)
            self.op_cond = nn.Linear(cond_dim, k, bias=False)
            self.op_src: nn.Linear | None = (
                nn.Linear(node_dim, k, bias=False) if self.decoder.pair_ops else None
            )
            self.edge_src: nn.Linear | None = None
            self.edge_dst: nn.Linear | None = None
            if self.decoder.uses_edges:
                self.edge_src = nn.Linear(node_dim, hidden_dim)
                self.edge_dst = nn.Linear(node_dim, hidden_dim)
            # created last, so the paper's generator initialises as before
            self.op_latent: nn.Linear | None = (
                nn.Linear(z_dim, k, bias=False) if self.latent_ops else None
            )

    def _build_encoder(
        self,
        encoder: DenseEncoder | Mapping[str, Any] | str | None,
        in_dim: int,
        encoder_kwargs: Mapping[str, Any] | None,
    ) -> nn.Module:
        if encoder_kwargs is not None and not isinstance(encoder, str):
            raise ValueError(
                "encoder_kwargs go with an encoder given by its registry name (encoder='x')"
            )
        if encoder == "gin" and not encoder_kwargs:
            encoder = None  # the registered GIN with the generator's own settings
        self._encoder_given = encoder is not None
        enc: Any
        if isinstance(encoder, str):
            enc = self._registered_encoder(encoder, in_dim, dict(encoder_kwargs or {}))
        elif encoder is None:
            enc = DenseGIN(
                len(self.space.op_names),
                hidden_dim=self.hidden_dim,
                num_layers=self.num_layers,
                in_dim=in_dim,
                direction="both",
                pooling="sum",
                norm="layer",
            )
        else:
            from .encoders import resolve_encoder

            enc = resolve_encoder(encoder)
        if not isinstance(enc, DenseEncoder):
            raise TypeError(
                f"the generator's encoder must be a DenseEncoder (forward_dense on node "
                f"features), got {type(enc).__name__}"
            )
        if int(enc.in_dim) != in_dim:
            raise ValueError(
                f"the generator's encoder takes in_dim={enc.in_dim}, but its nodes carry "
                f"z_dim + cond_dim + num_nodes = {in_dim} features"
            )
        assert isinstance(enc, nn.Module)
        return enc

    def _registered_encoder(self, name: str, in_dim: int, kwargs: dict[str, Any]) -> nn.Module:
        """The registered encoder ``name`` over this space's ops with ``in_dim`` node inputs:
        the generator's ``hidden_dim``/``num_layers`` where the encoder takes them, then
        ``kwargs`` (its ``in_dim`` is fixed by the generator)."""
        from .. import registry
        from .encoders import encoder_arguments, init_parameters

        if "in_dim" in kwargs:
            raise ValueError(
                f"encoder_kwargs.in_dim is set by the generator (z_dim + cond_dim + num_nodes "
                f"= {in_dim}); remove it"
            )
        cls = registry.get("encoder", name)
        if "in_dim" not in init_parameters(cls):
            raise ValueError(
                f"encoder {name!r} takes no in_dim argument, so it cannot read the generator's "
                "node features (z, condition, position); give the generator another encoder"
            )
        own = {"hidden_dim": self.hidden_dim, "num_layers": self.num_layers, **kwargs}
        args = encoder_arguments(type(self), name, {}, own)  # pops what the encoder takes
        refused = sorted(k for k in own if k in kwargs)
        if refused:
            raise ValueError(f"encoder {name!r} takes no argument(s) {', '.join(refused)}")
        return cls(len(self.space.op_names), in_dim=in_dim, **args)

    @property
    def encoder(self) -> nn.Module:
        """The message-passing network of step 3 (stored as ``gin``, its first name, so saved
        weights keep their keys)."""
        return self.gin

    @property
    def node_dim(self) -> int:
        """Width of the encoder's node features (the decoders' input)."""
        enc = self.gin
        assert isinstance(enc, DenseEncoder)
        return int(enc.node_dim)

    # -- configuration -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """JSON-ready constructor arguments (the space by its registry name; the encoder as a
        spec when one was given)."""
        extra: dict[str, Any] = {}
        if self._encoder_given:
            from .encoders import encoder_spec

            extra["encoder"] = encoder_spec(self.gin)
        return extra | {
            "space": self.space.name,
            "num_classes": self.num_classes,
            "cond_dim": self.cond_dim,
            "z_dim": self.z_dim,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "tau": self.tau,
            "hard": self.hard,
            "gumbel": self.gumbel,
            "latent_ops": self.latent_ops,
            "skip": self.skip,
            "decoder_kwargs": dict(self.decoder_kwargs),
            "seed": self.seed,
        }

    def extra_repr(self) -> str:
        return (
            f"space={self.space.name!r}, num_classes={self.num_classes}, nodes={self.num_nodes}, "
            f"tau={self.tau}, hard={self.hard}, gumbel={self.gumbel}"
        )

    # -- inputs --------------------------------------------------------------------------------

    def _device(self) -> torch.device:
        return self.op_node.weight.device

    def embed_condition(self, condition: Tensor) -> Tensor:
        """Validate ``condition [B]`` (class ids, or floats if continuous) → ``[B, cond_dim]``."""
        if not isinstance(condition, Tensor):
            raise TypeError(f"condition must be a tensor, got {type(condition).__name__}")
        if condition.dim() != 1:
            raise ValueError(f"condition must be [B], got shape {tuple(condition.shape)}")
        condition = condition.to(self._device())
        if self.num_classes is not None:
            if condition.dtype.is_floating_point or condition.dtype == torch.bool:
                raise ValueError(
                    f"this generator takes class ids (long) for its {self.num_classes} classes, "
                    f"got {condition.dtype}"
                )
            if condition.numel() and (
                int(condition.min()) < 0 or int(condition.max()) >= self.num_classes
            ):
                bad = int(
                    ((condition < 0) | (condition >= self.num_classes)).nonzero()[0, 0].item()
                )
                raise ValueError(
                    f"condition index {bad} is {int(condition[bad])}: class ids lie in "
                    f"0..{self.num_classes - 1}"
                )
            return self.cond_embed(condition.long())
        if not condition.dtype.is_floating_point:
            raise ValueError(
                f"this generator has a continuous condition (num_classes=None): pass floats, "
                f"got {condition.dtype}"
            )
        if not bool(torch.isfinite(condition).all()):
            bad = int((~torch.isfinite(condition)).nonzero()[0, 0].item())
            raise ValueError(f"condition index {bad} is not finite")
        weight = self.op_node.weight
        return self.cond_embed(condition.to(weight.dtype).unsqueeze(-1))

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``z_A, z_X``: standard normal ``[n, num_nodes, z_dim]`` each."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        shape = (n, self.num_nodes, self.z_dim)
        dev = generator.device if generator is not None else self._device()
        dtype = self.op_node.weight.dtype
        z_adj = torch.randn(shape, generator=generator, device=dev, dtype=dtype)
        z_ops = torch.randn(shape, generator=generator, device=dev, dtype=dtype)
        return z_adj.to(self._device()), z_ops.to(self._device())

    def condition_tensor(self, condition: Any, n: int) -> Tensor:
        """A ``[n]`` condition tensor from a scalar (repeated) or a sequence of ``n`` values."""
        if isinstance(condition, Tensor):
            t = condition.detach().clone()
        else:
            arr = np.asarray(condition)
            if arr.dtype.kind not in "iuf":
                raise ValueError(f"condition must be numbers, got {condition!r}")
            t = torch.from_numpy(np.array(arr))
        if t.dim() == 0:
            t = t.reshape(1).expand(n).clone()
        if t.dim() != 1 or t.shape[0] != n:
            raise ValueError(
                f"condition must be a scalar or {n} values, got shape {tuple(t.shape)}"
            )
        if self.num_classes is not None:
            if t.dtype.is_floating_point:
                if not bool((t == t.round()).all()):
                    raise ValueError("class-id conditions must be whole numbers")
                t = t.long()
            return t.long()
        return t.to(self.op_node.weight.dtype)

    # -- forward -------------------------------------------------------------------------------

    def scores(
        self, condition: Tensor, z_adj: Tensor, z_ops: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Raw op scores and edge scores (before noise and relaxation); see the module doc."""
        c = self.embed_condition(condition)
        b, n = c.shape[0], self.num_nodes
        want = (b, n, self.z_dim)
        for name, z in (("z_adj", z_adj), ("z_ops", z_ops)):
            if not isinstance(z, Tensor) or tuple(z.shape) != want:
                got = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
                raise ValueError(f"{name} must be [B, num_nodes, z_dim] = {list(want)}, got {got}")
        dtype = self.op_node.weight.dtype
        z_adj, z_ops = z_adj.to(self._device(), dtype), z_ops.to(self._device(), dtype)
        pos = self.positions.to(dtype).expand(b, n, n)
        za = torch.cat([z_adj, pos], dim=-1)
        q, k = self.adj_query(za), self.adj_key(za)
        a0 = torch.sigmoid(q @ k.transpose(1, 2) / math.sqrt(self.hidden_dim))
        a0 = a0 * (1.0 - torch.eye(n, dtype=dtype, device=a0.device))
        x = torch.cat([z_ops, c.to(dtype).unsqueeze(1).expand(b, n, -1), pos], dim=-1)
        mask = torch.ones(b, n, dtype=torch.bool, device=x.device)
        enc = self.gin
        assert isinstance(enc, DenseEncoder)
        h = enc.forward_dense(a0, x, mask).nodes
        if self.skip:
            h = torch.cat([h, z_adj, x], dim=-1)
        cond_term = self.op_cond(c.to(dtype))[:, None, :]
        if self.op_src is not None:  # per edge j -> i: [B, N(src), N(dst), K]
            op_logits = (
                self.op_src(h)[:, :, None, :] + self.op_node(h)[:, None, :, :] + cond_term[:, None]
            )
        else:
            op_logits = self.op_node(h) + cond_term
        if self.op_latent is not None:
            lat = self.op_latent(z_ops)
            op_logits = op_logits + (lat[:, None] if self.op_src is not None else lat)
        edge_logits = None
        if self.edge_src is not None and self.edge_dst is not None:
            edge_logits = self.edge_src(h) @ self.edge_dst(h).transpose(1, 2)
            edge_logits = edge_logits / math.sqrt(self.hidden_dim)
        return op_logits, edge_logits

    def forward(
        self,
        condition: Tensor,
        z_adj: Tensor,
        z_ops: Tensor,
        generator: torch.Generator | None = None,
    ) -> CellBatch:
        """Relaxed cells ``[B]`` in the space's graph form, differentiable in the parameters.

        ``generator`` seeds the Gumbel noise (global RNG when None).
        """
        return self.generate(condition, z_adj, z_ops, generator)[0]

    def generate(
        self,
        condition: Tensor,
        z_adj: Tensor,
        z_ops: Tensor,
        generator: torch.Generator | None = None,
        structure: str = "live",
        unpruned: bool = False,
    ) -> tuple[CellBatch, Tensor]:
        """:meth:`forward`'s relaxed cells and the noise-free choice probabilities.

        The probabilities ``[B, M, K]`` (:meth:`SpaceDecoder.choice_probs`: the op choices
        ``softmax(score / tau)`` of a cell, and where the space chooses edges (NB101) and
        ``structure`` is ``"edges"`` or ``"live"``, its edge choices too) are what a diversity
        term acts on.  NB201 and DARTS give the op choices whatever ``structure``.
        ``unpruned``: the cells before the decoder's repairs
        (:meth:`SpaceDecoder.relax_unpruned`; NB101: the raw graph), straight-through.
        """
        op_logits, edge_logits = self.scores(condition, z_adj, z_ops)
        if unpruned:
            relaxed = self.decoder.relax_unpruned(
                op_logits, edge_logits, tau=self.tau, gumbel=self.gumbel, generator=generator
            )
        else:
            relaxed = self.decoder.relax(
                op_logits,
                edge_logits,
                tau=self.tau,
                hard=self.hard,
                gumbel=self.gumbel,
                generator=generator,
            )
        probs = self.decoder.choice_probs(op_logits, edge_logits, self.tau, structure)
        return relaxed, probs

    def op_choices(self, probs: Tensor) -> Tensor:
        """The op rows of :meth:`generate`'s probabilities (:meth:`SpaceDecoder.op_choices`)."""
        return self.decoder.op_choices(probs)

    def over_limit(self, probs: Tensor) -> Tensor:
        """Per sample, the chance of breaking a hard limit (:meth:`SpaceDecoder.over_limit`)."""
        return self.decoder.over_limit(probs)

    def decode(self, relaxed: CellBatch, stochastic: bool = False, seed: Any = None) -> list[Any]:
        """Valid architectures of :attr:`space` (argmax decoding, or draws when stochastic)."""
        return self.decoder.decode(relaxed, stochastic=stochastic, seed=seed)

    # -- sampling ------------------------------------------------------------------------------

    def _torch_generator(self, seed: int | None) -> torch.Generator | None:
        if seed is None:
            return None
        g = torch.Generator(device=self._device())
        g.manual_seed(int(seed))
        return g

    def sample_relaxed(self, condition: Any, n: int, seed: int | None = None) -> CellBatch:
        """``n`` relaxed cells (no gradient) for ``condition`` (a value or ``n`` values)."""
        g = self._torch_generator(seed)
        cond = self.condition_tensor(condition, n)
        z_adj, z_ops = self.sample_latent(n, g)
        with torch.no_grad():
            return self.forward(cond, z_adj, z_ops, generator=g)

    @with_threads
    def sample(
        self,
        condition: Any,
        n: int,
        seed: int | None = None,
        stochastic: bool = False,
        batch_size: int = 4096,
    ) -> list[Any]:
        """``n`` valid architectures for ``condition`` (class id(s), or float(s) if continuous).

        Same ``seed`` → same architectures (on the same device).  Generation runs in batches of
        ``batch_size``, with the library's torch thread count (:mod:`archperf.runtime`);
        ``stochastic`` draws the decoding instead of taking the argmax.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        cond = self.condition_tensor(condition, n) if n else None
        g = self._torch_generator(seed)
        rng = np.random.default_rng(seed) if stochastic else None
        out: list[Any] = []
        for start in range(0, n, max(int(batch_size), 1)):
            assert cond is not None
            part = cond[start : start + batch_size]
            z_adj, z_ops = self.sample_latent(int(part.shape[0]), g)
            with torch.no_grad():
                relaxed = self.forward(part, z_adj, z_ops, generator=g)
            out.extend(self.decode(relaxed, stochastic=stochastic, seed=rng))
        return out

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by block (condition, initial graph, GIN, op decoder, edge decoder)."""
        groups: dict[str, list[nn.Parameter]] = {
            "condition": list(self.cond_embed.parameters()),
            "initial_graph": [*self.adj_query.parameters(), *self.adj_key.parameters()],
            "gin": list(self.gin.parameters()),
            "op_decoder": [
                *self.op_node.parameters(),
                *self.op_cond.parameters(),
                *(self.op_latent.parameters() if self.op_latent is not None else []),
                *(self.op_src.parameters() if self.op_src is not None else []),
            ],
        }
        if self.edge_src is not None and self.edge_dst is not None:
            groups["edge_decoder"] = [*self.edge_src.parameters(), *self.edge_dst.parameters()]
        return groups
