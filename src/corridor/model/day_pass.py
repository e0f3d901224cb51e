"""The day's pass over the people for the fused driver: transit, then staging, on one thread or
split over threads, with the same results bit for bit.

The pass is most of a run's time (docs/profile.md). Split over threads, each takes a contiguous
range of the people arrays. Three things depend on the order of the people, and the split keeps
the serial order for each:

- INM's daily caps on apprehensions and deportations go in array order. A thread leaves
  untouched anyone whose draw INM would act on (``transit_person_nb(defer=True)``) and lists
  them; after the threads, those are done one by one in array order with the day's caps.
  Nobody else touches the caps, so the counts and who is taken are those of one thread.
- Shelter beds go first come, first served in array order. Each thread also counts, by city,
  the people who wait at the end of its range's transit (the held people never wait), so a
  range's staging starts with the beds that the ranges before it took.
- The lists the rest of the day reads (who crosses, who enters the CBP One lottery, who is in
  custody, whose hearing is due) are written from each range's start and closed up in order.

Counts into the flow tables, the head counts and the exposure to harm are sums of ones: each
thread after the first adds into its own copy, added into the day's after the threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.model.bookkeeping import count_person_nb
from corridor.model.departure import home_to_pool_nb
from corridor.model.places import BORDER_CITIES, PLACE
from corridor.model.staging import staging_keys_nb, staging_person_nb
from corridor.model.transit import HELD, transit_keys_nb, transit_person_nb

_FIRST_CITY = PLACE[BORDER_CITIES[0]]
# Below this many people a day, one thread: a day's split costs ~5-10 us of starting threads.
SPLIT_MIN = 6000
_ROW = 64  # int64s per range's row of small counts: 512 bytes, never a shared cache line
# Ranges a day is split into; None: numba's thread count (tests set more ranges than threads).
SPLIT: int | None = None


@pp.loop_nb
def compact_nb(n, n_count, ppl, pool):
    """Move the people down over the absorbed (those sent home go into ``pool``), keeping
    their order; returns (the new length, how many of the first ``n_count`` are kept)."""
    state = ppl[3]
    j = 0
    kept = 0
    for k in range(n):
        if state[k] >= pp.N_ACTIVE_STATES:
            home_to_pool_nb(k, ppl, pool)
            continue
        if j != k:
            pp.move_nb(ppl, k, j)
        kept += k < n_count
        j += 1
    return j, kept


@pp.loop_nb
def travel_range_nb(
    lo, hi, day, keys, n_count, defer, hist, ppl, flows, tra, cap, deport_left, held, waiting
):
    """People ``lo`` to ``hi - 1``: yesterday's head counts of those before ``n_count`` (into
    ``hist``), then the day's travel. ``defer``: INM's cap-bound cases go into ``held`` from
    index ``lo`` and ``waiting`` adds who waits in each border city after it (only a split
    needs it: one thread takes the beds in order as it goes). Returns (head
    counted, held, apprehended, deported)."""
    state, place = ppl[3], ppl[4]
    d = tra.month_row[day]
    city_cdf, p_south, h_interior = tra.city_cdf[d], tra.p_south[day], tra.h_interior[day]
    counted = 0
    n_held = 0
    apprehended = 0
    deported = 0
    for i in range(lo, hi):
        s = state[i]
        if s >= pp.N_ACTIVE_STATES:
            continue
        if i < n_count:
            count_person_nb(i, ppl, hist)
            counted += 1
        if s <= pp.MEXICO_DETAINED:
            a, b = transit_person_nb(
                i,
                day,
                keys,
                city_cdf,
                tra.travel,
                p_south,
                h_interior,
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
            if a == HELD:
                held[lo + n_held] = i
                n_held += 1
                continue
            apprehended, deported = a, b
            s = state[i]
        if defer and (s == pp.WAITING or s == pp.MPP):
            waiting[place[i] - _FIRST_CITY] += 1
    return counted, n_held, apprehended, deported


@pp.loop_nb
def wait_range_nb(
    lo,
    hi,
    day,
    keys,
    stg,
    cross,
    give_up,
    occupied,
    exposed,
    lottery,
    ppl,
    flows,
    crossers,
    cand,
    cust,
    due,
):
    """People ``lo`` to ``hi - 1`` in staging (``occupied``: beds taken by city so far), and
    the lists the day reads, each written from index ``lo``. Returns the lists' lengths."""
    state, flags, t_next = ppl[3], ppl[5], ppl[9]
    beds, register = stg.beds[day], stg.register[day]
    n_cross = 0
    n_cand = 0
    n_cust = 0
    n_due = 0
    for i in range(lo, hi):
        s = state[i]
        if s == pp.WAITING or s == pp.MPP:
            if staging_person_nb(
                i,
                day,
                keys,
                beds,
                occupied,
                exposed,
                cross,
                give_up,
                register,
                stg.min_wait,
                stg.mpp_give_up,
                ppl,
                flows,
            ):
                crossers[lo + n_cross] = i
                n_cross += 1
            s = state[i]
            if lottery and s == pp.WAITING and (flags[i] & pp.CBP_ONE):
                cand[lo + n_cand] = i
                n_cand += 1
            elif s == pp.MPP and t_next[i] <= day:
                due[lo + n_due] = i
                n_due += 1
        elif s == pp.US_CUSTODY:
            cust[lo + n_cust] = i
            n_cust += 1
    return n_cross, n_cand, n_cust, n_due


