"""The day's pass over the people for the fused driver: transit, then staging, on one thread or
split over threads, with the same results bit for bit.

Most people have nothing happen on most days: they are on the road until their arrival day, or
wait for a summed hazard to reach their threshold (``transit.due_nb``, ``staging.due_nb``). The
pass (one loop: each person's transit, then their staging) looks at the few fields that say so
and calls the day's kernels only for those due; the head counts are kept up to date as people
change (a person's histogram cell before and after), not recounted daily, and those sent home
join the returnee pool as they go.

Most people are not even looked at: each carries a wake-up day (``wake``), the first day after
their last look that anything may be due, and the pass skips everyone whose day has not come
(one comparison). It is exact on the road (the arrival day, or the day INM's scheduled summed
hazard reaches the threshold) and for CBP One registration, and a lower bound for crossing or
giving up, whose daily hazards depend on the border news: the sum cannot grow by more than
``staging.hazard_max`` a day, so no one is due before, and on the day the pass looks it sets
the next. Results are those of looking at everyone every day, bit for
bit; whoever another phase changes (encounter and processing) is looked at the next day.

Split over threads, each takes a contiguous range of the people arrays. Two things depend on
the order of the people, and the split keeps the serial order for each:

- INM's daily caps on apprehensions and deportations go in array order. A thread leaves
  untouched anyone whose draw INM would act on (``transit_person_nb(defer=True)``) and lists
  them; after the threads, those are done one by one in array order with the day's caps.
  Nobody else touches the caps, so the counts and who is taken are those of one thread.
- The lists the rest of the day reads (who crosses, who enters the CBP One lottery, who is in
  custody, whose hearing is due) are written from each range's start and closed up in order.

Counts into the flow tables and the changes of head counts are sums: each thread after the
first adds into its own copy, added into the day's after the threads. The returnee pool is
filled after the threads, from each range's list of those absorbed.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.series import F
from corridor.engine.simd import below_bits64, compress64, list_due16, list_state_flag16
from corridor.model import staging, transit
from corridor.model.bookkeeping import (
    count_key_nb,
    moved_nb,
    recount_nb,
    waiting_from_counts_nb,
)
from corridor.model.departure import home_to_pool_nb, pool_once_nb
from corridor.model.places import BORDER_CITIES, PLACE
from corridor.model.staging import shelter_split_nb, staging_keys_nb, staging_person_nb
from corridor.model.transit import HELD, transit_keys_nb, transit_person_nb

_ARR = F["arrivals_border"]
_FIRST_CITY = PLACE[BORDER_CITIES[0]]
# Below this many people a day, one thread: a day's split costs ~5-10 us of starting threads
# and ~20 us of adding the ranges' counts together, more than a day of 30,000 people saves
# (A/B at scales 10 and 100, docs/profile.md).
SPLIT_MIN = 30000
# Ranges a day is split into; None: numba's thread count (tests set more ranges than threads).
SPLIT: int | None = None


_ALL64 = np.uint64(0xFFFFFFFFFFFFFFFF)  # a block of 64 people all kept


@pp.loop_nb
def compact_nb(n, ppl, pool):
    """Move the people down over the absorbed (those sent home go into ``pool``), keeping
    their order; returns the new length. 64 people a step, each field moved by a vector
    compress (:func:`corridor.engine.simd.compress64`); the rest one by one."""
    state, t_last = ppl[3], ppl[11]
    j = 0
    k = 0
    while k + 64 <= n:
        unpooled = False  # anyone sent home and not yet pooled (never, after pool_once_nb)
        for x in range(k, k + 64):
            unpooled |= (state[x] == pp.HOME) & (t_last[x] >= 0)
        if unpooled:
            for x in range(k, k + 64):
                if state[x] >= pp.N_ACTIVE_STATES:
                    home_to_pool_nb(x, ppl, pool)
        keep = below_bits64(state, k, pp.N_ACTIVE_STATES)
        if j == k and keep == _ALL64:  # nobody to move yet
            j += 64
        else:
            j = _compress_people_nb(ppl, k, keep, j)
        k += 64
    for x in range(k, n):
        if state[x] >= pp.N_ACTIVE_STATES:
            home_to_pool_nb(x, ppl, pool)
            continue
        if j != x:
            pp.move_nb(ppl, x, j)
        j += 1
    return j


@pp.helper_nb
def _compress_people_nb(ppl, k, keep, j):
    """People ``k .. k + 63`` marked in ``keep`` moved down to ``j`` on, every field
    (:func:`corridor.engine.people.move_nb` for 64 at once); returns the new ``j``."""
    compress64(ppl[0], k, keep, j)
    compress64(ppl[1], k, keep, j)
    compress64(ppl[2], k, keep, j)
    compress64(ppl[4], k, keep, j)
    compress64(ppl[5], k, keep, j)
    compress64(ppl[6], k, keep, j)
    compress64(ppl[7], k, keep, j)
    compress64(ppl[8], k, keep, j)
    compress64(ppl[9], k, keep, j)
    compress64(ppl[10], k, keep, j)
    compress64(ppl[11], k, keep, j)
    compress64(ppl[12], k, keep, j)
    compress64(ppl[13], k, keep, j)
    compress64(ppl[14], k, keep, j)
    return compress64(ppl[3], k, keep, j)  # the state last: ``keep`` was read from it


@pp.person_nb
def _moved_nb(i, k0, ppl, counts, pool, gone, at):
    """:func:`corridor.model.bookkeeping.moved_nb`; or, with a ``gone`` list (a thread's
    range, which must not write the shared pool), the head count moved and, if absorbed, the
    person listed at ``gone[at]`` for the caller to pool. Returns how many were listed."""
    if gone.shape[0] == 0:
        moved_nb(i, k0, ppl, counts, pool)
        return 0
    k1 = count_key_nb(i, ppl)
    recount_nb(k0, k1, counts)
    if k1 < 0:
        gone[at] = i
        return 1
    return 0


@pp.person_nb
def _wake_nb(i, day, h_cum, hazard, h_max, register_cum, min_wait, ppl):
    """The first day after ``day`` the pass need look at person ``i`` again (no earlier day
    can have anything due for them): on the road or waiting, from their thresholds and the
    schedules (:func:`corridor.model.transit.wake_nb`, :func:`corridor.model.staging.wake_nb`);
    in US custody or under MPP, tomorrow (listed, or a daily draw); absorbed, never."""
    s = ppl[3][i]
    if s <= pp.MEXICO_DETAINED:
        w = transit.wake_nb(i, day, h_cum, ppl)
    elif s == pp.WAITING:
        w = staging.wake_nb(i, day, hazard, h_max, register_cum, min_wait, ppl)
    elif s < pp.N_ACTIVE_STATES:
        w = day + 1
    else:
        w = pp.NEVER
    return min(w, pp.NEVER)


@pp.loop_nb
def candidates_nb(n, state, flags, cand):
    """Who may enter today's CBP One lottery (registered and waiting), after the day's pass,
    into ``cand`` in array order; returns how many. Without branches, 16 people a step
    (:func:`corridor.engine.simd.list_state_flag16`)."""
    m = 0
    end = n - n % 16
    for i in range(0, end, 16):  # 16 at a time: engine/simd.py
        m = list_state_flag16(state, pp.WAITING, flags, pp.CBP_ONE, i, cand, m)
    for i in range(end, n):
        cand[m] = i
        m += (state[i] == pp.WAITING) & ((flags[i] & pp.CBP_ONE) != 0)
    return m


@pp.loop_nb
def due_list_nb(lo, hi, day, wake, look):
    """Everyone in ``lo..hi - 1`` whose wake-up day has come, into ``look`` from index ``lo``
    in array order; returns how many. Without branches (most people most days are not due,
    and the few who are fall at random places: a branch on each would mispredict), 16 people
    a step (:func:`corridor.engine.simd.list_due16`; ``look`` gets junk past the count, never
    past ``hi``)."""
    at = lo
    end = hi - (hi - lo) % 16
    for i in range(lo, end, 16):  # 16 at a time: engine/simd.py
        at = list_due16(wake, i, day, look, at)
    for i in range(end, hi):
        look[at] = i
        at += wake[i] <= day
    return at - lo


@pp.person_nb
def _travel_nb(i, day, t_keys, tra, cap, deport_left, ppl, flows, apprehended, deported, defer):
    """:func:`corridor.model.transit.transit_person_nb` with the pass's arguments."""
    return transit_person_nb(
        i,
        day,
        t_keys,
        tra.city_cdf[tra.month_row[day]],
        tra.travel,
        tra.p_south[day],
        tra.h_cum,
        cap,
        deport_left,
        tra.deport_p,
        tra.detention_days,
        tra.restart_days,
        tra.spread,
        ppl,
        flows,
        apprehended,
        deported,
        defer,
    )


