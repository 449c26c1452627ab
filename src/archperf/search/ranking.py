"""Ranking candidates with a named ``arch_predictor`` instead of the trainer's PP: the
``predictor=NAME`` option of the predictor-guided searches (``semigan-nad``, ``nacg``)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UsageError
from ..interfaces import SearchSpace

__all__ = ["Ranker", "build_predictor", "check_predictor"]


def check_predictor(name: Any, settings: Any) -> tuple[str | None, dict[str, Any]]:
    """The ``predictor`` option checked against the registry (nothing is imported), and its
    settings copied."""
    if settings is not None and not isinstance(settings, dict):
        raise UsageError(
            "predictor_settings must be a table of the predictor's arguments (e.g. --set "
            f"predictor_settings.features=path), got {settings!r}"
        )
    if name is None:
        if settings:
            raise UsageError("predictor_settings is set but predictor is not (e.g. predictor=xgb)")
        return None, {}
    if not isinstance(name, str):
        raise UsageError(f"predictor must be the name of an arch_predictor, got {name!r}")
    from .. import registry

    registry.default_registry().entry("arch_predictor", name)  # unknown: lists the names
    for forbidden in ("space", "seed"):
        if settings and forbidden in settings:
            raise UsageError(
                f"predictor_settings.{forbidden} is set by the search (the oracle's space / the "
                "run's seed); remove it"
            )
    return registry.canonical_name("arch_predictor", name), dict(settings or {})


def build_predictor(
    name: str | None, settings: dict[str, Any], space: SearchSpace[Any], seed: int
) -> Any:
    """A fresh, unfitted ``arch_predictor`` (None without a name).  A search builds one before
    its first query, so a missing extra or a bad setting fails before any query is spent."""
    if name is None:
        return None
    from .. import registry

    factory = registry.get("arch_predictor", name)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to check against: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(space=space, seed=seed, **settings)
        except TypeError as exc:
            raise UsageError(
                f"predictor {name!r} does not take these predictor_settings: {exc}"
            ) from None
    return factory(space=space, seed=seed, **settings)


class Ranker:
    """Ranks candidates: the trainer's PP (``name`` None) or a named ``arch_predictor`` refitted
    on the queried cells each round."""

    def __init__(
        self,
        name: str | None,
        settings: dict[str, Any],
        space: SearchSpace[Any],
        seed: int,
        trainer: Any,
    ) -> None:
        self.name, self.settings, self.space, self.seed = name, settings, space, seed
        self.trainer = trainer
        self.model: Any = None

    def fit(self, cells: Sequence[Any], labels: Sequence[float]) -> None:
        if self.name is None:
            return  # PP was trained with the trainer
        model = build_predictor(self.name, self.settings, self.space, self.seed)
        self.model = model.fit(list(cells), np.asarray(labels, dtype=np.float64))

    def predict(self, cells: Sequence[Any]) -> np.ndarray:
        if self.model is None:
            return np.asarray(self.trainer.predict(cells))
        return np.asarray(self.model.predict(list(cells)), dtype=np.float64)

    def predict_pool(self, pool: Sequence[Any], local: Sequence[Any]) -> np.ndarray:
        if self.model is None:
            return np.concatenate([self.trainer.pool_predictions(), self.trainer.predict(local)])
        return self.predict([*pool, *local])
