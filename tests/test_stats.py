from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf.stats import kendall_tau, spearman_rho

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is the reference implementation")

values = st.lists(st.integers(-3, 3) | st.floats(-5, 5, allow_nan=False), min_size=2, max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_matches_scipy(data: st.DataObject) -> None:
    x = np.array(data.draw(values), dtype=float)
    y = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=x.size, max_size=x.size)))
    for ours, ref in (
        (kendall_tau(x, y), scipy_stats.kendalltau(x, y).statistic),
        (spearman_rho(x, y), scipy_stats.spearmanr(x, y).statistic),
    ):
        if np.isnan(ref):
            assert np.isnan(ours)
        else:
            assert ours == pytest.approx(ref, abs=1e-9)


def test_perfect_and_reversed() -> None:
    x = np.arange(10.0)
    assert kendall_tau(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, -x) == pytest.approx(-1.0)
    assert spearman_rho(x, x**3) == pytest.approx(1.0)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        kendall_tau(np.arange(3.0), np.arange(4.0))
    with pytest.raises(ValueError, match="finite"):
        spearman_rho(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
