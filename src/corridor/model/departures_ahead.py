"""The departures drawn a few days ahead on the second core, while the fused driver runs the
days before them: the same people, draws and counts as drawing each day's at its start.

A day's departures read nothing of the days just before it. Their number is a Poisson draw
on the memory at the origins, which folds in the outcomes of ``pull_lag_days`` (41) days
back; the returnees among them are drawn from the pool of people sent home at least
``REDEPARTURE_MIN_DAYS`` (7) days back. So once the driver has finished day ``d``, the
departures of every day up to ``d + lead`` (``lead`` = the smaller of 7 and the lag + 1) can
be drawn. They are about a fifth of the driver's work (~300 cycles an agent: a Box-Muller
normal, an exp, uniforms), and they read almost nothing the driver writes: unlike a split of
the pass over threads, which moves every person's cache lines between the cores.

A helper thread (:func:`draw_ahead_nb`, compiled without the GIL, started by
:func:`start`) draws each day's departures into a ring of :data:`RING_DAYS` slots and
publishes the day (``engine/handoff.py``); the driver waits for the day it needs, writes its
slot out as people after its own (``settle_nb``) and publishes each day it finishes (whose
pool and outcomes the helper then reads). A slot holds only the draws, 10 bytes an agent
against a person's 32: what crosses between the cores is what cannot be recomputed. The
helper keeps its own copy of the origins' memory (the driver folds the same outcomes into its
own, bit for bit); the pool of returnees and its window count are the helper's during the
call (the driver only adds those sent home today, cells the helper does not read yet).

The helper also finishes each day the driver has finished, with what the driver never reads
again: the day's harm incidents, its head counts into the stocks (the driver copies them into
the ring), and the tables multiplied into people; and it readies the tables' rows weeks
ahead: it touches fresh memory's pages, so that the system zeroes them on its core, or
zeroes the rows of tables recycled from an earlier run (:func:`draw_ahead_nb`,
``engine/memory.py``). It also draws each southbound traveller's trip north from Mexico's
southern border for the day they will get there (``transit.south_trip_nb``), which the
driver would otherwise draw that day.

When the driver stops before the helper (the people arrays must grow), the days drawn and
not taken are undone (:func:`finish`): their returnees go back into the pool and the window
count is recomputed on the next draw, so the next call draws them again, the same. A day with
more departures than a slot holds stops the helper cleanly; the driver draws that day and
the rest itself.

Used with two threads or more (the pass then splits big days over the others): on the
2-core benchmark machine it beat splitting the pass over both at scales 100, 10 and 1
(docs/profile.md). ``tests/test_departures_ahead.py`` checks the results are those of the
driver alone, bit for bit, including growth, chunks and resuming.
"""

from __future__ import annotations

import os
import threading
from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.handoff import publish, seen, spin_pause, touch_pages
from corridor.engine.rng import STREAM, day_key_nb
from corridor.engine.units import scale_day_nb
from corridor.model.bookkeeping import add_counts_nb, new_histogram, new_shelter_scratch
from corridor.model.departure import (
    REDEPARTURE_MIN_DAYS,
    DeparturePack,
    departure_counts_into_nb,
    departure_flows_nb,
    draw_day_nb,
    fold_origin_memory_nb,
    settle_nb,
)
from corridor.model.places import BORDER_CITIES
from corridor.model.staging import harm_nb

RING_DAYS = 8  # slots: more than the helper can be ahead (lead <= REDEPARTURE_MIN_DAYS)
# Control words, a cache line (8 int64) apart so that the two threads' writes do not share one.
C_DONE = 0  # the last day the driver finished (its pool and outcomes written)
C_DRAWN = 8  # the last day whose departures are in the ring
C_STOP = 16  # 1: the driver is done; the helper stops before its next day
C_FULL = 24  # 1: the helper stopped, the day after C_DRAWN not drawn (too many for a slot)
C_FAILED = 32  # 1: the helper raised
C_COUNTED = 40  # the last finished day whose head counts the helper put into the stocks
N_CTRL = 48
_ST_HARM = STREAM["harm"]
SLOT_MARGIN = 3.0  # a slot holds this many times the most agents expected a day, plus 256
TOUCH_DAYS = 32  # how far ahead of its day the helper readies the result tables' rows


