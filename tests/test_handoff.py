"""engine/handoff.py: a day published by one thread and seen by another carries what was
written before it (release/acquire), in compiled code with the GIL released; touching pages
changes no value."""

from __future__ import annotations

import threading

import numba as nb
import numpy as np

from corridor.engine.handoff import (
    PAGE_BYTES,
    YIELD_EVERY,
    publish,
    seen,
    spin_pause,
    touch_pages,
)

RING = 8
LEAD = 5


@nb.njit(nogil=True)
def _produce(ctrl, data, days):
    """Day d's payload into slot d % RING once the consumer is done with day d - LEAD."""
    spins = 0
    for d in range(days):
        while seen(ctrl, 8) < d - LEAD:
            spins = spin_pause(spins)
        for k in range(16):  # a payload of several lines, written before the publish
            data[d % RING, k] = d * 16 + k
        publish(ctrl, 0, d)


@nb.njit(nogil=True)
def _consume(ctrl, data, days):
    """How many payload words were not what the producer wrote before publishing."""
    bad = 0
    spins = 0
    for d in range(days):
        while seen(ctrl, 0) < d:
            spins = spin_pause(spins)
        for k in range(16):
            bad += data[d % RING, k] != d * 16 + k
        publish(ctrl, 8, d)
    return bad


def test_published_days_carry_their_payload() -> None:
    days = 50_000
    ctrl = np.full(16, -1, dtype=np.int64)  # [0]: produced, [8]: consumed (own cache lines)
    data = np.zeros((RING, 16), dtype=np.int64)
    t = threading.Thread(target=_produce, args=(ctrl, data, days))
    t.start()
    bad = _consume(ctrl, data, days)
    t.join()
    assert bad == 0
    assert (ctrl[0], ctrl[8]) == (days - 1, days - 1)


@nb.njit
def _spin(n):
    s = 0
    for _ in range(n):
        s = spin_pause(s)
    return s


def test_spin_pause_counts_and_yields() -> None:
    assert _spin(3 * YIELD_EVERY + 5) == 3 * YIELD_EVERY + 5


@nb.njit(nogil=True)
def _increment(a, rounds):
    for _ in range(rounds):
        for x in range(a.size):
            a[x] += 1


@nb.njit(nogil=True)
def _touch_repeatedly(a, rounds):
    for _ in range(rounds):
        touch_pages(a)


def test_touching_pages_changes_no_value_even_while_another_thread_writes() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(-1000, 1000, size=50_000).astype(np.int32)
    before = a.copy()
    touch_pages(a)
    np.testing.assert_array_equal(a, before)
    touch_pages(a[:0])  # empty: nothing to touch
    # One thread adds 1 to every element 20,000 times while another touches every page: the
    # touch is a compare-and-swap from 0 to 0, so no increment is lost.
    a = np.zeros(PAGE_BYTES, dtype=np.int32)  # 4 pages, every one touched each round
    t = threading.Thread(target=_touch_repeatedly, args=(a, 2_000_000))
    t.start()
    _increment(a, 20_000)
    t.join()
    assert (a == 20_000).all()
