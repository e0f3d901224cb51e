"""End of day: MPP hearings (process 7), the emergency-authority switch, stocks, memory, compaction.

MPP enrollees who reach their hearing date are granted relief with a small probability and
enter the US; the rest are ordered removed and either go home or wait again in their city.
The emergency authority turns on when the 7-day mean of encounters reaches its threshold and
off 14 days after the mean falls below the off threshold (Proclamation 10773's rule). The pull
memory of the departure module learns today's outcomes (with its lag). Absorbed people leave
the arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.params import Param
from corridor.engine.rng import STREAM, day_key_nb, uniform_nb
from corridor.engine.series import F, S
from corridor.engine.sim import Module
from corridor.model.departure import home_to_pool_nb, pool_once_nb, remember_nb
from corridor.model.places import BORDER_CITIES, N_NAT, N_PLACES, PLACE
from corridor.model.staging import shelter_split_nb

_ST_MPP_HEARING = STREAM["mpp_hearing"]

LET_IN = ("releases", "gotaways")
# Each person's outcome counted once: returns to Mexico include Title 42 expulsions to Mexico,
# Title 8 and emergency returns and MPP; removals are flights home (incl. Title 42 flights).
SENT_BACK = ("returns_to_mexico", "removals")
_REL = F["releases"]
_E_USBP = F["encounters_usbp"]
_LET_IN_IDX = np.array([F[s] for s in LET_IN])
_SENT_BACK_IDX = np.array([F[s] for s in SENT_BACK])
_EXPELLED_IDX = np.array([F["expulsions_title42"]])  # booked as returns too (or removals)
_GAVE_UP = F["gave_up"]
_US = PLACE["us_interior"]
_HOME = PLACE["origin"]
_TRANSIT = PLACE["mexico_transit"]
_ORIGIN = PLACE["origin"]


class BookkeepingPack(NamedTuple):
    """What :func:`bookkeeping_day_nb` needs (fused driver)."""

    relief: float
    home_after: float
    on_at: np.ndarray  # [day] the threshold that acts from the next day (people/day)
    off_at: np.ndarray  # [day] likewise
    off_days: float
    scale: int
    daily_encounters: np.ndarray  # [day] the module's own (updated in place)
    emergency: np.ndarray  # [day] bool, the module's own (updated in place)
    let_in_idx: np.ndarray  # flow indices
    sent_back_idx: np.ndarray  # flow indices
    expelled_idx: np.ndarray  # flow indices
    histogram: np.ndarray  # scratch for end_of_day_nb
    beds: np.ndarray  # [day, city] the staging module's shelter beds (agents)
    shelter: np.ndarray  # scratch for flush_counts_nb: [waiting, street, shelter][nat, city]


class Bookkeeping(Module):
    name = "bookkeeping"
    PARAMS = (
        Param(
            "mpp_relief_prob",
            0.05,
            "probability",
            0.0,
            1.0,
            "estimate: few MPP cases won relief (TRAC: ~1-5%)",
            range=(0.01, 0.1),
        ),
        Param(
            "mpp_home_after_order",
            0.5,
            "probability",
            0.0,
            1.0,
            "estimate: share going home after a removal order in absentia",
        ),
        Param(
            "emergency_off_days",
            14.0,
            "days",
            1.0,
            365.0,
            "policy-timeline.csv 2024-06-05: lifts 14 days after the mean falls below",
        ),
    )

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.daily_encounters = np.zeros(sim.n_days)
        self.below_days = 0
        self.emergency = np.zeros(sim.n_days, dtype=bool)

    def pack(self) -> BookkeepingPack:
        """Parameters, next-day thresholds and the module's arrays for the fused driver."""
        sim = self.sim
        nxt = np.minimum(np.arange(sim.n_days) + 1, sim.n_days - 1)
        return BookkeepingPack(
            float(self.p["mpp_relief_prob"]),
            float(self.p["mpp_home_after_order"]),
            sim.lever("us.emergency_authority.on_above_per_day")[nxt],
            sim.lever("us.emergency_authority.off_below_per_day")[nxt],
            float(self.p["emergency_off_days"]),
            int(sim.scale),
            self.daily_encounters,
            self.emergency,
            _LET_IN_IDX,
            _SENT_BACK_IDX,
            _EXPELLED_IDX,
            new_histogram(),
            sim.module("staging").pk.beds,
            new_shelter_scratch(),
        )

    def step(self, day: int) -> None:
        sim = self.sim
        proc = sim.module("processing")
        on, self.below_days, sim.people.n = bookkeeping_day_nb(
            day,
            sim.seed,
            self.pk,
            sim.module("departure").pk,
            proc.emergency_on,
            self.below_days,
            sim.people.n,
            sim.people.arrays(),
            sim.res.flows[day],
            sim.res.stocks[day],
        )
        proc.emergency_on = bool(on)


