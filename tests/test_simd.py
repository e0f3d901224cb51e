"""The vector listings (engine/simd.py) against plain NumPy: the same indices in the same order,
nothing written at or past the end of the range, for every length and start (the scalar tails
included) and for all-true, all-false and mixed tests. The listings compile to a vector compress
or, without one, to a table of bit positions (``simd.native_compress``): both are tested here
whatever this machine's pass uses."""

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


@pytest.mark.parametrize("native", [True, False])
def test_compress_and_table_list_the_same(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    """The three listings compiled both ways (the choice is made when a caller compiles, so
    fresh callers here), against NumPy, with the stores past the count left in bounds."""
    import numba as nb

    from corridor.engine import simd

    monkeypatch.setattr(simd, "native_compress", lambda lane_bits: native)

    @nb.njit
    def due(wake, day, look):
        at = 0
        for i in range(0, wake.shape[0], 16):
            at = simd.list_due16(wake, i, day, look, at)
        return at

    @nb.njit
    def cand(state, flags, out):
        at = 0
        for i in range(0, state.shape[0], 16):
            at = simd.list_state_flag16(state, pp.WAITING, flags, pp.CBP_ONE, i, out, at)
        return at

    @nb.njit
    def events(lv, todo):
        at = 0
        for j in range(0, lv.shape[0], 32):
            at = simd.list_events32(lv, j, todo, at)
        return at

    rng = np.random.default_rng(16)
    n = 16 * 64
    wake = rng.integers(-1, 21, n).astype(np.int16)
    wake[:32] = pp.NEVER
    wake[32:48] = -1
    look = np.full(n, SENTINEL, dtype=np.int64)
    m = due(wake, 10, look)
    np.testing.assert_array_equal(look[:m], np.flatnonzero(wake <= 10))
    state = rng.integers(0, pp.N_ACTIVE_STATES + 2, n).astype(np.uint8)
    flags = rng.integers(0, 256, n).astype(np.uint8)
    out = np.full(n, SENTINEL, dtype=np.int64)
    m = cand(state, flags, out)
    want = np.flatnonzero((state == pp.WAITING) & ((flags & pp.CBP_ONE) != 0))
    np.testing.assert_array_equal(out[:m], want)
    lv = rng.integers(-4, 5, n).astype(np.int16)
    lv[64:96] = 0  # a whole block of events
    todo = np.zeros(n, dtype=np.uint16)
    m = events(lv, todo)
    np.testing.assert_array_equal(todo[:m], np.flatnonzero((lv >= -1) & (lv <= 1)))


@pytest.mark.parametrize("n", [0, 10, 64, 65, 200, 5000])
@pytest.mark.parametrize("absorbed", [0.0, 0.3, 1.0])
def test_compaction_is_numpys(n: int, absorbed: float) -> None:
    """The pass's compaction (64 people a step, every field by a vector compress) keeps the
    same people in the same order as the NumPy reference, and pools those sent home that
    were not pooled yet."""
    from corridor.model.day_pass import compact_nb

    rng = np.random.default_rng(int(n + 10 * absorbed))
    people = pp.People(n + 100)
    people.n = n
    arrays = dict(zip(pp.FIELDS, people.arrays(), strict=True))
    for a in arrays.values():
        a[:] = rng.integers(0, 100, a.shape[0]).astype(a.dtype)
    arrays["nat"][:] %= 11
    arrays["t_state"][:] %= 30
    arrays["state"][:n] = np.where(
        rng.random(n) < absorbed, pp.HOME, rng.integers(0, pp.N_ACTIVE_STATES, n)
    )
    arrays["t_last_enc"][:n] = np.where(rng.random(n) < 0.5, -1, 5)
    ref = {k: a.copy() for k, a in arrays.items()}
    want_pool = np.zeros((11, 40), dtype=np.int32)
    home = (ref["state"][:n] == pp.HOME) & (ref["t_last_enc"][:n] >= 0)
    np.add.at(want_pool, (ref["nat"][:n][home], ref["t_state"][:n][home]), 1)
    kept = pp.compact_numpy(n, ref)
    pool = np.zeros_like(want_pool)
    assert compact_nb(n, people.arrays(), pool) == kept
    for k, a in arrays.items():
        np.testing.assert_array_equal(a[:kept], ref[k][:kept], err_msg=k)
    np.testing.assert_array_equal(pool, want_pool)
