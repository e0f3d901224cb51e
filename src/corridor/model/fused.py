"""The fused day loop: every phase of every day in one compiled call.

:meth:`Simulation.run` steps each module from Python, which costs ~25 boxed arguments and a
little NumPy per module per day: at scale 100 that is ~40% of the run. Here one
``@njit`` driver loops over days and runs the phases in their fixed order with the modules'
own per-day pieces (fractional carries, monthly caps, the custody count, the emergency
switch, the departure memory) and per-person kernels (``transit_person_nb``,
``staging_person_nb``, ``encounter_person_nb``, ``process_person_nb``, ``hearing_nb``, the
same the phase loops run), but visits people less often: two loops over everyone a day, the
rest over lists (see :func:`run_days_nb`). The Python loop stays as the reference and for
``--profile``; ``tests/test_fused.py`` checks the two agree exactly. (The one
operation not shared bit for bit is the departure pull's ``exp``: NumPy's SIMD exp and libm's
may differ in the last place, which moves a Poisson draw with probability below ~1e-12.)

The driver runs a range of days per call, so a progress bar can update between calls, and
it returns early (before touching the day) when a day's departures would not fit the people
arrays: Python grows them and calls again from that day.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from corridor.engine import memory
from corridor.engine import people as pp
from corridor.engine.handoff import publish
from corridor.engine.rng import STREAM, day_key_nb
from corridor.engine.units import limit as scale_limit
from corridor.engine.units import scale_day_nb
from corridor.model import day_pass, departures_ahead
from corridor.model.bookkeeping import (
    add_counts_nb,
    count_key_nb,
    count_range_nb,
    emergency_nb,
    hearing_key_nb,
    hearing_nb,
    moved_nb,
    outcomes_nb,
)
from corridor.model.checkpoint import Checkpoint, History, RunInputs, copy_pack
from corridor.model.day_pass import compact_nb, travel_and_wait_nb
from corridor.model.departure import (
    departure_counts_into_nb,
    departure_day_nb,
    pool_once_nb,
)
from corridor.model.departures_ahead import (
    C_DONE,
    C_STOP,
    RING_DAYS,
    hand_counts_nb,
    ready_day_nb,
    take_day_nb,
    wait_for_day_nb,
)
from corridor.model.encounter import (
    OFO_APPT,
    draw_lottery_nb,
    encounter_person_nb,
    sector_key_nb,
    slots_today_nb,
)
from corridor.model.processing import flight_room_into_nb, process_person_nb, takeback_left_nb
from corridor.model.removal import remove_nb, seats_today_into_nb
from corridor.model.staging import cross_today_into_nb, harm_nb, sum_hazards_nb
from corridor.model.transit import inm_limits_nb

if TYPE_CHECKING:
    from corridor.engine.sim import Results, Simulation

CHUNK_DAYS = 64  # days per driver call when a progress callback wants updates
WINDOW_DAYS = 120  # people rarely stay active longer than this (see _initial_capacity)
# With two threads or more, one draws the departures ahead (model/departures_ahead.py): on
# the 2-core benchmark machine that is faster than splitting the pass over both, at every
# scale (docs/profile.md). Tests turn it off to compare.
DRAW_AHEAD = True
# The driver runs without the GIL, so runs in several Python threads overlap; but numba's
# workqueue threading layer (used where neither TBB nor OpenMP is installed) aborts when two
# threads enter a parallel region at once: calls that may split the pass take turns.
_SPLIT_LOCK = threading.Lock()

# --- the driver ---------------------------------------------------------------------------

# Integer state carried between driver calls (and written back to the modules).
I_N, I_STEPS, I_PEAK, I_NEED = 0, 1, 2, 3
I_DEPORTED, I_DEPORT_MONTH = 4, 5  # transit
I_CUSTODY, I_TAKEBACK, I_TAKEBACK_MONTH, I_EMERGENCY = 6, 7, 8, 9  # processing
I_BELOW = 10  # bookkeeping
I_FITS = 11  # flows, stocks, cbp: still in people (1), or left in agents (0; see scale_day_nb)
N_ISTATE = 14
# Float state: transit's capacity carry, encounter's slot carry.
F_CAP, F_SLOTS = 0, 1
N_FSTATE = 2

_ST_CBP_ONE_LOTTERY = STREAM["cbp_one_lottery"]
_ST_USBP_APPREHENSION = STREAM["usbp_apprehension"]
_ST_PROCESSING = STREAM["processing"]
_ST_REMOVAL_QUEUE = STREAM["removal_queue"]
_ST_HARM = STREAM["harm"]


@nb.njit(cache=True, nogil=True)
def run_days_nb(
    d0,
    d1,
    seed,
    ppl,
    event,
    flows,
    stocks,
    cbp,
    istate,
    fstate,
    dep,
    tra,
    stg,
    enc,
    pro,
    rem,
    bk,
    ring,
    scale=1,
    limit=0,
    split=1,
    split_min=0,
):
    """Days ``d0`` to ``d1 - 1``, every phase in order. Returns the first day not run: ``d1``,
    or a day whose departures do not fit (``istate[I_NEED]`` = agents needed), untouched.

    A day takes two loops over the people instead of six, and each calls a day's kernel only
    for the people something happens to. Transit and staging go together
    (:func:`corridor.model.day_pass.travel_and_wait_nb`; over ``split`` threads on a day with
    at least ``split_min`` people, the same results), which also lists who crosses today, who
    may enter the CBP One lottery, who is in US custody and whose MPP hearing is due; the
    lottery draws from its list; encounter and processing visit only those crossing or holding
    an appointment (:func:`_cross_nb`); removal only those in custody; the hearings only those
    due. The head counts are not recounted daily: a histogram of them is built at the call's
    start and each phase moves a person's count when their state, place or CBP One
    registration changes; each day's is added into the stocks. Absorbed people stay in the
    arrays (every phase skips them; those sent home go into the returnee pool at once) until
    they fill a quarter of them, then the pass moves the rest down over them.

    With ``scale`` > 1, each day's tables are multiplied into people as soon as they are final
    (:func:`corridor.engine.units.scale_day_nb`, counts up to ``limit``); ``istate[I_FITS:]``
    says which tables are.

    With a ``ring`` that has slots (:mod:`corridor.model.departures_ahead`), a helper thread
    started for this call draws each day's departures ahead and, for each day this one has
    finished, its harm incidents, its head counts into the stocks and the scaling; this one
    takes each day's departures from the ring and publishes each day it finishes. Without
    (``cap`` 0) this one does all of it. The results are the same."""
    n = istate[I_N]
    steps = istate[I_STEPS]
    peak = istate[I_PEAK]
    deported = istate[I_DEPORTED]
    deport_month = istate[I_DEPORT_MONTH]
    custody = istate[I_CUSTODY]
    takeback = istate[I_TAKEBACK]
    takeback_month = istate[I_TAKEBACK_MONTH]
    emergency = istate[I_EMERGENCY] != 0
    below = istate[I_BELOW]
    cap_carry = fstate[F_CAP]
    slot_carry = fstate[F_SLOTS]
    fits_f = istate[I_FITS] != 0
    fits_s = istate[I_FITS + 1] != 0
    fits_c = istate[I_FITS + 2] != 0
    room = min(ppl[0].shape[0], event.shape[0])
    istate[I_NEED] = 0
    crossers = np.empty(room, dtype=np.int64)  # today's lists of people, in array order
    cand = np.empty(room, dtype=np.int64)
    cust = np.empty(room, dtype=np.int64)
    due = np.empty(room, dtype=np.int64)
    look = np.empty((2, room), dtype=np.int64)  # scratch: who is due today (day_pass)
    held = np.empty(room if split > 1 else 0, dtype=np.int64)  # a split day's scratch
    gone = np.empty(room if split > 1 else 0, dtype=np.int64)
    n_nat = dep.mem_in.shape[0]  # the day's small tables, filled each day
    lam = np.empty(n_nat)
    counts = np.empty(n_nat, dtype=np.int32)
    cross = np.empty((stg.cross.shape[1], n_nat))
    give_up = np.empty((stg.cross.shape[1], n_nat))
    exposed = np.zeros((2, n_nat, stg.beds.shape[1]), dtype=np.int64)  # harm_nb zeroes it
    waiting = np.zeros((n_nat, stg.beds.shape[1]), dtype=np.int64)
    # The pass's ranges after the first count into their own (zeroed) copies: see day_pass.
    extra = max(split - 1, 0)
    # Wake-up days look ahead in this call's schedules (a resumed scenario may have others):
    # everyone is looked at on the first day, which sets their next.
    ppl[12][:n] = -1
    hist = bk.histogram  # the head counts, kept up to date as people change
    hist[:] = 0
    count_range_nb(0, n, ppl, hist)
    cells = hist.reshape(-1)
    hist_x = np.zeros((extra,) + hist.shape, dtype=hist.dtype)
    flows_x = np.zeros((extra,) + flows.shape[1:], dtype=flows.dtype)
    bounds = np.empty(max(split, 1) + 1, dtype=np.int64)  # a split day's ranges (day_pass)
    out = np.zeros((max(split, 1), 5), dtype=np.int64)
    seats = np.empty(rem.seat_carry.shape[0], dtype=np.int64)
    flight_room = np.empty(n_nat, dtype=np.int64)
    k_sector = sector_key_nb(seed)
    live = 0
    for x in range(cells.shape[0]):
        live += cells[x]
    ahead = ring.cap > 0  # departures drawn ahead by a helper thread (departures_ahead)
    day = d0
    while day < d1:
        if ahead:
            got = wait_for_day_nb(ring.ctrl, day)
            if got < 0:  # the helper failed: Python raises what it raised
                break
            ahead = got > 0
            if not ahead and ring.zero:  # it stopped: the recycled rows it would have zeroed
                for d in range(day, d1):
                    ready_day_nb((flows, stocks, cbp), d, 1)
        if ahead:
            counts[:] = ring.counts[day % RING_DAYS]
        else:
            departure_counts_into_nb(day, seed, dep, lam, counts)
        if n + counts.sum() > room:
            istate[I_NEED] = n + counts.sum()
            break
        f = flows[day]
        n_old = n  # yesterday's people; today's departures go after them
        if ahead:
            n = take_day_nb(day, dep, ring, n, ppl, f)
        else:
            n = departure_day_nb(day, seed, dep, counts, n, ppl, f)
        count_range_nb(n_old, n, ppl, hist)
        cap, deport_left, cap_carry, deported, deport_month = inm_limits_nb(
            day, tra, cap_carry, deported, deport_month
        )
        slots, slot_carry = slots_today_nb(day, enc, slot_carry)
        takeback_left, takeback, takeback_month = takeback_left_nb(
            day, pro, takeback, takeback_month
        )
        compact = 4 * (n_old - live) > n  # (the pool gets those sent home as they go)
        cross_today_into_nb(day, stg, cross, give_up)
        sum_hazards_nb(cross, give_up, stg.hazard)
        n, n_cross, n_cand, n_cust, n_due, deported_today = travel_and_wait_nb(
            day,
            seed,
            n,
            compact,
            split if n >= split_min else 1,
            hist,
            hist_x,
            ppl,
            dep.pool,
            f,
            flows_x,
            tra,
            cap,
            deport_left,
            stg,
            cross,
            give_up,
            exposed,
            waiting,
            slots > 0,
            crossers,
            cand,
            cust,
            due,
            look,
            held,
            gone,
            bounds,
            out,
        )
        if ring.cap == 0:  # else the helper draws them (departures_ahead)
            harm_nb(
                day_key_nb(seed, _ST_HARM, day), exposed, stg.harm_street, stg.shelter_factor, f
            )
        deported += deported_today
        if slots > 0:
            key = day_key_nb(seed, _ST_CBP_ONE_LOTTERY, day)
            enc.appointments_given[day] = draw_lottery_nb(key, cand[:n_cand], ppl[0], slots, event)
        flight_room_into_nb(pro.seats_ahead[day], ppl[1], cust[:n_cust], flight_room)
        n_cust, n_due, taken, admitted = _cross_nb(
            day,
            seed,
            k_sector,
            ppl,
            event,
            f,
            cbp[day],
            crossers[:n_cross],
            cand[:n_cand],
            cust,
            n_cust,
            due,
            n_due,
            enc,
            pro,
            emergency,
            takeback_left,
            max(0, int(pro.beds[day]) - custody),
            flight_room,
            cells,
            dep.pool,
        )
        takeback += taken
        custody += admitted
        seats_today_into_nb(day, rem, seats)
        _shift_counts_nb(cust[:n_cust], ppl, cells, -1, dep.pool)
        custody -= remove_nb(cust[:n_cust], day, seats, rem.max_days, ppl, f)
        _shift_counts_nb(cust[:n_cust], ppl, cells, 1, dep.pool)
        # The end of the day: the switch reads only encounters, which hearings do not change.
        emergency, below = emergency_nb(day, bk, emergency, below, f)
        _hearings_nb(
            due[:n_due],
            day,
            hearing_key_nb(seed, day),
            bk.relief,
            bk.home_after,
            ppl,
            f,
            cells,
            dep.pool,
        )
        outcomes_nb(day, bk, dep, f)
        if ring.cap > 0:  # the helper adds them into the stocks
            live = hand_counts_nb(day, ring, hist, exposed)
            if live < 0:  # the helper failed: Python raises what it raised
                break
        else:
            live = add_counts_nb(hist, stocks[day], stg.beds[day], bk.shelter)
        steps += live
        peak = max(peak, live)
        if ring.cap == 0:  # else the helper does, once this day is published
            fits_s = scale_day_nb(stocks, day, scale, limit, fits_s)
            fits_f = scale_day_nb(flows, day, scale, limit, fits_f)
            fits_c = scale_day_nb(cbp, day, scale, limit, fits_c)
        if ring.cap > 0:
            publish(ring.ctrl, C_DONE, day)  # its pool and outcomes, for the helper
        day += 1
    if ring.cap > 0:
        publish(ring.ctrl, C_STOP, 1)
    if day > d0:  # leave no absorbed people behind
        n = compact_nb(n, ppl, dep.pool)
    hist[:] = 0
    istate[I_N] = n
    istate[I_STEPS] = steps
    istate[I_PEAK] = peak
    istate[I_DEPORTED] = deported
    istate[I_DEPORT_MONTH] = deport_month
    istate[I_CUSTODY] = custody
    istate[I_TAKEBACK] = takeback
    istate[I_TAKEBACK_MONTH] = takeback_month
    istate[I_EMERGENCY] = 1 if emergency else 0
    istate[I_BELOW] = below
    istate[I_FITS] = fits_f
    istate[I_FITS + 1] = fits_s
    istate[I_FITS + 2] = fits_c
    fstate[F_CAP] = cap_carry
    fstate[F_SLOTS] = slot_carry
    return day


@pp.loop_nb
def _shift_counts_nb(listed, ppl, cells, sign, pool):
    """Take the listed people out of the head counts (``sign`` -1) or put them back in (+1)
    around a phase that changes them; after it (+1), those it sent home go into ``pool``."""
    for x in listed:
        i = pp.index_nb(x)
        k = count_key_nb(i, ppl)
        if k >= 0:
            cells[k] += sign
        elif sign > 0:
            pool_once_nb(i, ppl, pool)


@pp.loop_nb
def _hearings_nb(due, day, key, relief, home_after, ppl, flows, cells, pool):
    """The MPP hearings of those listed (each touches only that person: any order), their
    head counts moved in ``cells`` (those sent home into ``pool``)."""
    for x in due:
        i = pp.index_nb(x)
        k0 = count_key_nb(i, ppl)
        hearing_nb(i, day, key, relief, home_after, ppl, flows)
        moved_nb(i, k0, ppl, cells, pool)


@pp.loop_nb
def _cross_nb(
    day,
    seed,
    k_sector,
    ppl,
    event,
    flows,
    cbp,
    crossers,
    cand,
    cust,
    n_cust,
    due,
    n_due,
    enc,
    pro,
    emergency,
    takeback_left,
    beds_left,
    flight_room,
    cells,
    pool,
):
    """Encounter then processing for those who try to cross (``crossers``) or won an
    appointment (``cand`` marked OFO_APPT), merged in array order: processing's caps
    (take-backs, beds) go in array order, and encounter reads none of them. Appends today's
    admissions to custody to ``cust`` (and any MPP hearing due today to ``due``); moves their
    head counts in ``cells`` (those sent home into ``pool``); returns (their lengths, taken
    back, admitted)."""
    state = ppl[3]
    k_usbp = day_key_nb(seed, _ST_USBP_APPREHENSION, day)
    p_keys = (day_key_nb(seed, _ST_PROCESSING, day), day_key_nb(seed, _ST_REMOVAL_QUEUE, day))
    alt = enc.alt_sector[enc.month_row[day]]
    t42 = pro.t42[day]
    accepts = pro.accepts[day]
    takeback = pro.takeback[day]
    mpp = pro.mpp[day]
    removal_share = pro.removal_share[day]
    flights = pro.flights[day]
    port_share, gotaway, primary, second = enc.port_share, enc.gotaway, enc.primary, enc.second
    month_of_day, t42_share, hearing_days = pro.month_of_day, pro.t42_share[day], pro.hearing_days
    mex_adult, mex_family = pro.mex_adult, pro.mex_family
    taken = 0
    admitted = 0
    a = 0
    b = 0
    none = np.iinfo(np.int64).max
    while True:
        while b < cand.shape[0] and event[cand[b]] != OFO_APPT:
            b += 1
        ci = crossers[a] if a < crossers.shape[0] else none
        wi = cand[b] if b < cand.shape[0] else none
        if ci == none and wi == none:
            break
        i = pp.index_nb(min(ci, wi))
        if ci == i:
            a += 1
        if wi == i:
            b += 1
        k0 = count_key_nb(i, ppl)
        ev = event[i]
        if ev != OFO_APPT:
            ev = encounter_person_nb(
                i,
                k_usbp,
                k_sector,
                port_share,
                gotaway,
                alt,
                primary,
                second,
                ppl,
                flows,
            )
            if ev == 0:  # got away: in the US
                ppl[12][i] = pp.NEVER
                moved_nb(i, k0, ppl, cells, pool)
                continue
        event[i] = 0
        taken, admitted = process_person_nb(
            i,
            ev,
            day,
            p_keys,
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
        moved_nb(i, k0, ppl, cells, pool)
        # The pass's wake-up day: changed here, so looked at tomorrow if still on the move.
        ppl[12][i] = day + 1 if state[i] < pp.N_ACTIVE_STATES else pp.NEVER
        if state[i] == pp.US_CUSTODY:
            cust[n_cust] = i
            n_cust += 1
        elif state[i] == pp.MPP and ppl[9][i] <= day:  # a hearing due at once
            due[n_due] = i
            n_due += 1
    return n_cust, n_due, taken, admitted


# --- Python side: state in and out of the modules, growth, chunks -------------------------


def _state_in(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """The modules' scalar day-to-day state as the driver's (int, float) state arrays."""
    tra, pro = sim.module("transit"), sim.module("processing")
    istate = np.zeros(N_ISTATE, dtype=np.int64)
    istate[I_N] = sim.people.n
    istate[I_STEPS] = sim.res.agent_steps
    istate[I_PEAK] = sim.res.peak_agents
    istate[I_DEPORTED] = tra.deported_this_month
    istate[I_DEPORT_MONTH] = tra.month_seen
    istate[I_CUSTODY] = pro.custody
    istate[I_TAKEBACK] = pro.takeback_used
    istate[I_TAKEBACK_MONTH] = pro.takeback_month
    istate[I_EMERGENCY] = int(bool(pro.emergency_on))
    istate[I_BELOW] = sim.module("bookkeeping").below_days
    istate[I_FITS : I_FITS + 3] = 1
    fstate = np.zeros(N_FSTATE, dtype=np.float64)
    fstate[F_CAP] = tra.cap_carry
    fstate[F_SLOTS] = sim.module("encounter").slot_carry
    return istate, fstate


def _state_out(sim: Simulation, istate: np.ndarray, fstate: np.ndarray) -> None:
    """Write the driver's state back, so the modules (or a Python loop) carry on from it."""
    tra, pro = sim.module("transit"), sim.module("processing")
    sim.people.n = int(istate[I_N])
    sim.res.agent_steps = int(istate[I_STEPS])
    sim.res.peak_agents = int(istate[I_PEAK])
    tra.deported_this_month = int(istate[I_DEPORTED])
    tra.month_seen = int(istate[I_DEPORT_MONTH])
    tra.cap_carry = float(fstate[F_CAP])
    pro.custody = int(istate[I_CUSTODY])
    pro.takeback_used = int(istate[I_TAKEBACK])
    pro.takeback_month = int(istate[I_TAKEBACK_MONTH])
    pro.emergency_on = bool(istate[I_EMERGENCY])
    sim.module("bookkeeping").below_days = int(istate[I_BELOW])
    sim.module("encounter").slot_carry = float(fstate[F_SLOTS])


