"""Conditions: map performance to the conditioning signal of the generator and back.

:class:`RankCondition` is SemiGAN-NAD's rank discretisation (Liu et al., AISTATS 2024, eq. 11)::

    ŷ = ⌊(t + step − y) / step⌋   if y > t − (C − 2)·step,   else C − 1

with ``step = 0.02`` and ``C = 5`` classes in the paper (accuracy as a fraction).  Class 0 is
the best.  This module evaluates it with *comparisons against thresholds* instead of a floor of a
difference, so the boundaries are exact in floating point:

* thresholds ``b_k = t − k·step`` for ``k = 0 .. C − 2`` (computed once, in float64);
* ``class(y) = #{k : y ≤ b_k}``, i.e. class 0 iff ``y > t``, class ``k`` iff
  ``b_k < y ≤ b_{k−1}``, class ``C − 1`` iff ``y ≤ b_{C−2}``.

For ``y ≥ t + step`` eq. 11 gives 0 or a negative number; such values are clamped to class 0
(anything better than the threshold is "best").  Both conventions agree with eq. 11 everywhere
else (eq. 11 also puts ``y = t`` in class 1).

:class:`ContinuousCondition` passes the raw performance (optionally standardised) for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .interfaces import Condition

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "UNITS",
    "ContinuousCondition",
    "RankCondition",
    "condition_for_labels",
    "condition_from_config",
]

#: Units of performance: the scale of a perfect score (the valid range is ``[0, scale]``).
#: ``None`` means unitless: any finite value is accepted and ``step`` must be given.
UNITS: dict[str, float] = {"percent": 100.0, "fraction": 1.0}

#: The paper's step, as a fraction of the unit's scale (0.02 = 2 percentage points).
PAPER_STEP_FRACTION = 0.02


def _finite_1d(values: Iterable[float] | np.ndarray | float, what: str) -> np.ndarray:
    """``values`` as a float64 1-D array; ValueError naming the first NaN/inf index."""
    try:
        arr = np.asarray(values).astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be numbers: {exc}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what} must be finite: index {i} is {float(arr[i])!r} "
            f"({bad.size} non-finite value(s))"
        )
    return arr


def _check_unit(unit: str | None) -> float | None:
    if unit is None:
        return None
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {sorted(UNITS)} or None (unitless)")
    return UNITS[unit]


def _check_range(arr: np.ndarray, unit: str | None, scale: float | None, what: str) -> None:
    if scale is None:
        return
    bad = np.flatnonzero((arr < 0.0) | (arr > scale))
    if bad.size:
        i = int(bad[0])
        hint = " (percent given to a fraction condition?)" if unit == "fraction" else ""
        raise ValueError(
            f"{what} must lie in [0, {scale:g}] for unit {unit!r}: "
            f"index {i} is {float(arr[i])!r}{hint}"
        )


class RankCondition(Condition):
    """SemiGAN-NAD's rank classes (eq. 11): ``C`` classes of width ``step`` below ``t``.

    Parameters
    ----------
    threshold:
        ``t``; class 0 is exactly ``y > t``.  In the same unit as the performances.
    step:
        Class width.  Default: the paper's 0.02 of the unit's scale (``2.0`` for ``"percent"``,
        ``0.02`` for ``"fraction"``); required when ``unit`` is None.
    num_classes:
        ``C ≥ 2`` (paper: 5).
    unit:
        ``"percent"`` (default; archperf benchmarks report percent), ``"fraction"`` or None.
        With a unit, :meth:`encode` rejects values outside ``[0, scale]`` (a fraction fed to a
        percent condition would otherwise silently land in the worst class) and :meth:`target`
        clips to that range.  ``RankCondition(93.0)`` on percents and
        ``RankCondition(0.93, unit="fraction")`` on fractions describe the same classes.
    """

    name: ClassVar[str] = "rank"

    def __init__(
        self,
        threshold: float,
        step: float | None = None,
        num_classes: int = 5,
        unit: str | None = "percent",
    ) -> None:
        scale = _check_unit(unit)
        t = float(threshold)
        if not math.isfinite(t):
            raise ValueError(f"threshold must be finite, got {threshold!r}")
        if step is None:
            if scale is None:
                raise ValueError("step is required when unit is None")
            step = PAPER_STEP_FRACTION * scale
        s = float(step)
        if not (math.isfinite(s) and s > 0.0):
            raise ValueError(f"step must be a finite number > 0, got {step!r}")
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        c = int(num_classes)
        b = t - np.arange(c - 1, dtype=np.float64) * s
        if c > 2 and not bool(np.all(np.diff(b) < 0)):
            raise ValueError(
                f"step {s!r} is too small for threshold {t!r}: class boundaries coincide in "
                "floating point"
            )
        self.threshold = t
        self.step = s
        self.num_classes: int | None = c
        self.unit = unit
        self._scale = scale
        self._bounds = b
        self._bounds.setflags(write=False)

    @property
    def thresholds(self) -> np.ndarray:
        """Boundaries ``b_k = t − k·step`` (k = 0..C−2), descending: class = #{k: y ≤ b_k}."""
        return self._bounds

    @classmethod
    def from_quantile(
        cls,
        labels: Iterable[float] | np.ndarray,
        q: float,
        step: float | None = None,
        num_classes: int = 5,
        unit: str | None = "percent",
        step_quantile: float | None = None,
    ) -> RankCondition:
        """``t`` = the ``q``-quantile of ``labels`` (an actual label, "inverted CDF" rule).

        ``t`` is the ``⌈q·n⌉``-th smallest label (the smallest for ``q = 0``), so that at least
        ``q·n`` labels are ``≤ t`` and fewer than ``q·n`` are ``< t``; hence at most a fraction
        ``1 − q`` of the labels falls in class 0.

        ``step_quantile`` (instead of ``step``): the step that puts the last boundary
        ``t − (C − 2)·step`` at that quantile of the labels (same rule), so the classes span
        the labels' own spread.  Where labels are narrow (NB301's surrogate: 5,000 random cells
        lie within 4 points), the paper's 2-point step leaves the lower classes empty.
        """
        arr = _finite_1d(labels, "labels")
        if arr.size == 0:
            raise ValueError("labels must not be empty")
        qf = float(q)
        if not (0.0 <= qf <= 1.0):
            raise ValueError(f"q must lie in [0, 1], got {q!r}")
        _check_range(arr, unit, _check_unit(unit), "labels")
        srt = np.sort(arr)

        def at(p: float) -> float:
            return float(srt[max(math.ceil(p * arr.size) - 1, 0)])

        t = at(qf)
        if step_quantile is not None:
            if step is not None:
                raise ValueError("give step or step_quantile, not both")
            sq = float(step_quantile)
            if not (0.0 <= sq < qf):
                raise ValueError(f"step_quantile must lie in [0, q={qf}), got {step_quantile!r}")
            low = at(sq)
            if not low < t:
                raise ValueError(
                    f"the labels' {sq}- and {qf}-quantiles are equal ({t!r}): no step spans them"
                )
            step = (t - low) / max(int(num_classes) - 2, 1)
        return cls(t, step=step, num_classes=num_classes, unit=unit)

    def encode(self, performance: Iterable[float] | np.ndarray) -> np.ndarray:
        """Class ids (int64, 0 = best) for 1-D performances; ValueError on NaN/inf/out of range."""
        y = _finite_1d(performance, "performance")
        _check_range(y, self.unit, self._scale, "performance")
        # y <= b_k for a prefix of k (the bounds descend): count them, exactly.
        return (y[:, None] <= self._bounds[None, :]).sum(axis=1).astype(np.int64)

    def soft(self, pred: torch.Tensor, temperature: float) -> torch.Tensor:
        """Class probabilities ``[B, C]`` of predictions: ``P(class ≤ k) = σ((y − b_k) /
        (temperature · step))`` over the boundaries ``b_k``, differenced into classes."""
        import torch

        b = torch.tensor(self.thresholds.tolist(), dtype=pred.dtype, device=pred.device)
        s = torch.sigmoid((pred[:, None] - b[None, :]) / (temperature * self.step))
        ones = torch.ones_like(pred)[:, None]
        cum = torch.cat([s, ones], dim=1)  # P(class <= k), k = 0..C-1
        return torch.diff(cum, dim=1, prepend=torch.zeros_like(ones))

    def hard(self, pred: torch.Tensor) -> torch.Tensor:
        """Class ids of predictions (long ``[B]``), without :meth:`encode`'s range check."""
        import torch

        b = torch.tensor(self.thresholds.tolist(), dtype=pred.dtype, device=pred.device)
        return (pred[:, None] <= b[None, :]).sum(1).long()

    @property
    def best_class_threshold(self) -> float:
        """``t``: class 0 is exactly ``y > t``."""
        return float(self._bounds[0])

    def target(self, condition: np.ndarray | Iterable[int]) -> np.ndarray:
        """Representative performance per class: ``t − (k − ½)·step`` (class midpoints).

        Class 0 → ``t + step/2``; class ``k`` in 1..C−2 → the midpoint of ``(b_k, b_{k−1}]``;
        class C−1 → ``b_{C−2} − step/2`` (as if it were one step wide).  With a unit the
        result is clipped to ``[0, scale]``.
        """
        arr = np.asarray(condition)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"condition must be a 1-D sequence of class ids, got {arr.shape}")
        if arr.size and arr.dtype.kind not in "iuf":
            raise ValueError(f"condition must hold integer class ids, got dtype {arr.dtype}")
        c = self.num_classes or 0
        for i, v in enumerate(arr.tolist()):
            if not (isinstance(v, int) or float(v).is_integer()) or not 0 <= v < c:
                raise ValueError(f"condition index {i} is {v!r}: not a class id in 0..{c - 1}")
        ints = arr.astype(np.int64)
        out = self.threshold - (ints.astype(np.float64) - 0.5) * self.step
        if self._scale is not None:
            out = np.clip(out, 0.0, self._scale)
        return out

    def to_config(self) -> dict[str, Any]:
        return {
            "type": self.name,
            "threshold": self.threshold,
            "step": self.step,
            "num_classes": self.num_classes,
            "unit": self.unit,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RankCondition:
        cfg = _strip_type(config, cls.name)
        return cls(**cfg)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RankCondition):
            return NotImplemented
        return self.to_config() == other.to_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_config().items())))

    def __repr__(self) -> str:
        return (
            f"RankCondition(threshold={self.threshold!r}, step={self.step!r}, "
            f"num_classes={self.num_classes}, unit={self.unit!r})"
        )