@pp.person_nb
def _stage_nb(i, day, s_keys, cross, give_up, stg, ppl, flows):
    """:func:`corridor.model.staging.staging_person_nb` with the pass's arguments."""
    return staging_person_nb(
        i,
        day,
        s_keys,
        cross,
        give_up,
        stg.hazard,
        stg.register_cum,
        stg.min_wait,
        stg.mpp_give_up,
        ppl,
        flows,
    )


@pp.loop_nb
def pass_range_nb(
    lo,
    hi,
    day,
    t_keys,
    s_keys,
    defer,
    counts,
    ppl,
    flows,
    tra,
    cap,
    deport_left,
    stg,
    cross,
    give_up,
    pool,
    look,
    held,
    gone,
    crossers,
    cust,
    due,
):
    """People ``lo`` to ``hi - 1``, those due today: their day on the road, then at the border
    (a person's staging reads nothing another's transit changes), with their head counts moved
    in ``counts`` (flat) and those sent home into ``pool`` (with a non-empty ``gone``: listed
    there from index ``lo``, for the caller to pool). ``defer``: INM's cap-bound cases go
    into ``held`` from index ``lo`` (they never reach the border today). The lists the day
    reads are written from index ``lo``, and so are the rows of ``look`` (scratch [2, people]:
    who is due today, on the road, waiting).
    Returns the lengths of (held, gone), INM's (apprehensions, deportations), and the
    lengths of (crossers, cust, due)."""
    state, t_next, wake = ppl[3], ppl[9], ppl[12]
    h_cum = tra.h_cum
    hazard, register_cum, min_wait = stg.hazard, stg.register_cum, stg.min_wait
    h_max = stg.hazard_max
    road, waits = look[0], look[1]
    n_held = 0
    n_gone = 0
    apprehended = 0
    deported = 0
    n_cross = 0
    n_due = 0
    # Who is due, split by what they are doing, each part in array order: one loop a part,
    # so that the branches on the state (mixed in array order) are not taken person by
    # person. The parts are written without branches, in place (never ahead of the reading).
    n_road = 0
    n_wait = 0
    n_cust = 0
    n_mpp = 0
    for x in range(lo, lo + due_list_nb(lo, hi, day, wake, road)):
        i = pp.index_nb(road[x])
        s = state[i]
        road[lo + n_road] = i
        n_road += s <= pp.MEXICO_DETAINED
        waits[lo + n_wait] = i
        n_wait += s == pp.WAITING
        cust[lo + n_cust] = i  # in US custody: listed daily, nothing else here
        n_cust += s == pp.US_CUSTODY
        due[lo + n_mpp] = i  # under MPP: their loop below keeps those with a hearing due
        n_mpp += s == pp.MPP
        if s >= pp.N_ACTIVE_STATES:  # absorbed (only on a call's first day): never again
            wake[i] = pp.NEVER
    # On the road. Those arriving at a border city with something due at once (no minimum
    # wait) go back into ``road`` (in place) for the border's loop.
    n_arr = 0
    for x in range(lo, lo + n_road):
        i = pp.index_nb(road[x])
        if not transit.due_nb(i, day, h_cum, ppl):
            wake[i] = _wake_nb(i, day, h_cum, hazard, h_max, register_cum, min_wait, ppl)
            continue
        k0 = count_key_nb(i, ppl)
        a, b = _travel_nb(
            i, day, t_keys, tra, cap, deport_left, ppl, flows, apprehended, deported, defer
        )
        if a == HELD:
            held[lo + n_held] = i
            n_held += 1
            continue
        apprehended, deported = a, b
        n_gone += _moved_nb(i, k0, ppl, counts, pool, gone, lo + n_gone)
        # (The road leaves nobody registered with CBP One: no lottery candidate.)
        if state[i] == pp.WAITING and staging.due_nb(i, day, hazard, register_cum, min_wait, ppl):
            road[lo + n_arr] = i
            n_arr += 1
            continue
        wake[i] = _wake_nb(i, day, h_cum, hazard, h_max, register_cum, min_wait, ppl)
    # Under MPP: the day's chance of giving up; those still waiting for a hearing due today
    # stay in ``due`` (in place).
    for x in range(lo, lo + n_mpp):
        i = pp.index_nb(due[x])
        k0 = count_key_nb(i, ppl)
        _stage_nb(i, day, s_keys, cross, give_up, stg, ppl, flows)
        n_gone += _moved_nb(i, k0, ppl, counts, pool, gone, lo + n_gone)
        wake[i] = _wake_nb(i, day, h_cum, hazard, h_max, register_cum, min_wait, ppl)
        if state[i] == pp.MPP and t_next[i] <= day:
            due[lo + n_due] = i
            n_due += 1
    # Waiting at the border, and today's arrivals due at once, merged in array order.
    a = lo
    b = lo
    none = np.iinfo(np.int64).max
    while a < lo + n_wait or b < lo + n_arr:
        wi = pp.index_nb(waits[a]) if a < lo + n_wait else none
        ri = pp.index_nb(road[b]) if b < lo + n_arr else none
        if wi < ri:
            i = wi
            a += 1
            if not staging.due_nb(i, day, hazard, register_cum, min_wait, ppl):
                wake[i] = _wake_nb(i, day, h_cum, hazard, h_max, register_cum, min_wait, ppl)
                continue
        else:
            i = ri
            b += 1
        k0 = count_key_nb(i, ppl)
        if _stage_nb(i, day, s_keys, cross, give_up, stg, ppl, flows):
            crossers[lo + n_cross] = i
            n_cross += 1
        n_gone += _moved_nb(i, k0, ppl, counts, pool, gone, lo + n_gone)
        # (Those crossing today are looked at tomorrow: encounter and processing say so.)
        wake[i] = _wake_nb(i, day, h_cum, hazard, h_max, register_cum, min_wait, ppl)
    return n_held, n_gone, apprehended, deported, n_cross, n_cust, n_due


