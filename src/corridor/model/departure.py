"""Process 1 (and 8): departures per nationality = push x pull x levers, less parole by air.

Push is a smooth baseline in time per nationality (``inputs.push_daily``), moved by regional
aid, Venezuela sanctions, the Cuba embargo and legalisation with lags and uncertain effects.
Pull is what earlier migrants of the same nationality experienced at the border: the share let
in (released, paroled, got away) versus sent back (expelled, returned, removed), remembered
with an exponential memory and learned with a lag. This is why enforcement gives "only
temporary dips". CHNV parole by air draws people off the land route (process 8).

People sent home after a CBP encounter (removed, deported by Mexico, or giving up) may leave
again: each day a share of those home for a week to a year sets out anew, on top of the push,
with the day of their last encounter, so that CBP counts them as re-encounters (its
re-encounter rate looks back 12 months).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.params import Param
from corridor.engine.rng import STREAM, day_key_nb, normal_nb, poisson_nb, uniform_nb
from corridor.engine.series import F
from corridor.engine.sim import Module
from corridor.model import inputs
from corridor.model.places import DARIEN_NATIONALITIES, NAT, NATIONALITIES, PLACE
from corridor.model.transit import south_trip_nb

_ST_DEPARTURE_COUNT = STREAM["departure_count"]
_ST_DEPARTURE_DARIEN = STREAM["departure_darien"]
_ST_DEPARTURE_DEMOGRAPHIC = STREAM["departure_demographic"]
_ST_TRAVEL_TIME = STREAM["travel_time"]
_ST_REDEPARTURE_COUNT = STREAM["redeparture_count"]
_ST_REDEPARTURE_PICK = STREAM["redeparture_pick"]
# Someone sent home leaves again no sooner than a week later, and counts as a returnee only
# within a year of going home (their last encounter: after that CBP would not count them as a
# repeat, and they are part of the push). The Python loop pools the people sent home at the
# end of the day, the fused driver as they go (``pool_once_nb``): either way before the week.
REDEPARTURE_MIN_DAYS = 7
REDEPARTURE_WINDOW_DAYS = 365

CHNV = ("cuba", "haiti", "nicaragua", "venezuela")
_PAROLES = F["chnv_paroles"]
_DEPARTURES = F["departures"]
_REDEPARTURES = F["redepartures"]
_ORIGIN = PLACE["origin"]
AID_NATIONALITIES = tuple(n for n in NATIONALITIES if n not in ("mexico", "other"))


class DeparturePack(NamedTuple):
    """What :func:`departure_counts_nb` and :func:`departure_day_nb` need (fused driver).

    The memory arrays are the module's own: the fused driver updates them in place.
    """

    push: np.ndarray  # [day, nat] people/day
    policy_mult: np.ndarray  # [day, nat]
    parole_day: np.ndarray  # [day, nat] people/day
    parole_agents: np.ndarray  # [day, nat] int32
    demo_cdf: np.ndarray  # [fiscal year, nat, demographic]
    fy: np.ndarray  # [day] int64
    darien_p: np.ndarray  # [day, nat] share of departures by the Darien
    air_p: np.ndarray  # [day, nat] share flying into Mexico (visa-free)
    mem_in: np.ndarray  # [nat] state
    mem_all: np.ndarray  # [nat] state
    let_in: np.ndarray  # [day, nat] state
    sent_back: np.ndarray  # [day, nat] state
    pull_strength: float
    pull_reference: float
    parole_substitution: float
    scale: float
    days_south: float
    days_darien: float
    days_air: float
    days_mexico: float
    spread: float
    lag_days: int
    memory_days: float
    news_in: np.ndarray  # [nat] state: what people at the border saw lately (no lag)
    news_all: np.ndarray  # [nat] state
    news_memory_days: float
    expelled: np.ndarray  # [day, nat] state: Title 42 expulsions (part of sent_back)
    news_expelled: np.ndarray  # [nat] state
    pool: np.ndarray  # [nat, day] int32 state: sent home after an encounter, by day home
    returning: np.ndarray  # [nat] int32 state: today's departures that are returnees
    avail: np.ndarray  # [nat] int64 state: pooled people who may leave on avail_day
    avail_day: np.ndarray  # [1] int64 state: the day avail is for (-1: none yet)
    redeparture: float  # per day
    # The transit module's, for the trip north from Mexico's southern border drawn with the
    # departure (transit.south_trip_nb):
    south_cdf: np.ndarray  # [month row, city] cumulative city choice
    south_month_row: np.ndarray  # [day] int64 the row of each day's month
    south_travel: np.ndarray  # [city] median days from the southern border
    south_spread: float  # sd of log travel time


class Departure(Module):
    name = "departure"
    PARAMS = (
        Param(
            "border_news_memory_days",
            7.0,
            "days",
            1.0,
            90.0,
            "estimate: people waiting at the border hear within days what happened to those "
            "who crossed (shelters, messaging groups)",
            range=(3.0, 21.0),
        ),
        Param(
            "pull_strength",
            1.89,
            "1/share",
            0.0,
            20.0,
            "calibration; deterrence 'small but significant' (NRC 2013, parameters.csv)",
            range=(0.5, 4.0),
        ),
        Param(
            "origin_deterrence",
            0.345,
            "d log departures / d announced change in severity",
            0.0,
            20.0,
            "calibration; people deciding whether to leave hear an announced policy before "
            "anyone they know has been through it: Venezuelan Border Patrol encounters fell "
            "~80% within two months of 12 Oct 2022 and Cuban and Nicaraguan ~97% after 5 Jan "
            "2023 (OHSS), faster than experienced outcomes reach origins",
            range=(0.0, 4.0),
        ),
        Param(
            "pull_reference",
            0.5,
            "share let in",
            0.0,
            1.0,
            "definition: share let in at which pull = 1",
        ),
        Param(
            "pull_lag_days",
            41.1,
            "days",
            0.0,
            365.0,
            "calibration; news of outcomes reaches origins in weeks (DESIGN.md process 1)",
            range=(14.0, 90.0),
        ),
        Param(
            "pull_memory_days",
            173.0,
            "days",
            1.0,
            730.0,
            "calibration; exponential memory of outcomes",
            range=(30.0, 180.0),
        ),
        Param(
            "initial_share_let_in",
            0.6,
            "share",
            0.0,
            1.0,
            "estimate: FY2019 family releases (DHS OHSS FY23 lifecycle: 40% unresolved)",
            range=(0.4, 0.8),
        ),
        Param(
            "aid_base_usd_per_year",
            2.0e9,
            "USD/year",
            1e8,
            1e11,
            "estimate: US assistance to Latin America and the Caribbean, order of magnitude",
            range=(1.5e9, 3.0e9),
        ),
        Param(
            "aid_elasticity",
            -0.23,
            "d log push / d log(1 + extra/base)",
            -1.0,
            0.5,
            "parameters.csv: doubling aid -> ~15% lower emigration (Lanati & Thiele); "
            "Clemens & Postel (2018) small at best",
            range=(-0.3, 0.05),
        ),
        Param(
            "aid_lag_days",
            365.0,
            "days",
            0.0,
            3650.0,
            "estimate: programmes take a year to reach households",
            range=(180.0, 730.0),
        ),
        Param("aid_ramp_days", 730.0, "days", 1.0, 3650.0, "estimate", range=(365.0, 1460.0)),
        Param(
            "sanctions_effect",
            -0.10,
            "fractional change in Venezuelan push if lifted",
            -0.9,
            0.9,
            "parameters.csv: Rodriguez (2024) vs Bahar & Hausmann (2025); low confidence",
            range=(-0.25, 0.05),
        ),
        Param(
            "embargo_effect",
            -0.05,
            "fractional change in Cuban push if lifted",
            -0.9,
            0.9,
            "estimate: no quantified elasticity in parameters.csv",
            range=(-0.2, 0.05),
        ),
        Param(
            "policy_lag_days",
            365.0,
            "days",
            0.0,
            3650.0,
            "estimate: economies respond over a year",
            range=(180.0, 730.0),
        ),
        Param(
            "legalization_dip_per_million",
            -0.02,
            "fraction per million legalised",
            -0.2,
            0.1,
            "parameters.csv: IRCA 1986 - apprehensions fell, then returned to normal",
            range=(-0.05, 0.0),
        ),
        Param(
            "legalization_fade_days",
            730.0,
            "days",
            1.0,
            3650.0,
            "parameters.csv: IRCA - back to normal during/after filing",
            range=(365.0, 1095.0),
        ),
        Param(
            "parole_substitution",
            0.5,
            "land departures avoided per parolee",
            0.0,
            1.0,
            "estimate: CHNV parolees are partly people who would have come by land",
            range=(0.2, 1.0),
        ),
        Param(
            "redeparture_per_day",
            0.00384,
            "per day",
            0.0,
            0.05,
            "calibration: FY2021 re-encounter rate 27% (period-facts.csv); parameters.csv: "
            "'TRAC: ~60% of T42 BP apprehensions had a prior apprehension ever'",
            range=(0.0005, 0.01),
        ),
        Param("parole_share_haiti", 0.40, "share", 0.0, 1.0, "estimate from DHS CHNV updates"),
        Param("parole_share_venezuela", 0.27, "share", 0.0, 1.0, "estimate from DHS CHNV updates"),
        Param("parole_share_cuba", 0.20, "share", 0.0, 1.0, "estimate from DHS CHNV updates"),
        Param("parole_share_nicaragua", 0.13, "share", 0.0, 1.0, "estimate from DHS CHNV updates"),
        Param(
            "darien_share_other",
            0.3,
            "share",
            0.0,
            1.0,
            "estimate: extra-continental share of 'other' (Panama SNM 2023)",
            range=(0.2, 0.5),
        ),
        Param(
            "air_share_visa_free",
            0.95,
            "share of departures",
            0.0,
            1.0,
            "estimate: while visa-free, Venezuelans and Ecuadorians flew in (SEGOB via La "
            "Jornada 2022-01-23: 145,621 Venezuelans and 121,649 Ecuadorians entered Mexico by "
            "air in 2021), and the Darien counted only 1,009-5,818 people a month of all "
            "nationalities in Jan-Apr 2021 (monthly-facts.csv darien_crossings)",
            range=(0.85, 1.0),
        ),
        Param(
            "days_air_route",
            5.0,
            "days",
            1.0,
            30.0,
            "estimate: a flight to Mexico City or Cancun, then north by bus like Mexicans "
            "(days_mexico_to_border 4)",
            range=(3.0, 10.0),
        ),
        Param(
            "darien_share_ecuador",
            0.5,
            "share of departures not flying in",
            0.0,
            1.0,
            "estimate: 29,356 Ecuadorians crossed the Darien in 2022 (period-facts.csv) against "
            "57,100 Border Patrol encounters of Ecuadorians (OHSS); the rest fly to Central "
            "America and go on by land",
            range=(0.3, 0.8),
        ),
        Param("days_to_south_border", 5.0, "days", 1.0, 60.0, "places.ROUTES: origin->tapachula"),
        Param(
            "days_darien_route", 22.0, "days", 1.0, 90.0, "places.ROUTES: origin->darien->tapachula"
        ),
        Param(
            "travel_time_spread",
            0.3,
            "sd of log travel time",
            0.0,
            2.0,
            "estimate: journeys vary by a factor of ~1.35 either way",
        ),
        Param(
            "days_mexico_to_border",
            4.0,
            "days",
            1.0,
            30.0,
            "estimate: Mexicans travel to the border in days",
        ),
    )

    def __init__(self, sim) -> None:
        super().__init__(sim)
        scn = sim.scn
        self.push = inputs.push_daily(scn.start, sim.n_days, sim.push_knots)  # people/day
        self.demo_cdf = np.cumsum(inputs.demographic_shares(sim.data_end), axis=2)
        self.fy = fiscal_year_index(scn)
        self.darien_p, self.air_p = self.routes()
        let_in = self.p["initial_share_let_in"]
        self.mem_in = np.full(len(NATIONALITIES), let_in)
        self.mem_all = np.ones(len(NATIONALITIES))
        self.news_in = np.full(len(NATIONALITIES), let_in)
        self.news_all = np.ones(len(NATIONALITIES))
        self.news_expelled = np.zeros(len(NATIONALITIES))
        self.expelled = np.zeros((sim.n_days, len(NATIONALITIES)))
        self.let_in = np.zeros((sim.n_days, len(NATIONALITIES)))
        self.sent_back = np.zeros((sim.n_days, len(NATIONALITIES)))
        self.parole_share = np.zeros(len(NATIONALITIES))
        for n in CHNV:
            self.parole_share[NAT[n]] = self.p[f"parole_share_{n}"]
        self.policy_mult = self.policy_multipliers()
        self.parole_day = self.paroles()
        self.parole_agents = np.round(self.parole_day / sim.scale).astype(np.int32)
        self.pool = np.zeros((len(NATIONALITIES), sim.n_days), dtype=np.int32)
        self.returning = np.zeros(len(NATIONALITIES), dtype=np.int32)
        self.avail = np.zeros(len(NATIONALITIES), dtype=np.int64)
        self.avail_day = np.full(1, -1, dtype=np.int64)

    def pack(self) -> DeparturePack:
        """Schedules, parameters and memory for the fused driver (same values step uses)."""
        p = self.p
        c = np.ascontiguousarray
        return DeparturePack(
            c(self.push, dtype=np.float64),
            c(self.policy_mult * self.announced_at_origin(), dtype=np.float64),
            c(self.parole_day, dtype=np.float64),
            c(self.parole_agents, dtype=np.int32),
            c(self.demo_cdf, dtype=np.float64),
            c(self.fy, dtype=np.int64),
            c(self.darien_p, dtype=np.float64),
            c(self.air_p, dtype=np.float64),
            self.mem_in,
            self.mem_all,
            self.let_in,
            self.sent_back,
            float(p["pull_strength"]),
            float(p["pull_reference"]),
            float(p["parole_substitution"]),
            float(self.sim.scale),
            float(p["days_to_south_border"]),
            float(p["days_darien_route"]),
            float(p["days_air_route"]),
            float(p["days_mexico_to_border"]),
            float(p["travel_time_spread"]),
            int(p["pull_lag_days"]),
            float(p["pull_memory_days"]),
            self.news_in,
            self.news_all,
            float(p["border_news_memory_days"]),
            self.expelled,
            self.news_expelled,
            self.pool,
            self.returning,
            self.avail,
            self.avail_day,
            float(p["redeparture_per_day"]),
            *self._south_trips(),
        )

    def _south_trips(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The transit module's city choice and travel times, which the departures' draws of
        the trip north read (:class:`DeparturePack`'s ``south_*``)."""
        tp = self.sim.module("transit").pk
        return tp.city_cdf, tp.month_row, tp.travel, tp.spread

    def expected_agents_per_day(self) -> np.ndarray:
        """Departures per day (agents) at the initial pull, before parole: sizes the fused
        driver's people arrays."""
        share = self.p["initial_share_let_in"]
        pull = np.exp(self.p["pull_strength"] * (share - self.p["pull_reference"]))
        return (self.push * self.policy_mult).sum(axis=1) * pull / self.sim.scale

    def announced_at_origin(self) -> np.ndarray:
        """Departures' response [day, nat] to an announced change in what crossing risks:
        exp(-origin_deterrence x announcement weight x (severity now - before the change)),
        with the staging module's severity and weight (the scheduled policy; a dynamic
        emergency authority is not announced at origins). A harsher policy holds people back
        at home, a more lenient one draws them, until outcomes heard through the pull take
        over as the announcement fades."""
        w, change = self.sim.module("staging").announcement()
        return np.exp(-self.p["origin_deterrence"] * w * change)

    def policy_multipliers(self) -> np.ndarray:
        """Push multipliers [day, nat] from aid, sanctions, embargo and legalisation, each
        phased in over its ramp after its lag."""
        p, sim = self.p, self.sim
        mult = np.ones((sim.n_days, len(NATIONALITIES)))
        aid = lagged_mean(
            sim.lever("us.regional_aid_usd_per_year"), p["aid_lag_days"], p["aid_ramp_days"]
        )
        f = (1.0 + aid / p["aid_base_usd_per_year"]) ** p["aid_elasticity"]
        for n in AID_NATIONALITIES:
            mult[:, NAT[n]] *= f
        lag, ramp = p["policy_lag_days"], 365.0
        lifted = 1.0 - lagged_mean(sim.lever("us.venezuela_sanctions"), lag, ramp)
        mult[:, NAT["venezuela"]] *= 1.0 + p["sanctions_effect"] * lifted
        lifted = 1.0 - lagged_mean(sim.lever("us.cuba_embargo"), lag, ramp)
        mult[:, NAT["cuba"]] *= 1.0 + p["embargo_effect"] * lifted
        legal = sim.lever("us.legalized_residents")
        if (legal > 0).any():
            since = np.arange(sim.n_days) - int(np.argmax(legal > 0))
            fade = np.clip(1.0 - since / p["legalization_fade_days"], 0.0, 1.0)
            dip = 1.0 + p["legalization_dip_per_million"] * legal / 1e6 * fade
            mult *= np.maximum(dip, 0.0)[:, None]
        return mult

    def routes(self) -> tuple[np.ndarray, np.ndarray]:
        """Shares of departures [day, nat] by the Darien and by air. Visa-free nationalities
        fly in (``air_share_visa_free``); the rest of those who must cross the Darien do so,
        and everyone else goes by land to Tapachula. Mexicans are routed apart (spawn)."""
        base = np.array([1.0 if n in DARIEN_NATIONALITIES else 0.0 for n in NATIONALITIES])
        base[NAT["other"]] = self.p["darien_share_other"]
        base[NAT["ecuador"]] = self.p["darien_share_ecuador"]
        free = self.sim.lever_over("mexico.visa_free_nationalities", NATIONALITIES) > 0
        air = free * self.p["air_share_visa_free"]
        air[:, NAT["mexico"]] = 0.0
        return (1.0 - air) * base[None, :], air

    def paroles(self) -> np.ndarray:
        """Paroles per day by nationality (people) [day, nat], shared among the eligible."""
        sim = self.sim
        per_day = sim.lever("us.chnv_parole_per_month") / 30.4
        w = sim.lever_over("us.chnv_parole_nationalities", NATIONALITIES) * self.parole_share
        tot = w.sum(axis=1, keepdims=True)
        share = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
        return per_day[:, None] * share

    def step(self, day: int) -> None:
        sim = self.sim
        counts = departure_counts_nb(day, sim.seed, self.pk)
        sim.people.reserve(int(counts.sum()))
        sim.ensure_event_capacity()
        sim.people.n = departure_day_nb(
            day, sim.seed, self.pk, counts, sim.people.n, sim.people.arrays(), sim.res.flows[day]
        )