@nb.njit(cache=True)
def bookkeeping_day_nb(day, seed, pk, dep, emergency, below_days, n, ppl, flows, stocks):
    """:meth:`Bookkeeping.step` (with the departure memory's update); returns (emergency on,
    days below the off threshold, live count after compaction)."""
    # The switch reads only encounters, which hearings do not change: it can go first.
    emergency, below_days = emergency_nb(day, pk, emergency, below_days, flows)
    n = end_of_day_nb(
        n,
        day,
        seed,
        pk.relief,
        pk.home_after,
        ppl,
        flows,
        stocks,
        pk.histogram,
        dep.pool,
        pk.beds[day],
        pk.shelter,
    )
    outcomes_nb(day, pk, dep, flows)
    return emergency, below_days, n


@pp.helper_nb
def outcomes_nb(day, pk, dep, flows):
    """Today's outcomes by nationality (let in, sent back, expelled) into the departure
    module's memory of outcomes and the border news."""
    outcome_sums_nb(flows, pk.let_in_idx, dep.let_in[day])
    outcome_sums_nb(flows, pk.sent_back_idx, dep.sent_back[day])
    outcome_sums_nb(flows, pk.expelled_idx, dep.expelled[day])
    remember_nb(day, dep)


@pp.helper_nb
def emergency_nb(day, pk, on, below_days, flows):
    """:meth:`Bookkeeping._emergency`: returns (on, days below the off threshold)."""
    pk.daily_encounters[day] = flows[_E_USBP].sum() * pk.scale
    lo = max(0, day - 6)
    total = 0.0
    for d in range(lo, day + 1):
        total += pk.daily_encounters[d]
    mean7 = total / (day + 1 - lo)
    on_at = pk.on_at[day]
    off_at = pk.off_at[day]
    if on_at <= 0:
        on = False
    elif not on and mean7 >= on_at:
        on = True
        below_days = 0
    elif on:
        below_days = below_days + 1 if mean7 < off_at else 0
        if below_days >= pk.off_days:
            on = False
    pk.emergency[day] = on
    return on, below_days


_S_WAIT = S["waiting"]
_S_SHELTER = S["in_shelter"]
_S_STREET = S["on_street"]
_S_TRANSIT = S["in_mexico_transit"]
_S_SOUTH = S["travelling_south"]
_S_MXDET = S["in_mexico_detention"]
_S_CUSTODY = S["in_us_custody"]
_S_MPP = S["mpp_waiting"]
_S_CBP1 = S["cbp_one_registered"]


# Head counts go through a histogram of (state, CBP One bit, nationality, place): one
# unconditional increment per person, no branch on the state (states are mixed in array order,
# so a branch on them mispredicts about every other person). Where people are counted:
# travelling south at the origin, in transit at mexico_transit, everyone else where they are.
# Who of those waiting is in a shelter is not a person's state: the flush shares each city's
# beds among the nationalities waiting there (staging.shelter_split_nb).
_N_KEYS = pp.N_ACTIVE_STATES * 2  # state x CBP_ONE bit
_CBP_SHIFT = 1  # pp.CBP_ONE == 1 << _CBP_SHIFT
_FIXED_PLACE = np.full(pp.N_ACTIVE_STATES, -1, dtype=np.int64)
_FIXED_PLACE[pp.TRAVEL_SOUTH] = _ORIGIN
_FIXED_PLACE[pp.MEXICO_TRANSIT] = _TRANSIT
_FIRST_CITY = PLACE[BORDER_CITIES[0]]
_N_CITIES = len(BORDER_CITIES)


