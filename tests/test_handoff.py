"""engine/handoff.py: a day published by one thread and seen by another carries what was
written before it (release/acquire), in compiled code with the GIL released."""

from __future__ import annotations

import threading

import numba as nb
import numpy as np

from corridor.engine.handoff import YIELD_EVERY, publish, seen, spin_pause

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