def fiscal_year_index(scn) -> np.ndarray:
    """Index into FY2020..FY2024 for each day (clipped)."""
    return _fiscal_year_index(scn.start, scn.n_days).copy()


@lru_cache(maxsize=16)
def _fiscal_year_index(start, n_days: int) -> np.ndarray:
    dates = np.arange(n_days) + np.datetime64(start)
    months = dates.astype("M8[M]").astype(np.int64)
    fy = 1970 + (months + 3) // 12  # fiscal year starts in October
    return np.clip(fy - 2020, 0, 4)


def lagged_mean(series: np.ndarray, lag: float, ramp: float) -> np.ndarray:
    """For each day, the lever's mean over the ``ramp`` days ending ``lag`` days before; before
    the scenario, levers held their first value. This phases an effect in after its lag."""
    r, lag_i = max(int(ramp), 1), int(lag)
    padded = np.concatenate([np.full(r + lag_i, series[0]), series])
    c = np.concatenate([[0.0], np.cumsum(padded)])
    d = np.arange(series.size)
    return (c[d + r + 1] - c[d + 1]) / r


@nb.njit(cache=True)
def poisson_many_nb(key, lam):
    """One Poisson draw per entry of ``lam`` (counter = entry index)."""
    out = np.empty(lam.shape[0], dtype=np.int32)
    for n in range(lam.shape[0]):
        out[n] = poisson_nb(key, n, lam[n])
    return out


