"""Process 2: the journey to Mexico's southern border and across Mexico; INM enforcement.

People reach Tapachula (after the Darien for South Americans, Haitians and extra-continental
migrants), pick a border city by the sector mix of the month, and travel north. INM apprehends
at the southern border and in the interior with probabilities scaled by the enforcement levers,
but never more per day than its budget allows. Those held are deported while the month's
deportation cap lasts (mostly Central Americans, by bus); the rest are released with an exit
order and re-try from the south ("the carousel").
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.params import Param
from corridor.engine.rng import (
    STREAM,
    day_key_nb,
    first_reaching_nb,
    hazard_sums,
    normal_nb,
    threshold_nb,
    uniform_nb,
)
from corridor.engine.series import F
from corridor.engine.sim import Module
from corridor.model import inputs
from corridor.model.places import BORDER_CITIES, NAT, NATIONALITIES, PLACE, TRANSIT_TO_CITY_DAYS

_ST_CITY_CHOICE = STREAM["city_choice"]
_ST_MEXICO_APPREHENSION = STREAM["mexico_apprehension"]
_ST_MEXICO_DEPORTATION = STREAM["mexico_deportation"]
_ST_MEXICO_RELEASE_CITY = STREAM["mexico_release_city"]
_ST_MEXICO_RELEASE_TIME = STREAM["mexico_release_time"]
_ST_TRAVEL_TIME = STREAM["travel_time"]
_ST_INTERIOR_THRESHOLD = STREAM["interior_threshold"]

_APP = F["mexico_apprehensions"]
_DEP = F["mexico_deportations"]
_REL = F["mexico_releases"]
_DAR = F["darien_crossings"]
HELD = -1  # transit_person_nb(defer=True): this person's day waits for INM's caps
_ARR = F["arrivals_border"]
_TAPACHULA = PLACE["tapachula"]
_TRANSIT = PLACE["mexico_transit"]
_DARIEN = PLACE["darien"]
_FIRST_CITY = PLACE[BORDER_CITIES[0]]
_HOME = PLACE["origin"]


class TransitPack(NamedTuple):
    """What :func:`transit_day_nb` needs (fused driver)."""

    city_cdf: np.ndarray  # [month row, city]
    alt_sector: np.ndarray  # [month row, city]; encounter and processing use it too
    month_row: np.ndarray  # [day] int64
    travel: np.ndarray  # [city] days
    p_south: np.ndarray  # [day]
    h_interior: np.ndarray  # [day]
    h_cum: np.ndarray  # [day + 1] interior hazard summed before each day (rng.hazard_sums)
    capacity: np.ndarray  # [day] agents
    deport_cap: np.ndarray  # [day] agents/month
    month_of_day: np.ndarray  # [day] int64
    deport_p: np.ndarray  # [nat]
    detention_days: float
    restart_days: float
    spread: float


class Transit(Module):
    name = "transit"
    PARAMS = (
        Param(
            "south_apprehension_prob",
            0.12,
            "probability at Tapachula at enforcement 1.0",
            0.0,
            1.0,
            "calibration; Mexico 'eventos' 782,176 in 2023 (parameters.csv)",
            range=(0.05, 0.3),
        ),
        Param(
            "interior_apprehension_per_day",
            0.006,
            "1/day at enforcement 1.0",
            0.0,
            0.5,
            "calibration; Mexico 'eventos' 2021-2023 (parameters.csv)",
            range=(0.002, 0.02),
        ),
        Param(
            "inm_capacity_per_day",
            2500.0,
            "apprehensions/day at the reference budget",
            0.0,
            1e6,
            "parameters.csv: 782,176 'eventos' in 2023 = 2,143/day; headroom +15%",
            range=(2000.0, 3500.0),
        ),
        Param(
            "inm_reference_budget_mxn",
            1_897_700_000.0,
            "MXN/year",
            1e6,
            1e11,
            "parameters.csv: INM approved budget 2024",
        ),
        Param(
            "capacity_budget_elasticity",
            0.8,
            "d log capacity / d log budget",
            0.0,
            2.0,
            "estimate: staff and detention scale less than one-for-one",
            range=(0.5, 1.0),
        ),
        Param("mxn_per_usd", 17.5, "MXN/USD", 5.0, 40.0, "parameters.csv: 17-19 MXN/USD"),
        Param(
            "detention_days",
            5.0,
            "days",
            1.0,
            60.0,
            "estimate: INM holds before deporting or releasing",
            range=(2.0, 15.0),
        ),
        Param(
            "deportable_share_northern_triangle",
            0.9,
            "share",
            0.0,
            1.0,
            "parameters.csv: Mexico's deportations are mostly Central Americans by bus",
        ),
        Param(
            "deportable_share_other",
            0.1,
            "share",
            0.0,
            1.0,
            "parameters.csv: 2 flights/329 people to Venezuela (Dec 2023); few flights elsewhere",
            range=(0.02, 0.2),
        ),
        Param(
            "release_restart_days",
            5.0,
            "days",
            0.0,
            60.0,
            "estimate: released with an exit order in the south, then re-try",
        ),
        Param("travel_time_spread", 0.3, "sd of log travel time", 0.0, 2.0, "estimate"),
        Param(
            "matamoros_share_of_rgv",
            0.35,
            "share",
            0.0,
            1.0,
            "estimate: Matamoros' share of Rio Grande Valley crossers",
            range=(0.2, 0.5),
        ),
    )

    def __init__(self, sim) -> None:
        super().__init__(sim)
        months = inputs.month_index(np.array([np.datetime64(sim.scn.start)]))[0]
        self.month0 = int(months)
        n_months = int(months) + sim.n_days // 28 + 3
        self.city_cdf, self.alt_sector = inputs.city_choice(
            max(n_months, 1), self.p["matamoros_share_of_rgv"], sim.data_end
        )
        self.travel = np.array([TRANSIT_TO_CITY_DAYS[c] for c in BORDER_CITIES])
        self.deport_p = np.full(len(NATIONALITIES), self.p["deportable_share_other"])
        for n in ("guatemala", "honduras", "el_salvador"):
            self.deport_p[NAT[n]] = self.p["deportable_share_northern_triangle"]
        self.deport_p[NAT["mexico"]] = 0.0
        self.cap_carry = 0.0
        self.month_of_day = inputs.month_index(
            np.arange(sim.n_days) + np.datetime64(sim.scn.start)
        ).astype(np.int64)
        self.deported_this_month = 0
        self.month_seen = -1

        self.capacity = self.capacity_per_day()
        self.deport_cap = sim.lever("mexico.deportations_per_month") / sim.scale
        self.month_row = np.clip(self.month_of_day, 0, self.city_cdf.shape[0] - 1)
        self.p_south = np.minimum(
            1.0, self.p["south_apprehension_prob"] * sim.lever("mexico.southern_enforcement")
        )
        self.h_interior = np.minimum(
            1.0,
            self.p["interior_apprehension_per_day"] * sim.lever("mexico.interior_enforcement"),
        )

    def pack(self) -> TransitPack:
        """Schedules and parameters for the fused driver (same values step uses)."""
        c = np.ascontiguousarray
        return TransitPack(
            c(self.city_cdf, dtype=np.float64),
            c(self.alt_sector, dtype=np.float64),
            c(self.month_row, dtype=np.int64),
            c(self.travel, dtype=np.float64),
            c(self.p_south, dtype=np.float64),
            c(self.h_interior, dtype=np.float64),
            hazard_sums(self.h_interior),
            c(self.capacity, dtype=np.float64),
            c(self.deport_cap, dtype=np.float64),
            c(self.month_of_day, dtype=np.int64),
            c(self.deport_p, dtype=np.float64),
            float(self.p["detention_days"]),
            float(self.p["release_restart_days"]),
            float(self.p["travel_time_spread"]),
        )

    def capacity_per_day(self) -> np.ndarray:
        """Apprehensions INM can make each day (agents), from its budget and US money."""
        sim, p = self.sim, self.p
        budget = sim.lever("mexico.inm_budget_mxn") + p["mxn_per_usd"] * sim.lever(
            "us.border_funding_to_mexico_usd"
        )
        ratio = np.maximum(budget, 0.0) / p["inm_reference_budget_mxn"]
        return p["inm_capacity_per_day"] * ratio ** p["capacity_budget_elasticity"] / sim.scale

    def step(self, day: int) -> None:
        sim = self.sim
        self.cap_carry, self.deported_this_month, self.month_seen = transit_day_nb(
            day,
            sim.seed,
            self.pk,
            self.cap_carry,
            self.deported_this_month,
            self.month_seen,
            sim.people.n,
            sim.people.arrays(),
            sim.res.flows[day],
        )


@nb.njit(cache=True)
def transit_day_nb(day, seed, pk, cap_carry, deported, month_seen, n, ppl, flows):
    """:meth:`Transit.step` with its carries: returns (cap_carry, deported this month,
    month seen)."""
    whole, left, cap_carry, deported, month_seen = inm_limits_nb(
        day, pk, cap_carry, deported, month_seen
    )
    _, today = transit_nb(
        n,
        day,
        seed,
        pk.city_cdf[pk.month_row[day]],
        pk.travel,
        pk.p_south[day],
        pk.h_cum,
        whole,
        left,
        pk.deport_p,
        pk.detention_days,
        pk.restart_days,
        pk.spread,
        ppl,
        flows,
    )
    return cap_carry, deported + today, month_seen


@pp.helper_nb
def inm_limits_nb(day, pk, cap_carry, deported, month_seen):
    """INM's limits today: (apprehensions allowed today, deportations left this month, the
    capacity carry, deported this month so far, month seen)."""
    cap = pk.capacity[day] + cap_carry
    whole = int(cap)
    cap_carry = cap - whole
    m = pk.month_of_day[day]
    if m != month_seen:
        month_seen, deported = m, 0
    left = max(0, int(round(pk.deport_cap[day])) - deported)
    return whole, left, cap_carry, deported, month_seen


@pp.helper_nb
def _choose_city(u, cdf):
    c = 0
    while c < cdf.shape[0] - 1 and u >= cdf[c]:
        c += 1
    return c


TRIP_DAYS = 32768  # a trip drawn ahead: city x TRIP_DAYS + days on the road (south_trip_nb)


@nb.njit(cache=True, inline="always")
def south_trip_nb(seed, day, uid, city_cdf, travel, spread):
    """The border city and days on the road of person ``uid`` reaching Mexico's southern
    border on ``day`` and going on north: the draws :func:`transit_person_nb` would make that
    day (city, Box-Muller travel time), made ahead with the departure, on the helper thread
    (``departure.draw_trips_nb``), as one float32 code, city x :data:`TRIP_DAYS` + days
    (exact: below 2**24); ``pp.NONE`` if the days would not fit. ``city_cdf``: the row of
    ``day``'s month. The city choice and travel times read data and parameters only, never a
    policy lever, so a run resumed from a checkpoint under other policies draws the same."""
    u = uniform_nb(day_key_nb(seed, _ST_CITY_CHOICE, day), uid)
    z = normal_nb(day_key_nb(seed, _ST_TRAVEL_TIME, day), uid)
    c = _choose_city(u * city_cdf[-1], city_cdf)
    days = _trip_days(travel[c], spread, z)
    if days >= TRIP_DAYS:
        return pp.NONE
    return np.float32(c * TRIP_DAYS + days)


@nb.njit(cache=True, inline="always")
def _trip_days(median_days, spread, z):
    """Days on the road to a city ``median_days`` away, for a standard normal ``z``: one
    formula for the trips drawn on arrival (:func:`_to_city`) and ahead (:func:`south_trip_nb`),
    which must agree bit for bit."""
    return max(1, int(median_days * np.exp(spread * z)))


@pp.helper_nb
def _to_city(i, day, u_city, z, city_cdf, travel, spread, place, t_next, keep_time):
    c = _choose_city(u_city * city_cdf[-1], city_cdf)
    place[i] = _FIRST_CITY + c
    if not keep_time:
        t_next[i] = day + _trip_days(travel[c], spread, z)


@nb.njit(cache=True)
def transit_keys_nb(seed, day):
    """Today's draw keys: (apprehension, deportation, city, travel time, release city,
    release time, interior threshold)."""
    return (
        day_key_nb(seed, _ST_MEXICO_APPREHENSION, day),
        day_key_nb(seed, _ST_MEXICO_DEPORTATION, day),
        day_key_nb(seed, _ST_CITY_CHOICE, day),
        day_key_nb(seed, _ST_TRAVEL_TIME, day),
        day_key_nb(seed, _ST_MEXICO_RELEASE_CITY, day),
        day_key_nb(seed, _ST_MEXICO_RELEASE_TIME, day),
        day_key_nb(seed, _ST_INTERIOR_THRESHOLD, day),
    )


@pp.loop_nb
def transit_nb(
    n,
    day,
    seed,
    city_cdf,
    travel,
    p_south,
    h_cum,
    cap,
    deport_left,
    deport_p,
    detention_days,
    restart_days,
    spread,
    ppl,
    flows,
):
    """One day of travel and Mexican enforcement. Returns (apprehended, deported)."""
    keys = transit_keys_nb(seed, day)
    apprehended = 0
    deported = 0
    for i in range(n):
        apprehended, deported = transit_person_nb(
            i,
            day,
            keys,
            city_cdf,
            travel,
            p_south,
            h_cum,
            cap,
            deport_left,
            deport_p,
            detention_days,
            restart_days,
            spread,
            ppl,
            flows,
            apprehended,
            deported,
        )
    return apprehended, deported


@pp.person_nb
def arm_interior_nb(i, first, key, counter, h_cum, ppl):
    """Person ``i``'s threshold for INM's interior apprehension on the road from day
    ``first`` on, in ``thr``: one draw a trip instead of one a day (the same chances). Mexicans
    are not apprehended in Mexico."""
    if ppl[1][i] == 0:
        ppl[13][i] = pp.NONE
    else:
        ppl[13][i] = threshold_nb(key, 2 * ppl[0][i] + counter, h_cum, first)


@pp.person_nb
def transit_person_nb(
    i,
    day,
    keys,
    city_cdf,
    travel,
    p_south,
    h_cum,
    cap,
    deport_left,
    deport_p,
    detention_days,
    restart_days,
    spread,
    ppl,
    flows,
    apprehended,
    deported,
    defer=False,
):
    """Person ``i``'s day of travel and Mexican enforcement (:func:`transit_nb` is the loop of
    it over everyone, the fused driver calls it from its one pass). INM's apprehensions and
    deportations so far today come in and go out: they are capped in array order. Nothing
    happens to anyone before ``t_next`` (arrival, release) or before INM's summed hazard
    ``h_cum`` reaches their threshold ``thr`` (the fused pass does not call it for them:
    :func:`due_nb`).

    With ``defer``, a person whose day depends on those caps (INM's draw would take them) is
    left untouched and (HELD, HELD) returned: the threads of the fused pass list such people
    and call this again, without ``defer``, in array order (the draws are the same)."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    k_app, k_dep, k_city, k_time, k_rc, k_rt, k_thr = keys
    s = state[i]
    if s == pp.TRAVEL_SOUTH:
        if t_next[i] > day:
            return apprehended, deported
        caught = uniform_nb(k_app, uid[i]) < p_south
        if defer and caught:
            return HELD, HELD
        if flags[i] & pp.DARIEN:
            flows[_DAR, nat[i], _DARIEN] += 1
        trip = thr_reg[i]  # the trip north drawn with the departure (south_trip_nb), if any
        thr_reg[i] = pp.NONE
        if caught and apprehended < cap:
            state[i] = pp.MEXICO_DETAINED
            place[i] = _TAPACHULA
            t_state[i] = day
            t_next[i] = day + int(detention_days)
            flows[_APP, nat[i], _TAPACHULA] += 1
            return apprehended + 1, deported
        state[i] = pp.MEXICO_TRANSIT
        t_state[i] = day
        if trip != pp.NONE:  # drawn for today, the day they were to arrive
            code = int(trip)
            place[i] = _FIRST_CITY + code // TRIP_DAYS
            t_next[i] = day + code % TRIP_DAYS
        else:  # arriving after the last day of the run they left in (a longer one resumed)
            _to_city(
                i,
                day,
                uniform_nb(k_city, uid[i]),
                normal_nb(k_time, uid[i]),
                city_cdf,
                travel,
                spread,
                place,
                t_next,
                False,
            )
        arm_interior_nb(i, day + 1, k_thr, 0, h_cum, ppl)
    elif s == pp.MEXICO_TRANSIT:
        if place[i] == 255:  # a Mexican leaving home: choose the city, keep the time
            _to_city(
                i,
                day,
                uniform_nb(k_city, uid[i]),
                0.0,
                city_cdf,
                travel,
                spread,
                place,
                t_next,
                True,
            )
            arm_interior_nb(i, day, k_thr, 0, h_cum, ppl)
        if t_next[i] <= day:
            state[i] = pp.WAITING
            t_state[i] = day
            thr[i] = pp.PENDING  # staging draws their thresholds
            thr_reg[i] = pp.NONE
            flows[_ARR, nat[i], place[i]] += 1
            return apprehended, deported
        if h_cum[day] < thr[i]:
            return apprehended, deported
        if defer:
            return HELD, HELD
        if apprehended >= cap:  # INM is full today: a fresh threshold from tomorrow
            arm_interior_nb(i, day + 1, k_thr, 1, h_cum, ppl)
            return apprehended, deported
        state[i] = pp.MEXICO_DETAINED
        flows[_APP, nat[i], _TRANSIT] += 1
        place[i] = _TRANSIT
        t_state[i] = day
        t_next[i] = day + int(detention_days)
        thr[i] = pp.NONE
        return apprehended + 1, deported
    elif s == pp.MEXICO_DETAINED:
        if t_next[i] > day:
            return apprehended, deported
        sent = uniform_nb(k_dep, uid[i]) < deport_p[nat[i]]
        if defer and sent:
            return HELD, HELD
        if sent and deported < deport_left:
            flows[_DEP, nat[i], place[i]] += 1
            state[i] = pp.HOME
            place[i] = _HOME
            t_state[i] = day
            return apprehended, deported + 1
        flows[_REL, nat[i], place[i]] += 1
        state[i] = pp.MEXICO_TRANSIT
        t_state[i] = day
        z = normal_nb(k_rt, uid[i])
        _to_city(
            i,
            day,
            uniform_nb(k_rc, uid[i]),
            z,
            city_cdf,
            travel,
            spread,
            place,
            t_next,
            False,
        )
        t_next[i] += int(restart_days)
        arm_interior_nb(i, day + 1, k_thr, 0, h_cum, ppl)
    return apprehended, deported


@pp.person_nb
def due_nb(i, day, h_cum, ppl):
    """Whether person ``i`` (on the road: travelling south, in transit or held by INM) has
    anything happen today: :func:`transit_person_nb` leaves everyone else as they are."""
    return (ppl[9][i] <= day) | (h_cum[day] >= ppl[13][i])  # no branch: see day_pass


@pp.person_nb
def wake_nb(i, day, h_cum, ppl):
    """The first day after ``day`` that person ``i`` on the road is due (:func:`due_nb`),
    exactly: ``t_next``, or the day INM's summed hazard reaches their threshold, if sooner
    (looked up only if it is)."""
    t = ppl[9][i]
    if t <= day + 1 or h_cum[pp.index_nb(min(t - 1, h_cum.shape[0] - 1))] < ppl[13][i]:
        return t
    return first_reaching_nb(h_cum, ppl[13][i], day + 1)