def _key_rows() -> np.ndarray:
    """The stock rows each histogram key adds to (-1: none) [key, 2]."""
    assert pp.CBP_ONE == 1 << _CBP_SHIFT
    rows = np.full((_N_KEYS, 2), -1, dtype=np.int64)
    for s in range(pp.N_ACTIVE_STATES):
        for bit in range(2):
            r = rows[s * 2 + bit]
            if s in (pp.WAITING, pp.MPP):
                r[0] = _S_WAIT
                if s == pp.MPP:
                    r[1] = _S_MPP
                elif bit:
                    r[1] = _S_CBP1
            else:
                r[0] = {
                    pp.MEXICO_TRANSIT: _S_TRANSIT,
                    pp.TRAVEL_SOUTH: _S_SOUTH,
                    pp.MEXICO_DETAINED: _S_MXDET,
                    pp.US_CUSTODY: _S_CUSTODY,
                }[s]
    return rows


_KEY_ROWS = _key_rows()
_WAITING_KEYS = np.array(
    [s * 2 + bit for s in (pp.WAITING, pp.MPP) for bit in range(2)], dtype=np.int64
)


def new_shelter_scratch() -> np.ndarray:
    """Scratch for :func:`flush_counts_nb`: [waiting, on the street, in a shelter][nat, city]."""
    return np.zeros((3, N_NAT, _N_CITIES), dtype=np.int64)


@pp.helper_nb
def waiting_from_counts_nb(hist, waiting):
    """Who waits in each border city [nat, city] (waiting or in MPP) from the head counts."""
    for a in range(waiting.shape[0]):
        for c in range(waiting.shape[1]):
            w = 0
            for key in _WAITING_KEYS:
                w += hist[key, a, _FIRST_CITY + c]
            waiting[a, c] = w


def new_histogram() -> np.ndarray:
    """Scratch for :func:`end_of_day_nb` (all zeros, and left so)."""
    return np.zeros((_N_KEYS, N_NAT, N_PLACES), dtype=np.int32)


@nb.njit(cache=True)
def end_of_day_nb(n, day, seed, relief, home_after, ppl, flows, stocks, hist, pool, beds, shelter):
    """MPP hearings due today (relief: enter the US; a removal order: home or wait again), the
    end-of-day head counts by nationality and place, and the compaction of absorbed people
    (those sent home after an encounter into the departure module's ``pool``), in one pass
    over the people (each person's hearing, count and move touch only that person). Returns
    the live count after compaction (:func:`corridor.engine.people.compact_nb` keeps the same
    people in the same order). ``hist`` is zeroed scratch
    (:func:`new_histogram`), left zeroed; ``beds`` today's by city, ``shelter`` scratch
    (:func:`new_shelter_scratch`)."""
    key = hearing_key_nb(seed, day)
    j = _end_of_day_loop_nb(n, day, key, relief, home_after, ppl, flows, hist, pool)
    flush_counts_nb(hist, stocks, beds, shelter)
    return j


@pp.loop_nb
def _end_of_day_loop_nb(n, day, key, relief, home_after, ppl, flows, hist, pool):
    """:func:`end_of_day_nb`'s pass over the people: hearings, counts into ``hist``, moves
    (the absorbed into ``pool``)."""
    state, t_next = ppl[3], ppl[9]
    j = 0
    for i in range(n):
        if state[i] >= pp.N_ACTIVE_STATES:
            home_to_pool_nb(i, ppl, pool)
            continue
        if state[i] == pp.MPP and t_next[i] <= day:
            hearing_nb(i, day, key, relief, home_after, ppl, flows)
            if state[i] >= pp.N_ACTIVE_STATES:
                home_to_pool_nb(i, ppl, pool)
                continue
        count_person_nb(i, ppl, hist)
        if j != i:
            pp.move_nb(ppl, i, j)
        j += 1
    return j


@nb.njit(cache=True)
def hearing_key_nb(seed, day):
    """Today's key for the MPP hearings' outcomes."""
    return day_key_nb(seed, _ST_MPP_HEARING, day)


@pp.person_nb
def hearing_nb(i, day, key, relief, home_after, ppl, flows):
    """The MPP hearing of person ``i`` (due today): relief and the US, or a removal order and
    home or back to waiting in the city."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    a = nat[i]
    c = place[i]
    u = uniform_nb(key, uid[i])
    if u < relief:
        flows[_REL, a, c] += 1
        state[i] = pp.IN_US
        place[i] = _US
    elif u < relief + (1.0 - relief) * home_after:
        flows[_GAVE_UP, a, c] += 1
        state[i] = pp.HOME
        place[i] = _HOME
        t_state[i] = day
    else:
        state[i] = pp.WAITING
        t_state[i] = day
        thr[i] = pp.PENDING
        thr_reg[i] = pp.NONE


@pp.person_nb
def count_cell_nb(i, ppl):
    """Person ``i``'s (active) head-count cell: (key, nationality, place)."""
    s = ppl[3][i]
    fixed = _FIXED_PLACE[s]
    c = ppl[4][i] if fixed < 0 else fixed
    return s * 2 + ((ppl[5][i] >> _CBP_SHIFT) & 1), ppl[1][i], c