# How a departure travels (drawn by draw_trips_nb, written out by settle_nb).
ROUTE_NORTH = 0  # straight into Mexico (Mexicans, and those flying in), city chosen on the way
ROUTE_SOUTH = 1  # by land to Mexico's southern border
ROUTE_DARIEN = 2  # by land through the Darien Gap


@pp.helper_nb
def spawn_nb(
    start,
    counts,
    day,
    seed,
    demo_cdf,
    darien_p,
    air_p,
    days_south,
    days_darien,
    days_air,
    days_mexico,
    spread,
    south_cdf,
    south_month_row,
    south_travel,
    south_spread,
    ppl,
):
    """Append new departures: identity, demographic, route, arrival day and trip north for
    each (:func:`draw_trips_nb`, written into the people's own fields, then
    :func:`settle_nb` in place). With :func:`returnees_nb` after it, what
    :func:`spawn_day_nb` does in one go: the pair is the kernel form that
    tests/test_model_reference.py checks against NumPy."""
    demo, place, t_next, t_last, trip = ppl[2], ppl[4], ppl[9], ppl[11], ppl[14]
    draw_trips_nb(
        start,
        counts,
        day,
        seed,
        demo_cdf,
        darien_p,
        air_p,
        days_south,
        days_darien,
        days_air,
        days_mexico,
        spread,
        south_cdf,
        south_month_row,
        south_travel,
        south_spread,
        demo,
        place,  # the route, until settle_nb writes the place
        t_next,
        t_last,
        trip,
    )
    settle_nb(demo, place, t_next, t_last, trip, start, counts, day, ppl, start)


