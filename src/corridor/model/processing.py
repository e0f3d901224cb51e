"""Process 5: what CBP does with each person it encounters, under the policy of that day.

In order: an emergency authority, when on, summarily returns people crossing between ports;
Title 42 expels single adults (and a share of families) of the nationalities Mexico accepts,
and others on flights home when a detention bed is free; under Title 8, unaccompanied children
and CBP One appointment holders are released, Mexicans are mostly returned, covered
nationalities are taken back by Mexico while the month's cap lasts, MPP sends a share to wait
in Mexico, and a share (larger under the asylum rule) is detained for removal while beds last;
everyone else is released with a notice to appear or parole. Every encounter is counted in
CBP's layout (component x title x demographic x citizenship), as unique or repeat.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.params import Param
from corridor.engine.rng import STREAM, day_key_nb, uniform_nb
from corridor.engine.series import F
from corridor.engine.sim import Module
from corridor.model import inputs
from corridor.model.departure import fiscal_year_index
from corridor.model.encounter import (
    OFO,
    OFO_APPT,
    PRIMARY_SECTOR,
    SECOND_SECTOR,
    USBP,
    sector_key_nb,
    sector_of,
)
from corridor.model.places import BORDER_CITIES, DEMO, DEMOGRAPHICS, NATIONALITIES, PLACE
from corridor.model.removal import flights_on

_ST_PROCESSING = STREAM["processing"]
_ST_REMOVAL_QUEUE = STREAM["removal_queue"]

_FIRST_CITY = PLACE[BORDER_CITIES[0]]
_HOME = PLACE["origin"]
_US = PLACE["us_interior"]
_SA = DEMO["single_adult"]
_UAC = DEMO["uac"]
# Where the CBP series (title by demographic) shows the Title 42 shares break: families no
# longer taken back in parts of Tamaulipas (early 2021); single adults after CDC's termination
# order of 1 April 2022.
FAMILY_LATE_FROM = "2021-02-01"
ADULT_LATE_FROM = "2022-04-01"
_E_USBP = F["encounters_usbp"]
_E_OFO = F["encounters_ofo"]
_T42 = F["expulsions_title42"]
_RET = F["returns_to_mexico"]
_REL = F["releases"]
_APPT = F["cbp_one_appointments"]
_UNIQ = F["unique_people_encountered"]
_REP = F["repeat_encounters"]
_MPP = F["mpp_enrollments"]
_EMER = F["emergency_returns"]
_DET = F["detention_admissions"]


class ProcessingPack(NamedTuple):
    """What :func:`processing_day_nb` needs (fused driver)."""

    month_of_day: np.ndarray  # [day] int64, calendar months
    t42: np.ndarray  # [day] bool
    accepts: np.ndarray  # [day, nat]
    takeback: np.ndarray  # [day, nat]
    takeback_cap: np.ndarray  # [day] agents/month
    flights: np.ndarray  # [day, nat] per week
    mpp: np.ndarray  # [day]
    removal_share: np.ndarray  # [day]
    beds: np.ndarray  # [day] agents
    seats_ahead: np.ndarray  # [day, nat] agents: removal flight seats in the coming days
    t42_share: np.ndarray  # [day, demographic] share expelled when Title 42 applies
    mex_adult: float
    mex_family: float
    hearing_days: int
    alt_sector: np.ndarray  # transit's [month row, city]
    month_row: np.ndarray  # transit's [day]
    primary: np.ndarray  # [city] place
    second: np.ndarray  # [city] place


class Processing(Module):
    name = "processing"
    PARAMS = (
        Param(
            "t42_adult_share",
            0.991,
            "share of single adults expelled until March 2022",
            0.0,
            1.0,
            "calibration; parameters.csv: 91% of USBP arrests expelled (Oct 2020); Mexico "
            "limited returns in some states",
            range=(0.7, 1.0),
        ),
        Param(
            "t42_family_share",
            0.714,
            "share of family members expelled until January 2021",
            0.0,
            1.0,
            "calibration; parameters.csv: share of USBP arrests expelled 91% (Oct 2020) -> "
            "23% (Jan 2022)",
            range=(0.3, 1.0),
        ),
        Param(
            "t42_adult_share_late",
            0.845,
            "share of single adults expelled from April 2022",
            0.0,
            1.0,
            "calibration; the shipped CBP series (title by demographic) shows the Title 42 share "
            "of Mexican and Northern Triangle single adults fall from ~0.94 to ~0.86 from "
            "2022Q2 (CDC's termination order of 1 April 2022)",
            range=(0.6, 1.0),
        ),
        Param(
            "t42_family_share_late",
            0.293,
            "share of family members expelled from February 2021",
            0.0,
            1.0,
            "calibration; the shipped CBP series shows the Title 42 share of family units fall "
            "from ~0.8 (2020) to ~0.2 (2021Q2 on) as Mexico stopped taking back families in "
            "parts of Tamaulipas (early 2021); parameters.csv: 23% of arrests expelled Jan 2022",
            range=(0.0, 0.5),
        ),
        Param(
            "t42_flight_horizon_days",
            14.0,
            "days",
            1.0,
            60.0,
            "estimate: Title 42 custody was meant to be short, so a nationality Mexico does not "
            "accept was expelled only when a removal flight had a seat within about two weeks "
            "(parameters.csv: ICE Air 99-153 flights/month in 2022 for all removals)",
            range=(7.0, 30.0),
        ),
        Param(
            "mexican_return_share_adult",
            0.85,
            "share",
            0.0,
            1.0,
            "estimate: Mexican single adults under Title 8 are mostly returned (ER/VR)",
            range=(0.7, 0.95),
        ),
        Param("mexican_return_share_family", 0.3, "share", 0.0, 1.0, "estimate", range=(0.1, 0.5)),
        Param(
            "removal_share",
            0.08,
            "share of non-Mexican Title 8 cases detained for removal",
            0.0,
            1.0,
            "calibration; ICE removals FY2022 72,177 (parameters.csv)",
            range=(0.03, 0.15),
        ),
        Param(
            "removal_share_asylum_rule",
            0.3,
            "share under the asylum rule",
            0.0,
            1.0,
            "parameters.csv: ~37% repatriated after T42 ended (DHS, May-Jun 2023)",
            range=(0.15, 0.45),
        ),
        Param(
            "mpp_hearing_days",
            150.0,
            "days",
            1.0,
            1000.0,
            "estimate: MPP hearings months after enrolment",
            range=(90.0, 300.0),
        ),
        Param(
            "border_share_of_beds",
            0.5,
            "share of ICE beds for border cases",
            0.0,
            1.0,
            "estimate: ICE ADP 28,289 FY2023 includes interior arrests",
            range=(0.3, 0.7),
        ),
    )

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.month_of_day = np.arange(sim.n_days) + np.datetime64(sim.scn.start)
        self.month_of_day = self.month_of_day.astype("M8[M]").astype(np.int64)
        self.custody = 0  # agents in US custody, maintained with the removal module
        self.takeback_used = 0
        self.takeback_month = -1
        self.emergency_on = False
        p = self.p
        self.t42 = sim.lever("us.title42") > 0
        self.accepts = sim.lever_over("mexico.title42_accepts", NATIONALITIES)
        self.takeback = sim.lever_over("mexico.takeback_nationalities", NATIONALITIES)
        self.flights = sim.lever_over("us.removal_flights_per_week", NATIONALITIES)
        self.mpp = sim.lever("us.mpp")
        self.removal_share = np.where(
            sim.lever("us.asylum_rule") > 0, p["removal_share_asylum_rule"], p["removal_share"]
        )
        self.beds = sim.lever("us.detention_beds") * p["border_share_of_beds"] / sim.scale
        self.takeback_cap = sim.lever("mexico.takeback_cap_per_month") / sim.scale
        self.seats_ahead = self._seats_ahead(int(round(p["t42_flight_horizon_days"])))

    def _seats_ahead(self, horizon: int) -> np.ndarray:
        """Removal flight seats [day, nat] (agents) on the flights of that day and the next
        ``horizon - 1``: the room for Title 42 expulsions by air (with those already held)."""
        sim = self.sim
        days = np.arange(sim.n_days + horizon)[:, None]
        per_week = np.vstack([self.flights, np.repeat(self.flights[-1:], horizon, axis=0)])
        seat = np.concatenate([sim.lever("us.seats_per_flight"), np.repeat(0.0, horizon)])
        seat[sim.n_days :] = seat[sim.n_days - 1]
        seats = flights_on(days, per_week) * seat[:, None] / sim.scale
        c = np.concatenate([np.zeros((1, seats.shape[1])), np.cumsum(seats, axis=0)])
        return c[horizon : horizon + sim.n_days] - c[: sim.n_days]

    def t42_share(self) -> np.ndarray:
        """Share expelled under Title 42 [day, demographic] (children alone never: TVPRA).
        Families from February 2021 and single adults from April 2022 have their own (later)
        shares: the breaks the CBP series shows."""
        p = self.p
        day = np.arange(self.sim.n_days) + np.datetime64(self.sim.scn.start)
        late_family = day >= np.datetime64(FAMILY_LATE_FROM)
        late_adult = day >= np.datetime64(ADULT_LATE_FROM)
        out = np.empty((self.sim.n_days, len(DEMOGRAPHICS)))
        out[:] = np.where(late_family, p["t42_family_share_late"], p["t42_family_share"])[:, None]
        out[:, _SA] = np.where(late_adult, p["t42_adult_share_late"], p["t42_adult_share"])
        out[:, _UAC] = 0.0
        return out

    def announced_outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """P(Title 42 expulsion) and P(a Title 8 consequence) [day, nat] for someone crossing
        between ports under each day's policy as announced, over the nationality's
        demographic mix that fiscal year.

        This is what people already waiting at the border know the day a policy changes (the
        news, the announcement), before anyone they know has been through it. It follows
        :func:`_decide` without its capacity limits (beds, the take-back cap): Title 42
        expulsion where Mexico accepts the nationality (or a removal flight exists); under
        Title 8, for Mexicans the return share, else MPP plus the removal share where flights
        exist or Mexico takes the nationality back. Children alone are never sent
        back. The emergency switch, which depends on the day's encounters, is not announced.
        """
        sim, p = self.sim, self.p
        t42 = self.t42[:, None] * ((self.accepts > 0) | (self.flights > 0))  # [day, nat]
        flight = (self.flights > 0).astype(float)
        sendable = np.maximum(flight, self.takeback > 0)
        t8 = self.mpp[:, None] + self.removal_share[:, None] * sendable
        t8 = np.minimum(t8, 1.0)
        p42 = np.zeros((sim.n_days, len(NATIONALITIES)))
        p8 = np.zeros((sim.n_days, len(NATIONALITIES)))
        t42_share = self.t42_share()
        for d in range(len(DEMOGRAPHICS)):
            if d == _UAC:
                continue
            mex = p["mexican_return_share_adult"] if d == _SA else p["mexican_return_share_family"]
            t8_d = t8.copy()
            t8_d[:, 0] = mex
            s42 = t42 * t42_share[:, d, None]
            share = self.demographic_share(d)
            p42 += share * s42
            p8 += share * (1.0 - s42) * t8_d
        return p42, p8

    def demographic_share(self, d: int) -> np.ndarray:
        """Demographic ``d``'s share of each nationality's crossers [day, nat], by the fiscal
        year's mix (what the run's data says, to its last month)."""
        sim = self.sim
        by_year = inputs.demographic_shares(sim.data_end)[:, :, d]  # [fiscal year, nat]
        return by_year[fiscal_year_index(sim.scn)]

    def announced_emergency(self) -> np.ndarray:
        """P(sent back) [day, nat] for someone crossing between ports while an emergency
        authority is on, as :func:`_decide` has it without capacity limits: returned where
        Mexico accepts the nationality or takes it back, detained for removal where flights
        exist; children alone never. Counted as a Title 8 consequence (a removal order)."""
        sendable = (self.accepts > 0) | (self.takeback > 0) | (self.flights > 0)
        sendable[:, 0] = True  # Mexicans
        not_uac = 1.0 - self.demographic_share(_UAC)
        return sendable * not_uac

    def pack(self) -> ProcessingPack:
        """Schedules and parameters for the fused driver (same values step uses)."""
        p, c = self.p, np.ascontiguousarray
        t_pack = self.sim.module("transit").pack()
        return ProcessingPack(
            c(self.month_of_day, dtype=np.int64),
            c(self.t42, dtype=np.bool_),
            c(self.accepts, dtype=np.float64),
            c(self.takeback, dtype=np.float64),
            c(self.takeback_cap, dtype=np.float64),
            c(self.flights, dtype=np.float64),
            c(self.mpp, dtype=np.float64),
            c(self.removal_share, dtype=np.float64),
            c(self.beds, dtype=np.float64),
            c(self.seats_ahead, dtype=np.float64),
            c(self.t42_share(), dtype=np.float64),
            float(p["mexican_return_share_adult"]),
            float(p["mexican_return_share_family"]),
            int(p["mpp_hearing_days"]),
            t_pack.alt_sector,
            t_pack.month_row,
            PRIMARY_SECTOR,
            SECOND_SECTOR,
        )

    def step(self, day: int) -> None:
        sim = self.sim
        self.custody, self.takeback_used, self.takeback_month = processing_day_nb(
            day,
            sim.seed,
            self.pk,
            self.emergency_on,
            self.custody,
            self.takeback_used,
            self.takeback_month,
            sim.people.n,
            sim.people.arrays(),
            sim.event,
            sim.res.flows[day],
            sim.res.cbp[day],
        )


@nb.njit(cache=True)
def processing_day_nb(
    day, seed, pk, emergency, custody, takeback_used, takeback_month, n, ppl, event, flows, cbp
):
    """:meth:`Processing.step` with the month's take-back count and the custody count;
    returns (custody, take-backs used this month, month seen)."""
    takeback_left, takeback_used, takeback_month = takeback_left_nb(
        day, pk, takeback_used, takeback_month
    )
    taken, admitted = processing_nb(
        n,
        day,
        seed,
        pk.month_of_day,
        pk.t42[day],
        emergency,
        pk.accepts[day],
        pk.takeback[day],
        takeback_left,
        pk.mpp[day],
        pk.removal_share[day],
        pk.flights[day],
        max(0, int(pk.beds[day]) - custody),
        flight_room_nb(pk.seats_ahead[day], ppl[1], in_custody_nb(n, ppl[3])),
        pk.t42_share[day],
        pk.mex_adult,
        pk.mex_family,
        pk.hearing_days,
        pk.alt_sector[pk.month_row[day]],
        pk.primary,
        pk.second,
        ppl,
        event,
        flows,
        cbp,
    )
    return custody + admitted, takeback_used + taken, takeback_month


@pp.helper_nb
def takeback_left_nb(day, pk, takeback_used, takeback_month):
    """Take-backs left under Mexico's monthly cap today: (left, used this month, month)."""
    m = pk.month_of_day[day]
    if m != takeback_month:
        takeback_month, takeback_used = m, 0
    return max(0, int(round(pk.takeback_cap[day])) - takeback_used), takeback_used, takeback_month


