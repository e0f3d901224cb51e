"""Process 6: removal flights from US custody, and release when no flight comes in time.

Each country gets ``us.removal_flights_per_week.<country>`` flights on a fixed schedule (flight
k of the week leaves on the day the running total of flights passes k); each carries
``us.seats_per_flight`` people, boarded first-in first-out from detention. Countries that refuse
returns have no flights, so their nationals cannot be removed (processing never detains them).
People held past ``max_detention_days`` are released (ICE's average stay was 44-52 days).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.params import Param
from corridor.engine.series import F
from corridor.engine.sim import Module
from corridor.model.places import NATIONALITIES, PLACE

_REM = F["removals"]
_REL = F["releases"]
_HOME = PLACE["origin"]
_US = PLACE["us_interior"]


class RemovalPack(NamedTuple):
    """What :func:`removal_day_nb` needs (fused driver)."""

    seats: np.ndarray  # [day, nat] agents
    seat_carry: np.ndarray  # [nat] the module's own (updated in place)
    max_days: int


def flights_on(days: np.ndarray, per_week: np.ndarray) -> np.ndarray:
    """Flights that leave on each day for a schedule of ``per_week`` (evenly spread)."""
    return (np.floor((days + 1) * per_week / 7.0) - np.floor(days * per_week / 7.0)).astype(int)


class Removal(Module):
    name = "removal"
    PARAMS = (
        Param(
            "max_detention_days",
            48.0,
            "days",
            1.0,
            365.0,
            "parameters.csv: ICE average length of stay 44-52 days (late 2023, TRAC)",
            range=(30.0, 90.0),
        ),
    )

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.seat_carry = np.zeros(len(NATIONALITIES))

        per_week = sim.lever_over("us.removal_flights_per_week", NATIONALITIES)
        days = np.arange(sim.n_days)[:, None]
        self.flights_flown = flights_on(days, per_week).astype(np.int32)
        self.seats = self.flights_flown * (sim.lever("us.seats_per_flight") / sim.scale)[:, None]

    def pack(self) -> RemovalPack:
        """Schedule, parameter and seat carry for the fused driver (same values step uses)."""
        c = np.ascontiguousarray
        return RemovalPack(
            c(self.seats, dtype=np.float64),
            self.seat_carry,
            int(self.p["max_detention_days"]),
        )

    def step(self, day: int) -> None:
        sim = self.sim
        left = removal_day_nb(day, self.pk, sim.people.n, sim.people.arrays(), sim.res.flows[day])
        sim.module("processing").custody -= left


@nb.njit(cache=True)
def removal_day_nb(day, pk, n, ppl, flows):
    """:meth:`Removal.step` with its carry of fractional seats; returns how many left
    custody."""
    return removal_nb(n, day, seats_today_nb(day, pk), pk.max_days, ppl, flows)


@nb.njit(cache=True)
def seats_today_nb(day, pk):
    """Whole seats on today's flights by nationality; the fractions carry to the next day."""
    seats = np.empty(pk.seat_carry.shape[0], dtype=np.int64)
    seats_today_into_nb(day, pk, seats)
    return seats


@pp.helper_nb
def seats_today_into_nb(day, pk, seats):
    """:func:`seats_today_nb` into ``seats`` (int64)."""
    n_nat = pk.seat_carry.shape[0]
    for a in range(n_nat):
        s = pk.seats[day, a] + pk.seat_carry[a]
        whole = np.floor(s)
        if s > 0:
            pk.seat_carry[a] = s - whole
        seats[a] = np.int64(whole)


@nb.njit(cache=True)
def removal_nb(
    n,
    day,
    seats,
    max_days,
    ppl,
    flows,
):
    """Board flights first-in first-out, then release those held too long.

    Returns how many left custody today. FIFO is by custody start day, ties by array order.
    """
    state = ppl[3]
    cust = np.empty(n, dtype=np.int64)
    count = 0
    for i in range(n):
        if state[i] == pp.US_CUSTODY:
            cust[count] = i
            count += 1
    return remove_nb(cust[:count], day, seats, max_days, ppl, flows)


@nb.njit(cache=True)
def fifo_nb(cust, t_state):
    """``cust`` sorted by custody start day, ties in list order: a stable counting sort (the
    start days span at most ``max_detention_days``), the order of a stable argsort."""
    lo = t_state[cust[0]]
    hi = lo
    for i in cust:
        lo = min(lo, t_state[i])
        hi = max(hi, t_state[i])
    start = np.zeros(hi - lo + 2, dtype=np.int64)
    for i in cust:
        start[t_state[i] - lo + 1] += 1
    for d in range(1, start.shape[0]):
        start[d] += start[d - 1]
    out = np.empty_like(cust)
    for i in cust:
        k = t_state[i] - lo
        out[start[k]] = i
        start[k] += 1
    return out


@nb.njit(cache=True)
def remove_nb(cust, day, seats, max_days, ppl, flows):
    """:func:`removal_nb` for the people in custody ``cust``, listed so that a stable sort by
    custody start day leaves ties in array order: array order does, and so does array order
    with today's admissions appended (the fused driver's list)."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    left = 0
    n_nat = seats.shape[0]
    if seats.sum() > 0 and cust.shape[0] > 0:
        remaining = seats.copy()
        for x in fifo_nb(cust, t_state):
            i = pp.index_nb(x)
            a = nat[i]
            if a < n_nat and remaining[a] > 0:
                remaining[a] -= 1
                flows[_REM, a, place[i]] += 1
                state[i] = pp.HOME
                place[i] = _HOME
                t_state[i] = day
                if rem[i] < 255:
                    rem[i] += 1
                left += 1
    for x in cust:
        i = pp.index_nb(x)
        if state[i] == pp.US_CUSTODY and day - t_state[i] >= max_days:
            flows[_REL, nat[i], place[i]] += 1
            state[i] = pp.IN_US
            place[i] = _US
            left += 1
    return left