def _initial_capacity(sim: Simulation) -> int:
    """Room for the most departures expected in any ``WINDOW_DAYS`` days, times 1.5, plus a
    margin: enough that growing (and re-entering the driver) is rare."""
    per_day = sim.module("departure").expected_agents_per_day()
    c = np.concatenate([[0.0], np.cumsum(per_day)])
    w = min(WINDOW_DAYS, per_day.size)
    most = float((c[w:] - c[:-w]).max()) if per_day.size else 0.0
    return int(1.5 * most) + 4096


def check_phases(sim: Simulation) -> None:
    """The driver hard-codes the phase order: refuse any other module list."""
    from corridor.model.registry import PHASES

    got = tuple(type(m) for m in sim.modules)
    if got != PHASES:
        names = ", ".join(m.name for m in sim.modules)
        raise ValueError(
            f"the fused loop runs exactly the registry's phases; got {names}: "
            "use Simulation.run(fused=False)"
        )


def _decision_day(sim: Simulation) -> int:
    """The day index of the scenario's decision date (where runs that share a history part)."""
    return (sim.scn.decision_date - sim.scn.start).days


def _resume(
    run: RunInputs, history: History | None, istate: np.ndarray, fstate: np.ndarray
) -> tuple[int, list[tuple] | None]:
    """(the day to start from, the packs as built when a checkpoint is to be taken at
    ``run.day``, else None). Resumes from a fitting checkpoint of ``history``."""
    run.sim.resumed_day = 0
    if history is None or not 0 < run.day < run.sim.n_days:
        return 0, None
    ck = history.find(run)
    if ck is None:
        return 0, [copy_pack(p) for p in run.packs]
    run.sim.resumed_day = ck.restore(run, istate, fstate)
    return run.sim.resumed_day, None