class ContinuousCondition(Condition):
    """The raw performance as the condition, optionally standardised ``(y − mean) / std``.

    ``num_classes`` is None; :meth:`encode` returns float64 values and :meth:`target` inverts it.
    Build a standardised one from training labels with :meth:`fit`.
    """

    name: ClassVar[str] = "continuous"

    def __init__(self, mean: float = 0.0, std: float = 1.0, unit: str | None = "percent") -> None:
        m, s = float(mean), float(std)
        if not math.isfinite(m):
            raise ValueError(f"mean must be finite, got {mean!r}")
        if not (math.isfinite(s) and s > 0.0):
            raise ValueError(f"std must be a finite number > 0, got {std!r}")
        self.mean = m
        self.std = s
        self.unit = unit
        self._scale = _check_unit(unit)
        self.num_classes: int | None = None

    @classmethod
    def fit(
        cls, labels: Iterable[float] | np.ndarray, unit: str | None = "percent"
    ) -> ContinuousCondition:
        """Standardise with the mean and (population) standard deviation of ``labels``."""
        arr = _finite_1d(labels, "labels")
        if arr.size < 2:
            raise ValueError(f"fit needs at least 2 labels, got {arr.size}")
        _check_range(arr, unit, _check_unit(unit), "labels")
        std = float(arr.std())
        if std == 0.0:
            raise ValueError("labels are all equal: cannot standardise (std = 0)")
        return cls(float(arr.mean()), std, unit=unit)

    def encode(self, performance: Iterable[float] | np.ndarray) -> np.ndarray:
        y = _finite_1d(performance, "performance")
        _check_range(y, self.unit, self._scale, "performance")
        return (y - self.mean) / self.std

    def soft(self, pred: torch.Tensor, temperature: float) -> torch.Tensor:
        """The standardised prediction ``(y − mean) / std`` (``temperature`` is not used)."""
        return (pred - self.mean) / self.std

    def target(self, condition: np.ndarray | Iterable[float]) -> np.ndarray:
        c = _finite_1d(condition, "condition")
        return c * self.std + self.mean

    def to_config(self) -> dict[str, Any]:
        return {"type": self.name, "mean": self.mean, "std": self.std, "unit": self.unit}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ContinuousCondition:
        return cls(**_strip_type(config, cls.name))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContinuousCondition):
            return NotImplemented
        return self.to_config() == other.to_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_config().items())))

    def __repr__(self) -> str:
        return f"ContinuousCondition(mean={self.mean!r}, std={self.std!r}, unit={self.unit!r})"