@pp.person_nb
def count_person_nb(i, ppl, hist):
    """Person ``i`` (active) into the head-count histogram (:func:`flush_counts_nb`)."""
    key, a, c = count_cell_nb(i, ppl)
    hist[key, a, c] += 1


@pp.person_nb
def count_key_nb(i, ppl):
    """Person ``i``'s flat head-count cell (as :func:`count_person_nb` counts them), -1 when
    absorbed."""
    if ppl[3][i] >= pp.N_ACTIVE_STATES:
        return -1
    key, a, c = count_cell_nb(i, ppl)
    return (key * N_NAT + a) * N_PLACES + c


@pp.person_nb
def recount_nb(old, new, counts):
    """Move one person from head-count cell ``old`` to ``new`` (-1: none) in the flat
    histogram ``counts``."""
    if old != new:
        if old >= 0:
            counts[old] -= 1
        if new >= 0:
            counts[new] += 1


@pp.person_nb
def moved_nb(i, k0, ppl, counts, pool):
    """Person ``i``, whose head-count cell was ``k0`` before a phase changed them: their count
    moved in the flat histogram ``counts``, and into the returnee ``pool`` if they went home
    (the fused driver's bookkeeping of a changed person)."""
    k1 = count_key_nb(i, ppl)
    recount_nb(k0, k1, counts)
    if k1 < 0:
        pool_once_nb(i, ppl, pool)


@pp.loop_nb
def count_range_nb(lo, hi, ppl, hist):
    """The active people ``lo`` to ``hi - 1`` into the head counts ``hist``."""
    state = ppl[3]
    for i in range(lo, hi):
        if state[i] < pp.N_ACTIVE_STATES:
            count_person_nb(i, ppl, hist)


@pp.helper_nb
def flush_counts_nb(hist, stocks, beds, shelter):
    """The head-count histogram into the day's stocks (a few short vector adds), and who of
    those waiting sleeps in a shelter or on the street (``beds`` today's by city, ``shelter``
    scratch); both are left zeroed. Empty keys (most, on a small run) are skipped after
    one read: adding and zeroing them cost ~3 us a day, more than the rest of such a day."""
    add_counts_nb(hist, stocks, beds, shelter)
    hist[:] = 0
    shelter[:] = 0


@pp.helper_nb
def add_counts_nb(hist, stocks, beds, shelter):
    """:func:`flush_counts_nb`, ``hist`` left as it is (the fused driver keeps its head counts
    up to date as people change); returns the head count (everyone active)."""
    live = 0
    m = hist.shape[1] * hist.shape[2]
    h = hist.reshape(_N_KEYS, m)  # flat rows: the adds vectorise
    out = stocks.reshape(stocks.shape[0], m)
    for key in range(_N_KEYS):
        row = h[key]
        any_ = 0
        for x in range(m):  # an OR, not an early exit: it vectorises
            any_ |= row[x]
        if any_ == 0:
            continue
        for x in range(m):
            live += row[x]
        for r in _KEY_ROWS[key]:
            if r >= 0:
                dst = out[r]
                for x in range(m):
                    dst[x] += row[x]
    waiting = shelter[0]
    waiting_from_counts_nb(hist, waiting)
    shelter_split_nb(beds, waiting, shelter[1:])
    for a in range(waiting.shape[0]):
        for c in range(waiting.shape[1]):
            stocks[_S_STREET, a, _FIRST_CITY + c] += shelter[1, a, c]
            stocks[_S_SHELTER, a, _FIRST_CITY + c] += shelter[2, a, c]
    return live


@pp.helper_nb
def outcome_sums_nb(flows, series, out):
    """Sum the given flow series over places into ``out`` by nationality. The sum is taken in
    integers (the same value as adding the counts into ``out``'s floats, which is exact below
    2**53) in a register: adding into ``out`` itself waits on a store each time."""
    for a in range(flows.shape[1]):
        total = 0
        for s in series:
            for c in range(flows.shape[2]):
                total += flows[s, a, c]
        out[a] = total