@nb.njit(cache=True)
def in_custody_nb(n, state):
    """Indices of the people in US custody."""
    return np.flatnonzero(state[:n] == pp.US_CUSTODY)


@nb.njit(cache=True)
def flight_room_nb(seats_ahead, nat, held):
    """:func:`flight_room_into_nb` in a new array."""
    room = np.empty(seats_ahead.shape[0], dtype=np.int64)
    flight_room_into_nb(seats_ahead, nat, held, room)
    return room


@pp.helper_nb
def flight_room_into_nb(seats_ahead, nat, held, room):
    """Room for Title 42 expulsions by air today [nat] (agents), into ``room``: the seats on
    the coming days' removal flights less the people of that nationality already held
    (``held``: indices), the seats rounded to whole agents. Title 42 custody was meant to be
    short: with no seat in sight, CBP processed the person under Title 8 instead."""
    for a in range(room.shape[0]):
        room[a] = int(np.floor(seats_ahead[a] + 0.5))  # nearest: no bias with the scale
    for i in held:
        room[nat[i]] -= 1


# Outcome codes.
_RELEASE, _EXPEL_MX, _EXPEL_FLIGHT, _RETURN_MX, _TO_MPP, _CUSTODY, _EMERGENCY = range(7)


@pp.helper_nb
def _decide(
    u1,
    u2,
    nat,
    demo,
    ev,
    t42,
    emergency,
    accepts,
    takeback,
    takeback_left,
    mpp,
    removal_share,
    flights,
    beds_left,
    flight_room,
    t42_share,
    mex_adult,
    mex_family,
):
    """The outcome of one encounter (a pure function of its inputs)."""
    if demo == _UAC:
        return _RELEASE
    if ev == OFO_APPT:
        return _RELEASE
    between = ev == USBP
    if emergency and between:
        if nat == 0 or accepts[nat] > 0 or (takeback[nat] > 0 and takeback_left > 0):
            return _EMERGENCY
        if flights[nat] > 0 and beds_left > 0:
            return _CUSTODY
        return _RELEASE
    if t42 and u1 < t42_share[demo]:
        if accepts[nat] > 0:
            return _EXPEL_MX
        if flights[nat] > 0 and beds_left > 0 and flight_room[nat] > 0:
            return _EXPEL_FLIGHT
    if nat == 0:
        share = mex_adult if demo == _SA else mex_family
        return _RETURN_MX if u2 < share else _RELEASE
    if u2 < mpp:
        return _TO_MPP
    if u2 < mpp + removal_share:
        # Ordered removed (expedited removal): flown home when a seat is in sight, else back
        # to Mexico where it takes the nationality back and has room this month, else held
        # for a later flight while beds last.
        flyable = flights[nat] > 0 and beds_left > 0
        if flyable and flight_room[nat] > 0:
            return _CUSTODY
        if takeback[nat] > 0 and takeback_left > 0 and between:
            return _RETURN_MX
        if flyable:
            return _CUSTODY
    return _RELEASE


