"""``xgb``: gradient-boosted trees (XGBoost) on a space's fixed-length features.

Any space with the :class:`~archperf.interfaces.HasFeatures` ability works: the model reads
``space.features(archs, kind=features)``.  xgboost is an optional extra
(``pip install 'archperf[xgb]'``, which installs the CPU-only ``xgboost-cpu`` wheel); it is
imported when a model is built, never when archperf is.

A saved model is a folder with XGBoost's own JSON model format (``model.json``) and the
settings (``settings.json``: format, space, features, hyper-parameters, the target scaling and
the SHA-256 of ``model.json``); nothing is pickled, and :meth:`XGBPredictor.load` checks all of
it before use.

The defaults (features, depth, trees, learning rate, ...) are the best setting of a small
tuning sweep on NB201 CIFAR-10 validation accuracy, made on splits that the reported numbers
do not use (``bench/predictor_xgb.py``, ``docs/predictors.md``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._io import atomic_write_bytes, load_json_limited
from ..errors import ArchperfError, CheckpointError, UsageError, check_finite_predictions
from ..interfaces import ArchPredictor, HasFeatures, SearchSpace

__all__ = [
    "OBJECTIVES",
    "XGBPredictor",
    "XGBoostMissingError",
    "import_xgboost",
]

FORMAT = "archperf-xgb"
VERSION = 1
MODEL_FILE = "model.json"
SETTINGS_FILE = "settings.json"
#: Largest ``model.json`` accepted on load (a 2,000-tree depth-8 model is about 30 MB).
MAX_MODEL_BYTES = 512 * 1024 * 1024

#: Training objectives: squared error on the standardised target, or pairwise ranking (the
#: predictions are then scores whose order, not scale, means something).
OBJECTIVES = ("reg:squarederror", "rank:pairwise")


class XGBoostMissingError(ArchperfError, ImportError):
    """xgboost is not installed: the ``xgb`` predictor needs the extra ``archperf[xgb]``."""


def import_xgboost() -> Any:
    """The ``xgboost`` module, or :class:`XGBoostMissingError` saying how to install it."""
    try:
        import xgboost
    except ImportError as exc:
        raise XGBoostMissingError(
            "the 'xgb' predictor needs xgboost: pip install 'archperf[xgb]' (the CPU-only "
            f"xgboost-cpu wheel) or pip install xgboost ({exc})"
        ) from None
    return xgboost


def _number(name: str, value: Any, low: float, high: float, *, integer: bool = False) -> Any:
    ok_type = (
        isinstance(value, int | np.integer)
        if integer
        else isinstance(value, int | float | np.integer | np.floating)
    )
    if (
        isinstance(value, bool)
        or not ok_type
        or not math.isfinite(value)
        or not (low <= value <= high)
    ):
        kind = "an integer" if integer else "a number"
        raise UsageError(f"xgb: {name} must be {kind} in [{low:g}, {high:g}], got {value!r}")
    return int(value) if integer else float(value)


class XGBPredictor(ArchPredictor[Any]):
    """XGBoost regression trees on ``space.features(archs, features)``.

    Parameters
    ----------
    space:
        A search space with :class:`~archperf.interfaces.HasFeatures` (every built-in one).
    seed:
        Seeds XGBoost's row and column subsampling: same seed and data → same model.
    features:
        A feature kind the space offers (``space.feature_kinds``), e.g. ``"onehot"``,
        ``"path"`` or ``"onehot+path"``; ``None``: the space's ``tree_features``
        (:class:`~archperf.interfaces.HasFeatures`), else ``"onehot"``.
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree, min_child_weight,
    reg_lambda:
        XGBoost's hyper-parameters of the same names (``eta`` = ``learning_rate``).
    objective:
        One of :data:`OBJECTIVES`.
    nthread:
        XGBoost threads (1 by default: a few hundred labels train in well under a second).
    """

    name: ClassVar[str] = "xgb"

    def __init__(
        self,
        space: SearchSpace[Any],
        seed: int = 0,
        features: str | None = None,
        n_estimators: int = 300,
        max_depth: int = 8,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 1.0,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        objective: str = "reg:squarederror",
        nthread: int = 1,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise UsageError(f"xgb: space must be a SearchSpace, got {type(space).__name__}")
        if not isinstance(space, HasFeatures):
            raise UsageError(
                f"xgb: the space {getattr(space, 'name', type(space).__name__)!r} has no "
                "features (it does not implement archperf.interfaces.HasFeatures)"
            )
        if features is None:
            features = getattr(space, "tree_features", "onehot")
        if not isinstance(features, str) or features not in space.feature_kinds:
            raise UsageError(
                f"xgb: unknown features {features!r} for the space {space.name!r}; kinds are "
                f"{', '.join(space.feature_kinds)}"
            )
        if objective not in OBJECTIVES:
            raise UsageError(f"xgb: objective must be one of {OBJECTIVES}, got {objective!r}")
        self.space = space
        self.seed = _number("seed", seed, 0, 2**31 - 1, integer=True)
        self.features = features
        self.n_estimators = _number("n_estimators", n_estimators, 1, 100_000, integer=True)
        self.max_depth = _number("max_depth", max_depth, 1, 20, integer=True)
        self.learning_rate = _number("learning_rate", learning_rate, 1e-6, 1.0)
        self.subsample = _number("subsample", subsample, 1e-3, 1.0)
        self.colsample_bytree = _number("colsample_bytree", colsample_bytree, 1e-3, 1.0)
        self.min_child_weight = _number("min_child_weight", min_child_weight, 0.0, 1e6)
        self.reg_lambda = _number("reg_lambda", reg_lambda, 0.0, 1e6)
        self.objective = objective
        self.nthread = _number("nthread", nthread, 1, 1024, integer=True)
        self._booster: Any = None
        self._scale = (0.0, 1.0)  # target mean and standard deviation (regression)
        import_xgboost()  # fail at construction, not after the data is prepared

    # ---------------------------------------------------------------------- settings
    def to_config(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "features": self.features,
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "reg_lambda": self.reg_lambda,
            "objective": self.objective,
            "nthread": self.nthread,
        }

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": self.objective,
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "seed": self.seed,
            "nthread": self.nthread,
            "verbosity": 0,
        }
        if self.objective == "reg:squarederror":
            params["base_score"] = 0.0  # the target is standardised
        return params

    @property
    def fitted(self) -> bool:
        return self._booster is not None

    def _x(self, archs: Sequence[Any], what: str) -> np.ndarray:
        if isinstance(archs, str | bytes) or not isinstance(archs, Sequence):
            raise UsageError(f"xgb: {what} takes a sequence of architectures")
        space: Any = self.space  # HasFeatures, checked by __init__
        return np.asarray(space.features(list(archs), self.features), dtype=np.float32)

    # ------------------------------------------------------------------- fit, predict
    def fit(self, archs: Sequence[Any], y: Sequence[float] | np.ndarray) -> XGBPredictor:
        """Train on ``archs`` and their targets ``y`` (at least 2, finite, not all equal
        when the objective is a regression); returns ``self``."""
        try:
            target = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise UsageError("xgb: y must be a sequence of numbers") from None
        if target.ndim != 1:
            raise UsageError(f"xgb: y must be one-dimensional, got shape {target.shape}")
        if len(target) != len(archs):
            raise UsageError(
                f"xgb: {len(archs)} architectures but {len(target)} targets; need one each"
            )
        if len(target) < 2:
            raise UsageError(f"xgb: fit needs at least 2 labelled architectures, got {len(target)}")
        if not np.isfinite(target).all():
            bad = int(np.flatnonzero(~np.isfinite(target))[0])
            raise UsageError(f"xgb: y must be finite; item {bad} is {target[bad]}")
        x = self._x(archs, "fit")
        xgb = import_xgboost()
        if self.objective == "reg:squarederror":
            mean, std = float(target.mean()), float(target.std())
            std = std if std > 0 else 1.0
            label = (target - mean) / std
        else:
            mean, std = 0.0, 1.0
            label = target
        dtrain = xgb.DMatrix(x, label=label, nthread=self.nthread)
        if self.objective == "rank:pairwise":
            dtrain.set_group([len(label)])
        self._booster = xgb.train(self._params(), dtrain, num_boost_round=self.n_estimators)
        self._scale = (mean, std)
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """``float64`` predictions ``[len(archs)]`` (in the target's units for the regression
        objective, ranking scores for ``rank:pairwise``)."""
        if self._booster is None:
            raise UsageError("xgb: the model is not fitted; call fit(archs, y) or load a save")
        x = self._x(archs, "predict")
        if len(x) == 0:
            return np.zeros(0, dtype=np.float64)
        xgb = import_xgboost()
        raw = self._booster.predict(xgb.DMatrix(x, nthread=self.nthread))
        mean, std = self._scale
        out = np.asarray(raw, dtype=np.float64) * std + mean
        check_finite_predictions(out, "the xgb predictor")
        return out

    # ---------------------------------------------------------------------- save, load
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``model.json`` (XGBoost's JSON format) and ``settings.json`` to the folder
        ``path`` (created if needed)."""
        if self._booster is None:
            raise UsageError("xgb: nothing to save: the model is not fitted")
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"xgb: {folder} exists and is not a folder")
        model = bytes(self._booster.save_raw(raw_format="json"))
        settings = {
            "format": FORMAT,
            "version": VERSION,
            "predictor": self.name,
            "space": self.space.name,
            "num_features": int(self._booster.num_features()),
            "config": self.to_config(),
            "target_scale": list(self._scale),
            "model_sha256": hashlib.sha256(model).hexdigest(),
            "xgboost_version": import_xgboost().__version__,
        }
        atomic_write_bytes(folder / MODEL_FILE, model)
        atomic_write_bytes(
            folder / SETTINGS_FILE, (json.dumps(settings, indent=1) + "\n").encode("utf-8")
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], space: SearchSpace[Any] | None = None) -> Any:
        """A fitted model read back from :meth:`save`'s folder.

        ``space`` defaults to the registered space of the saved name.  A missing, damaged,
        tampered or mismatched file raises :class:`~archperf.errors.CheckpointError` naming it.
        """
        folder = Path(path)
        settings_path, model_path = folder / SETTINGS_FILE, folder / MODEL_FILE
        for p in (settings_path, model_path):
            if not p.is_file():
                raise CheckpointError(f"{p} not found: not a saved xgb predictor folder")
        doc = load_json_limited(settings_path.read_bytes(), str(settings_path), CheckpointError)
        s = _check_settings(doc, settings_path)
        if model_path.stat().st_size > MAX_MODEL_BYTES:
            raise CheckpointError(f"{model_path} is over the limit of {MAX_MODEL_BYTES:,} bytes")
        model = model_path.read_bytes()
        if hashlib.sha256(model).hexdigest() != s["model_sha256"]:
            raise CheckpointError(
                f"{model_path} does not match the SHA-256 in {settings_path}: the model was "
                "changed or belongs to another save"
            )
        if space is None:
            from .. import registry

            space = registry.create("search_space", s["space"])
        elif space.name != s["space"]:
            raise CheckpointError(
                f"{settings_path} is a model of the space {s['space']!r}, not {space.name!r}"
            )
        try:
            obj = cls(space, **s["config"])
        except UsageError as exc:
            raise CheckpointError(f"{settings_path}: bad config: {exc}") from None
        width = obj._x([], "load").shape[1]
        if s["num_features"] != width:
            raise CheckpointError(
                f"{settings_path}: the model reads {s['num_features']} features but the space "
                f"{space.name!r} gives {width} for {obj.features!r}"
            )
        xgb = import_xgboost()
        booster = xgb.Booster(params={"nthread": obj.nthread})
        try:
            booster.load_model(bytearray(model))
        except xgb.core.XGBoostError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise CheckpointError(f"{model_path} is not an XGBoost model: {first}") from None
        if booster.num_features() != width or booster.num_boosted_rounds() != obj.n_estimators:
            raise CheckpointError(
                f"{model_path} has {booster.num_features()} features and "
                f"{booster.num_boosted_rounds()} trees; {settings_path} says {width} and "
                f"{obj.n_estimators}"
            )
        obj._booster = booster
        obj._scale = (float(s["target_scale"][0]), float(s["target_scale"][1]))
        return obj


def _check_settings(doc: Any, where: Path) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise CheckpointError(f"{where}: expected a JSON object")
    if doc.get("format") != FORMAT or doc.get("predictor") != XGBPredictor.name:
        raise CheckpointError(f"{where} is not a saved xgb predictor (format {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise CheckpointError(
            f"{where} has format version {doc.get('version')!r}; this archperf reads {VERSION}"
        )
    need = {
        "space": str,
        "num_features": int,
        "config": dict,
        "target_scale": list,
        "model_sha256": str,
    }
    for key, typ in need.items():
        if not isinstance(doc.get(key), typ) or isinstance(doc.get(key), bool):
            raise CheckpointError(f"{where}: {key!r} is missing or not a {typ.__name__}")
    scale = doc["target_scale"]
    if len(scale) != 2 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in scale
    ):
        raise CheckpointError(f"{where}: 'target_scale' must be two finite numbers")
    if scale[1] <= 0:
        raise CheckpointError(f"{where}: 'target_scale' has a non-positive deviation")
    return doc