def _call_driver(d0, d1, sim, istate, fstate, packs, ring, scale, limit, split) -> int:
    """One call of :func:`run_days_nb` over ``d0 .. d1 - 1``; returns the first day not run."""
    res = sim.res
    return run_days_nb(
        d0,
        d1,
        sim.seed,
        sim.people.arrays(),
        sim.event,
        res.flows,
        res.stocks,
        res.cbp,
        istate,
        fstate,
        *packs,
        ring,
        scale,
        limit,
        split,
        day_pass.SPLIT_MIN,
    )


def _recycle_tables(res: Results) -> bool:
    """Put recycled memory (:func:`corridor.engine.memory.recycled`: an earlier fused run's
    tables, of the same sizes, that nothing views any more) in place of ``res``'s fresh
    tables, all three or none; returns whether it did. It did not: the fresh ones are kept
    for the next run (:func:`corridor.engine.memory.keep`). Recycled memory holds the
    earlier run's counts: only a run with the helper, which zeroes each day's rows ahead of
    the driver, takes it."""
    fresh = (res.flows, res.stocks, res.cbp)
    old = [memory.recycled(t.shape, t.dtype) for t in fresh]
    if any(t is None for t in old):
        for t in fresh:
            memory.keep(t)
        return False
    res.flows, res.stocks, res.cbp = old
    return True