@pp.helper_nb
def draw_trips_nb(
    start,
    counts,
    day,
    seed,
    demo_cdf,
    darien_p,
    air_p,
    days_south,
    days_darien,
    days_air,
    days_mexico,
    spread,
    south_cdf,
    south_month_row,
    south_travel,
    south_spread,
    demo,
    route,
    t_next,
    t_last,
    trip,
):
    """The draws of the new departures from index ``start`` (in nationality order): the
    demographic, the route (:data:`ROUTE_NORTH`, :data:`ROUTE_SOUTH`, :data:`ROUTE_DARIEN`)
    and the day they reach Mexico's southern border or, going north at once, a border city;
    ``t_last`` -1 (no earlier encounter; :func:`pick_returnees_nb` gives the returnees
    theirs). One uniform picks the route: the Darien below ``darien_p``, the air above it up
    to ``darien_p + air_p``, else by land to Tapachula.

    For those going south, ``trip`` is their trip north from the southern border, drawn
    now for the day they get there (:func:`corridor.model.transit.south_trip_nb`, with the
    ``south_*`` schedules): the transit module's draws that day, made here, so that on the
    helper thread they leave the driver's; ``pp.NONE`` if they get there after the run's
    last day (transit then draws them itself), and for everyone else."""
    k_demo = day_key_nb(seed, _ST_DEPARTURE_DEMOGRAPHIC, day)
    k_route = day_key_nb(seed, _ST_DEPARTURE_DARIEN, day)
    k_time = day_key_nb(seed, _ST_TRAVEL_TIME, day)
    i = start
    for n in range(counts.shape[0]):
        for k in range(counts[n]):
            u_id = departure_uid_nb(day, n, k)
            u = uniform_nb(k_demo, u_id)
            d = 0
            while d < 3 and u >= demo_cdf[n, d]:
                d += 1
            demo[i] = d
            t_last[i] = -1
            z = normal_nb(k_time, u_id)
            days = days_mexico
            r = ROUTE_NORTH
            if n != 0:  # Mexicans go straight to a border city
                u = uniform_nb(k_route, u_id)
                if u >= darien_p[n] and u < darien_p[n] + air_p[n]:  # flies in: as Mexicans
                    days = days_air
                elif u < darien_p[n]:
                    r = ROUTE_DARIEN
                    days = days_darien
                else:
                    r = ROUTE_SOUTH
                    days = days_south
            route[i] = r
            t = day + max(1, int(days * np.exp(spread * z)))
            t_next[i] = t
            trip[i] = pp.NONE
            if r != ROUTE_NORTH and t < south_month_row.shape[0]:
                row = south_cdf[pp.index_nb(south_month_row[t])]
                trip[i] = south_trip_nb(seed, t, u_id, row, south_travel, south_spread)
            i += 1