@nb.njit(cache=True, parallel=True)
def _travel_split_nb(
    bounds, day, keys, n_count, hist, hist_x, ppl, flows, flows_x, tra, held, waiting, out
):
    """:func:`travel_range_nb` on each range ``bounds[c]..bounds[c + 1]``, one per thread;
    range 0 writes into ``hist`` and ``flows``, range c > 0 into ``hist_x[c - 1]`` and
    ``flows_x[c - 1]``. ``out[c]``: (head counted, held)."""
    for c in nb.prange(bounds.shape[0] - 1):
        h = hist if c == 0 else hist_x[c - 1]
        f = flows if c == 0 else flows_x[c - 1]
        counted, n_held, _, _ = travel_range_nb(
            bounds[c],
            bounds[c + 1],
            day,
            keys,
            n_count,
            True,
            h,
            ppl,
            f,
            tra,
            0,
            0,
            held,
            waiting[c],
        )
        out[c, 0] = counted
        out[c, 1] = n_held


@nb.njit(cache=True, parallel=True)
def _wait_split_nb(
    bounds,
    day,
    keys,
    stg,
    cross,
    give_up,
    occupied_c,
    exposed,
    exposed_x,
    lottery,
    ppl,
    flows,
    flows_x,
    crossers,
    cand,
    cust,
    due,
    out,
):
    """:func:`wait_range_nb` on each range, one per thread; ``occupied_c[c]``: the beds the
    ranges before c took. ``out[c]``: the lists' lengths."""
    for c in nb.prange(bounds.shape[0] - 1):
        e = exposed if c == 0 else exposed_x[c - 1]
        f = flows if c == 0 else flows_x[c - 1]
        a, b, g, d = wait_range_nb(
            bounds[c],
            bounds[c + 1],
            day,
            keys,
            stg,
            cross,
            give_up,
            occupied_c[c],
            e,
            lottery,
            ppl,
            f,
            crossers,
            cand,
            cust,
            due,
        )
        out[c, 0] = a
        out[c, 1] = b
        out[c, 2] = g
        out[c, 3] = d


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