def run_fused(
    sim: Simulation,
    progress: Callable[[int], None] | None = None,
    *,
    in_people: bool = False,
    history: History | None = None,
) -> Results:
    """Run every day of a fresh ``sim`` with the compiled driver; same results as the loop.

    ``progress(day)`` is called after each chunk of :data:`CHUNK_DAYS` days with the last day
    done; without it the whole run is one call. ``in_people``: the tables come back
    multiplied by the scenario's scale (as :func:`corridor.engine.units.in_people` does),
    each day as soon as it is final. ``history``: resume at the decision date from a
    checkpoint of a run with the same inputs before it, or leave one there
    (:mod:`corridor.model.checkpoint`); ``sim.resumed_day`` says which day it started from.
    """
    check_phases(sim)
    ppl = sim.people
    ppl.reserve(max(_initial_capacity(sim) - ppl.n, 0))
    sim.ensure_event_capacity()
    dep, tra, stg, enc, pro, rem, bk = (m.pk for m in sim.modules)
    istate, fstate = _state_in(sim)
    res = sim.res
    if res.scale != 1:
        raise ValueError("the tables are already in people")
    threads = nb.get_num_threads()
    ring = departures_ahead.ring_for(
        sim.module("departure").expected_agents_per_day(), dep, DRAW_AHEAD and threads > 1
    )
    if ring.cap > 0 and _recycle_tables(res):  # the helper zeroes them ahead of the driver
        ring = ring._replace(zero=1)
    scale = sim.scale if in_people else 1
    limit = scale_limit(res.flows.dtype, scale)
    chunk = CHUNK_DAYS if progress is not None else sim.n_days
    run = RunInputs(
        sim,
        (dep, tra, stg, enc, pro, rem, bk),
        (istate.copy(), fstate.copy()),
        scale,
        limit,
        _decision_day(sim),
    )
    day, before = _resume(run, history, istate, fstate)
    # With a helper drawing the departures, big days' pass splits over the other threads.
    split = day_pass.SPLIT or (threads - 1 if ring.cap > 0 else threads)
    while day < sim.n_days:
        end = min(day + chunk, sim.n_days)
        if before is not None and day < run.day:
            end = min(end, run.day)  # a chunk ends at the decision date: the checkpoint
        tables = (res.flows, res.stocks, res.cbp)
        if ring.zero:  # the call's first day (the helper readies the days after it)
            ready_day_nb(tables, day, 1)
        helper = departures_ahead.start(
            ring,
            day,
            end,
            sim.seed,
            run.packs[0],
            tables,
            scale,
            limit,
            istate[I_FITS:],
            run.packs[2],
        )
        try:
            with _SPLIT_LOCK if split > 1 else nullcontext():
                day = _call_driver(
                    day, end, sim, istate, fstate, run.packs, ring, scale, limit, split
                )
        except BaseException:
            departures_ahead.finish(helper, None)
            raise
        departures_ahead.finish(helper, day)
        if before is not None and day == run.day:
            history.keep(Checkpoint.take(run, before, int(istate[I_N]), istate, fstate))
            before = None
        if istate[I_NEED]:
            ppl.n = int(istate[I_N])
            ppl.reserve(int(istate[I_NEED]) - ppl.n)
            sim.ensure_event_capacity()
        if progress is not None and day > 0:
            progress(day - 1)
    _state_out(sim, istate, fstate)
    if scale != 1:  # a table a count of which would not fit was left in agents: widen it
        fits = istate[I_FITS : I_FITS + 3]
        if not fits[0]:
            res.flows = res.flows.astype(np.int64) * np.int64(scale)
        if not fits[1]:
            res.stocks = res.stocks.astype(np.int64) * np.int64(scale)
        if not fits[2]:
            res.cbp = res.cbp.astype(np.int64) * np.int64(scale)
        res.scale = scale
    return res