@nb.njit(cache=True, parallel=True)
def _pass_split_nb(
    bounds,
    day,
    t_keys,
    s_keys,
    counts,
    counts_x,
    ppl,
    flows,
    flows_x,
    tra,
    stg,
    cross,
    give_up,
    pool,
    look,
    held,
    gone,
    crossers,
    cust,
    due,
    out,
):
    """:func:`pass_range_nb` on each range ``bounds[c]..bounds[c + 1]``, one per thread;
    range 0 writes into ``counts`` and ``flows``, range c > 0 into ``counts_x[c - 1]`` and
    ``flows_x[c - 1]``; the absorbed are listed in ``gone``. ``out[c]``: the lengths of
    (held, gone, crossers, cust, due)."""
    for c in nb.prange(bounds.shape[0] - 1):
        h = counts if c == 0 else counts_x[c - 1]
        f = flows if c == 0 else flows_x[c - 1]
        n_held, n_gone, _, _, n_cross, n_cust, n_due = pass_range_nb(
            bounds[c],
            bounds[c + 1],
            day,
            t_keys,
            s_keys,
            True,
            h,
            ppl,
            f,
            tra,
            0,
            0,
            stg,
            cross,
            give_up,
            pool,  # not written: the absorbed go into ``gone``
            look,
            held,
            gone,
            crossers,
            cust,
            due,
        )
        out[c, 0] = n_held
        out[c, 1] = n_gone
        out[c, 2] = n_cross
        out[c, 3] = n_cust
        out[c, 4] = n_due