@pp.loop_nb
def processing_nb(
    n,
    day,
    seed,
    month_of_day,
    t42,
    emergency,
    accepts,
    takeback,
    takeback_left,
    mpp,
    removal_share,
    flights,
    beds_left,
    flight_room,
    t42_share,
    mex_adult,
    mex_family,
    hearing_days,
    alt,
    primary,
    second,
    ppl,
    event,
    flows,
    cbp,
):
    """Process today's encounters; returns (taken back, admitted to custody) in agents."""
    keys = (day_key_nb(seed, _ST_PROCESSING, day), day_key_nb(seed, _ST_REMOVAL_QUEUE, day))
    k_sector = sector_key_nb(seed)
    taken = 0
    admitted = 0
    for i in range(n):
        ev = event[i]
        if ev != USBP and ev != OFO and ev != OFO_APPT:
            continue
        event[i] = 0
        taken, admitted = process_person_nb(
            i,
            ev,
            day,
            keys,
            k_sector,
            month_of_day,
            t42,
            emergency,
            accepts,
            takeback,
            takeback_left,
            mpp,
            removal_share,
            flights,
            beds_left,
            flight_room,
            t42_share,
            mex_adult,
            mex_family,
            hearing_days,
            alt,
            primary,
            second,
            ppl,
            flows,
            cbp,
            taken,
            admitted,
        )
    return taken, admitted


