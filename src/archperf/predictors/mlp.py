"""``feedforward``: an MLP on fixed-length architecture features, the predictor of BANANAS
(White, Neiswanger & Savani, 2021: 10 layers of width 20, Adam at 0.01, 200 epochs, mean
absolute error).

Features: the space's own (:class:`~archperf.interfaces.HasFeatures`: ``"path"`` where the
space offers it, as BANANAS did, else ``"onehot"``), or ``"graph"`` for any space: the upper
triangle of ``to_graph``'s adjacency and a one-hot op per vertex, padded to ``max_nodes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import UsageError
from ..interfaces import ArchPredictor, HasFeatures, SearchSpace
from ..runtime import threads

__all__ = ["MLPPredictor", "graph_features"]

_LOSSES = ("mae", "mse")
_CONFIG = "config.json"
_WEIGHTS = "weights.safetensors"


def graph_features(space: SearchSpace[Any], archs: Sequence[Any]) -> np.ndarray:
    """``float32 [len(archs), n(n-1)/2 + n·|ops|]`` for ``n = space.max_nodes``: the upper
    triangle of each ``to_graph`` adjacency and a one-hot op per vertex, zero-padded."""
    n, k = int(space.max_nodes), len(space.op_names)
    iu = np.triu_indices(n, k=1)
    out = np.zeros((len(archs), len(iu[0]) + n * k), dtype=np.float32)
    for i, a in enumerate(archs):
        cell = space.to_graph(a)
        m = cell.num_vertices
        adj = np.zeros((n, n), dtype=np.float32)
        adj[:m, :m] = cell.adjacency
        out[i, : len(iu[0])] = adj[iu]
        onehot = np.zeros((n, k), dtype=np.float32)
        onehot[np.arange(m), np.asarray(cell.ops, dtype=np.int64)] = 1.0
        out[i, len(iu[0]) :] = onehot.reshape(-1)
    return out


class MLPPredictor(ArchPredictor[Any]):
    """A ReLU MLP on architecture features, trained on standardised targets.

    Settings: ``features`` (``"auto"``: ``"path"`` if the space offers it, else ``"onehot"``,
    else ``"graph"``; or a kind the space offers; or ``"graph"``), ``layers`` hidden layers of
    ``width`` units, ``epochs``, ``lr`` (Adam), ``batch_size``, ``loss`` (``"mae"`` or
    ``"mse"``).  ``fit`` is deterministic for a ``seed`` on CPU.
    """

    name: ClassVar[str] = "feedforward"

    def __init__(
        self,
        space: SearchSpace[Any],
        seed: int = 0,
        features: str = "auto",
        layers: int = 10,
        width: int = 20,
        epochs: int = 200,
        lr: float = 0.01,
        batch_size: int = 32,
        loss: str = "mae",
    ) -> None:
        for what, value, low in (
            ("layers", layers, 1),
            ("width", width, 1),
            ("epochs", epochs, 1),
            ("batch_size", batch_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise UsageError(f"mlp: {what} must be an integer >= {low}, got {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise UsageError(f"mlp: seed must be an integer, got {seed!r}")
        if not isinstance(lr, int | float) or isinstance(lr, bool) or not lr > 0:
            raise UsageError(f"mlp: lr must be a number > 0, got {lr!r}")
        if loss not in _LOSSES:
            raise UsageError(f"mlp: loss must be one of {', '.join(_LOSSES)}, got {loss!r}")
        self.space = space
        self.seed = int(seed)
        self.features = self._resolve_features(space, features)
        self.layers, self.width, self.epochs = int(layers), int(width), int(epochs)
        self.lr, self.batch_size, self.loss = float(lr), int(batch_size), str(loss)
        self._net: Any = None
        self._dim: int | None = None
        self._y_mean = 0.0
        self._y_std = 1.0

    @staticmethod
    def _resolve_features(space: SearchSpace[Any], features: Any) -> str:
        kinds: tuple[str, ...] = (
            tuple(space.feature_kinds) if isinstance(space, HasFeatures) else ()
        )
        if features == "auto":
            for kind in ("path", "onehot"):
                if kind in kinds:
                    return kind
            return "graph"
        if features == "graph" or features in kinds:
            return str(features)
        offered = ", ".join(("auto", "graph", *kinds))
        raise UsageError(
            f"mlp: features {features!r} is not offered by the {space.name} space; use one of: "
            f"{offered}"
        )

    def to_config(self) -> dict[str, Any]:
        return {
            "space": self.space.name,
            "seed": self.seed,
            "features": self.features,
            "layers": self.layers,
            "width": self.width,
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "loss": self.loss,
        }

    # ----------------------------------------------------------------------------- model
    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        """The feature rows the network reads."""
        if self.features == "graph":
            return graph_features(self.space, archs)
        assert isinstance(self.space, HasFeatures)
        return np.asarray(self.space.features(archs, self.features), dtype=np.float32)

    def _build(self, dim: int) -> Any:
        import torch
        from torch import nn

        mods: list[Any] = []
        width_in = dim
        for _ in range(self.layers):
            mods += [nn.Linear(width_in, self.width), nn.ReLU()]
            width_in = self.width
        mods.append(nn.Linear(width_in, 1))
        net = nn.Sequential(*mods).to(dtype=torch.float32)
        return net

    def fit(self, archs: Sequence[Any], y: Sequence[float] | np.ndarray) -> MLPPredictor:
        import torch  # before threads(), which sets the count only once torch is imported

        with threads():
            return self._fit(torch, archs, y)

    def _fit(
        self, torch: Any, archs: Sequence[Any], y: Sequence[float] | np.ndarray
    ) -> MLPPredictor:
        target = np.asarray(y, dtype=np.float64)
        if target.ndim != 1 or len(target) != len(archs):
            raise UsageError(
                f"mlp.fit: {len(archs)} architectures but targets of shape {target.shape}"
            )
        if len(target) == 0 or not np.isfinite(target).all():
            raise UsageError("mlp.fit needs at least one architecture and finite targets")
        x = self.encode(archs)
        self._y_mean = float(target.mean())
        self._y_std = float(target.std()) or 1.0
        yz = ((target - self._y_mean) / self._y_std).astype(np.float32)
        rng = np.random.default_rng(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = self._build(x.shape[1])
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        xt, yt = torch.from_numpy(x), torch.from_numpy(yz)
        lossf = torch.nn.L1Loss() if self.loss == "mae" else torch.nn.MSELoss()
        n = len(yz)
        net.train()
        for _ in range(self.epochs):
            order = torch.from_numpy(rng.permutation(n))
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                opt.zero_grad()
                loss = lossf(net(xt[idx]).squeeze(1), yt[idx])
                loss.backward()
                opt.step()
        net.eval()
        self._net, self._dim = net, int(x.shape[1])
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        import torch

        if self._net is None:
            raise UsageError("mlp: predict before fit (or load)")
        if not len(archs):
            return np.zeros(0, dtype=np.float64)
        x = torch.from_numpy(self.encode(archs))
        with threads(), torch.no_grad():
            out = self._net(x).squeeze(1).double().numpy()
        return out * self._y_std + self._y_mean

    # ------------------------------------------------------------------------ save/load
    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        if self._net is None:
            raise UsageError("mlp: nothing to save before fit")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        cfg = {
            "format": "archperf.mlp/1",
            **self.to_config(),
            "dim": self._dim,
            "y_mean": self._y_mean,
            "y_std": self._y_std,
        }
        state = {k: v.detach().contiguous() for k, v in self._net.state_dict().items()}
        save_file(state, str(folder / _WEIGHTS))
        (folder / _CONFIG).write_text(json.dumps(cfg, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> MLPPredictor:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from .. import registry

        folder = Path(path)
        try:
            cfg = json.loads((folder / _CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"mlp.load: cannot read {folder / _CONFIG}: {exc}") from None
        if not isinstance(cfg, dict) or cfg.get("format") != "archperf.mlp/1":
            raise UsageError(f"mlp.load: {folder / _CONFIG} is not an archperf mlp model")
        try:
            space = registry.create("search_space", cfg["space"])
            model = cls(
                space,
                seed=cfg["seed"],
                features=cfg["features"],
                layers=cfg["layers"],
                width=cfg["width"],
                epochs=cfg["epochs"],
                lr=cfg["lr"],
                batch_size=cfg["batch_size"],
                loss=cfg["loss"],
            )
            dim = int(cfg["dim"])
            net = model._build(dim)
            state = load_file(str(folder / _WEIGHTS))
            net.load_state_dict(state, strict=True)
        except (KeyError, TypeError, RuntimeError, OSError, SafetensorError) as exc:
            raise UsageError(f"mlp.load: damaged model in {folder}: {exc}") from None
        net.eval()
        model._net, model._dim = net, dim
        model._y_mean, model._y_std = float(cfg["y_mean"]), float(cfg["y_std"])
        return model