@pp.helper_nb
def settle_nb(demo, route, t_next, t_last, trip, s0, counts, day, ppl, start):
    """The new departures drawn at ``s0`` on in ``demo``, ``route``, ``t_next``, ``t_last``
    and ``trip`` (:func:`draw_trips_nb`, :func:`pick_returnees_nb`; the people's own fields,
    or another thread's) written as people from index ``start``: every field. A returnee
    (``t_last`` >= 0) brings one earlier encounter, on the day they went home. Those going
    south keep their trip north in ``thr_reg`` until they reach the southern border (no
    threshold of theirs is on a schedule before then)."""
    uid, nat, dem, state, place, flags, enc, expl, rem, t_nx, t_state, t_la, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    i = start
    s = s0
    for n in range(counts.shape[0]):
        for k in range(counts[n]):
            r = route[s]
            t = t_last[s]
            north = trip[s]  # before thr_reg is written: in place, the same field
            back = t >= 0
            uid[i] = departure_uid_nb(day, n, k)
            nat[i] = n
            dem[i] = demo[s]
            t_nx[i] = t_next[s]
            t_la[i] = t
            enc[i] = 1 if back else 0
            fl = pp.INHERITED if back else 0
            expl[i] = 0
            rem[i] = 0
            t_state[i] = day
            if r == ROUTE_NORTH:  # choose their city today (the transit module)
                state[i] = pp.MEXICO_TRANSIT
                place[i] = 255
                thr[i] = pp.UNARMED
                thr_reg[i] = pp.NONE
                wake[i] = -1  # looked at today (the pass sets the next day)
            else:
                state[i] = pp.TRAVEL_SOUTH
                place[i] = 0
                thr[i] = pp.NONE
                thr_reg[i] = north
                wake[i] = t_next[s]  # nothing is due on the way south (transit.wake_nb)
                if r == ROUTE_DARIEN:
                    fl |= pp.DARIEN
            flags[i] = fl
            i += 1
            s += 1


