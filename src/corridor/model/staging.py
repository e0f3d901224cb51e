"""Process 3 (and 7): waiting in a border city, shelter or street, and what people do next.

Each day, a border city's shelter beds are shared among the nationalities waiting there in
proportion to their numbers; the rest stay on the street, where the daily hazard of harm
(extortion, kidnapping, assault) is higher. They register for a CBP One appointment once it
exists, cross between ports, or give up and go home, at daily hazards that depend on what
happened to them before: after a Title 42 expulsion there is no consequence to trying again,
so people re-cross fast (process 7); after a Title 8 return they re-cross slower and give up
more.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.params import Param
from corridor.engine.rng import (
    STREAM,
    binomial_nb,
    day_key_nb,
    exponential_nb,
    first_reaching_nb,
    hazard_sums,
    threshold_nb,
    uniform_nb,
)
from corridor.engine.series import F
from corridor.engine.sim import Module
from corridor.model.places import BORDER_CITIES, NATIONALITIES, PLACE

_ST_CBP_ONE_REGISTER = STREAM["cbp_one_register"]
_ST_CROSS_DECISION = STREAM["cross_decision"]
_ST_GIVE_UP = STREAM["give_up"]
_ST_HARM = STREAM["harm"]
_ST_CROSSING_THRESHOLD = STREAM["crossing_threshold"]

CROSS = 1
_FIRST_CITY = PLACE[BORDER_CITIES[0]]
_HARM = F["harm_incidents"]
_GAVE_UP = F["gave_up"]
_HOME = PLACE["origin"]
# The crossing kind by flags: after an expulsion 2, else after a return 3, else registered 1.
_KIND_BITS = pp.EXPELLED | pp.RETURNED | pp.CBP_ONE
_KIND = np.array(
    [
        2 if f & pp.EXPELLED else 3 if f & pp.RETURNED else 1 if f & pp.CBP_ONE else 0
        for f in range(_KIND_BITS + 1)
    ],
    dtype=np.int64,
)


class StagingPack(NamedTuple):
    """What :func:`staging_day_nb` needs (fused driver)."""

    beds: np.ndarray  # [day, city] int64 agents
    cross: np.ndarray  # [day, kind, nat] 1/day
    give_up: np.ndarray  # [kind] 1/day, before deterrence (cross_today_into_nb adds it)
    register: np.ndarray  # [day] 1/day
    register_cum: np.ndarray  # [day] registration hazard summed through the day
    hazard: np.ndarray  # [yesterday, today][kind, nat] crossing or giving up, summed (state)
    hazard_max: np.ndarray  # [kind] more than a day can add to those sums (wake_nb)
    min_wait: int
    harm_street: float
    shelter_factor: float
    mpp_give_up: float
    news_in: np.ndarray  # [nat] the departure module's border news (shared arrays)
    news_all: np.ndarray  # [nat]
    news_expelled: np.ndarray  # [nat]
    severity: np.ndarray  # [day, nat] as announced
    severity_emergency: np.ndarray  # [day, nat] while an emergency authority is on
    emergency: np.ndarray  # [day] bool: the bookkeeping module's switch (shared, filled daily)
    fade_days: float
    announced: np.ndarray  # [day, nat] weight of the announcement against experience
    kappa: float
    kappa_recross: float
    expulsion_weight: float
    deterred_give_up: float
    parole: np.ndarray  # [day, nat] 1 where an open parole programme covers the nationality
    kappa_parole: float


class Staging(Module):
    name = "staging"
    PARAMS = (
        Param(
            "policy_deterrence",
            1.28,
            "d log crossing hazard / d P(sent back) as announced",
            0.0,
            20.0,
            "calibration (MAP 1.28, docs/calibration.md); Cuban and Nicaraguan Border Patrol "
            "encounters fell ~85% in the month "
            "Title 42 reached them (Jan 2023, OHSS), Venezuelans' ~70% (Oct 2022): people "
            "already in Mexico held back at the announcement, before any new departure",
            range=(0.0, 6.0),
        ),
        Param(
            "parole_deterrence",
            0.0,
            "d log crossing hazard while crossing forfeits an open parole programme",
            0.0,
            20.0,
            "0: no effect beyond the severity the programme adds (policy_deterrence). Fitted "
            "through 2022 at 0.46 (draws 0.18-0.64), not adopted: 2023 forecast 17.0% "
            "(docs/calibration.md, 'push held through a parole onset')",
        ),
        Param(
            "recrosser_deterrence",
            1.35,
            "d log re-crossing hazard / d expected severity",
            0.0,
            20.0,
            "calibration; people already expelled or returned hold back by the same expected "
            "severity: repeat crossings fell when Title 42 ended and a return carried a "
            "five-year bar (parameters.csv: gotaways -55% Apr-Jun 2023; returns 32% -> 14% "
            "of crossers)",
            range=(0.0, 4.0),
        ),
        Param(
            "deterred_give_up_per_day",
            0.141,
            "1/day at full deterrence",
            0.0,
            1.0,
            "calibration; people held back by the expected severity do not only wait: they "
            "settle in Mexico, go home or take a lawful pathway (Cuban and Nicaraguan Border "
            "Patrol encounters fell ~97% within two months of January 2023 and stayed down, "
            "OHSS; COMAR asylum claims in Mexico reached a record in 2023)",
            range=(0.0, 0.5),
        ),
        Param(
            "announcement_fade_days",
            357.0,
            "days",
            1.0,
            730.0,
            "calibration (MAP 357); after a policy change, what people hear of outcomes "
            "replaces what was announced (the Venezuelan return in Sep 2023 under the same "
            "parole and take-back rules that held them back in Jan 2023)",
            range=(14.0, 180.0),
        ),
        Param(
            "expulsion_weight",
            0.589,
            "deterrence of a Title 42 expulsion relative to a Title 8 consequence",
            0.0,
            1.0,
            "calibration (MAP 0.589); an expulsion carried no penalty and could be retried at once "
            "(parameters.csv: ~50% of T42 expulsions were repeats), a Title 8 removal a "
            "five-year bar",
            range=(0.0, 1.0),
        ),
        Param(
            "cross_per_day",
            0.22,
            "1/day",
            0.0,
            1.0,
            "calibration; most arrivals cross within 1-2 weeks",
            range=(0.05, 0.4),
        ),
        Param(
            "cross_per_day_registered",
            0.00914,
            "1/day",
            0.0,
            1.0,
            "estimate: CBP One registrants mostly wait for their appointment",
            range=(0.0, 0.05),
        ),
        Param(
            "cross_per_day_after_expulsion",
            0.036,
            "1/day",
            0.0,
            1.0,
            "calibration; parameters.csv: ~50% of T42 expulsions were repeats (Cato)",
            range=(0.1, 0.6),
        ),
        Param(
            "cross_per_day_after_return",
            0.0378,
            "1/day",
            0.0,
            1.0,
            "calibration; Title 8 returns carry a re-entry bar",
            range=(0.01, 0.1),
        ),
        Param(
            "give_up_per_day",
            0.0123,
            "1/day",
            0.0,
            1.0,
            "calibration; people not yet sent back go home or on into Mexico's interior: the "
            "weak constraint on those waiting in border cities (~60,000 in Dec 2023, "
            "calibration/fit.py)",
            range=(0.001, 0.05),
        ),
        Param(
            "give_up_per_day_after_expulsion",
            0.0814,
            "1/day",
            0.0,
            1.0,
            "calibration; FY2021 repeat rate 27% (period-facts.csv)",
            range=(0.01, 0.1),
        ),
        Param(
            "give_up_per_day_after_return", 0.02, "1/day", 0.0, 1.0, "estimate", range=(0.005, 0.05)
        ),
        Param(
            "register_per_day",
            0.187,
            "1/day",
            0.0,
            1.0,
            "parameters.csv: CBP One demand ~80,000 requests/day vs 1,450 slots",
            range=(0.05, 0.5),
        ),
        Param(
            "asylum_rule_cross_factor",
            1.0,
            "multiplier",
            0.0,
            1.0,
            "estimate: the rule pushes people to wait for CBP One; 1 (none) by default since "
            "the rule's deterrent enters through the announced severity (its higher removal "
            "share, policy_deterrence); lower values add a separate effect",
            range=(0.6, 1.0),
        ),
        Param("min_wait_days", 2.0, "days", 0.0, 60.0, "estimate: rest and contact smugglers"),
        Param(
            "harm_per_day_street",
            3e-4,
            "incidents/person-day",
            0.0,
            0.1,
            "parameters.csv: HRF >13,480 reported attacks under T42 (a fraction of the "
            "true total); AIC: ~1 in 70 MPP enrollees documented victims",
            range=(1e-4, 1e-3),
        ),
        Param(
            "harm_shelter_factor",
            0.25,
            "multiplier",
            0.0,
            1.0,
            "estimate: shelters protect but are targeted too",
            range=(0.1, 0.5),
        ),
        Param(
            "mpp_give_up_per_day",
            0.004,
            "1/day",
            0.0,
            1.0,
            "estimate: many MPP enrollees abandoned their cases",
        ),
    )

    def __init__(self, sim) -> None:
        super().__init__(sim)
        p = self.p
        self.beds = np.floor(sim.lever_over("mexico.shelter_beds", BORDER_CITIES) / sim.scale)
        self.beds = self.beds.astype(np.int64)
        rule = np.where(sim.lever("us.asylum_rule") > 0, p["asylum_rule_cross_factor"], 1.0)
        self.cross = np.stack(
            [
                p["cross_per_day"] * rule,
                np.full(sim.n_days, p["cross_per_day_registered"]),
                np.full(sim.n_days, p["cross_per_day_after_expulsion"]),
                p["cross_per_day_after_return"] * rule,
            ],
            axis=1,
        )
        self.give_up = np.array(
            [
                p["give_up_per_day"],
                p["give_up_per_day"],
                p["give_up_per_day_after_expulsion"],
                p["give_up_per_day_after_return"],
            ]
        )
        self.register = np.where(sim.lever("us.cbp_one_per_day") > 0, p["register_per_day"], 0.0)
        self._severity: dict[bool, np.ndarray] = {}
        self._announcement: tuple[np.ndarray, np.ndarray] | None = None

    def cross_by_nationality(self) -> np.ndarray:
        """Crossing hazards [day, kind, nat] before deterrence (``cross_today_nb`` applies it)."""
        return np.repeat(self.cross[:, :, None], len(NATIONALITIES), axis=2)

    def severity(self, emergency: bool = False) -> np.ndarray:
        """What crossing between ports risks under the announced policy [day, nat], 0-1:
        P(Title 8 consequence) + expulsion_weight x P(Title 42 expulsion), plus 1 where a
        parole programme open to the nationality is forfeited by crossing (CHNV). With
        ``emergency``, while an emergency authority is on (its summary returns and removals
        count as Title 8 consequences). Computed once per simulation (staging and departure
        both read it); callers get a copy."""
        if emergency not in self._severity:
            sim = self.sim
            proc = sim.module("processing")
            parole = self.parole_open()
            if emergency:
                sev = np.minimum(proc.announced_emergency() + parole, 1.0)
            else:
                p42, p8 = proc.announced_outcomes()
                sev = np.minimum(p8 + self.p["expulsion_weight"] * p42 + parole, 1.0)
            self._severity[emergency] = sev
        return self._severity[emergency].copy()

    def parole_open(self) -> np.ndarray:
        """[day, nat] 1 where a parole programme (CHNV) that crossing forfeits is open to the
        nationality, else 0."""
        sim = self.sim
        parole = sim.lever_over("us.chnv_parole_nationalities", NATIONALITIES) > 0
        return (parole & (sim.lever("us.chnv_parole_per_month") > 0)[:, None]).astype(float)

    @staticmethod
    def last_change(severity: np.ndarray) -> np.ndarray:
        """The day [day, nat] the severity last changed, -1 before any change in the run.
        Changes below 0.05 (the demographic mix moving with the fiscal year) are not news."""
        out = np.full(severity.shape, -1)
        for a in range(severity.shape[1]):
            changed = np.flatnonzero(np.abs(np.diff(severity[:, a])) > 0.05) + 1
            out[changed, a] = changed
        return np.maximum.accumulate(out, axis=0)

    def announcement_weight(
        self, severity: np.ndarray, last: np.ndarray | None = None
    ) -> np.ndarray:
        """exp(-days since the severity last changed / fade) [day, nat]: 1 the day a policy
        changes, fading as outcomes are heard; 0 before any change in the run. ``last``:
        :meth:`last_change` of ``severity``, if the caller has it."""
        last = self.last_change(severity) if last is None else last
        since = np.arange(severity.shape[0])[:, None] - last
        return np.where(last >= 0, np.exp(-since / self.p["announcement_fade_days"]), 0.0)

    def announced_change(self, severity: np.ndarray, last: np.ndarray | None = None) -> np.ndarray:
        """The severity now less the severity before its last change [day, nat] (0 before any
        change in the run): what an announcement says is different. ``last``: as for
        :meth:`announcement_weight`."""
        last = self.last_change(severity) if last is None else last
        before = np.take_along_axis(severity, np.maximum(last - 1, 0), axis=0)
        return np.where(last >= 0, severity - before, 0.0)

    def announcement(self) -> tuple[np.ndarray, np.ndarray]:
        """(:meth:`announcement_weight`, :meth:`announced_change`) of the scheduled
        :meth:`severity`, computed once per simulation from one :meth:`last_change` (the
        staging and departure packs both read them); callers get copies."""
        if self._announcement is None:
            sev = self.severity()
            last = self.last_change(sev)
            self._announcement = (
                self.announcement_weight(sev, last),
                self.announced_change(sev, last),
            )
        weight, change = self._announcement
        return weight.copy(), change.copy()

    def pack(self) -> StagingPack:
        """Schedules and parameters for the fused driver (same values step uses)."""
        p, c = self.p, np.ascontiguousarray
        dep = self.sim.module("departure")
        sev = self.severity()
        return StagingPack(
            c(self.beds, dtype=np.int64),
            c(self.cross_by_nationality(), dtype=np.float64),
            c(self.give_up, dtype=np.float64),
            c(self.register, dtype=np.float64),
            hazard_sums(self.register),
            np.zeros((2, self.cross.shape[1], len(NATIONALITIES))),
            hazard_max(
                self.cross,
                self.give_up,
                p["deterred_give_up_per_day"],
                p["policy_deterrence"],
                p["parole_deterrence"],
            ),
            int(p["min_wait_days"]),
            float(p["harm_per_day_street"]),
            float(p["harm_shelter_factor"]),
            float(p["mpp_give_up_per_day"]),
            dep.news_in,
            dep.news_all,
            dep.news_expelled,
            c(sev, dtype=np.float64),
            c(self.severity(emergency=True), dtype=np.float64),
            self.sim.module("bookkeeping").emergency,
            float(p["announcement_fade_days"]),
            c(self.announcement()[0], dtype=np.float64),
            float(p["policy_deterrence"]),
            float(p["recrosser_deterrence"]),
            float(p["expulsion_weight"]),
            float(p["deterred_give_up_per_day"]),
            c(self.parole_open(), dtype=np.float64),
            float(p["parole_deterrence"]),
        )

    def step(self, day: int) -> None:
        sim = self.sim
        sim.ensure_event_capacity()
        staging_day_nb(
            day, sim.seed, self.pk, sim.people.n, sim.people.arrays(), sim.event, sim.res.flows[day]
        )


def hazard_max(
    cross: np.ndarray,
    give_up: np.ndarray,
    deterred_give_up: float,
    kappa: float,
    kappa_parole: float,
) -> np.ndarray:
    """[kind]: more than any day can add to a kind's summed hazard of crossing or giving up
    (:func:`sum_hazards_nb`), whatever the border news. The day's hazard is
    -log(1 - c f) - log(1 - g - D (1 - f)) with ``cross`` c [day, kind], ``give_up`` g,
    ``deterred_give_up`` D (kinds 0 and 1; 0 for the others) and f = exp(-kappa x expected
    severity - kappa_parole x parole) in [exp(-kappa - kappa_parole), 1] (severities and
    parole are 0-1); convex in f, so at its largest at one end. Inflated by 1e-6 against
    rounding. From it, the first day a waiting person's threshold may be reached
    (:func:`wake_nb`)."""
    if min(deterred_give_up, kappa, kappa_parole) < 0:
        raise ValueError("deterrence parameters must be >= 0 for the wake-up days' bound")
    f_min = math.exp(-kappa - kappa_parole)
    d = deterred_give_up * (np.arange(len(give_up)) < 2)
    c = np.asarray(cross).max(axis=0)  # [kind]
    out = np.zeros(len(give_up))
    for f in (f_min, 1.0):
        stay = (1.0 - c * f) * (1.0 - np.asarray(give_up) - d * (1.0 - f))
        out = np.maximum(out, np.minimum(-np.log(np.maximum(stay, 1e-304)), 700.0))
    return np.maximum(out * (1.0 + 1e-6), 1e-12)  # (1e-12: never a division by 0)


@pp.person_nb
def wake_nb(i, day, hazard, hazard_max, register_cum, min_wait, ppl):
    """The first day after ``day`` that waiting person ``i`` may be due (:func:`due_nb`):
    the end of the minimum wait; the first day the crossing sum could reach ``thr`` growing
    by ``hazard_max`` a day (a lower bound: on that day the pass looks, and sets the next);
    or, if sooner, the day the registration sum reaches ``thr_reg`` (exact: a schedule)."""
    thr = ppl[13][i]
    if thr != thr:  # pp.PENDING
        w = ppl[10][i] + min_wait
    else:
        k = pp.index_nb(_KIND[ppl[5][i] & _KIND_BITS])
        days = (thr - hazard[1, k, ppl[1][i]] - 1e-9) / hazard_max[k]
        w = day + int(math.ceil(days)) if days < pp.NEVER else pp.NEVER
    last = register_cum.shape[0] - 1
    if w > day + 1 and register_cum[pp.index_nb(min(w - 1, last))] >= ppl[14][i]:  # registers first
        w = first_reaching_nb(register_cum, ppl[14][i], day + 1)
    return w


@nb.njit(cache=True)
def staging_day_nb(day, seed, pk, n, ppl, event, flows):
    """:meth:`Staging.step` for the fused driver."""
    cross = np.empty((pk.cross.shape[1], pk.news_in.shape[0]))
    give_up = np.empty_like(cross)
    cross_today_into_nb(day, pk, cross, give_up)
    sum_hazards_nb(cross, give_up, pk.hazard)
    staging_nb(
        n,
        day,
        seed,
        pk.beds[day],
        cross,
        give_up,
        pk.hazard,
        pk.register_cum,
        pk.min_wait,
        pk.harm_street,
        pk.shelter_factor,
        pk.mpp_give_up,
        ppl,
        event,
        flows,
    )


@pp.helper_nb
def sum_hazards_nb(cross, give_up, hazard):
    """Today's hazard of crossing or giving up for each (kind, nationality), -log of the
    chance of neither, into the sums: ``hazard[0]`` through yesterday, ``hazard[1]`` through
    today (what waiting people's thresholds are on)."""
    for k in range(cross.shape[0]):
        for a in range(cross.shape[1]):
            hazard[0, k, a] = hazard[1, k, a]
            stay = (1.0 - cross[k, a]) * (1.0 - give_up[k, a])
            hazard[1, k, a] += min(-math.log(max(stay, 1e-304)), 700.0)  # libm's: tests


@nb.njit(cache=True)
def cross_today_nb(day, pk):
    """Today's crossing hazards [kind, nationality] (:func:`cross_today_into_nb`)."""
    out = np.empty((pk.cross.shape[1], pk.news_in.shape[0]))
    cross_today_into_nb(day, pk, out, np.empty_like(out))
    return out


@nb.njit(cache=True)
def give_up_today_nb(day, pk):
    """Today's giving-up hazards [kind, nationality] (:func:`cross_today_into_nb`)."""
    out = np.empty((pk.cross.shape[1], pk.news_in.shape[0]))
    cross_today_into_nb(day, pk, np.empty_like(out), out)
    return out


@pp.helper_nb
def cross_today_into_nb(day, pk, out, give):
    """Crossing hazards [kind, nationality] today, into ``out``, and giving-up hazards into
    ``give``. Those not yet sent back (new
    arrivals, CBP One registrants) hold back by exp(-kappa x expected severity): what was announced,
    weighted by ``announced`` (1 the day a policy changes, fading), and otherwise what they
    hear at the border of the last days' outcomes for their nationality (returns and
    removals count 1, expulsions ``expulsion_weight``). After an expulsion or a return, the
    kind's own hazard holds back by exp(-kappa_recross x the same expected severity): a
    second Title 8 consequence (a five-year bar) deters more than another expulsion. While a
    parole programme open to the nationality is forfeited by crossing, every kind also holds
    back by exp(-kappa_parole), which does not fade. Those held
    back do not all wait: new arrivals and registrants give up (settle in Mexico, go home, take
    a lawful pathway) at their own hazard plus ``deterred_give_up`` x (1 - exp(-kappa x
    expected severity)). While an emergency authority is on, its severity is the one
    announced, from the day it came into effect."""
    n_nat = pk.news_in.shape[0]
    # An emergency authority switched on at the end of day s acts from day s + 1 (the
    # switch reads the day's encounters): its severity, announced that day, replaces the
    # schedule's while it lasts.
    on = day > 0 and pk.emergency[day - 1]
    w_on = 0.0
    if on:
        s = day - 1
        while s > 0 and pk.emergency[s - 1]:
            s -= 1
        w_on = math.exp(-(day - (s + 1)) / pk.fade_days)
    for a in range(n_nat):
        all_ = max(pk.news_all[a], 1e-9)
        heard = (
            pk.news_all[a] - pk.news_in[a] - (1.0 - pk.expulsion_weight) * pk.news_expelled[a]
        ) / all_
        heard = min(max(heard, 0.0), 1.0)
        if on:
            w, sev = w_on, pk.severity_emergency[day, a]
        else:
            w, sev = pk.announced[day, a], pk.severity[day, a]
        expect = w * sev + (1.0 - w) * heard
        g = math.exp(-pk.kappa_parole * pk.parole[day, a])  # forfeiting parole: no fading
        f = math.exp(-pk.kappa * expect) * g
        f_re = math.exp(-pk.kappa_recross * expect) * g
        for k in range(pk.cross.shape[1]):
            out[k, a] = pk.cross[day, k, a]
            give[k, a] = pk.give_up[k]
        out[0, a] *= f
        out[1, a] *= f
        out[2, a] *= f_re
        out[3, a] *= f_re
        give[0, a] += pk.deterred_give_up * (1.0 - f)
        give[1, a] += pk.deterred_give_up * (1.0 - f)


@nb.njit(cache=True)
def staging_nb(
    n,
    day,
    seed,
    beds,
    cross,
    give_up,
    hazard,
    register_cum,
    min_wait,
    harm_street,
    shelter_factor,
    mpp_give_up,
    ppl,
    event,
    flows,
):
    """Shelter beds, harm, registration and the decision to cross or give up, for one day.

    Sets ``event[i] = CROSS`` for those who try to cross today; clears every other event.
    """
    waiting = np.zeros((cross.shape[1], beds.shape[0]), dtype=np.int64)
    waiting_count_nb(n, ppl, waiting)
    exposed = np.zeros((2, cross.shape[1], beds.shape[0]), dtype=np.int64)
    shelter_split_nb(beds, waiting, exposed)
    keys = staging_keys_nb(seed, day)
    _staging_loop_nb(
        n,
        day,
        keys,
        cross,
        give_up,
        hazard,
        register_cum,
        min_wait,
        mpp_give_up,
        ppl,
        event,
        flows,
    )
    harm_nb(keys[2], exposed, harm_street, shelter_factor, flows)


@pp.loop_nb
def waiting_count_nb(n, ppl, waiting):
    """Who waits in each border city [nationality, city] (waiting or in MPP), into
    ``waiting``."""
    nat, state, place = ppl[1], ppl[3], ppl[4]
    for i in range(n):
        if state[i] == pp.WAITING or state[i] == pp.MPP:
            waiting[nat[i], place[i] - _FIRST_CITY] += 1


@pp.helper_nb
def shelter_split_nb(beds, waiting, exposed):
    """Who sleeps in a shelter [1] and on the street [0], by nationality and city, into
    ``exposed``: a city's beds go to the nationalities waiting there in proportion to their
    numbers (whole beds by largest remainder, ties to the first nationality), all of them
    if there are beds enough."""
    n_nat = waiting.shape[0]
    for c in range(waiting.shape[1]):
        total = 0
        for a in range(n_nat):
            total += waiting[a, c]
        b = beds[c]
        if total <= b:
            for a in range(n_nat):
                exposed[1, a, c] = waiting[a, c]
                exposed[0, a, c] = 0
            continue
        left = b
        for a in range(n_nat):
            exposed[1, a, c] = waiting[a, c] * b // total
            left -= exposed[1, a, c]
        given = 0  # bit a: nationality a took a bed from the remainders
        for _ in range(left):  # fewer than n_nat: the largest remainders take one each
            best = 0
            best_r = 0
            for a in range(n_nat):
                r = waiting[a, c] * b % total
                if r > best_r and not (given >> a) & 1:
                    best, best_r = a, r
            given |= 1 << best
            exposed[1, best, c] += 1
        for a in range(n_nat):
            exposed[0, a, c] = waiting[a, c] - exposed[1, a, c]


@pp.loop_nb
def _staging_loop_nb(
    n,
    day,
    keys,
    cross,
    give_up,
    hazard,
    register_cum,
    min_wait,
    mpp_give_up,
    ppl,
    event,
    flows,
):
    """:func:`staging_nb`'s loop over the people."""
    for i in range(n):
        crosses = staging_person_nb(
            i,
            day,
            keys,
            cross,
            give_up,
            hazard,
            register_cum,
            min_wait,
            mpp_give_up,
            ppl,
            flows,
        )
        event[i] = CROSS if crosses else 0


@nb.njit(cache=True)
def staging_keys_nb(seed, day):
    """Today's draw keys: (cross or give up, MPP give up, harm, crossing threshold,
    registration threshold)."""
    return (
        day_key_nb(seed, _ST_CROSS_DECISION, day),
        day_key_nb(seed, _ST_GIVE_UP, day),
        day_key_nb(seed, _ST_HARM, day),
        day_key_nb(seed, _ST_CROSSING_THRESHOLD, day),
        day_key_nb(seed, _ST_CBP_ONE_REGISTER, day),
    )


@pp.person_nb
def due_nb(i, day, hazard, register_cum, min_wait, ppl):
    """Whether waiting person ``i`` has anything happen today (a threshold reached, or past
    the minimum wait with none drawn yet): :func:`staging_person_nb` leaves everyone else as
    they are."""
    thr = ppl[13][i]
    h = hazard[1, pp.index_nb(_KIND[ppl[5][i] & _KIND_BITS]), ppl[1][i]]
    pending = (thr != thr) & (day - ppl[10][i] >= min_wait)  # NaN: pp.PENDING
    return (h >= thr) | (register_cum[day] >= ppl[14][i]) | pending  # no branch: see day_pass


@pp.person_nb
def staging_person_nb(
    i,
    day,
    keys,
    cross,
    give_up,
    hazard,
    register_cum,
    min_wait,
    mpp_give_up,
    ppl,
    flows,
):
    """Person ``i``'s day in a border city (:func:`staging_nb` is the loop of it over
    everyone; the fused driver calls it from its one pass for those :func:`due_nb` says).
    Returns whether ``i`` tries to cross today.

    A waiting person's days are not drawn one by one. Once past the minimum wait, they draw
    two thresholds: one on their kind and nationality's summed hazard of crossing or giving
    up (``hazard``, which moves with the day's border news), one on the summed hazard of
    registering with CBP One (``register_cum``). The day a sum reaches its threshold, the
    event happens: the same chances as a draw each day. Registering makes a new arrival a
    registrant (another kind): a new threshold on that kind's sum, from today."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    k_cross, k_give, _, k_thr, k_reg = keys
    s = state[i]
    if s == pp.MPP:
        if uniform_nb(k_give, uid[i]) < mpp_give_up:
            state[i] = pp.HOME
            t_state[i] = day
            flows[_GAVE_UP, nat[i], place[i]] += 1
            place[i] = _HOME
        return False
    if s != pp.WAITING:
        return False
    a = nat[i]
    f = flags[i]
    kind = pp.index_nb(_KIND[f & _KIND_BITS])  # a lookup, not branches on mixed flags
    if thr[i] != thr[i]:  # pp.PENDING
        if day - t_state[i] < min_wait:
            return False
        thr[i] = np.float32(hazard[0, kind, a] + exponential_nb(k_thr, 2 * uid[i]))
        thr_reg[i] = pp.NONE if f & pp.CBP_ONE else threshold_nb(k_reg, uid[i], register_cum, day)
    if register_cum[day] >= thr_reg[i]:
        flags[i] |= pp.CBP_ONE
        thr_reg[i] = pp.NONE
        if kind == 0:  # not yet sent back: now a registrant, on that kind's sum from today
            kind = 1
            thr[i] = np.float32(hazard[0, kind, a] + exponential_nb(k_thr, 2 * uid[i] + 1))
    if hazard[1, kind, a] < thr[i]:
        return False
    # Crossing or giving up today: which, in proportion to their chances today.
    p_cross = cross[kind, a]
    p_any = 1.0 - (1.0 - p_cross) * (1.0 - give_up[kind, a])
    thr[i] = pp.PENDING  # if back to wait after the crossing (processing says so too)
    thr_reg[i] = pp.NONE
    if uniform_nb(k_cross, uid[i]) * p_any < p_cross:
        return True
    state[i] = pp.HOME
    t_state[i] = day
    flags[i] &= ~np.uint8(pp.CBP_ONE)
    flows[_GAVE_UP, a, place[i]] += 1
    place[i] = _HOME
    return False


@nb.njit(cache=True)
def harm_nb(key, exposed, harm_street, shelter_factor, flows):
    """Today's harm incidents: a binomial draw per (in shelter, nationality, city) cell of
    ``exposed`` (which it zeroes), at the street rate or the shelter rate. The same chances as
    one draw per person, for one draw per cell."""
    n_nat, n_city = exposed.shape[1], exposed.shape[2]
    for b in range(2):
        rate = harm_street * shelter_factor if b else harm_street
        for a in range(n_nat):
            for c in range(n_city):
                n = exposed[b, a, c]
                if n == 0:
                    continue
                exposed[b, a, c] = 0
                cell = (b * n_nat + a) * n_city + c
                flows[_HARM, a, _FIRST_CITY + c] += binomial_nb(key, cell, n, rate)
