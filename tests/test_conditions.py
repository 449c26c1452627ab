"""Conditions: SemiGAN-NAD's rank classes (eq. 11) and the continuous condition."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.conditions import ContinuousCondition, RankCondition, condition_from_config
from conftest import require_file

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
steps = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)
percent = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
fraction = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _eq11(y: float, t: float, step: float = 0.02) -> int:
    """Eq. 11 of the paper, literally (with the clamp to 0 above t + step)."""
    if y > t - 3 * step:
        return max(math.floor((t + step - y) / step), 0)
    return 4


@st.composite
def rank_conditions(draw: st.DrawFn) -> RankCondition:
    t = draw(moderate)
    step = draw(steps)
    c = draw(st.integers(min_value=2, max_value=8))
    return RankCondition(t, step=step, num_classes=c, unit=None)


# ---- the properties asked for -----------------------------------------------------------------


@given(rank_conditions(), st.lists(finite, min_size=2, max_size=30))
def test_classes_monotone_non_increasing_in_y(cond: RankCondition, ys: list[float]) -> None:
    y = np.sort(np.asarray(ys))
    cls = cond.encode(y)
    assert np.all(np.diff(cls) <= 0)


@given(rank_conditions(), st.lists(finite, min_size=1, max_size=30))
def test_every_class_in_range_for_any_finite_y(cond: RankCondition, ys: list[float]) -> None:
    cls = cond.encode(ys)
    assert cls.dtype == np.int64 and cls.shape == (len(ys),)
    assert cls.min() >= 0 and cls.max() <= (cond.num_classes or 0) - 1


@given(rank_conditions(), finite)
def test_class_zero_iff_above_threshold_exactly(cond: RankCondition, y: float) -> None:
    assert (cond.encode([y])[0] == 0) == (y > cond.threshold)
    # the boundary itself and its floating-point neighbours
    t = cond.threshold
    assert cond.encode([t])[0] >= 1
    assert cond.encode([math.nextafter(t, math.inf)])[0] == 0
    assert cond.encode([math.nextafter(t, -math.inf)])[0] >= 1


@given(st.floats(min_value=0.07, max_value=1.0), fraction)
def test_worst_class_iff_at_or_below_t_minus_006(t: float, y: float) -> None:
    cond = RankCondition(t, unit="fraction")  # paper: 5 classes, step 0.02
    assert cond.num_classes == 5 and cond.step == 0.02
    assert (cond.encode([y])[0] == 4) == (y <= t - 0.06)
    edge = t - 0.06
    assert cond.encode([edge])[0] == 4
    assert cond.encode([math.nextafter(edge, math.inf)])[0] == 3


@given(rank_conditions(), finite)
def test_general_class_intervals(cond: RankCondition, y: float) -> None:
    """Class k iff t − k·step < y ≤ t − (k−1)·step; class C−1 iff y ≤ t − (C−2)·step."""
    c = cond.num_classes or 0
    k = int(cond.encode([y])[0])
    t, s = cond.threshold, cond.step
    if k == 0:
        assert y > t
    elif k == c - 1:
        assert y <= t - (c - 2) * s
    else:
        assert t - k * s < y <= t - (k - 1) * s


@given(st.floats(min_value=0.1, max_value=0.99), fraction)
def test_matches_eq11_away_from_boundaries(t: float, y: float) -> None:
    cond = RankCondition(t, unit="fraction")
    # eq. 11 evaluates ⌊(t + 0.02 − y)/0.02⌋, which rounding can push across a boundary; compare
    # only where y is not within 1e-9 of one.
    assume(np.min(np.abs(cond.thresholds - y)) > 1e-9)
    assert cond.encode([y])[0] == _eq11(y, t)


def test_above_t_plus_step_is_clamped_to_best_class() -> None:
    cond = RankCondition(0.93, unit="fraction")
    assert cond.encode([0.95, 0.99, 1.0]).tolist() == [0, 0, 0]  # eq. 11 gives 0, -1, -2


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_raises_naming_the_index(bad: float) -> None:
    cond = RankCondition(93.0)
    with pytest.raises(ValueError, match="index 2"):
        cond.encode([90.0, 91.0, bad, 92.0])
    with pytest.raises(ValueError, match="index 0"):
        ContinuousCondition().encode([bad])


@given(rank_conditions(), st.lists(finite, min_size=1, max_size=10), st.sampled_from([0, 1]))
def test_non_finite_raises_anywhere(cond: RankCondition, ys: list[float], where: int) -> None:
    i = where * len(ys)
    ys = [*ys[:i], math.nan, *ys[i:]]
    with pytest.raises(ValueError, match=f"index {i}"):
        cond.encode(ys)


@given(st.lists(percent, min_size=1, max_size=60), st.floats(min_value=0.0, max_value=1.0))
def test_from_quantile_threshold(labels: list[float], q: float) -> None:
    cond = RankCondition.from_quantile(labels, q)
    y = np.asarray(labels)
    n = y.size
    t = cond.threshold
    assert t in labels  # an actual label, never interpolated
    assert np.sum(y <= t) >= q * n  # at least a fraction q at or below t ...
    assert np.sum(y < t) <= max(math.ceil(q * n) - 1, 0)  # ... and fewer than q·n strictly below
    assert np.mean(cond.encode(y) == 0) <= 1.0 - q + 1e-12  # so class 0 holds at most 1 − q


def test_from_quantile_on_real_nb201_validation(data_dir: Path) -> None:
    import pandas as pd

    csv = require_file(data_dir, "nb201/nb201.csv")
    y = pd.read_csv(csv, usecols=["cifar10_valid_val"])["cifar10_valid_val"].to_numpy()
    cond = RankCondition.from_quantile(y, 0.9)
    cls = cond.encode(y)
    assert 0.09 <= np.mean(cls == 0) <= 0.10  # top 10 % of the 15,625 cells
    assert np.all(np.diff(cls[np.argsort(y)]) <= 0)
    assert cond.threshold < 91.6067  # the best validation accuracy is in class 0
    assert cond.encode([91.6067])[0] == 0


# ---- units, targets and configs ---------------------------------------------------------------


@given(st.floats(min_value=0.07, max_value=0.99), fraction)
def test_percent_and_fraction_agree(t: float, y: float) -> None:
    frac = RankCondition(t, unit="fraction")
    pct = RankCondition(t * 100, unit="percent")
    assert pct.step == 2.0
    # scaling by 100 rounds; compare away from the boundaries
    assume(np.min(np.abs(frac.thresholds - y)) > 1e-9)
    assert frac.encode([y])[0] == pct.encode([y * 100])[0]


def test_units_reject_out_of_range_values() -> None:
    with pytest.raises(ValueError, match=r"index 1.*percent given to a fraction"):
        RankCondition(0.93, unit="fraction").encode([0.5, 93.0])
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        RankCondition(93.0).encode([101.0])
    with pytest.raises(ValueError, match="unknown unit"):
        RankCondition(93.0, unit="permille")
    with pytest.raises(ValueError, match="step is required"):
        RankCondition(93.0, unit=None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": math.nan},
        {"threshold": 93.0, "step": 0.0},
        {"threshold": 93.0, "step": -2.0},
        {"threshold": 93.0, "num_classes": 1},
        {"threshold": 93.0, "num_classes": 2.5},
        {"threshold": 1e20, "step": 1.0, "unit": None},  # boundaries collapse in float
    ],
)
def test_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RankCondition(**kwargs)  # type: ignore[arg-type]


@given(rank_conditions())
def test_target_is_inside_its_class(cond: RankCondition) -> None:
    c = cond.num_classes or 0
    targets = cond.target(np.arange(c))
    assert targets[0] == cond.threshold + cond.step / 2
    assert np.all(np.diff(targets) < 0)
    assert cond.encode(targets).tolist() == list(range(c))


def test_target_paper_values_and_clipping() -> None:
    assert RankCondition(93.0).target([0, 1, 2, 3, 4]).tolist() == [94.0, 92.0, 90.0, 88.0, 86.0]
    assert RankCondition(99.5).target([0]).tolist() == [100.0]  # clipped to the unit
    with pytest.raises(ValueError, match="index 1"):
        RankCondition(93.0).target([0, 5])
    with pytest.raises(ValueError, match="index 0"):
        RankCondition(93.0).target([1.5])


@given(rank_conditions())
def test_rank_config_round_trip(cond: RankCondition) -> None:
    cfg = json.loads(json.dumps(cond.to_config()))
    back = condition_from_config(cfg)
    assert back == cond and isinstance(back, RankCondition)
    assert np.array_equal(back.thresholds, cond.thresholds)


@given(st.lists(percent, min_size=2, max_size=40), st.lists(percent, min_size=1, max_size=10))
def test_continuous_standardises_and_inverts(labels: list[float], ys: list[float]) -> None:
    assume(np.std(labels) > 1e-6)
    cond = ContinuousCondition.fit(labels)
    z = cond.encode(labels)
    assert abs(z.mean()) < 1e-6 and abs(z.std() - 1.0) < 1e-6
    assert np.allclose(cond.target(cond.encode(ys)), ys)
    back = condition_from_config(json.loads(json.dumps(cond.to_config())))
    assert back == cond and back.num_classes is None


def test_continuous_default_is_identity() -> None:
    cond = ContinuousCondition()
    assert cond.encode([93.5]).tolist() == [93.5]
    with pytest.raises(ValueError, match="all equal"):
        ContinuousCondition.fit([90.0, 90.0])
    with pytest.raises(ValueError, match="std"):
        ContinuousCondition(std=0.0)


def test_config_type_mismatch() -> None:
    with pytest.raises(ValueError, match="'type'"):
        condition_from_config({"threshold": 93.0})
    with pytest.raises(ValueError, match="not 'rank'"):
        RankCondition.from_config({"type": "continuous"})


def test_registered() -> None:
    reg = registry.Registry(load_entry_points=False)
    assert reg.get("condition", "rank") is RankCondition
    assert reg.get("condition", "continuous") is ContinuousCondition
    cond = reg.create("condition", "rank", 93.0)
    assert cond.encode([95.0]).tolist() == [0]


@settings(max_examples=25)
@given(rank_conditions(), st.integers(min_value=0, max_value=2**32 - 1))
def test_deterministic(cond: RankCondition, seed: int) -> None:
    ys = np.random.default_rng(seed).normal(cond.threshold, 3 * cond.step, size=50)
    assert np.array_equal(cond.encode(ys), cond.encode(ys.copy()))


# -- classes spread over the labels (step_quantile) ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.floats(0.0, 100.0), min_size=5, max_size=60),
    q=st.floats(0.5, 1.0),
    frac=st.floats(0.0, 0.95),
    classes=st.integers(2, 7),
)
def test_step_quantile_puts_the_last_boundary_at_that_quantile(
    labels: list[float], q: float, frac: float, classes: int
) -> None:
    sq = q * frac
    srt = np.sort(labels)

    def at(p: float) -> float:
        return float(srt[max(math.ceil(p * len(labels)) - 1, 0)])

    assume(at(sq) < at(q))
    c = RankCondition.from_quantile(labels, q, num_classes=classes, step_quantile=sq)
    assert c.threshold == at(q)
    if classes > 2:
        assert math.isclose(float(c.thresholds[-1]), at(sq), rel_tol=1e-9, abs_tol=1e-9)
    again = condition_from_config(c.to_config())
    assert np.array_equal(again.encode(labels), c.encode(labels))


def test_step_quantile_fills_the_classes_of_narrow_labels() -> None:
    y = np.random.default_rng(0).normal(94.0, 0.5, 100)  # NB301-like: a point or two wide
    paper = RankCondition.from_quantile(y, 0.8)
    spread = RankCondition.from_quantile(y, 0.8, step_quantile=0.2)
    assert np.bincount(paper.encode(y), minlength=5)[3:].sum() == 0  # 2-point classes: empty
    counts = np.bincount(spread.encode(y), minlength=5)
    assert counts.min() >= 10 and counts[0] == 20 and counts[-1] == 20
    with pytest.raises(ValueError, match="not both"):
        RankCondition.from_quantile(y, 0.8, step=1.0, step_quantile=0.2)
    with pytest.raises(ValueError, match="step_quantile must lie"):
        RankCondition.from_quantile(y, 0.8, step_quantile=0.9)
    with pytest.raises(ValueError, match="quantiles are equal"):
        RankCondition.from_quantile([90.0] * 10, 0.8, step_quantile=0.2)
