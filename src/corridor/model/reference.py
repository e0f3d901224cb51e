"""Plain-NumPy references of the model's numba kernels (used by the tests).

The project's rule is that every compiled kernel has an independent, vectorised NumPy twin:
the kernels loop over agents one by one, the references work on whole arrays with masks, so a
slip in either (an index, an order of operations, a forgotten state) shows up as a difference.
Each ``<name>_numpy`` takes the same arguments as ``<name>_nb`` (people as the tuple of arrays
in :data:`corridor.engine.people.FIELDS` order), mutates them the same way and returns the same
values.

How the kernels' sequential parts become array operations:

* capacity used in index order (INM's apprehensions, Mexico's deportation cap) is a cumulative
  sum of the wanting mask compared with the capacity;
* "first come first served" per group (seats per nationality) is each person's rank within
  their group in FIFO order;
* a threshold on a summed hazard (an exponential draw above the sum so far) is the same draw,
  with the sums as the kernels keep them, compared the same way (in float32, as stored);
* FIFO boarding is a stable argsort of the custody start day;
* counting is ``np.add.at``;
* draws are :func:`corridor.engine.rng.uniforms` (the NumPy reference of ``uniform_nb``) and
  :func:`normal` / :func:`poisson` below, which follow ``normal_nb`` / ``poisson_nb`` operation
  for operation;
* processing's take-back and bed counters change the outcome of later encounters once they run
  out; both only fall, so the day splits into at most three spans with fixed capacity flags,
  resolved span by span (:func:`processing_numpy`).

NumPy's ``exp``/``log``/``cos`` may differ from the libm that numba calls in the last bit. The
kernels only use them for integer outcomes (a truncated travel time, a Poisson count), which a
last-bit difference changes with probability ~1e-16 per draw; where a value is kept (a
threshold on a summed hazard) the references call libm's ``math.log``, as the kernels do. The
tests compare exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from corridor.engine import people as pp
from corridor.engine.rng import STREAM, day_key, uniforms
from corridor.model import bookkeeping as bk
from corridor.model import departure as dp
from corridor.model import encounter as en
from corridor.model import processing as pr
from corridor.model import removal as rm
from corridor.model import staging as sg
from corridor.model import transit as tr
from corridor.model.encounter import OFO, OFO_APPT, USBP, lottery
from corridor.model.staging import CROSS

People = tuple[np.ndarray, ...]  # the arrays of pp.FIELDS, in order

_U8 = np.uint8


# --- draws ----------------------------------------------------------------------------------


def normal(key: np.uint64, agents: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`corridor.engine.rng.normal_nb` for many agents: Box-Muller
    from the uniforms at counters ``2 agent`` and ``2 agent + 1``, in the kernel's order."""
    agents = np.asarray(agents, dtype=np.int64)
    u1 = uniforms(key, 2 * agents)
    u2 = uniforms(key, 2 * agents + 1)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


