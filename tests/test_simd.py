"""The vector listings (engine/simd.py) against plain NumPy: the same indices in the same order,
nothing written at or past the end of the range, for every length and start (the scalar tails
included) and for all-true, all-false and mixed tests."""

import numpy as np
import pytest

from corridor.engine import people as pp
from corridor.engine.walk import CHUNK
from corridor.model.day_pass import candidates_nb, due_list_nb

SENTINEL = -7


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 31, 32, 33, 100, 1000])
@pytest.mark.parametrize("fill", ["mixed", "none", "all"])
def test_due_list_is_numpys(n: int, fill: str) -> None:
    rng = np.random.default_rng(n)
    day = 10
    wake = rng.integers(-1, 21, n).astype(np.int16)
    if fill == "none":
        wake[:] = pp.NEVER
    elif fill == "all":
        wake[:] = -1
    for lo in sorted({0, n // 3, max(n - 5, 0)}):
        hi = n - n // 7 if lo < n - n // 7 else n
        look = np.full(n + 8, SENTINEL, dtype=np.int64)
        m = due_list_nb(lo, hi, day, wake, look)
        want = lo + np.flatnonzero(wake[lo:hi] <= day)
        np.testing.assert_array_equal(look[lo : lo + m], want)
        assert (look[hi:] == SENTINEL).all()  # nothing written past the range
        assert (look[:lo] == SENTINEL).all()


@pytest.mark.parametrize("n", [0, 3, 16, 29, 48, 1000])
def test_candidates_are_numpys(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    state = rng.integers(0, pp.N_ACTIVE_STATES + 2, n).astype(np.uint8)
    state[rng.random(n) < 0.5] = pp.WAITING
    flags = rng.integers(0, 256, n).astype(np.uint8)
    cand = np.full(n + 8, SENTINEL, dtype=np.int64)
    m = candidates_nb(n, state, flags, cand)
    want = np.flatnonzero((state == pp.WAITING) & ((flags & pp.CBP_ONE) != 0))
    np.testing.assert_array_equal(cand[:m], want)
    assert (cand[n:] == SENTINEL).all()


def test_the_walks_event_list_is_numpys() -> None:
    """The walk kernel's listing (32 lanes of int16) through the kernel's own result: the
    walk equals its NumPy reference in tests/test_walk.py; here the listing alone, on one chunk
    with every value of ``left`` near the event window."""
    import numba as nb

    from corridor.engine.simd import list_events32

    @nb.njit
    def listing(lv, todo):
        m = 0
        full = lv.shape[0] - lv.shape[0] % 32
        for j in range(0, full, 32):
            m = list_events32(lv, j, todo, m)
        for j in range(full, lv.shape[0]):
            todo[m] = j
            m += (lv[j] >= -1) & (lv[j] <= 1)
        return m

    rng = np.random.default_rng(5)
    lv = rng.integers(-4, 5, CHUNK - 3).astype(np.int16)
    lv[:64] = -32768  # HOLD: never an event
    todo = np.zeros(CHUNK, dtype=np.uint16)
    m = listing(lv, todo)
    np.testing.assert_array_equal(todo[:m], np.flatnonzero((lv >= -1) & (lv <= 1)))