@nb.njit(cache=True)
def _close_up(lst, bounds, lengths):
    """Move each range's part of a list (written from the range's start) down after the parts
    before it; returns the list's length."""
    k = 0
    for c in range(bounds.shape[0] - 1):
        lo = bounds[c]
        for m in range(lengths[c]):
            lst[k + m] = lst[lo + m]
        k += lengths[c]
    return k


@nb.njit(cache=True)
def _add_into(dst, src):
    """``dst += src`` over the flat arrays, and ``src`` zeroed."""
    a = dst.reshape(-1)
    b = src.reshape(-1)
    for x in range(a.shape[0]):
        if b[x] != 0:
            a[x] += b[x]
            b[x] = 0


@pp.loop_nb
def travel_and_wait_nb(
    day,
    seed,
    n,
    compact,
    split,
    hist,
    hist_x,
    ppl,
    pool,
    flows,
    flows_x,
    tra,
    cap,
    deport_left,
    stg,
    cross,
    give_up,
    exposed,
    waiting,
    lottery,
    crossers,
    cand,
    cust,
    due,
    look,
    held,
    gone,
    bounds,
    out,
):
    """Transit, then staging, for those due today. First, with ``compact``, the people move
    down over the absorbed. ``hist``: the head counts, kept up to date (ranges after the first
    move theirs in ``hist_x`` [range - 1], added in after the threads). ``split``: how many
    ranges (threads; 1 = this thread only: the driver asks for 1 on days with fewer than
    :data:`SPLIT_MIN` people); ranges after the first count flows into ``flows_x``.
    ``exposed`` gets who is exposed to harm in a shelter or on the street
    (:func:`corridor.model.staging.harm_nb`): those waiting after transit, which are those
    waiting before it and today's arrivals (``waiting``: scratch [nat, city]).

    Fills ``crossers`` (those who try to cross), ``cand`` (registered and waiting, when there
    is a ``lottery`` today), ``cust`` (in US custody) and ``due`` (MPP hearing due), in array
    order; ``look`` (who is due), ``held`` and ``gone`` (for a split day) are scratch, as
    long as the people arrays, and so are ``bounds`` [ranges + 1] and ``out`` [ranges, 5]
    (allocated once by the caller, not each day: this compiles without numba's reference
    counting, :func:`corridor.engine.people.loop_nb`). Returns (the new array length, the
    lists' lengths, INM's deportations today)."""
    if compact:
        n = compact_nb(n, ppl, pool)
    t_keys = transit_keys_nb(seed, day)
    s_keys = staging_keys_nb(seed, day)
    counts = hist.reshape(-1)
    waiting_from_counts_nb(hist, waiting)  # before anyone moves
    if split < 2:
        _, _, _, deported, n_cross, n_cust, n_due = pass_range_nb(
            0,
            n,
            day,
            t_keys,
            s_keys,
            False,
            counts,
            ppl,
            flows,
            tra,
            cap,
            deport_left,
            stg,
            cross,
            give_up,
            pool,
            look,
            crossers[:0],
            crossers[:0],
            crossers,
            cust,
            due,
        )
    else:
        counts_x = hist_x.reshape(hist_x.shape[0], -1)
        bounds = bounds[: split + 1]
        for c in range(split + 1):
            bounds[c] = n * c // split
        out = out[:split]
        out[:] = 0
        _pass_split_nb(
            bounds,
            day,
            t_keys,
            s_keys,
            counts,
            counts_x,
            ppl,
            flows,
            flows_x,
            tra,
            stg,
            cross,
            give_up,
            pool,
            look,
            held,
            gone,
            crossers,
            cust,
            due,
            out,
        )
        for c in range(split):  # the pool is shared: filled here, one thread
            for m in range(out[c, 1]):
                pool_once_nb(gone[bounds[c] + m], ppl, pool)
        # The held, in array order, with the day's caps (none of them ends up waiting).
        apprehended = 0
        deported = 0
        for c in range(split):
            for m in range(out[c, 0]):
                i = held[bounds[c] + m]
                k0 = count_key_nb(i, ppl)
                apprehended, deported = _travel_nb(
                    i, day, t_keys, tra, cap, deport_left, ppl, flows, apprehended, deported, False
                )
                moved_nb(i, k0, ppl, counts, pool)
                ppl[12][i] = _wake_nb(
                    i,
                    day,
                    tra.h_cum,
                    stg.hazard,
                    stg.hazard_max,
                    stg.register_cum,
                    stg.min_wait,
                    ppl,
                )
        for c in range(1, split):
            _add_into(flows, flows_x[c - 1])
            _add_into(counts, counts_x[c - 1])
        n_cross = _close_up(crossers, bounds, out[:, 2])
        n_cust = _close_up(cust, bounds, out[:, 3])
        n_due = _close_up(due, bounds, out[:, 4])
    n_cand = candidates_nb(n, ppl[3], ppl[5], cand) if lottery else 0
    for a in range(waiting.shape[0]):  # today's arrivals join those waiting
        for c in range(waiting.shape[1]):
            waiting[a, c] += flows[_ARR, a, _FIRST_CITY + c]
    shelter_split_nb(stg.beds[day], waiting, exposed)
    return n, n_cross, n_cand, n_cust, n_due, deported