class Ring(NamedTuple):
    """The slots the helper draws days into (``cap`` 0: no helper, the driver draws): per
    agent only the draws (:func:`corridor.model.departure.draw_day_nb`), 10 bytes, which
    the driver writes out as people (``settle_nb``): what crosses between the cores is a
    third of the 32 bytes of a person."""

    demo: np.ndarray  # [RING_DAYS * cap] uint8
    route: np.ndarray  # [RING_DAYS * cap] uint8
    t_next: np.ndarray  # [RING_DAYS * cap] int16
    t_last: np.ndarray  # [RING_DAYS * cap] int16: a returnee's day home, else -1
    trip: np.ndarray  # [RING_DAYS * cap] float32: the trip north (transit.south_trip_nb)
    counts: np.ndarray  # [slot, nat] int32: the day's departures
    returning: np.ndarray  # [slot, nat] int32: of which returnees
    ctrl: np.ndarray  # [N_CTRL] int64 control words
    cap: int  # agents a slot holds
    lead: int  # the helper draws day d once the driver has finished day d - lead
    touch: int  # after drawing day d, the helper readies the tables' rows up to d + touch
    zero: int  # 1: the tables are recycled memory (engine.memory): readying a row zeroes it
    fits: np.ndarray  # [3] int64: flows, stocks, cbp still multiplied into people (scale_day_nb)
    hist: np.ndarray  # [slot, ...] int32: the driver's head counts at the end of a day
    exposed: np.ndarray  # [slot, street/shelter, nat, city] int64: exposed to harm that day
    shelter: np.ndarray  # the helper's scratch for add_counts_nb


def lead_days(pk: DeparturePack) -> int:
    """How far ahead of the driver's last finished day departures can be drawn."""
    return int(min(REDEPARTURE_MIN_DAYS, pk.lag_days + 1))


def no_ring(n_nat: int) -> Ring:
    """The ring of a driver that draws its departures itself."""
    return _ring(0, n_nat, 0)


def _ring(cap: int, n_nat: int, lead: int) -> Ring:
    hist = new_histogram()
    m = RING_DAYS * cap
    u8, i16 = pp.FIELDS["demo"], pp.FIELDS["t_next"]
    z = np.zeros((RING_DAYS, n_nat), dtype=np.int32)
    return Ring(
        np.zeros(m, dtype=u8),
        np.zeros(m, dtype=u8),
        np.zeros(m, dtype=i16),
        np.zeros(m, dtype=i16),
        np.zeros(m, dtype=pp.FIELDS["thr_reg"]),
        z,
        z.copy(),
        np.zeros(N_CTRL, dtype=np.int64),
        cap,
        lead,
        TOUCH_DAYS,
        0,
        np.ones(3, dtype=np.int64),
        np.zeros((RING_DAYS if cap else 0,) + hist.shape, dtype=hist.dtype),
        np.zeros((RING_DAYS if cap else 0, 2, n_nat, len(BORDER_CITIES)), dtype=np.int64),
        new_shelter_scratch(),
    )


def ring_for(per_day: np.ndarray, pk: DeparturePack, use: bool) -> Ring:
    """A ring for a run expecting ``per_day`` agents a day, or :func:`no_ring` unless
    ``use``, the machine has two cores and the lead is more than a day (at one day the
    helper would only take turns with the driver)."""
    n_nat = pk.mem_in.shape[0]
    lead = lead_days(pk)
    if not use or (os.cpu_count() or 1) < 2 or lead < 2:
        return no_ring(n_nat)
    most = float(per_day.max()) if per_day.size else 0.0
    return _ring(int(SLOT_MARGIN * most) + 256, n_nat, lead)


