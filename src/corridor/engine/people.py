"""People as a structure of NumPy arrays (LASER style): preallocated capacity, a live count.

Each agent stands for ``scale`` people. Hot state is 32 bytes per agent: an int64 identity used
for the counter-based draws, eight uint8 fields, three int16 day stamps (days since the
scenario's start; -1 = never), an int16 wake-up day and two float32 thresholds. People who
reach an absorbing state (in the US interior, or back home) are counted when they get there
and compacted out of the arrays once they fill a quarter of them, so the daily kernels mostly
touch people who are still on the move.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# Agent states (uint8).
TRAVEL_SOUTH = 0  # from origin (and the Darien) to Mexico's southern border
MEXICO_TRANSIT = 1  # from Tapachula to a border city
MEXICO_DETAINED = 2  # held by INM
WAITING = 3  # in a border city, in a shelter or on the street
US_CUSTODY = 4  # detained in the US awaiting a removal flight
MPP = 5  # returned to wait in Mexico for a US hearing
IN_US = 6  # absorbing: released, paroled, or got away
HOME = 7  # absorbing: deported, removed or gave up
STATE_NAMES = (
    "travel_south",
    "mexico_transit",
    "mexico_detained",
    "waiting",
    "us_custody",
    "mpp",
    "in_us",
    "home",
)
N_STATES = len(STATE_NAMES)
N_ACTIVE_STATES = 6

# Flag bits (uint8).
# Bit 1 is free (it marked a shelter bed; beds are now shared by nationality: staging).
CBP_ONE = 2  # registered for a CBP One appointment
EXPELLED = 4  # last outcome was a Title 42 / summary expulsion (no consequence)
RETURNED = 8  # last outcome was a Title 8 return or MPP (some consequence)
DARIEN = 16  # travels via the Darien Gap
# t_last is the day a returnee went home (its earlier encounters were another agent's): it
# makes the next encounter a repeat, but not one already counted in that month.
INHERITED = 32
UNARMED = np.float32(-np.inf)  # a threshold not drawn yet: reached at once (look at them)
# A waiting person's crossing threshold to draw once past the minimum wait (staging.due_nb).
PENDING = np.float32(np.nan)
NONE = np.float32(np.inf)  # no such event to come
NEVER = int(np.iinfo(np.int16).max)  # a wake-up day beyond any run: the absorbed

FIELDS: dict[str, np.dtype] = {
    "uid": np.dtype(np.int64),
    "nat": np.dtype(np.uint8),
    "demo": np.dtype(np.uint8),
    "state": np.dtype(np.uint8),
    "place": np.dtype(np.uint8),
    "flags": np.dtype(np.uint8),
    "encounters": np.dtype(np.uint8),
    "expulsions": np.dtype(np.uint8),
    "removals": np.dtype(np.uint8),
    "t_next": np.dtype(np.int16),
    "t_state": np.dtype(np.int16),
    "t_last_enc": np.dtype(np.int16),
    # The first day the fused day pass need look at the person (corridor.model.day_pass): no
    # day before it can have anything due (a bound from the schedules of what is to come, not
    # state: -1, look today; every driver call starts from -1, since a resumed scenario may
    # have other schedules). The Python loop of phases visits everyone and ignores it.
    "wake": np.dtype(np.int16),
    # Thresholds on summed daily hazards (an exponential draw above the sum so far): the day a
    # sum reaches one is the day of the event, with the same chances as a draw each day, and
    # nobody need be visited on the days between. ``thr``: on the road, INM's interior
    # apprehension (corridor.model.transit); waiting, crossing or giving up (staging).
    # ``thr_reg``: waiting, registering with CBP One; travelling south, the trip north from
    # the southern border drawn with the departure (transit.south_trip_nb: a code, no sum).
    "thr": np.dtype(np.float32),
    "thr_reg": np.dtype(np.float32),
}
BYTES_PER_AGENT = sum(dt.itemsize for dt in FIELDS.values())


def person_nb(fn):
    """``@njit`` for the day of one person, inlined (numba IR) into the loops over people that
    call it (:func:`loop_nb`): a real call would copy every array it is handed and, with
    reference counting, take and drop a reference to each, ~40 ns a call, more than the work."""
    return nb.njit(cache=True, inline="always")(fn)


# A person's index read from a list has its sign bit cleared (:func:`index_nb`): numba wraps a
# negative signed index around the array's end, and with the bit known clear LLVM drops that
# code (and the array lengths it keeps live) from every field access that follows.
INDEX = np.int64(0x7FFFFFFFFFFFFFFF)


@nb.njit(cache=True, inline="always")
def index_nb(i):
    """Person index ``i`` (never negative) as LLVM can tell is never negative."""
    return i & INDEX


def loop_nb(fn):
    """``@njit`` for a loop over people that calls :func:`person_nb` functions: compiled
    without numba's reference counting (``_nrt=False``), which would otherwise take and drop
    a reference to each array of the inlined body on every person. Such a function must not
    allocate arrays (numba refuses to compile one that does); its caller allocates."""
    return nb.njit(cache=True, _nrt=False)(fn)


def helper_nb(fn):
    """``@njit`` for a small helper that :func:`person_nb` functions call with arrays: compiled
    as :func:`loop_nb` is (no reference counting); must not allocate."""
    return loop_nb(fn)


class People:
    """Agents' state arrays with a live count ``n`` and a growable capacity."""

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.capacity = max(int(capacity), 1024)
        for name, dt in FIELDS.items():
            setattr(self, name, np.zeros(self.capacity, dtype=dt))
        self._arrays = tuple(getattr(self, name) for name in FIELDS)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The state arrays in FIELDS order (what kernels take)."""
        return self._arrays

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more agents, doubling capacity when needed."""
        need = self.n + extra
        if need <= self.capacity:
            return
        cap = max(need, 2 * self.capacity)
        for name in FIELDS:
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        self.capacity = cap
        self._arrays = tuple(getattr(self, name) for name in FIELDS)

    def compact(self) -> int:
        """Drop absorbed agents, keeping order; returns how many were dropped."""
        kept = compact_nb(self.n, self.arrays())
        dropped = self.n - kept
        self.n = kept
        return dropped

    def nbytes_hot(self) -> int:
        return BYTES_PER_AGENT * self.capacity


@nb.njit(cache=True)
def compact_nb(n, ppl):
    """Stable in-place removal of agents in absorbing states; returns the new live count."""
    state = ppl[3]
    j = 0
    for i in range(n):
        if state[i] < N_ACTIVE_STATES:
            if j != i:
                move_nb(ppl, i, j)
            j += 1
    return j


@person_nb
def move_nb(ppl, i, j):
    """Copy person ``i`` to slot ``j`` (compaction)."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    uid[j] = uid[i]
    nat[j] = nat[i]
    demo[j] = demo[i]
    state[j] = state[i]
    place[j] = place[i]
    flags[j] = flags[i]
    enc[j] = enc[i]
    expl[j] = expl[i]
    rem[j] = rem[i]
    t_next[j] = t_next[i]
    t_state[j] = t_state[i]
    t_last[j] = t_last[i]
    wake[j] = wake[i]
    thr[j] = thr[i]
    thr_reg[j] = thr_reg[i]


def compact_numpy(n: int, arrays: dict[str, np.ndarray]) -> int:
    """NumPy reference of :func:`compact_nb`."""
    keep = np.flatnonzero(arrays["state"][:n] < N_ACTIVE_STATES)
    for a in arrays.values():
        a[: keep.size] = a[keep]
    return int(keep.size)
