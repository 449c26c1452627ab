"""The one way to build the encoder of a component (PP, D, or a plugin's own).

:func:`build_encoder` takes what a component was given (an encoder instance, a saved encoder
spec ``{"kind": "encoder", "name", "config"}``, or nothing) and returns the encoder, its
``graph_dim`` and its ``num_ops``; with nothing given it builds the registered encoder ``name``
(default ``"gin"``, :class:`~archperf.nn.gin.DenseGIN`) over ``num_ops``.  The trainer builds its
components' encoders with it too, after :func:`encoder_arguments` merged the component's own
defaults, the shared ``encoder_kwargs`` and the component's encoder arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, MutableMapping
from typing import Any

from torch import nn

from ..interfaces import DenseEncoder, Encoder

__all__ = [
    "build_encoder",
    "encoder_arguments",
    "encoder_spec",
    "init_parameters",
    "resolve_encoder",
]


def init_parameters(cls: Any) -> set[str]:
    """The named constructor arguments of ``cls``.  A subclass whose ``__init__`` only
    forwards ``*args, **kwargs`` (as the PyG and DGL GINs do) takes its parent's: the first
    ``__init__`` in the MRO with named parameters."""
    forwarding = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    for klass in getattr(cls, "__mro__", (cls,)):
        init = klass.__dict__.get("__init__") if isinstance(klass, type) else klass
        if init is None or init is object.__init__:
            continue
        params = list(inspect.signature(init).parameters.values())
        if params and params[0].name == "self" and isinstance(klass, type):
            params = params[1:]
        if any(p.kind not in forwarding for p in params):
            return {p.name for p in params if p.kind not in forwarding}
    return set()


def encoder_spec(encoder: nn.Module) -> dict[str, Any]:
    """``{"kind": "encoder", "name": ..., "config": ...}`` for a registered encoder."""
    name = getattr(encoder, "registry_name", "")
    config = getattr(encoder, "config", None)
    if not name or not callable(config):
        raise ValueError(
            f"encoder {type(encoder).__name__} cannot be described: it needs a registry_name "
            "and a config() method (see archperf.nn.serialization)"
        )
    try:
        cfg = config()
    except NotImplementedError as exc:
        raise ValueError(f"encoder {type(encoder).__name__} cannot be described: {exc}") from None
    return {"kind": "encoder", "name": name, "config": cfg}


def resolve_encoder(encoder: Encoder | DenseEncoder | Mapping[str, Any]) -> nn.Module:
    """An encoder instance, or one built through the registry from an :func:`encoder_spec`."""
    if isinstance(encoder, Mapping):
        from .serialization import build_component

        return build_component(dict(encoder), expected_kind="encoder")
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"encoder must be an nn.Module encoder, got {type(encoder).__name__}")
    return encoder


def build_encoder(
    owner: str,
    encoder: Encoder | Mapping[str, Any] | None,
    num_ops: int | None,
    *,
    name: str = "gin",
    seed: int | None = None,
    **kwargs: Any,
) -> tuple[nn.Module, int, int | None]:
    """The encoder of ``owner`` (a name for messages): ``encoder`` (instance or spec), else the
    registered encoder ``name`` built over ``num_ops`` with ``kwargs`` (and ``seed`` when
    given; without it, call inside :func:`~archperf.nn.gin.init_seeded` for seeded weights).

    Returns the encoder, its positive ``graph_dim`` and its ``num_ops`` (checked against the
    given ``num_ops``).
    """
    enc: nn.Module
    if encoder is None:
        if num_ops is None:
            raise ValueError(f"{owner} needs num_ops (or an encoder)")
        from .. import registry

        cls = registry.get("encoder", name)
        if seed is not None:
            kwargs["seed"] = seed
        enc = cls(num_ops, **kwargs)
    else:
        enc = resolve_encoder(encoder)
    graph_dim = int(getattr(enc, "graph_dim", 0))
    if graph_dim < 1:
        raise ValueError(f"encoder {type(enc).__name__} has no positive graph_dim")
    enc_ops = getattr(enc, "num_ops", num_ops)
    if num_ops is not None and enc_ops is not None and int(enc_ops) != int(num_ops):
        raise ValueError(f"num_ops={num_ops} but the encoder has num_ops={enc_ops}")
    return enc, graph_dim, int(enc_ops) if enc_ops is not None else None


def encoder_arguments(
    component: Any,
    encoder_name: str,
    shared: Mapping[str, Any],
    own: MutableMapping[str, Any],
) -> dict[str, Any]:
    """The arguments of a component's encoder, in increasing priority: the component class's
    own defaults for arguments the encoder also takes (so D keeps its layer norm and 3 layers),
    the ``shared`` ones (``TrainerConfig.encoder_kwargs``), and the entries of the component's
    ``own`` keyword arguments that are encoder arguments (popped from ``own``, so
    ``predictor_kwargs={"hidden_dim": 64}`` sizes PP's encoder)."""
    from .. import registry

    enc_cls = registry.get("encoder", encoder_name)
    accepted = init_parameters(enc_cls) - {"num_ops", "seed", "encoder"}
    params = inspect.signature(component).parameters
    defaults = {
        k: p.default
        for k, p in params.items()
        if k in accepted and p.default is not inspect.Parameter.empty
    }
    mine = {k: own.pop(k) for k in list(own) if k in accepted}
    return {**defaults, **shared, **mine}
