"""Agents to people: the fused driver's day-by-day scaling against the whole-table rule."""

from __future__ import annotations

import numpy as np
import pytest

from corridor.engine.units import in_people, limit, scale_day_nb


def _by_day(table: np.ndarray, scale: int) -> np.ndarray:
    """What the driver does: each day once final, then widen a table left in agents."""
    lim = limit(table.dtype, scale)
    fits = True
    for day in range(table.shape[0]):
        fits = scale_day_nb(table, day, scale, lim, fits)
    return table if fits or scale == 1 else table.astype(np.int64) * np.int64(scale)


@pytest.mark.parametrize("scale", [1, 7, 1000, 100_000])
@pytest.mark.parametrize("big_day", [None, 0, 5, 11])
def test_scale_by_day_equals_in_people(scale: int, big_day: int | None) -> None:
    rng = np.random.default_rng(scale)
    counts = rng.integers(0, 50, size=(12, 3, 4), dtype=np.int32)
    counts[3] = 0  # an all-zero day
    if big_day is not None:  # a count whose product does not fit int32
        counts[big_day, 1, 2] = limit(counts.dtype, scale) + 1 if scale > 1 else 2**31 - 1
    want = in_people(counts.copy(), scale)
    got = _by_day(counts.copy(), scale)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    if big_day is not None and scale > 1:
        assert got.dtype == np.int64
