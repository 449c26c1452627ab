"""A performance predictor used on its own, in the style of scikit-learn: ``"gin"`` under the
registry kind ``"arch_predictor"``.

>>> from archperf import registry
>>> model = registry.create("arch_predictor", "gin", space="nb201", seed=0)
>>> model.fit(cells, y, pool=all_cells)        # pool: optional unlabeled cells (averaging)
>>> model.predict(other_cells)                 # float64 numpy [len(other_cells)]
>>> model.save("my-model/"); GINArchPredictor.load("my-model/").predict(other_cells)

The default is the supervised recipe that ranked best in ``bench/predictor_recipes.py``
(docs/training.md, "What we measured"): PP alone (a 4-layer GIN of width 64, mean pooling, no
normalisation, MLP head 64 → 32 → 1) trained on every label at every step for 60 epochs with
Adam (lr 1e-3, weight decay 1e-5), and *pool averaging* when a pool of unlabeled cells is given:
a cell equivalent (same ``space.canonical``) to pool cells gets the mean prediction over them.
Training runs through :class:`~archperf.training.bi_arch2perf.BiArch2Perf` with
``adversarial=False`` (no discriminator, no generator), so it is deterministic for a seed on CPU.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import nn

from .._io import atomic_write_bytes, load_json_limited
from ..errors import NotFittedError, UsageError, check_finite_predictions
from ..interfaces import ArchPredictor, SearchSpace
from ..nn.batching import GraphTable, predict_table
from ..runtime import resolve_device, threads
from ..training.config import TrainerConfig

__all__ = ["GINArchPredictor"]

FORMAT = "archperf-arch-predictor"
FORMAT_VERSION = 1
_FILE = "arch_predictor.json"


class GINArchPredictor(ArchPredictor[Any]):
    """PP trained on its own (see the module doc for the recipe).

    Args:
        space: a search space or its registered name; architectures are of this space.
        seed: every random choice (initialisation, batch order) comes from it.
        epochs, batch_size: passes over the labels, and labels per step's batch (an epoch is
            ``ceil(n / batch_size)`` steps; every step regresses on all labels).
        hidden_dim, num_layers, mlp_dims, pooling, norm: PP's GIN and head.
        lr, weight_decay: Adam's settings.
        pool_averaging: average predictions over equivalence classes of ``fit``'s ``pool``.
        device: ``"cpu"`` (default; deterministic), ``"auto"``, ``"cuda"``, ``"cuda:N"``.
        threads: torch CPU threads while fitting and predicting (None: the library's rule).
    """

    name: ClassVar[str] = "gin"

    def __init__(
        self,
        space: SearchSpace[Any] | str = "nb201",
        seed: int = 0,
        epochs: int = 60,
        batch_size: int = 16,
        hidden_dim: int = 64,
        num_layers: int = 4,
        mlp_dims: Sequence[int] = (64, 32),
        pooling: str = "mean",
        norm: str = "none",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        pool_averaging: bool = True,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        from .. import registry

        try:
            self.space = registry.search_space(space)
        except TypeError as exc:
            raise UsageError(str(exc)) from None
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise UsageError(f"seed must be an integer, got {seed!r}")
        self.settings: dict[str, Any] = {
            "seed": seed,
            "epochs": epochs,
            "batch_size": batch_size,
            "hidden_dim": hidden_dim,
            "num_layers": num_layers,
            "mlp_dims": list(mlp_dims),
            "pooling": pooling,
            "norm": norm,
            "lr": lr,
            "weight_decay": weight_decay,
            "pool_averaging": bool(pool_averaging),
            "device": device,
            "threads": threads,
        }
        self._trainer_config(pooled=False)  # checks the numbers now, with one clear line
        self.predictor: nn.Module | None = None
        self._pool_means: dict[str, float] | None = None

    # -- configuration -------------------------------------------------------------------------

    def to_config(self) -> dict[str, Any]:
        """The settings that rebuild this model (JSON-ready; the space by its name)."""
        return {"space": self.space.name, **self.settings}

    def _trainer_config(self, pooled: bool) -> TrainerConfig:
        s = self.settings
        try:
            return TrainerConfig(
                space=self.space.name,
                condition={"type": "continuous", "unit": None},
                adversarial=False,
                epochs=s["epochs"],
                labeled_batch_size=s["batch_size"],
                predictor_kwargs={
                    "hidden_dim": s["hidden_dim"],
                    "num_layers": s["num_layers"],
                    "mlp_dims": list(s["mlp_dims"]),
                    "pooling": s["pooling"],
                    "norm": s["norm"],
                },
                lr_predictor=s["lr"],
                weight_decay=s["weight_decay"],
                pool_averaging=pooled and s["pool_averaging"],
                device=s["device"],
                threads=s["threads"],
                seed=s["seed"],
                progress=False,
            )
        except (TypeError, ValueError) as exc:
            raise UsageError(f"GINArchPredictor: {exc}") from None

    # -- fit / predict -------------------------------------------------------------------------

    def fit(
        self,
        archs: Sequence[Any],
        y: Sequence[float] | np.ndarray,
        pool: Sequence[Any] | None = None,
    ) -> GINArchPredictor:
        """Train on ``archs`` with targets ``y`` (same length, at least two, finite); ``pool``:
        unlabeled architectures of the space whose equivalence classes average the
        predictions (with ``pool_averaging``).  Returns ``self``."""
        from ..training.bi_arch2perf import BiArch2Perf

        try:
            target = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"y must be numbers: {exc}") from None
        if target.ndim != 1 or target.shape[0] != len(archs):
            raise UsageError(
                f"{len(archs)} architectures but y has shape {target.shape}: give one target each"
            )
        if target.shape[0] < 2:
            raise UsageError("fit needs at least two labeled architectures")
        if not np.isfinite(target).all():
            bad = int(np.flatnonzero(~np.isfinite(target))[0])
            raise UsageError(f"y[{bad}] is {target[bad]}: targets must be finite")
        if pool is not None and len(pool) == 0:
            pool = None
        cfg = self._trainer_config(pooled=pool is not None)
        trainer = BiArch2Perf(cfg, space=self.space)
        trainer.fit(archs, target, archs if pool is None else pool)
        self._pool_means = None
        if cfg.pool_averaging and pool is not None:
            canon = [self.space.canonical(a) for a in pool]
            if len(set(canon)) < len(canon):  # equivalent cells in the pool: average
                means = trainer.pool_predictions()
                self._pool_means = {c: float(v) for c, v in zip(canon, means, strict=True)}
        self.predictor = trainer.predictor
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """``float64`` predictions ``[len(archs)]`` (pool-averaged where ``fit`` had a pool)."""
        if self.predictor is None:
            raise NotFittedError("this GINArchPredictor is not fitted: call fit() or load() first")
        if len(archs) == 0:
            return np.zeros(0, dtype=np.float64)
        device = resolve_device(self.settings["device"])
        with threads(self.settings["threads"]):
            self.predictor.to(device)
            out = predict_table(self.predictor, GraphTable(self.space, archs).batches(2048, device))
        if self._pool_means is not None:
            for i, a in enumerate(archs):
                m = self._pool_means.get(self.space.canonical(a))
                if m is not None:
                    out[i] = m
        check_finite_predictions(out, "GINArchPredictor")
        return out

    # -- save / load ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted model to the folder ``path``: ``predictor/`` (safetensors + JSON),
        ``arch_predictor.json`` (settings and pool means) and ``manifest.json`` (last)."""
        from ..nn.serialization import CONFIG_FILE, save_component, write_bundle_manifest

        if self.predictor is None:
            raise NotFittedError("this GINArchPredictor is not fitted: nothing to save")
        out = Path(path)
        save_component(self.predictor, out / "predictor")
        pool = None
        if self._pool_means is not None:
            pool = {"canonical": list(self._pool_means), "mean": list(self._pool_means.values())}
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "config": self.to_config(),
            "pool": pool,
        }
        text = json.dumps(doc, allow_nan=False)
        atomic_write_bytes(out / _FILE, text.encode("utf-8"))
        write_bundle_manifest(out, [f"predictor/{CONFIG_FILE}", _FILE])

    @classmethod
    def load(cls, path: str | Path) -> GINArchPredictor:
        """A fitted model read back from :meth:`save`'s folder; every file is checked against
        the manifest (a damaged or mixed save is a ``ComponentFormatError``)."""
        from ..nn.serialization import ComponentFormatError, check_bundle_file, load_component

        folder = Path(path)
        where = folder / _FILE
        if not where.is_file():
            raise FileNotFoundError(f"{where} is missing: not a saved GINArchPredictor")
        check_bundle_file(folder, _FILE)
        doc = load_json_limited(where.read_bytes(), str(where), ComponentFormatError)
        if (
            not isinstance(doc, dict)
            or doc.get("format") != FORMAT
            or doc.get("format_version") != FORMAT_VERSION
            or doc.get("name") != cls.name
            or not isinstance(doc.get("config"), dict)
        ):
            raise ComponentFormatError(f"{where} is not a saved GINArchPredictor (format 1)")
        try:
            model = cls(**doc["config"])
        except (TypeError, UsageError) as exc:
            raise ComponentFormatError(f"{where}: bad config: {exc}") from None
        pool = doc.get("pool")
        if pool is not None:
            ok = (
                isinstance(pool, dict)
                and isinstance(pool.get("canonical"), list)
                and isinstance(pool.get("mean"), list)
                and len(pool["canonical"]) == len(pool["mean"])
                and all(isinstance(c, str) for c in pool["canonical"])
                and all(
                    isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
                    for v in pool["mean"]
                )
            )
            if not ok:
                raise ComponentFormatError(
                    f"{where}: pool must hold canonical ids and finite means"
                )
            model._pool_means = dict(zip(pool["canonical"], map(float, pool["mean"]), strict=True))
        model.predictor = load_component(folder / "predictor", expected_kind="predictor")
        return model