@pp.person_nb
def process_person_nb(
    i,
    ev,
    day,
    keys,
    k_sector,
    month_of_day,
    t42,
    emergency,
    accepts,
    takeback,
    takeback_left,
    mpp,
    removal_share,
    flights,
    beds_left,
    flight_room,
    t42_share,
    mex_adult,
    mex_family,
    hearing_days,
    alt,
    primary,
    second,
    ppl,
    flows,
    cbp,
    taken,
    admitted,
):
    """Person ``i``'s encounter ``ev`` today, counted and decided (:func:`processing_nb` is
    the loop of it over everyone; the fused driver calls it for today's encounters only).
    Take-backs and custody admissions so far today come in and go out: Mexico's monthly cap
    and the beds are used in array order."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    k1, k2 = keys
    month = month_of_day[day]
    a = nat[i]
    d = demo[i]
    city = place[i] - _FIRST_CITY
    sec = sector_of(uid[i], city, k_sector, alt, primary, second)
    comp = 0 if ev == USBP else 1
    flows[_E_USBP if comp == 0 else _E_OFO, a, sec] += 1
    if ev == OFO_APPT:
        flows[_APPT, a, sec] += 1
    last = t_last[i]
    if last >= 0 and day - last <= 365:
        flows[_REP, a, sec] += 1
    if last < 0 or month_of_day[last] != month or flags[i] & pp.INHERITED:
        flows[_UNIQ, a, sec] += 1
    t_last[i] = day
    flags[i] &= ~np.uint8(pp.INHERITED)
    if enc[i] < 255:
        enc[i] += 1
    o = _decide(
        uniform_nb(k1, uid[i]),
        uniform_nb(k2, uid[i]),
        a,
        d,
        ev,
        t42,
        emergency,
        accepts,
        takeback,
        takeback_left - taken,
        mpp,
        removal_share,
        flights,
        beds_left - admitted,
        flight_room,
        t42_share,
        mex_adult,
        mex_family,
    )
    title = 1 if (o == _EXPEL_MX or o == _EXPEL_FLIGHT) else 0
    cbp[comp, title, d, a] += 1
    if o == _RELEASE:
        flows[_REL, a, sec] += 1
        state[i] = pp.IN_US
        place[i] = _US
    elif o == _EXPEL_MX:
        flows[_T42, a, sec] += 1
        flows[_RET, a, place[i]] += 1
        if expl[i] < 255:
            expl[i] += 1
        flags[i] = (flags[i] | pp.EXPELLED) & ~np.uint8(pp.RETURNED)
        state[i] = pp.WAITING
        t_state[i] = day
        thr[i] = pp.PENDING  # a new kind: staging draws new thresholds
        thr_reg[i] = pp.NONE
    elif o == _EXPEL_FLIGHT or o == _CUSTODY:
        if o == _EXPEL_FLIGHT:
            flows[_T42, a, sec] += 1
            flags[i] |= pp.EXPELLED
        else:
            flags[i] &= ~np.uint8(pp.EXPELLED)
        flows[_DET, a, sec] += 1
        state[i] = pp.US_CUSTODY
        place[i] = sec
        t_state[i] = day
        admitted += 1
        flight_room[a] -= 1
    elif o == _RETURN_MX or o == _EMERGENCY:
        if a != 0 and (o == _RETURN_MX or accepts[a] == 0):
            taken += 1  # a non-Mexican Mexico takes back under the monthly cap
        flows[_EMER if o == _EMERGENCY else _RET, a, place[i]] += 1
        if o == _EMERGENCY:
            flows[_RET, a, place[i]] += 1
        if rem[i] < 255:
            rem[i] += 1
        flags[i] = (flags[i] | pp.RETURNED) & ~np.uint8(pp.EXPELLED)
        state[i] = pp.WAITING
        t_state[i] = day
        thr[i] = pp.PENDING
        thr_reg[i] = pp.NONE
    else:  # MPP
        flows[_MPP, a, place[i]] += 1
        flows[_RET, a, place[i]] += 1
        flags[i] = (flags[i] | pp.RETURNED) & ~np.uint8(pp.EXPELLED)
        state[i] = pp.MPP
        t_state[i] = day
        t_next[i] = day + hearing_days
    return taken, admitted