@pp.helper_nb
def departure_uid_nb(day, n, k):
    """The identity of day ``day``'s ``k``-th departure of nationality ``n`` (what its draws
    are counted on)."""
    return (np.int64(day) << 28) | (np.int64(n) << 24) | np.int64(k)


@nb.njit(cache=True)
def land_departures(x, parole, substitution):
    """Land departures per day when ``parole`` people a day fly in on parole and ``x`` would
    have come by land without it. A parolee replaces a land departure with probability
    ``substitution x / (x + parole)``: the slots go to would-be land migrants and to people
    who would not have come otherwise, in proportion, so parole never empties the land route
    (a plain ``x - substitution x parole`` did, which left the push unidentified)."""
    if parole <= 0.0:
        return x
    return x * (1.0 - substitution * parole / (x + parole))


@nb.njit(cache=True)
def departure_counts_nb(day, seed, pk):
    """Today's departures per nationality, as :meth:`Departure.step` draws them."""
    n_nat = pk.mem_in.shape[0]
    counts = np.empty(n_nat, dtype=np.int32)
    departure_counts_into_nb(day, seed, pk, np.empty(n_nat), counts)
    return counts


@pp.helper_nb
def departure_counts_into_nb(day, seed, pk, lam, counts):
    """:func:`departure_counts_nb` into ``counts`` (int32), with ``lam`` as scratch: the fused
    driver allocates them once, not every day."""
    for a in range(lam.shape[0]):
        share = pk.mem_in[a] / max(pk.mem_all[a], 1e-9)
        pull = np.exp(pk.pull_strength * (share - pk.pull_reference))
        x = pk.push[day, a] * pull * pk.policy_mult[day, a]
        lam[a] = land_departures(x, pk.parole_day[day, a], pk.parole_substitution) / pk.scale
    key = np.uint64(day_key_nb(seed, _ST_DEPARTURE_COUNT, day))
    for n in range(lam.shape[0]):  # as poisson_many_nb
        counts[n] = poisson_nb(key, n, lam[n])
    returnee_counts_nb(day, seed, pk)
    for n in range(lam.shape[0]):
        counts[n] += pk.returning[n]