@nb.njit(cache=True)
def travel_and_wait_nb(
    day,
    seed,
    n,
    n_count,
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
    exposed_x,
    lottery,
    crossers,
    cand,
    cust,
    due,
):
    """Transit, then staging, for everyone. First, with ``compact``, the people move down over
    the absorbed; the people ``i < n_count`` (yesterday's) go into yesterday's head counts
    (``hist``) before anyone moves. ``split``: how many ranges (threads; 1 = this thread
    only: the driver asks for 1 on days with fewer than :data:`SPLIT_MIN` people); ranges
    after the first count into ``hist_x``, ``flows_x`` and ``exposed_x`` [range - 1], which
    the caller adds (the head counts) or this adds (flows, exposure) into the day's.
    ``exposed``: zeroed counts of who is exposed to harm
    (:func:`corridor.model.staging.harm_nb`).

    Fills ``crossers`` (those who try to cross), ``cand`` (registered and waiting, when there
    is a ``lottery`` today), ``cust`` (in US custody) and ``due`` (MPP hearing due), in array
    order. Returns (the new array length, yesterday's live count, the lists' lengths, INM's
    deportations today)."""
    if compact:
        n, n_count = compact_nb(n, n_count, ppl, pool)
    t_keys = transit_keys_nb(seed, day)
    s_keys = staging_keys_nb(seed, day)
    n_city = stg.beds.shape[1]
    if split < 2:
        held = crossers[:0]  # not written: no deferral on one thread
        waiting = np.zeros(n_city, dtype=np.int64)
        live, _, _, deported = travel_range_nb(
            0,
            n,
            day,
            t_keys,
            n_count,
            False,
            hist,
            ppl,
            flows,
            tra,
            cap,
            deport_left,
            held,
            waiting,
        )
        occupied = np.zeros(n_city, dtype=np.int64)
        n_cross, n_cand, n_cust, n_due = wait_range_nb(
            0,
            n,
            day,
            s_keys,
            stg,
            cross,
            give_up,
            occupied,
            exposed,
            lottery,
            ppl,
            flows,
            crossers,
            cand,
            cust,
            due,
        )
        return n, live, n_cross, n_cand, n_cust, n_due, deported
    # Each range's counts by city in a row of its own 512 bytes: rows sharing a cache line
    # would have the threads take it from each other on every person who waits.
    pad = max(n_city, _ROW)
    bounds = np.empty(split + 1, dtype=np.int64)
    for c in range(split + 1):
        bounds[c] = n * c // split
    out = np.zeros((split, 4), dtype=np.int64)
    waiting = np.zeros((split, pad), dtype=np.int64)
    held = cust  # scratch until staging fills it: those held, from each range's start
    _travel_split_nb(
        bounds, day, t_keys, n_count, hist, hist_x, ppl, flows, flows_x, tra, held, waiting, out
    )
    live = out[:, 0].sum()
    # The held, in array order, with the day's caps (none of them ends up waiting).
    apprehended = 0
    deported = 0
    d = tra.month_row[day]
    for c in range(split):
        for m in range(out[c, 1]):
            apprehended, deported = transit_person_nb(
                held[bounds[c] + m],
                day,
                t_keys,
                tra.city_cdf[d],
                tra.travel,
                tra.p_south[day],
                tra.h_interior[day],
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
            )
    for c in range(1, split):
        _add_into(flows, flows_x[c - 1])
    # Beds: a range starts with those the ranges before it took (first come, first served).
    occupied_c = np.zeros((split, pad), dtype=np.int64)
    for c in range(1, split):
        for x in range(n_city):
            occupied_c[c, x] = min(occupied_c[c - 1, x] + waiting[c - 1, x], stg.beds[day, x])
    out[:] = 0
    _wait_split_nb(
        bounds,
        day,
        s_keys,
        stg,
        cross,
        give_up,
        occupied_c,
        exposed,
        exposed_x,
        lottery,
        ppl,
        flows,
        flows_x,
        crossers,
        cand,
        cust,
        due,
        out,
    )
    for c in range(1, split):
        _add_into(flows, flows_x[c - 1])
        _add_into(exposed, exposed_x[c - 1])
    n_cross = _close_up(crossers, bounds, out[:, 0])
    n_cand = _close_up(cand, bounds, out[:, 1])
    n_cust = _close_up(cust, bounds, out[:, 2])
    n_due = _close_up(due, bounds, out[:, 3])
    return n, live, n_cross, n_cand, n_cust, n_due, deported