@nb.njit(cache=True, nogil=True)
def draw_ahead_nb(d0, d1, seed, pk, ring, tables, scale, limit, stg):
    """The helper: days ``d0 .. d1 - 1``, each once the driver has finished day
    ``day - ring.lead``, into slot ``day % RING_DAYS``. ``pk``: the driver's pack with the
    helper's own copies of the origins' memory and of ``returning``.

    It also does three things for the result ``tables`` (flows, stocks, cbp) that the driver
    would otherwise do itself. After each day it draws, it readies their rows up to
    ``ring.touch`` days on (:func:`ready_day_nb`): it touches their pages, so that the system
    maps and zeroes fresh memory on this core, not the driver's, or zeroes recycled memory
    (``ring.zero``). And for each day the driver finishes
    (while it waits, and after its last draw until the driver stops: :func:`_finish_day_nb`),
    it draws the day's harm incidents from who the driver left exposed in ``ring.exposed``
    (``stg``: the staging pack's rates), adds the head counts it left in ``ring.hist`` into
    the stocks (with the staging pack's shelter beds) and multiplies the day's tables into
    people (:func:`corridor.engine.units.scale_day_nb`, ``ring.fits`` saying which still
    are). The driver never reads the harm incidents nor the stocks, nor a finished day of the
    other tables."""
    ctrl = ring.ctrl
    lam = np.empty(pk.mem_in.shape[0])
    spins = 0
    touched = d0  # the caller readies the first day (fused.run_fused)
    finished = d0 - 1
    for day in range(d0, d1):
        # A day the driver finished, while it is not waiting for this one's draws: else the
        # finishing lags while the helper draws, and the driver waits at the end of a day for
        # a ring slot to come free (hand_counts_nb).
        done = seen(ctrl, C_DONE)
        if finished < done and day > done + 1:
            finished += 1
            _finish_day_nb(finished, seed, ring, tables, scale, limit, stg)
        while seen(ctrl, C_DONE) < day - ring.lead and seen(ctrl, C_STOP) == 0:
            if finished < seen(ctrl, C_DONE):
                finished += 1
                _finish_day_nb(finished, seed, ring, tables, scale, limit, stg)
            else:
                spins = spin_pause(spins)
        if seen(ctrl, C_STOP) != 0:
            break
        if day > d0:
            fold_origin_memory_nb(day - 1, pk)  # as the driver did at the end of that day
        slot = day % RING_DAYS
        counts = ring.counts[slot]
        departure_counts_into_nb(day, seed, pk, lam, counts)
        if counts.sum() > ring.cap:
            publish(ctrl, C_FULL, 1)
            break
        ring.returning[slot, :] = pk.returning
        start = slot * ring.cap
        draw_day_nb(
            day, seed, pk, counts, start, ring.demo, ring.route, ring.t_next, ring.t_last, ring.trip
        )
        publish(ctrl, C_DRAWN, day)
        # Days after ``day`` only: the driver cannot pass ``day`` before the next publish.
        # Two days' pages a day drawn at most, so that the first days are not held up by
        # ``ring.touch`` days of pages at once (the driver waits for each day's draws).
        upto = min(day + ring.touch, d1 - 1, touched + 2)
        while touched < upto:
            touched += 1
            ready_day_nb(tables, touched, ring.zero)
    while True:  # the driver's last days, until it stops (C_DONE is final once C_STOP is set)
        stop = seen(ctrl, C_STOP) != 0
        done = seen(ctrl, C_DONE)
        while finished < done:
            finished += 1
            _finish_day_nb(finished, seed, ring, tables, scale, limit, stg)
        if stop:
            return
        spins = spin_pause(spins)


@nb.njit(cache=True, nogil=True)
def ready_day_nb(tables, day, zero):
    """The result ``tables``' rows of ``day`` made ready for the driver to write: zeroed if
    ``zero`` (recycled memory, :func:`corridor.engine.memory.recycled`), else each page
    touched (fresh memory, zero already: the system maps it on this thread's core)."""
    _ready_row_nb(tables[0][day].reshape(-1), zero)
    _ready_row_nb(tables[1][day].reshape(-1), zero)
    _ready_row_nb(tables[2][day].reshape(-1), zero)


@nb.njit(cache=True, nogil=True)
def _ready_row_nb(row, zero):
    if zero:
        row[:] = 0
    else:
        touch_pages(row)


@pp.helper_nb
def _finish_day_nb(day, seed, ring, tables, scale, limit, stg):
    """What the driver alone does with the tables on ``day``: its harm incidents
    (:func:`corridor.model.staging.harm_nb`), its head counts into the stocks
    (:func:`corridor.model.bookkeeping.add_counts_nb`), then each table's day into people
    (:func:`corridor.engine.units.scale_day_nb`); ``day``'s slots of the ring are then free
    again."""
    slot = day % RING_DAYS
    key = day_key_nb(seed, _ST_HARM, day)
    harm_nb(key, ring.exposed[slot], stg.harm_street, stg.shelter_factor, tables[0][day])
    add_counts_nb(ring.hist[slot], tables[1][day], stg.beds[day], ring.shelter)
    fits = ring.fits
    fits[0] = scale_day_nb(tables[0], day, scale, limit, fits[0] != 0)
    fits[1] = scale_day_nb(tables[1], day, scale, limit, fits[1] != 0)
    fits[2] = scale_day_nb(tables[2], day, scale, limit, fits[2] != 0)
    publish(ring.ctrl, C_COUNTED, day)


@pp.helper_nb
def hand_counts_nb(day, ring, hist, exposed):
    """In the driver, at the end of ``day``: who was exposed to harm today and the head counts
    into the ring, for the helper (once it is done with the slot's day before); returns how
    many are active, or -1 if the helper failed."""
    spins = 0
    while seen(ring.ctrl, C_COUNTED) < day - RING_DAYS:
        if seen(ring.ctrl, C_FAILED) != 0:
            return -1
        spins = spin_pause(spins)
    slot = day % RING_DAYS
    _copy_flat_nb(exposed.reshape(-1), ring.exposed[slot].reshape(-1))
    dst = ring.hist[slot].reshape(-1)
    src = hist.reshape(-1)
    live = 0
    for x in range(src.shape[0]):
        dst[x] = src[x]
        live += src[x]
    return live