@pp.helper_nb
def returnee_counts_nb(day, seed, pk):
    """Today's returnees by nationality into ``pk.returning``: Poisson with mean the
    re-departure rate times those pooled home for a week to a year, at most all of them."""
    advance_window_nb(day, pk)
    key = np.uint64(day_key_nb(seed, _ST_REDEPARTURE_COUNT, day))
    for a in range(pk.returning.shape[0]):
        avail = pk.avail[a]
        r = 0
        if avail > 0 and pk.redeparture > 0.0:
            r = min(avail, poisson_nb(key, a, pk.redeparture * avail))
        pk.returning[a] = r


@pp.helper_nb
def advance_window_nb(day, pk):
    """``pk.avail``: the people pooled on the days of ``day``'s window, kept up to date by the
    days entering and leaving it (a sum over the year each day costs ~5 ms a run at scale 100).
    Exact: the pool gains people only on days after the window's end (the day they go home),
    and returnees leave it through ``pick_returnees_nb``, which
    takes them off ``avail`` too. Idempotent within a day (the fused driver may draw a day's
    counts twice when the arrays must grow)."""
    last = pk.avail_day[0]
    if last == day:
        return
    if last < 0 or day < last or day - last > REDEPARTURE_MIN_DAYS:
        lo, hi = pool_window_nb(day)
        for a in range(pk.avail.shape[0]):
            pk.avail[a] = pool_sum_nb(pk.pool, a, lo, hi)
    else:
        for d in range(last + 1, day + 1):
            enter = d - REDEPARTURE_MIN_DAYS
            leave = d - REDEPARTURE_WINDOW_DAYS - 1
            for a in range(pk.avail.shape[0]):
                if enter >= 0:
                    pk.avail[a] += pk.pool[a, enter]
                if leave >= 0:
                    pk.avail[a] -= pk.pool[a, leave]
    pk.avail_day[0] = day


@pp.helper_nb
def pool_window_nb(day):
    """The days home (first, last) from which people may leave again today."""
    return max(0, day - REDEPARTURE_WINDOW_DAYS), day - REDEPARTURE_MIN_DAYS


@pp.helper_nb
def pool_sum_nb(pool, a, lo, hi):
    """People of nationality ``a`` pooled on days ``lo..hi``."""
    total = 0
    for t in range(lo, hi + 1):
        total += pool[a, t]
    return total


@pp.helper_nb
def returnees_nb(start, counts, returning, day, seed, pool, avail, ppl):
    """The last ``returning[a]`` of each nationality's new agents (appended from ``start`` in
    nationality order by :func:`spawn_nb`) are returnees: each takes a pooled person
    (:func:`pick_returnees_nb`), and with them one earlier encounter on the day that person
    went home."""
    enc, flags, t_last = ppl[6], ppl[5], ppl[11]
    pick_returnees_nb(start, counts, returning, day, seed, pool, avail, t_last)
    i = start
    for a in range(counts.shape[0]):
        i += counts[a]
        for j in range(i - returning[a], i):
            enc[j] = 1
            flags[j] |= pp.INHERITED


@pp.helper_nb
def pick_returnees_nb(start, counts, returning, day, seed, pool, avail, t_last):
    """For each returnee among the new agents from ``start`` (the last ``returning[a]`` of
    nationality ``a``), a pooled person drawn uniformly, taken off ``pool`` and the window's
    count ``avail``: the day they went home, into ``t_last``."""
    key = day_key_nb(seed, _ST_REDEPARTURE_PICK, day)
    lo, hi = pool_window_nb(day)
    i = start
    for a in range(counts.shape[0]):
        i += counts[a]
        if returning[a] == 0:
            continue
        left = avail[a]  # the window's sum (advance_window_nb)
        k = counts[a] - returning[a]
        for j in range(i - returning[a], i):
            u_id = departure_uid_nb(day, a, k)
            k += 1
            target = min(int(uniform_nb(key, u_id) * left), left - 1)
            t = lo
            acc = pool[a, t]
            while acc <= target:
                t += 1
                acc += pool[a, t]
            pool[a, t] -= 1
            left -= 1
            avail[a] -= 1
            t_last[j] = t


@pp.person_nb
def home_to_pool_nb(i, ppl, pool):
    """Person ``i``, absorbed and about to leave the arrays, into the pool of people who may
    leave again if they went home after a CBP encounter."""
    if ppl[3][i] == pp.HOME and ppl[11][i] >= 0:
        pool[ppl[1][i], ppl[10][i]] += 1