def _strip_type(config: dict[str, Any], expected: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ValueError(f"a condition config must be a dict, got {type(config).__name__}")
    cfg = dict(config)
    kind = cfg.pop("type", expected)
    if kind != expected:
        raise ValueError(f"config is for condition {kind!r}, not {expected!r}")
    return cfg


_TYPES: dict[str, type[RankCondition] | type[ContinuousCondition]] = {
    RankCondition.name: RankCondition,
    ContinuousCondition.name: ContinuousCondition,
}


def condition_for_labels(config: dict[str, Any], labels: Iterable[float] | np.ndarray) -> Condition:
    """The condition a trainer config asks for, with what it leaves open taken from ``labels``.

    ``{"type": "rank", "quantile": q}``: the threshold is that quantile of the labels
    (:meth:`RankCondition.from_quantile`); ``{"type": "continuous"}`` without ``mean``:
    standardised with the labels' mean and std (1 when they are all equal); a registered
    condition type with a ``from_labels(labels, **config)`` classmethod is built with it; any
    other config is complete (:func:`condition_from_config`).
    """
    cfg = dict(config)
    kind = cfg.get("type", "rank")
    y = np.asarray(labels, dtype=np.float64)
    if kind == "rank" and "quantile" in cfg:
        q = cfg.pop("quantile")
        cfg.pop("type", None)
        return RankCondition.from_quantile(y, q, **cfg)
    if kind == "continuous" and "mean" not in cfg:
        cfg.pop("type", None)
        return ContinuousCondition(mean=float(y.mean()), std=float(y.std() or 1.0), **cfg)
    if kind not in _TYPES and "type" in cfg:
        from . import registry

        cls = registry.get("condition", str(kind))
        from_labels = getattr(cls, "from_labels", None)
        if callable(from_labels):
            cfg.pop("type")
            out: Condition = from_labels(y, **cfg)
            return out
    return condition_from_config(cfg)


def condition_from_config(config: dict[str, Any]) -> Condition:
    """Rebuild a condition from :meth:`~Condition.to_config` output (dispatch on ``"type"``).

    Types other than the built-in ones are looked up in the registry (kind ``"condition"``) and
    must offer a ``from_config`` classmethod.
    """
    if not isinstance(config, dict) or "type" not in config:
        raise ValueError("a condition config must be a dict with a 'type' key")
    kind = config["type"]
    if kind in _TYPES:
        return _TYPES[kind].from_config(config)
    from . import registry

    cls = registry.get("condition", str(kind))
    if not hasattr(cls, "from_config"):
        raise ValueError(f"condition {kind!r} has no from_config; cannot rebuild it")
    return cls.from_config(config)