def poisson(key: np.uint64, counters: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`corridor.engine.rng.poisson_nb` for many counters (int64).

    Inversion runs for every small ``lam`` at once: one pass per k, each entry stopping when
    its cumulative probability passes its uniform (or at k = 200), with the kernel's
    arithmetic (``p *= lam / k; cdf += p``)."""
    counters = np.asarray(counters, dtype=np.int64)
    lam = np.asarray(lam, dtype=np.float64)
    out = np.zeros(lam.shape, dtype=np.int64)
    big = lam > 30.0
    if big.any():
        z = normal(key, counters[big])
        lb = lam[big]
        v = np.floor(lb + np.sqrt(lb) * z + 0.5)
        out[big] = np.maximum(v, 0.0).astype(np.int64)
    small = (lam > 0.0) & ~big
    if small.any():
        ls = lam[small]
        u = uniforms(key, 2 * counters[small])
        p = np.exp(-ls)
        cdf = p.copy()
        k = np.zeros(ls.shape, dtype=np.int64)
        for step in range(1, 201):
            go = u > cdf
            if not go.any():
                break
            k[go] = step
            p[go] = p[go] * (ls[go] / step)
            cdf[go] = cdf[go] + p[go]
        out[small] = k
    return out


def binomial(key: np.uint64, counter: int, n: int, p: float) -> int:
    """Reference of :func:`corridor.engine.rng.binomial_nb` for one cell, by SciPy's
    binomial quantile function: the same chunks (at most 16 / p trials) and the same
    uniforms (counters ``counter * 2**20`` onward), each chunk's count the smallest k whose
    CDF reaches its uniform."""
    from scipy import stats

    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return int(n)
    chunk = max(1, int(16.0 / p))
    sizes = np.full(n // chunk, chunk)
    if n % chunk:
        sizes = np.append(sizes, n % chunk)
    u = uniforms(key, counter * 1048576 + np.arange(sizes.size))
    return int(np.maximum(stats.binom.ppf(u, sizes, p), 0).sum())


# --- helpers --------------------------------------------------------------------------------


def _first_within(want: np.ndarray, capacity: int) -> np.ndarray:
    """The first ``capacity`` of the ``want`` entries, in index order: what a kernel's counter,
    checked before each success (``used < capacity``), lets through."""
    return want & (np.cumsum(want) <= capacity)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """Each entry's rank among the entries of its group that come before it (0-based)."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    idx = np.arange(g.size)
    starts = np.ones(g.size, dtype=bool)
    starts[1:] = g[1:] != g[:-1]
    first = np.maximum.accumulate(np.where(starts, idx, 0)) if g.size else idx
    rank = np.empty(g.size, dtype=np.int64)
    rank[order] = idx - first
    return rank


def _choose(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Vectorised ``transit._choose_city``: the first bin (of all but the last) whose cdf
    exceeds ``u``, else the last."""
    ge = u[:, None] >= cdf[None, :-1]
    return np.where(ge.all(axis=1), cdf.shape[0] - 1, np.argmin(ge, axis=1))


def _count(flows: np.ndarray, series: int, nat: np.ndarray, place: np.ndarray) -> None:
    """``flows[series, nat, place] += 1`` for every (nat, place) pair, repeats included."""
    np.add.at(flows[series], (nat.astype(np.int64), place.astype(np.int64)), 1)


def _bump(a: np.ndarray, idx: np.ndarray) -> None:
    """Increment a uint8 counter that saturates at 255."""
    v = a[idx]
    a[idx] = np.where(v < 255, v + 1, v).astype(a.dtype)


def _exponential(key: np.uint64, agents: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`corridor.engine.rng.exponential_nb` for many agents."""
    # libm's log, as the kernel calls it (NumPy's may differ in the last bit)
    return -np.array([math.log(1.0 - x) for x in uniforms(key, agents)], dtype=np.float64)


def _threshold(before: np.ndarray | float, key: np.uint64, agents: np.ndarray) -> np.ndarray:
    """A threshold as the kernels store it: the sum so far plus an Exp(1) draw, in float32."""
    return (before + _exponential(key, agents)).astype(np.float32)


def shelter_split(beds: np.ndarray, waiting: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`corridor.model.staging.shelter_split_nb`: [street, shelter]
    [nat, city], each city's beds shared by largest remainder (ties to the first
    nationality)."""
    waiting = np.asarray(waiting, dtype=np.int64)
    out = np.zeros((2,) + waiting.shape, dtype=np.int64)
    for c in range(waiting.shape[1]):
        w, b = waiting[:, c], int(beds[c])
        total = int(w.sum())
        if total <= b:
            out[1, :, c] = w
        else:
            out[1, :, c] = w * b // total
            left = b - int(out[1, :, c].sum())
            rem = w * b % total
            order = np.lexsort((np.arange(w.size), -rem))  # largest first, ties by index
            out[1, order[:left], c] += 1
        out[0, :, c] = w - out[1, :, c]
    return out


def _days(t: np.ndarray) -> np.ndarray:
    """int16 day stamps as int64, so differences do not wrap (the kernels promote too)."""
    return t.astype(np.int64)


# --- departure ------------------------------------------------------------------------------


def poisson_many_numpy(key: np.uint64, lam: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`corridor.model.departure.poisson_many_nb`."""
    return poisson(key, np.arange(lam.shape[0]), lam).astype(np.int32)


def departure_counts_numpy(day: int, seed: int, pk: Any) -> np.ndarray:
    """NumPy reference of :func:`corridor.model.departure.departure_counts_nb`."""
    share = pk.mem_in / np.maximum(pk.mem_all, 1e-9)
    pull = np.exp(pk.pull_strength * (share - pk.pull_reference))
    x = pk.push[day] * pull * pk.policy_mult[day]
    parole, sub = pk.parole_day[day], pk.parole_substitution
    lam = x * (1.0 - sub * parole / np.maximum(x + parole, 1e-300)) / pk.scale
    key = day_key(seed, STREAM["departure_count"], day)
    counts = poisson_many_numpy(key, lam)
    lo, hi = dp.pool_window_nb(day)
    avail = pk.pool[:, lo : hi + 1].sum(axis=1).astype(np.int64)
    key = day_key(seed, STREAM["redeparture_count"], day)
    drawn = poisson(key, np.arange(avail.shape[0]), pk.redeparture * avail)
    pk.returning[:] = np.where((avail > 0) & (pk.redeparture > 0.0), np.minimum(avail, drawn), 0)
    pk.avail[:] = avail
    pk.avail_day[0] = day
    return (counts + pk.returning).astype(np.int32)


def returnees_numpy(
    start: int,
    counts: np.ndarray,
    returning: np.ndarray,
    day: int,
    seed: int,
    pool: np.ndarray,
    avail: np.ndarray,
    ppl: People,
) -> None:
    """NumPy reference of :func:`corridor.model.departure.returnees_nb`: each returnee's
    pooled day is where its uniform draw falls in the cumulative pool, the pool less the
    returnees before it (one at a time: each draw depends on the ones before)."""
    uid, flags, enc, t_last = ppl[0], ppl[5], ppl[6], ppl[11]
    lo, hi = dp.pool_window_nb(day)
    key = day_key(seed, STREAM["redeparture_pick"], day)
    ends = start + np.cumsum(np.asarray(counts, dtype=np.int64))
    for a in np.flatnonzero(returning):
        for j in range(int(ends[a] - returning[a]), int(ends[a])):
            window = pool[a, lo : hi + 1].astype(np.int64)
            left = int(window.sum())
            u = uniforms(key, uid[j : j + 1])[0]
            target = min(int(u * left), left - 1)
            t = lo + int(np.searchsorted(np.cumsum(window), target, side="right"))
            pool[a, t] -= 1
            avail[a] -= 1
            enc[j], t_last[j] = 1, t
            flags[j] |= np.uint8(pp.INHERITED)


def spawn_numpy(
    start: int,
    counts: np.ndarray,
    day: int,
    seed: int,
    demo_cdf: np.ndarray,
    darien_p: np.ndarray,
    air_p: np.ndarray,
    days_south: float,
    days_darien: float,
    days_air: float,
    days_mexico: float,
    spread: float,
    south_cdf: np.ndarray,
    south_month_row: np.ndarray,
    south_travel: np.ndarray,
    south_spread: float,
    ppl: People,
) -> None:
    """NumPy reference of :func:`corridor.model.departure.spawn_nb`."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return
    a = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts
    k = np.arange(total, dtype=np.int64) - np.repeat(offsets, counts)
    u_id = (np.int64(day) << 28) | (a << 24) | k
    sl = slice(start, start + total)

    u = uniforms(day_key(seed, STREAM["departure_demographic"], day), u_id)
    ge = u[:, None] >= demo_cdf[a, :3]
    d = np.where(ge.all(axis=1), 3, np.argmin(ge, axis=1))
    z = normal(day_key(seed, STREAM["travel_time"], day), u_id)
    u_route = uniforms(day_key(seed, STREAM["departure_darien"], day), u_id)
    mexican = a == 0
    darien = (u_route < darien_p[a]) & ~mexican
    air = (u_route >= darien_p[a]) & (u_route < darien_p[a] + air_p[a]) & ~mexican
    north = mexican | air  # straight into Mexico, city chosen on the way
    days = np.where(mexican, days_mexico, np.where(air, days_air, days_south))
    days = np.where(darien, days_darien, days)
    trip = np.maximum(1, (days * np.exp(spread * z)).astype(np.int64))

    uid[sl] = u_id
    nat[sl] = a
    demo[sl] = d
    flags[sl] = np.where(darien, pp.DARIEN, 0)
    enc[sl] = 0
    expl[sl] = 0
    rem[sl] = 0
    t_last[sl] = -1
    t_state[sl] = day
    state[sl] = np.where(north, pp.MEXICO_TRANSIT, pp.TRAVEL_SOUTH)
    place[sl] = np.where(north, 255, 0)
    t_next[sl] = (day + trip).astype(np.int16)
    wake[sl] = np.where(north, -1, t_next[sl])
    thr[sl] = np.where(north, pp.UNARMED, pp.NONE)
    thr_reg[sl] = _south_trips(
        seed, t_next[sl], u_id, ~north, south_cdf, south_month_row, south_travel, south_spread
    )


def _south_trips(
    seed: int,
    arrive: np.ndarray,
    uids: np.ndarray,
    south: np.ndarray,
    city_cdf: np.ndarray,
    month_row: np.ndarray,
    travel: np.ndarray,
    spread: float,
) -> np.ndarray:
    """NumPy reference of :func:`corridor.model.transit.south_trip_nb` for the departures
    going ``south`` (``pp.NONE`` for the rest and for arrivals after the run's last day): the
    trip north each would draw on the day they ``arrive`` at the southern border."""
    out = np.full(arrive.shape, pp.NONE, dtype=np.float32)
    arrive = arrive.astype(np.int64)
    for day in np.unique(arrive[south & (arrive < month_row.shape[0])]):
        i = np.flatnonzero(south & (arrive == day))
        cdf = city_cdf[month_row[day]]
        u = uniforms(day_key(seed, STREAM["city_choice"], int(day)), uids[i])
        c = _choose(u * cdf[-1], cdf)
        z = normal(day_key(seed, STREAM["travel_time"], int(day)), uids[i])
        days = np.maximum(1, (travel[c] * np.exp(spread * z)).astype(np.int64))
        out[i] = np.where(days < tr.TRIP_DAYS, c * tr.TRIP_DAYS + days, pp.NONE)
    return out


# --- transit --------------------------------------------------------------------------------


def transit_numpy(
    n: int,
    day: int,
    seed: int,
    city_cdf: np.ndarray,
    travel: np.ndarray,
    p_south: float,
    h_cum: np.ndarray,
    cap: int,
    deport_left: int,
    deport_p: np.ndarray,
    detention_days: float,
    restart_days: float,
    spread: float,
    ppl: People,
    flows: np.ndarray,
) -> tuple[int, int]:
    """NumPy reference of :func:`corridor.model.transit.transit_nb`; returns (apprehended,
    deported)."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    streams = (
        "mexico_apprehension",
        "mexico_deportation",
        "city_choice",
        "travel_time",
        "mexico_release_city",
        "mexico_release_time",
        "interior_threshold",
    )
    key = {name: day_key(seed, STREAM[name], day) for name in streams}
    s = state[:n].copy()  # everyone acts on the state they woke up in
    u = uid[:n]
    a = nat[:n].astype(np.int64)
    due = _days(t_next[:n]) <= day
    u_app = uniforms(key["mexico_apprehension"], u)
    u_city = uniforms(key["city_choice"], u)

    def trip(idx: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.maximum(1, (travel[idx] * np.exp(spread * z)).astype(np.int64))

    def arm(i: np.ndarray, first: int, counter: int) -> None:
        """INM's interior threshold for those on the road from ``first`` (none for Mexicans)."""
        before = h_cum[first - 1] if first > 0 else 0.0
        drawn = _threshold(before, key["interior_threshold"], 2 * u[i] + counter)
        thr[i] = np.where(a[i] == 0, pp.NONE, drawn)

    # Arrivals at Tapachula (the Darien counted on the way).
    south = (s == pp.TRAVEL_SOUTH) & due
    dar = np.flatnonzero(south & ((flags[:n] & pp.DARIEN) != 0))
    _count(flows, tr._DAR, a[dar], np.full(dar.size, tr._DARIEN))
    # Mexicans and those flying in pick their city (keeping their travel time) and start
    # on the road at once.
    transit = s == pp.MEXICO_TRANSIT
    fresh = np.flatnonzero(transit & (place[:n] == 255))
    place[fresh] = tr._FIRST_CITY + _choose(u_city[fresh] * city_cdf[-1], city_cdf)
    arm(fresh, day, 0)
    arrive = transit & due
    # INM's apprehensions: Tapachula and the interior share one daily capacity, in index order.
    inside = transit & ~arrive & (h_cum[day] >= thr[:n])
    want = (south & (u_app < p_south)) | inside
    caught = _first_within(want, cap)
    det_days = day + int(detention_days)

    thr_reg[np.flatnonzero(south)] = pp.NONE  # the trip north drawn ahead: drawn again here
    i = np.flatnonzero(south & caught)
    state[i], place[i], t_state[i], t_next[i] = pp.MEXICO_DETAINED, tr._TAPACHULA, day, det_days
    _count(flows, tr._APP, a[i], place[i])

    i = np.flatnonzero(south & ~caught)
    c = _choose(u_city[i] * city_cdf[-1], city_cdf)
    state[i], t_state[i], place[i] = pp.MEXICO_TRANSIT, day, tr._FIRST_CITY + c
    t_next[i] = (day + trip(c, normal(key["travel_time"], u[i]))).astype(np.int16)
    arm(i, day + 1, 0)

    i = np.flatnonzero(arrive)
    state[i], t_state[i] = pp.WAITING, day
    thr[i], thr_reg[i] = pp.PENDING, pp.NONE
    _count(flows, tr._ARR, a[i], place[i])

    i = np.flatnonzero(transit & caught)
    state[i], place[i], t_state[i], t_next[i] = pp.MEXICO_DETAINED, tr._TRANSIT, day, det_days
    thr[i] = pp.NONE
    _count(flows, tr._APP, a[i], place[i])
    arm(np.flatnonzero(inside & ~caught), day + 1, 1)  # INM full today: a fresh threshold

    # Release or deportation of those whose detention ends, under the month's cap.
    held = (s == pp.MEXICO_DETAINED) & due
    want = held & (uniforms(key["mexico_deportation"], u) < deport_p[a])
    deported = _first_within(want, deport_left)

    i = np.flatnonzero(deported)
    _count(flows, tr._DEP, a[i], place[i])
    state[i], place[i], t_state[i] = pp.HOME, tr._HOME, day

    i = np.flatnonzero(held & ~deported)
    _count(flows, tr._REL, a[i], place[i])
    c = _choose(uniforms(key["mexico_release_city"], u[i]) * city_cdf[-1], city_cdf)
    state[i], t_state[i], place[i] = pp.MEXICO_TRANSIT, day, tr._FIRST_CITY + c
    back = day + trip(c, normal(key["mexico_release_time"], u[i])) + int(restart_days)
    t_next[i] = back.astype(np.int16)
    arm(i, day + 1, 0)
    return int(caught.sum()), int(deported.sum())


# --- staging --------------------------------------------------------------------------------


def staging_numpy(
    n: int,
    day: int,
    seed: int,
    beds: np.ndarray,
    cross: np.ndarray,  # [kind, nationality]
    give_up: np.ndarray,  # [kind, nationality]
    hazard: np.ndarray,  # [yesterday, today][kind, nationality] summed
    register_cum: np.ndarray,  # [day]
    min_wait: int,
    harm_street: float,
    shelter_factor: float,
    mpp_give_up: float,
    ppl: People,
    event: np.ndarray,
    flows: np.ndarray,
) -> None:
    """NumPy reference of :func:`corridor.model.staging.staging_nb`."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    u = uid[:n]
    a = nat[:n].astype(np.int64)
    s = state[:n].copy()
    event[:n] = 0
    here = np.flatnonzero((s == pp.WAITING) | (s == pp.MPP))
    city = place[here].astype(np.int64) - sg._FIRST_CITY
    waiting = np.zeros((cross.shape[1], beds.shape[0]), dtype=np.int64)
    np.add.at(waiting, (a[here], city), 1)
    exposed = shelter_split(beds, waiting)  # [on the street, in a shelter]
    k_harm = day_key(seed, STREAM["harm"], day)
    for b, g, c in zip(*np.nonzero(exposed), strict=True):
        cell = (b * exposed.shape[1] + g) * exposed.shape[2] + c
        rate = harm_street * shelter_factor if b else harm_street
        flows[sg._HARM, g, sg._FIRST_CITY + c] += binomial(k_harm, cell, exposed[b, g, c], rate)

    u_give = uniforms(day_key(seed, STREAM["give_up"], day), u)
    quit_mpp = (s == pp.MPP) & (u_give < mpp_give_up)

    k_thr = day_key(seed, STREAM["crossing_threshold"], day)
    f = flags[:n]
    kind = np.select(
        [(f & pp.EXPELLED) != 0, (f & pp.RETURNED) != 0, (f & pp.CBP_ONE) != 0], [2, 3, 1], 0
    )
    waits = s == pp.WAITING
    # Past the minimum wait with no thresholds yet: draw them.
    arm = np.flatnonzero(waits & np.isnan(thr[:n]) & (day - _days(t_state[:n]) >= min_wait))
    thr[arm] = _threshold(hazard[0, kind[arm], a[arm]], k_thr, 2 * u[arm])
    reg_before = register_cum[day - 1] if day > 0 else 0.0
    k_reg = day_key(seed, STREAM["cbp_one_register"], day)
    fresh = arm[(f[arm] & pp.CBP_ONE) == 0]
    thr_reg[fresh] = _threshold(reg_before, k_reg, u[fresh])
    thr_reg[arm[(f[arm] & pp.CBP_ONE) != 0]] = pp.NONE
    # Registering: a new arrival becomes a registrant, with a new threshold on that sum.
    reg = np.flatnonzero(waits & (register_cum[day] >= thr_reg[:n]))
    flags[reg] |= _U8(pp.CBP_ONE)
    thr_reg[reg] = pp.NONE
    new = reg[kind[reg] == 0]
    kind[new] = 1
    thr[new] = _threshold(hazard[0, 1, a[new]], k_thr, 2 * u[new] + 1)
    # Crossing or giving up, once the kind's summed hazard reaches the threshold.
    go = waits & (hazard[1, kind, a] >= thr[:n])
    p_cross = cross[kind, a]
    p_any = 1.0 - (1.0 - p_cross) * (1.0 - give_up[kind, a])
    u_cross = uniforms(day_key(seed, STREAM["cross_decision"], day), u)
    crosses = go & (u_cross * p_any < p_cross)
    quit_wait = go & ~crosses
    event[:n][crosses] = CROSS
    i = np.flatnonzero(go)
    thr[i], thr_reg[i] = pp.PENDING, pp.NONE

    i = np.flatnonzero(quit_wait)
    flags[i] &= _U8(~np.uint8(pp.CBP_ONE))
    i = np.flatnonzero(quit_mpp | quit_wait)
    state[i] = pp.HOME
    t_state[i] = day
    _count(flows, sg._GAVE_UP, a[i], place[i])
    place[i] = sg._HOME


# --- encounter ------------------------------------------------------------------------------


def lottery_numpy(
    key: np.uint64,
    n: int,
    state: np.ndarray,
    flags: np.ndarray,
    uid: np.ndarray,
    slots: int,
    event: np.ndarray,
) -> int:
    """NumPy reference of :func:`corridor.model.encounter.lottery_nb`, by
    :func:`corridor.model.encounter.lottery` (a sort by (priority, uid))."""
    cand = np.flatnonzero((state[:n] == pp.WAITING) & ((flags[:n] & pp.CBP_ONE) != 0))
    won = lottery(key, uid, cand, slots)
    event[won] = OFO_APPT
    return int(won.size)


def sector_of_numpy(
    uid: np.ndarray,
    city: np.ndarray,
    seed: int,
    alt: np.ndarray,
    primary: np.ndarray,
    second: np.ndarray,
) -> np.ndarray:
    """NumPy reference of :func:`corridor.model.encounter.sector_of` for many people."""
    u = uniforms(day_key(seed, STREAM["sector_choice"], 0), uid)
    return np.where(u < alt[city], second[city], primary[city])


def encounter_numpy(
    n: int,
    day: int,
    seed: int,
    port_share: float,
    gotaway: np.ndarray,
    alt: np.ndarray,
    primary: np.ndarray,
    second: np.ndarray,
    ppl: People,
    event: np.ndarray,
    flows: np.ndarray,
) -> None:
    """NumPy reference of :func:`corridor.model.encounter.encounter_nb`."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    i = np.flatnonzero(event[:n] == CROSS)
    a = nat[i].astype(np.int64)
    u = uniforms(day_key(seed, STREAM["usbp_apprehension"], day), uid[i])
    port = u < port_share
    away = ~port & (u < port_share + (1.0 - port_share) * gotaway[a])
    event[i] = np.where(port, OFO, USBP)

    j = i[away]
    city = place[j].astype(np.int64) - en._FIRST_CITY
    sec = sector_of_numpy(uid[j], city, seed, alt, primary, second)
    _count(flows, en._GOT, a[away], sec)
    state[j] = pp.IN_US
    place[j] = sec
    event[j] = 0


# --- processing -----------------------------------------------------------------------------

_RELEASE, _EXPEL_MX, _EXPEL_FLIGHT = pr._RELEASE, pr._EXPEL_MX, pr._EXPEL_FLIGHT
_RETURN_MX, _TO_MPP, _CUSTODY, _EMERGENCY = pr._RETURN_MX, pr._TO_MPP, pr._CUSTODY, pr._EMERGENCY


def decide_numpy(
    u1: np.ndarray,
    u2: np.ndarray,
    nat: np.ndarray,
    demo: np.ndarray,
    ev: np.ndarray,
    t42: bool,
    emergency: bool,
    accepts: np.ndarray,
    takeback: np.ndarray,
    takeback_ok: bool,
    mpp: float,
    removal_share: float,
    flights: np.ndarray,
    beds_ok: bool,
    room: np.ndarray,
    t42_share: np.ndarray,
    mex_adult: float,
    mex_family: float,
) -> np.ndarray:
    """Vectorised ``processing._decide`` given whether take-backs and beds are left and the
    flight room by nationality: the first rule that applies, in the kernel's order
    (``np.select``)."""
    uac = demo == pr._UAC
    appt = ev == OFO_APPT
    between = ev == USBP
    mex = nat == 0
    accepted = accepts[nat] > 0
    taken_back = (takeback[nat] > 0) & takeback_ok
    flight_bed = (flights[nat] > 0) & beds_ok
    emer = emergency & between
    expel = t42 & (u1 < t42_share[demo])
    mex_share = np.where(demo == pr._SA, mex_adult, mex_family)
    rules = [
        (uac, _RELEASE),
        (appt, _RELEASE),
        (emer & (mex | accepted | taken_back), _EMERGENCY),
        (emer & flight_bed, _CUSTODY),
        (emer, _RELEASE),
        (expel & accepted, _EXPEL_MX),
        (expel & flight_bed & (room[nat] > 0), _EXPEL_FLIGHT),
        (mex & (u2 < mex_share), _RETURN_MX),
        (mex, _RELEASE),
        (u2 < mpp, _TO_MPP),
        ((u2 < mpp + removal_share) & flight_bed & (room[nat] > 0), _CUSTODY),
        ((u2 < mpp + removal_share) & taken_back & between, _RETURN_MX),
        ((u2 < mpp + removal_share) & flight_bed, _CUSTODY),
    ]
    return np.select([c for c, _ in rules], [o for _, o in rules], _RELEASE)


def processing_numpy(
    n: int,
    day: int,
    seed: int,
    month_of_day: np.ndarray,
    t42: bool,
    emergency: bool,
    accepts: np.ndarray,
    takeback: np.ndarray,
    takeback_left: int,
    mpp: float,
    removal_share: float,
    flights: np.ndarray,
    beds_left: int,
    flight_room: np.ndarray,
    t42_share: np.ndarray,
    mex_adult: float,
    mex_family: float,
    hearing_days: int,
    alt: np.ndarray,
    primary: np.ndarray,
    second: np.ndarray,
    ppl: People,
    event: np.ndarray,
    flows: np.ndarray,
    cbp: np.ndarray,
) -> tuple[int, int]:
    """NumPy reference of :func:`corridor.model.processing.processing_nb`; returns (taken back,
    admitted to custody).

    Take-backs, beds and each nationality's flight room are used in index order and an
    encounter's outcome depends on whether any are left. The counters only fall, so: decide
    every remaining encounter with today's flags, find the first encounter after which a
    counter reaches zero, keep the outcomes up to it and decide the rest again with the
    counters as they are then. At most three spans plus one per nationality.
    """
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    i = np.flatnonzero((event[:n] == USBP) | (event[:n] == OFO) | (event[:n] == OFO_APPT))
    ev = event[i].copy()
    event[i] = 0
    a = nat[i].astype(np.int64)
    d = demo[i].astype(np.int64)
    city = place[i].copy()
    c = city.astype(np.int64) - pr._FIRST_CITY
    sec = sector_of_numpy(uid[i], c, seed, alt, primary, second)

    # The encounter counts.
    usbp = ev == USBP
    _count(flows, pr._E_USBP, a[usbp], sec[usbp])
    _count(flows, pr._E_OFO, a[~usbp], sec[~usbp])
    appt = ev == OFO_APPT
    _count(flows, pr._APPT, a[appt], sec[appt])
    last = _days(t_last[i])
    seen = last >= 0
    repeat = seen & (day - last <= 365)
    _count(flows, pr._REP, a[repeat], sec[repeat])
    inherited = (flags[i] & pp.INHERITED) != 0
    unique = ~seen | (month_of_day[np.maximum(last, 0)] != month_of_day[day]) | inherited
    _count(flows, pr._UNIQ, a[unique], sec[unique])
    t_last[i] = day
    flags[i] &= np.uint8(~np.uint8(pp.INHERITED))
    _bump(enc, i)

    # Outcomes, span by span while the capacity flags hold.
    u1 = uniforms(day_key(seed, STREAM["processing"], day), uid[i])
    u2 = uniforms(day_key(seed, STREAM["removal_queue"], day), uid[i])
    out = np.full(i.size, _RELEASE, dtype=np.int64)
    shares = (t42_share, mex_adult, mex_family)
    taken = admitted = 0
    room = flight_room  # used in place, as the kernel does
    lo = 0
    while lo < i.size:
        tb_ok = takeback_left - taken > 0
        bed_ok = beds_left - admitted > 0
        sl = slice(lo, None)
        rules = (t42, emergency, accepts, takeback, tb_ok, mpp, removal_share, flights, bed_ok)
        o = decide_numpy(u1[sl], u2[sl], a[sl], d[sl], ev[sl], *rules, room, *shares)
        takes = ((o == _RETURN_MX) | (o == _EMERGENCY)) & (a[sl] != 0)
        takes &= (o == _RETURN_MX) | (accepts[a[sl]] == 0)
        beds = (o == _EXPEL_FLIGHT) | (o == _CUSTODY)
        cum_t = taken + np.cumsum(takes)
        cum_b = admitted + np.cumsum(beds)
        # each nationality's room after each encounter (only admissions use it)
        used = np.zeros((o.size, room.size), dtype=np.int64)
        used[np.flatnonzero(beds), a[sl][beds]] = 1
        room_after = room[a[sl]] - np.cumsum(used, axis=0)[np.arange(o.size), a[sl]]
        ends = (tb_ok & (cum_t >= takeback_left)) | (bed_ok & (cum_b >= beds_left))
        ends |= beds & (room[a[sl]] > 0) & (room_after <= 0)
        hi = int(np.argmax(ends)) + 1 if ends.any() else o.size  # last decided this span
        out[lo : lo + hi] = o[:hi]
        taken, admitted = int(cum_t[hi - 1]), int(cum_b[hi - 1])
        np.subtract.at(room, a[sl][:hi][beds[:hi]], 1)
        lo += hi

    title = ((out == _EXPEL_MX) | (out == _EXPEL_FLIGHT)).astype(np.int64)
    np.add.at(cbp, (np.where(usbp, 0, 1), title, d, a), 1)

    j = out == _RELEASE
    _count(flows, pr._REL, a[j], sec[j])
    state[i[j]], place[i[j]] = pp.IN_US, pr._US

    j = out == _EXPEL_MX
    _count(flows, pr._T42, a[j], sec[j])
    _count(flows, pr._RET, a[j], city[j])
    _bump(expl, i[j])
    flags[i[j]] = (flags[i[j]] | pp.EXPELLED) & _U8(~np.uint8(pp.RETURNED))
    state[i[j]], t_state[i[j]] = pp.WAITING, day
    thr[i[j]], thr_reg[i[j]] = pp.PENDING, pp.NONE

    j = out == _EXPEL_FLIGHT
    _count(flows, pr._T42, a[j], sec[j])
    flags[i[j]] |= _U8(pp.EXPELLED)
    j = out == _CUSTODY
    flags[i[j]] &= _U8(~np.uint8(pp.EXPELLED))
    j = (out == _EXPEL_FLIGHT) | (out == _CUSTODY)
    _count(flows, pr._DET, a[j], sec[j])
    state[i[j]], place[i[j]], t_state[i[j]] = pp.US_CUSTODY, sec[j], day

    emer = out == _EMERGENCY
    j = (out == _RETURN_MX) | emer
    _count(flows, pr._EMER, a[emer], city[emer])
    _count(flows, pr._RET, a[j], city[j])  # an emergency return is a return too
    _bump(rem, i[j])

    mpp_ = out == _TO_MPP
    _count(flows, pr._MPP, a[mpp_], city[mpp_])
    _count(flows, pr._RET, a[mpp_], city[mpp_])
    j = j | mpp_
    flags[i[j]] = (flags[i[j]] | pp.RETURNED) & _U8(~np.uint8(pp.EXPELLED))
    state[i[j]], t_state[i[j]] = np.where(mpp_[j], pp.MPP, pp.WAITING), day
    back = i[j & ~mpp_]
    thr[back], thr_reg[back] = pp.PENDING, pp.NONE
    t_next[i[mpp_]] = day + hearing_days
    return taken, admitted


# --- removal --------------------------------------------------------------------------------


def removal_numpy(
    n: int, day: int, seats: np.ndarray, max_days: int, ppl: People, flows: np.ndarray
) -> int:
    """NumPy reference of :func:`corridor.model.removal.removal_nb`; returns how many left
    custody. Flights board each nationality's first ``seats`` in FIFO order (custody start
    day, ties by array order: a stable sort)."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    left = 0
    n_nat = seats.shape[0]
    if seats.sum() > 0:
        cust = np.flatnonzero(state[:n] == pp.US_CUSTODY)
        fifo = cust[np.argsort(t_state[cust], kind="stable")]
        a = nat[fifo].astype(np.int64)
        known = a < n_nat
        board = known & (_rank_within(a) < seats[np.where(known, a, 0)])
        i = fifo[board]
        _count(flows, rm._REM, a[board], place[i])
        state[i], place[i], t_state[i] = pp.HOME, rm._HOME, day
        _bump(rem, i)
        left += i.size
    i = np.flatnonzero((state[:n] == pp.US_CUSTODY) & (day - _days(t_state[:n]) >= max_days))
    _count(flows, rm._REL, nat[i], place[i])
    state[i], place[i] = pp.IN_US, rm._US
    return left + i.size


# --- bookkeeping ----------------------------------------------------------------------------


def hearing_numpy(
    n: int, day: int, seed: int, relief: float, home_after: float, ppl: People, flows: np.ndarray
) -> None:
    """MPP hearings due today (the first part of :func:`end_of_day_numpy`)."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    thr, thr_reg = ppl[13], ppl[14]
    i = np.flatnonzero((state[:n] == pp.MPP) & (_days(t_next[:n]) <= day))
    u = uniforms(day_key(seed, STREAM["mpp_hearing"], day), uid[i])
    granted = u < relief
    home = ~granted & (u < relief + (1.0 - relief) * home_after)
    again = ~granted & ~home

    j = i[granted]
    _count(flows, bk._REL, nat[j], place[j])
    state[j], place[j] = pp.IN_US, bk._US
    j = i[home]
    _count(flows, bk._GAVE_UP, nat[j], place[j])
    state[j], place[j], t_state[j] = pp.HOME, bk._HOME, day
    j = i[again]
    state[j], t_state[j] = pp.WAITING, day
    thr[j], thr_reg[j] = pp.PENDING, pp.NONE


def stocks_numpy(n: int, ppl: People, stocks: np.ndarray, beds: np.ndarray) -> None:
    """End-of-day head counts (the second part of :func:`end_of_day_numpy`); those waiting in
    a shelter or on the street by :func:`shelter_split` of today's ``beds``."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    s, a, c, f = state[:n], nat[:n], place[:n], flags[:n]
    city = (s == pp.WAITING) | (s == pp.MPP)
    registered = (s == pp.WAITING) & ((f & pp.CBP_ONE) != 0)
    waiting = np.zeros((stocks.shape[1], beds.shape[0]), dtype=np.int64)
    np.add.at(waiting, (a[city].astype(np.int64), c[city].astype(np.int64) - bk._FIRST_CITY), 1)
    split = shelter_split(beds, waiting)
    cities = slice(bk._FIRST_CITY, bk._FIRST_CITY + beds.shape[0])
    stocks[bk._S_STREET, :, cities] += split[0].astype(stocks.dtype)
    stocks[bk._S_SHELTER, :, cities] += split[1].astype(stocks.dtype)
    for series, who, where in (
        (bk._S_WAIT, city, c),
        (bk._S_MPP, s == pp.MPP, c),
        (bk._S_CBP1, registered, c),
        (bk._S_TRANSIT, s == pp.MEXICO_TRANSIT, np.full(n, bk._TRANSIT)),
        (bk._S_SOUTH, s == pp.TRAVEL_SOUTH, np.full(n, bk._ORIGIN)),
        (bk._S_MXDET, s == pp.MEXICO_DETAINED, c),
        (bk._S_CUSTODY, s == pp.US_CUSTODY, c),
    ):
        _count(stocks, series, a[who], where[who])


def pool_numpy(n: int, ppl: People, pool: np.ndarray) -> None:
    """NumPy reference of :func:`corridor.model.departure.home_to_pool_nb` over everyone."""
    state, t_state, t_last = ppl[3][:n], ppl[10][:n], ppl[11][:n]
    home = np.flatnonzero((state == pp.HOME) & (t_last >= 0))
    np.add.at(pool, (ppl[1][home].astype(np.int64), t_state[home].astype(np.int64)), 1)


def end_of_day_numpy(
    n: int,
    day: int,
    seed: int,
    relief: float,
    home_after: float,
    ppl: People,
    flows: np.ndarray,
    stocks: np.ndarray,
    hist: np.ndarray,
    pool: np.ndarray,
    beds: np.ndarray,
    shelter: np.ndarray,
) -> int:
    """NumPy reference of :func:`corridor.model.bookkeeping.end_of_day_nb`: hearings, then
    head counts, then the pool of those sent home, then compaction, each over everyone
    (``hist`` and ``shelter`` are the kernel's scratch; ``beds`` today's by city)."""
    hearing_numpy(n, day, seed, relief, home_after, ppl, flows)
    stocks_numpy(n, ppl, stocks, beds)
    pool_numpy(n, ppl, pool)
    return pp.compact_numpy(n, dict(zip(pp.FIELDS, ppl, strict=True)))