@pp.person_nb
def pool_once_nb(i, ppl, pool):
    """:func:`home_to_pool_nb` as person ``i`` is absorbed (the fused driver pools people as
    they go home, not when it next moves them out of its arrays): their last encounter is
    cleared, so that the move does not pool them again."""
    home_to_pool_nb(i, ppl, pool)
    ppl[11][i] = -1


@pp.helper_nb
def departure_day_nb(day, seed, pk, counts, n, ppl, flows):
    """:meth:`Departure.step` given its counts (room for them is the caller's job); returns
    the new live count."""
    departure_flows_nb(day, pk, counts, pk.returning, flows)
    return spawn_day_nb(day, seed, pk, counts, n, ppl)


@pp.helper_nb
def departure_flows_nb(day, pk, counts, returning, flows):
    """The day's paroles, departures and re-departures (``returning``) into ``flows``."""
    for a in range(counts.shape[0]):
        if pk.parole_agents[day, a] != 0:  # no write when none: the page may stay unmapped
            flows[_PAROLES, a, _ORIGIN] += pk.parole_agents[day, a]
        if counts[a] != 0:
            flows[_DEPARTURES, a, _ORIGIN] += counts[a]
        if returning[a] != 0:
            flows[_REDEPARTURES, a, _ORIGIN] += returning[a]


@pp.helper_nb
def spawn_day_nb(day, seed, pk, counts, start, ppl):
    """The day's departures (``counts``, of which ``pk.returning`` are returnees, taken off
    the pool) written into ``ppl`` from index ``start``: :func:`draw_day_nb` into the
    people's own fields, then :func:`settle_nb` in place. Returns the index after them."""
    demo, place, t_next, t_last, trip = ppl[2], ppl[4], ppl[9], ppl[11], ppl[14]
    draw_day_nb(day, seed, pk, counts, start, demo, place, t_next, t_last, trip)  # place: route
    settle_nb(demo, place, t_next, t_last, trip, start, counts, day, ppl, start)
    return start + counts.sum()


@pp.helper_nb
def draw_day_nb(day, seed, pk, counts, start, demo, route, t_next, t_last, trip):
    """The draws of the day's departures (:func:`draw_trips_nb`) and of the returnees' pooled
    days (:func:`pick_returnees_nb`, off the pool), into the arrays from ``start``: what
    :func:`settle_nb` writes out as people. The departures drawn ahead on another thread are
    these (corridor.model.departures_ahead)."""
    if counts.sum() == 0:
        return
    draw_trips_nb(
        start,
        counts,
        day,
        seed,
        pk.demo_cdf[pk.fy[day]],
        pk.darien_p[day],
        pk.air_p[day],
        pk.days_south,
        pk.days_darien,
        pk.days_air,
        pk.days_mexico,
        pk.spread,
        pk.south_cdf,
        pk.south_month_row,
        pk.south_travel,
        pk.south_spread,
        demo,
        route,
        t_next,
        t_last,
        trip,
    )
    pick_returnees_nb(start, counts, pk.returning, day, seed, pk.pool, pk.avail, t_last)


@pp.helper_nb
def remember_nb(day, pk):
    """Fold today's border outcomes into the news people waiting at the border hear at once,
    and the outcomes of ``day - lag`` into the memory at the origins."""
    a = 1.0 / pk.news_memory_days
    for k in range(pk.news_expelled.shape[0]):  # before news_all moves: same days count
        if pk.let_in[day, k] + pk.sent_back[day, k] > 0:
            pk.news_expelled[k] = (1 - a) * pk.news_expelled[k] + a * pk.expelled[day, k]
    _fold_nb(pk.news_in, pk.news_all, pk.let_in[day], pk.sent_back[day], pk.news_memory_days)
    fold_origin_memory_nb(day, pk)


@pp.helper_nb
def fold_origin_memory_nb(day, pk):
    """At the end of ``day``, the outcomes of ``day - lag`` into the memory at the origins
    (``pk.mem_in``, ``pk.mem_all``), which tomorrow's departures read."""
    d = day - pk.lag_days
    if d >= 0:
        _fold_nb(pk.mem_in, pk.mem_all, pk.let_in[d], pk.sent_back[d], pk.memory_days)


@pp.helper_nb
def _fold_nb(mem_in, mem_all, let_in, sent_back, memory_days):
    """Exponential memory of the share let in, per nationality (days with no outcome skip)."""
    a = 1.0 / memory_days
    for k in range(mem_in.shape[0]):
        tot = let_in[k] + sent_back[k]
        if tot > 0:
            mem_in[k] = (1 - a) * mem_in[k] + a * let_in[k]
            mem_all[k] = (1 - a) * mem_all[k] + a * tot