@pp.helper_nb
def wait_for_day_nb(ctrl, day):
    """In the driver: 1 once ``day`` is in the ring; 0 if the helper stopped before it (the
    driver draws from here on); -1 if the helper failed."""
    spins = 0
    while True:
        if seen(ctrl, C_DRAWN) >= day:
            return 1
        if seen(ctrl, C_FAILED) != 0:
            return -1
        if seen(ctrl, C_FULL) != 0:
            return 1 if seen(ctrl, C_DRAWN) >= day else 0
        spins = spin_pause(spins)


@pp.helper_nb
def _copy_flat_nb(src, dst):
    for x in range(src.shape[0]):
        dst[x] = src[x]


@pp.helper_nb
def take_day_nb(day, pk, ring, n, ppl, flows):
    """In the driver: ``day``'s departures from the ring written as people after person
    ``n - 1`` (room is the caller's job), and their flows; returns the new live count."""
    slot = day % RING_DAYS
    counts = ring.counts[slot]
    departure_flows_nb(day, pk, counts, ring.returning[slot], flows)
    s0 = slot * ring.cap
    settle_nb(ring.demo, ring.route, ring.t_next, ring.t_last, ring.trip, s0, counts, day, ppl, n)
    return n + counts.sum()


@nb.njit(cache=True)
def _undo_nb(first, last, ring, pool):
    """Days ``first .. last`` drawn and not taken: their returnees back into the pool."""
    for day in range(first, last + 1):
        slot = day % RING_DAYS
        i = slot * ring.cap
        for a in range(ring.counts.shape[1]):
            i += ring.counts[slot, a]
            for j in range(i - ring.returning[slot, a], i):
                pool[a, ring.t_last[j]] += 1


class Helper:
    """A helper thread for one driver call's days: :func:`draw_ahead_nb` with ``args``."""

    def __init__(self, ring: Ring, d0: int, pk: DeparturePack, fits: np.ndarray, args: tuple):
        self.ring = ring
        self.d0 = d0
        self.pk = pk
        self.fits = fits
        self.errors: list[BaseException] = []
        ring.ctrl[:] = 0
        ring.ctrl[C_DONE] = d0 - 1
        ring.ctrl[C_DRAWN] = d0 - 1
        ring.ctrl[C_COUNTED] = d0 - 1
        ring.fits[:] = fits
        self.thread = threading.Thread(
            target=self._run, args=args, name="corridor-departures", daemon=True
        )

    def _run(self, *args) -> None:
        try:
            draw_ahead_nb(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the driver's thread
            self.errors.append(e)
            self.ring.ctrl[C_FAILED] = 1


def start(
    ring: Ring,
    d0: int,
    d1: int,
    seed: int,
    pk: DeparturePack,
    tables: tuple,
    scale: int,
    limit: int,
    fits: np.ndarray,
    stg: tuple,
) -> Helper | None:
    """The helper for a driver call over ``d0 .. d1 - 1``, started; None without a ring.
    ``tables``: the result tables the driver writes by day (flows, stocks, cbp), multiplied
    into people by ``scale`` up to ``limit`` while ``fits`` (the driver's state: set back
    by :func:`finish`); ``stg``: the staging pack (harm rates, shelter beds)."""
    if ring.cap == 0 or d1 <= d0:
        return None
    own = pk._replace(
        mem_in=pk.mem_in.copy(), mem_all=pk.mem_all.copy(), returning=pk.returning.copy()
    )
    h = Helper(ring, d0, pk, fits, (d0, d1, seed, own, ring, tables, scale, limit, stg))
    h.thread.start()
    return h


def finish(h: Helper | None, day: int | None) -> None:
    """After the driver call that stopped before ``day``: stop and join the helper, undo the
    days it drew from ``day`` on, and raise what it raised. ``day`` None: the driver raised
    (the run is lost; the helper is only stopped)."""
    if h is None:
        return
    ring = h.ring
    ring.ctrl[C_STOP] = 1
    h.thread.join()
    if day is None:
        return
    if h.errors:
        raise RuntimeError("the departures' helper thread failed") from h.errors[0]
    h.fits[:] = ring.fits
    last = int(ring.ctrl[C_DRAWN])
    if last >= day:
        _undo_nb(day, last, ring, h.pk.pool)
        h.pk.avail_day[0] = -1  # recounted from the pool on the next draw
    if h.d0 <= day - 1 <= last:  # as drawing the last day taken leaves it
        h.pk.returning[:] = ring.returning[(day - 1) % RING_DAYS]
