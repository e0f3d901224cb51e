"""The model's numba kernels against their vectorised NumPy references
(:mod:`corridor.model.reference`), on real simulation states.

Two runs of the Python loop (the stress scenario, every transition of the model; and a history
window, Title 42 into the asylum rule) stop before each module's step on chosen days. For each
kernel the step's compiled day function calls, the test rebuilds that call's arguments exactly as
the day function does, runs the kernel on one copy and keeps the other. Then:

* the kernel on the copy did what the step did to the simulation (the call is the real one);
* the reference on the kept copy mutates every array and returns the same as the kernel did;
* on the same states with capacities made small (INM's, the deportation and take-back caps, beds,
  seats, CBP One slots), so that the allocations in index order bind, and with a few parameters
  changed (the emergency authority switched, every MPP hearing due), they agree too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from corridor.api import prepare
from corridor.engine import people as pp
from corridor.engine import rng
from corridor.engine.reference import array_leaves, copy_args
from corridor.engine.series import F
from corridor.engine.sim import Simulation
from corridor.model import bookkeeping, departure, encounter, processing, removal, staging, transit
from corridor.model import reference as ref
from corridor.model.registry import PHASES

SCALE = 500
# Days of each run (from 2022-10-01) to replay: Title 42 with CBP One (from day 103), the asylum
# rule (day 222 on) and, in the stress run, MPP hearings, the emergency authority and flights.
# Each case: the conftest scenario's changes, and the days.
CASES: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "stress": ({"stress": True, "scale": SCALE}, (60, 150, 290, 330, 380, 430)),
    "history": (
        {"scale": SCALE, "end": "2023-09-30", "decision_date": "2023-06-01"},
        (40, 130, 215, 260, 330),
    ),
}
KERNELS = (
    "departure_counts",
    "spawn",
    "returnees",
    "transit",
    "staging",
    "lottery",
    "encounter",
    "processing",
    "removal",
    "end_of_day",
)
MIN_DAYS = 3  # each kernel is replayed on at least this many days of each run
# MPP hearings are rare at this scale: also replay the first days on which one is due.
HEARING_DAYS = 4


@dataclass
class Call:
    """One kernel call: its arguments before, and after the kernel ran on a copy."""

    case: str
    day: int
    kernel: str
    nb: Callable
    numpy: Callable
    before: tuple
    out: Any
    after: tuple
    variant: bool = False  # capacities or parameters changed: not the simulation's own call


def _call(case: str, day: int, kernel: str, args: tuple, variant: bool = False) -> Call:
    nb = {
        "departure_counts": departure.departure_counts_nb,
        "spawn": departure.spawn_nb,
        "returnees": departure.returnees_nb,
        "transit": transit.transit_nb,
        "staging": staging.staging_nb,
        "lottery": encounter.lottery_nb,
        "encounter": encounter.encounter_nb,
        "processing": processing.processing_nb,
        "removal": removal.removal_nb,
        "end_of_day": bookkeeping.end_of_day_nb,
    }[kernel]
    work = copy_args(args)
    out = nb(*work)
    numpy = getattr(ref, f"{kernel}_numpy")
    return Call(case, day, kernel, nb, numpy, copy_args(args), out, work, variant)


def _people(sim: Simulation) -> tuple[np.ndarray, ...]:
    return tuple(a.copy() for a in sim.people.arrays())


def _saturated(ppl: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """A copy of the people with every other person's uint8 counters at their maximum."""
    out = copy_args(ppl)
    for name in ("encounters", "expulsions", "removals"):
        out[list(pp.FIELDS).index(name)][::2] = 255
    return out


def _assert_people(got: tuple, sim: Simulation, n: int, what: str) -> None:
    for name, x, y in zip(pp.FIELDS, got, sim.people.arrays(), strict=True):
        np.testing.assert_array_equal(x[:n], y[:n], err_msg=f"{what}: {name}")


# --- rebuilding each day function's kernel calls ---------------------------------------------


def _departure(case: str, sim: Simulation, day: int, calls: list[Call]) -> Callable[[], None]:
    pk = sim.module("departure").pk
    c = _call(case, day, "departure_counts", (day, sim.seed, pk))
    calls.append(c)
    counts = c.out
    n = sim.people.n
    sim.people.reserve(int(counts.sum()))  # as the step does, before the kernel
    if counts.sum() == 0:
        return lambda: None
    args = (
        n,
        counts,
        day,
        sim.seed,
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
        _people(sim),
    )
    spawn = _call(case, day, "spawn", args)
    calls.append(spawn)
    drawn = c.after[2]  # the pack after the counts: today's returnees
    args = (n, counts, drawn.returning, day, sim.seed, drawn.pool, drawn.avail, spawn.after[-1])
    back = _call(case, day, "returnees", args)
    calls.append(back)

    def check() -> None:
        _assert_people(back.after[-1], sim, sim.people.n, "returnees")
        np.testing.assert_array_equal(back.after[5], pk.pool)
        np.testing.assert_array_equal(back.after[6], pk.avail)
        np.testing.assert_array_equal(drawn.returning, pk.returning)

    return check


def _transit_args(sim: Simulation, day: int) -> tuple:
    tra = sim.module("transit")
    pk = tra.pk
    whole, left, _, _, _ = transit.inm_limits_nb(
        day, pk, tra.cap_carry, tra.deported_this_month, tra.month_seen
    )
    return (
        sim.people.n,
        day,
        sim.seed,
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
        _people(sim),
        sim.res.flows[day].copy(),
    )


def _transit(case: str, sim: Simulation, day: int, calls: list[Call]) -> Callable[[], None]:
    args = _transit_args(sim, day)
    c = _call(case, day, "transit", args)
    calls.append(c)
    for cap, left in ((1, 0), (3, 1), (args[7] // 4, args[8] // 3)):
        calls.append(_call(case, day, "transit", args[:7] + (cap, left) + args[9:], variant=True))

    def check() -> None:
        _assert_people(c.after[13], sim, args[0], "transit")
        np.testing.assert_array_equal(c.after[14], sim.res.flows[day])

    return check


def _staging(case: str, sim: Simulation, day: int, calls: list[Call]) -> Callable[[], None]:
    sim.ensure_event_capacity()
    pk = sim.module("staging").pk
    cross, give_up = staging.cross_today_nb(day, pk), staging.give_up_today_nb(day, pk)
    hazard = pk.hazard.copy()  # as the step sums it before the people's day
    staging.sum_hazards_nb(cross, give_up, hazard)
    args = (
        sim.people.n,
        day,
        sim.seed,
        pk.beds[day],
        cross,
        give_up,
        hazard,
        pk.register_cum,
        pk.min_wait,
        pk.harm_street,
        pk.shelter_factor,
        pk.mpp_give_up,
        _people(sim),
        sim.event.copy(),
        sim.res.flows[day].copy(),
    )
    c = _call(case, day, "staging", args)
    calls.append(c)
    small = args[:3] + (np.minimum(pk.beds[day], np.arange(pk.beds.shape[1])),) + args[4:]
    calls.append(_call(case, day, "staging", small, variant=True))
    # Harm is rare at this scale (~3e-4 a person-day): a variant makes it common.
    harmful = args[:9] + (0.05,) + args[10:]
    calls.append(_call(case, day, "staging", harmful, variant=True))

    def check() -> None:
        _assert_people(c.after[12], sim, args[0], "staging")
        np.testing.assert_array_equal(c.after[13], sim.event)
        np.testing.assert_array_equal(c.after[14], sim.res.flows[day])

    return check


def _encounter(case: str, sim: Simulation, day: int, calls: list[Call]) -> Callable[[], None]:
    mod = sim.module("encounter")
    pk = mod.pk
    n = sim.people.n
    ppl, event = _people(sim), sim.event.copy()
    slots = int(pk.slots[day] + mod.slot_carry)
    if slots > 0:
        key = rng.day_key(sim.seed, rng.STREAM["cbp_one_lottery"], day)
        lot = (key, n, ppl[3], ppl[5], ppl[0], slots, event)
        c = _call(case, day, "lottery", lot)
        calls.append(c)
        calls.append(_call(case, day, "lottery", lot[:5] + (max(slots // 5, 1), event), True))
        event = c.after[6]
    args = (
        n,
        day,
        sim.seed,
        pk.port_share,
        pk.gotaway,
        pk.alt_sector[pk.month_row[day]],
        pk.primary,
        pk.second,
        ppl,
        event,
        sim.res.flows[day].copy(),
    )
    c = _call(case, day, "encounter", args)
    calls.append(c)

    def check() -> None:
        _assert_people(c.after[8], sim, n, "encounter")
        np.testing.assert_array_equal(c.after[9], sim.event)
        np.testing.assert_array_equal(c.after[10], sim.res.flows[day])

    return check


def _flight_room(sim: Simulation, day: int) -> np.ndarray:
    """Today's room on removal flights by nationality, as the processing step computes it."""
    ppl = sim.people.arrays()
    held = processing.in_custody_nb(sim.people.n, ppl[3])
    return processing.flight_room_nb(sim.module("processing").pk.seats_ahead[day], ppl[1], held)


def _processing(case: str, sim: Simulation, day: int, calls: list[Call]) -> Callable[[], None]:
    pro = sim.module("processing")
    pk = pro.pk
    used = pro.takeback_used if pk.month_of_day[day] == pro.takeback_month else 0
    args = (
        sim.people.n,
        day,
        sim.seed,
        pk.month_of_day,
        pk.t42[day],
        pro.emergency_on,
        pk.accepts[day],
        pk.takeback[day],
        max(0, int(round(pk.takeback_cap[day])) - used),
        pk.mpp[day],
        pk.removal_share[day],
        pk.flights[day],
        max(0, int(pk.beds[day]) - pro.custody),
        _flight_room(sim, day),
        pk.t42_share[day],
        pk.mex_adult,
        pk.mex_family,
        pk.hearing_days,
        pk.alt_sector[pk.month_row[day]],
        pk.primary,
        pk.second,
        _people(sim),
        sim.event.copy(),
        sim.res.flows[day].copy(),
        sim.res.cbp[day].copy(),
    )
    c = _call(case, day, "processing", args)
    calls.append(c)
    for takeback_left, beds_left in ((1, 1), (2, 0), (0, 3), (5, 2)):
        small = args[:8] + (takeback_left,) + args[9:12] + (beds_left,) + args[13:]
        calls.append(_call(case, day, "processing", small, variant=True))
        # little room on the flights: the Title 42 flight rule switches off within the day
        small = small[:13] + (np.minimum(args[13], takeback_left),) + small[14:]
        calls.append(_call(case, day, "processing", small, variant=True))
    # Everyone ordered removed (no MPP, removal share 1) and no seat in sight: the take-back
    # and the beds (held for a later flight) both have candidates, one place each.
    no_room = np.zeros_like(args[13])
    swept = args[:8] + (1, 0.0, 1.0) + args[11:12] + (1, no_room) + args[14:]
    calls.append(_call(case, day, "processing", swept, variant=True))
    # An emergency day (the authority on) on the same state, whether or not it was on.
    emer = args[:5] + (not args[5],) + args[6:]
    calls.append(_call(case, day, "processing", emer, variant=True))
    emer = emer[:8] + (1,) + emer[9:12] + (1,) + emer[13:]
    calls.append(_call(case, day, "processing", emer, variant=True))
    worn = args[:21] + (_saturated(args[21]),) + args[22:]  # the uint8 counters stop at 255
    calls.append(_call(case, day, "processing", worn, variant=True))

    def check() -> None:
        _assert_people(c.after[21], sim, args[0], "processing")
        np.testing.assert_array_equal(c.after[22], sim.event)
        np.testing.assert_array_equal(c.after[23], sim.res.flows[day])
        np.testing.assert_array_equal(c.after[24], sim.res.cbp[day])

    return check


def _removal(case: str, sim: Simulation, day: int, calls: list[Call]) -> Callable[[], None]:
    pk = sim.module("removal").pk
    seats = np.floor(pk.seats[day] + pk.seat_carry).astype(np.int64)  # carry left untouched
    args = (sim.people.n, day, seats, pk.max_days, _people(sim), sim.res.flows[day].copy())
    c = _call(case, day, "removal", args)
    calls.append(c)
    few = np.arange(seats.size, dtype=np.int64) % 3  # 0, 1 or 2 seats: FIFO decides who
    calls.append(_call(case, day, "removal", args[:2] + (few,) + args[3:], variant=True))
    worn = args[:2] + (few + 1, 5, _saturated(args[4])) + args[5:]
    calls.append(_call(case, day, "removal", worn, variant=True))

    def check() -> None:
        _assert_people(c.after[4], sim, args[0], "removal")
        np.testing.assert_array_equal(c.after[5], sim.res.flows[day])

    return check


def _bookkeeping(case: str, sim: Simulation, day: int, calls: list[Call]) -> Callable[[], None]:
    pk = sim.module("bookkeeping").pk
    n = sim.people.n
    stocks = np.zeros_like(sim.res.stocks[day])
    args = (n, day, sim.seed, pk.relief, pk.home_after, _people(sim), sim.res.flows[day].copy())
    args += (stocks, bookkeeping.new_histogram(), sim.module("departure").pk.pool.copy())
    args += (pk.beds[day], bookkeeping.new_shelter_scratch())
    c = _call(case, day, "end_of_day", args)
    calls.append(c)
    # Everyone in MPP has their hearing (60 days on), and relief is common.
    later = min(day + 60, sim.n_days - 1)  # within the run: the pool has a column a day
    calls.append(_call(case, day, "end_of_day", (n, later, sim.seed, 0.3) + args[4:], True))

    def check() -> None:
        assert c.out == sim.people.n
        _assert_people(c.after[5], sim, c.out, "end_of_day")
        np.testing.assert_array_equal(c.after[6], sim.res.flows[day])
        np.testing.assert_array_equal(c.after[7], sim.res.stocks[day])
        np.testing.assert_array_equal(c.after[9], sim.module("departure").pk.pool)
        assert not c.after[8].any()  # the scratch histogram is left zeroed

    return check


def _hearing_due(sim: Simulation, day: int) -> bool:
    """Someone in MPP has their hearing today (unless they give up first)."""
    n = sim.people.n
    return bool(((sim.people.state[:n] == pp.MPP) & (sim.people.t_next[:n] <= day)).any())


CAPTURE = {
    "departure": _departure,
    "transit": _transit,
    "staging": _staging,
    "encounter": _encounter,
    "processing": _processing,
    "removal": _removal,
    "bookkeeping": _bookkeeping,
}


@pytest.fixture(scope="module")
def calls(make_scenario) -> list[Call]:
    """Run each case's Python loop to its last replayed day, capturing as described above."""
    out: list[Call] = []
    for case, (changes, days) in CASES.items():
        sim = Simulation(prepare(make_scenario(**changes)), list(PHASES))
        assert [m.name for m in sim.modules] == list(CAPTURE)
        extra = 0
        for day in range(max(days) + 1):
            replay = day in days
            if not replay and extra < HEARING_DAYS and _hearing_due(sim, day):
                replay, extra = True, extra + 1
            for m in sim.modules:
                check = CAPTURE[m.name](case, sim, day, out) if replay else None
                m.step(day)
                if check is not None:
                    check()  # the kernel on its copy did what the step did
    return out


# --- the tests ---------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and all(map(_same, a, b))
    return (a is None and b is None) or (a is not None and b is not None and int(a) == int(b))


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_equals_numpy_reference(calls: list[Call], kernel: str) -> None:
    mine = [c for c in calls if c.kernel == kernel]
    for case in CASES:
        replayed = {c.day for c in mine if c.case == case and not c.variant}
        assert len(replayed) >= MIN_DAYS, (kernel, case, sorted(replayed))
    changed = 0
    for c in mine:
        args = copy_args(c.before)
        got = c.numpy(*args)
        where = f"{kernel} {c.case} day {c.day}{' (variant)' if c.variant else ''}"
        assert _same(got, c.out), (where, got, c.out)
        for i, (x, y) in enumerate(zip(array_leaves(args), array_leaves(c.after), strict=True)):
            assert x.dtype == y.dtype, (where, i)
            np.testing.assert_array_equal(x, y, err_msg=f"{where}: array {i}")
        pairs = zip(array_leaves(c.before), array_leaves(c.after), strict=True)
        moved = any(not np.array_equal(x, y) for x, y in pairs)
        changed += moved or bool(np.any(np.asarray(c.out, dtype=object) != 0))
    assert changed, f"{kernel} never changed or returned anything: the check is empty"


def _candidates(c: Call) -> int:
    """People in a lottery call who hold a CBP One registration and wait."""
    _, n, state, flags, *_ = c.before
    return int(((state[:n] == pp.WAITING) & ((flags[:n] & pp.CBP_ONE) != 0)).sum())


def _hearings(c: Call) -> int:
    """MPP hearings due in an end-of-day call."""
    n, day, *_ = c.before
    ppl = c.before[5]
    state, t_next = ppl[list(pp.FIELDS).index("state")], ppl[list(pp.FIELDS).index("t_next")]
    return int(((state[:n] == pp.MPP) & (t_next[:n] <= day)).sum())


def _flow(c: Call, flow: str) -> int:
    """How much a call added to one flow series (its flows argument)."""
    i = next(
        k
        for k, a in enumerate(c.before)
        if isinstance(a, np.ndarray) and a.ndim == 3 and a.shape[0] == len(F)
    )
    return int(c.after[i][F[flow]].sum() - c.before[i][F[flow]].sum())


def test_replayed_calls_exercise_the_model(calls: list[Call]) -> None:
    """The replayed states reach every branch that has a capacity or a rare outcome."""
    by = {k: [c for c in calls if c.kernel == k] for k in KERNELS}
    real = {k: [c for c in v if not c.variant] for k, v in by.items()}
    assert sum(_flow(c, "darien_crossings") for c in real["transit"]) > 0
    assert any(c.before[2].sum() > 0 for c in real["returnees"])  # people leave again
    assert any(c.after[9].sum() > c.before[9].sum() for c in real["end_of_day"])  # pooled
    assert sum(_flow(c, "mexico_deportations") for c in real["transit"]) > 0
    assert sum(_flow(c, "mexico_releases") for c in real["transit"]) > 0
    assert sum(_flow(c, "harm_incidents") for c in by["staging"]) > 0
    assert sum(_flow(c, "gave_up") for c in real["staging"]) > 0
    assert sum(_flow(c, "gotaways") for c in real["encounter"]) > 0
    for flow in (
        "expulsions_title42",
        "returns_to_mexico",
        "emergency_returns",
        "detention_admissions",
        "releases",
        "cbp_one_appointments",
        "repeat_encounters",
    ):
        assert sum(_flow(c, flow) for c in real["processing"]) > 0, flow
    # MPP enrolments are rare here (the emergency authority is on when MPP is): the variant
    # with the authority switched off has them.
    assert sum(_flow(c, "mpp_enrollments") for c in by["processing"]) > 0
    assert sum(_flow(c, "removals") for c in real["removal"]) > 0
    assert sum(_flow(c, "releases") for c in real["removal"]) > 0  # held too long
    assert sum(_hearings(c) for c in real["end_of_day"]) >= HEARING_DAYS
    assert sum(_flow(c, "releases") for c in by["end_of_day"]) > 0  # relief
    assert sum(_flow(c, "gave_up") for c in by["end_of_day"]) > 0  # home after an order
    assert any(c.out < c.before[0] for c in real["end_of_day"])  # compaction drops people
    # The allocations in index order bind: INM's capacity, Mexico's deportation cap, the
    # take-back cap and beds (each exhausted with people still wanting), seats, slots.
    assert any(c.out[0] == c.before[7] > 0 for c in by["transit"] if c.variant)
    assert any(c.out[1] == c.before[8] > 0 for c in by["transit"] if c.variant)
    assert any(c.out[0] == c.before[8] > 0 for c in by["processing"] if c.variant)
    assert any(c.out[1] == c.before[12] > 0 for c in by["processing"] if c.variant)
    assert any(_candidates(c) > c.before[5] for c in by["lottery"] if not c.variant)
    assert any(_candidates(c) > c.before[5] for c in by["lottery"] if c.variant)
    assert any(_flow(c, "removals") > 0 for c in by["removal"] if c.variant)


def test_spans_of_processing_capacity(calls: list[Call]) -> None:
    """On some day with small capacities both counters run out part way, so the reference
    resolves more than one span of outcomes (the iterative part of ``processing_numpy``)."""
    both = [
        c
        for c in calls
        if c.kernel == "processing"
        and c.variant
        and c.out[0] == c.before[8] > 0
        and c.out[1] == c.before[12] > 0
    ]
    assert both


def test_normal_and_poisson_equal_the_kernels() -> None:
    """The draws the references use: Poisson counts exactly, normals to the last bits (NumPy's
    vectorised log and cos need not round like libm's in every case)."""
    key = rng.day_key(20240110, rng.STREAM["travel_time"], 123)
    agents = np.concatenate([np.arange(500), (np.arange(500) << 28) | (4 << 24)]).astype(np.int64)
    z = ref.normal(key, agents)
    z_nb = np.array([rng.normal_nb(key, int(a)) for a in agents])
    np.testing.assert_array_max_ulp(z, z_nb, maxulp=4)
    lam = np.concatenate([[0.0, -1.0, 1e-9, 30.0, 30.000001], np.linspace(0.01, 80.0, 995)])
    counters = np.arange(lam.size, dtype=np.int64)
    k = ref.poisson(key, counters, lam)
    k_nb = np.array([rng.poisson_nb(key, int(c), float(lam[c])) for c in counters])
    np.testing.assert_array_equal(k, k_nb)


@pytest.mark.parametrize("seed", range(5))
def test_fifo_is_a_stable_sort_by_custody_start(seed: int) -> None:
    """removal.fifo_nb (a counting sort) gives the order of a stable argsort by start day."""
    g = np.random.default_rng(seed)
    t_state = g.integers(-1, 60, size=500).astype(np.int16)
    for size in (1, 2, 37, 300):
        cust = np.sort(g.choice(500, size=size, replace=False)).astype(np.int64)
        if seed % 2:  # not in array order: today's admissions appended (the driver's list)
            cust = np.concatenate([cust[size // 2 :], cust[: size // 2]])
        want = cust[np.argsort(t_state[cust], kind="stable")]
        np.testing.assert_array_equal(removal.fifo_nb(cust, t_state), want)


@pytest.mark.parametrize("slots", [1, 2, 3, 7, 64, 199, 200])
def test_lottery_nb_equals_reference_at_any_slot_count(slots: int) -> None:
    """encounter.lottery_nb (a bounded heap) picks what the NumPy lottery picks (a sort)."""
    g = np.random.default_rng(slots)
    n = 400
    uid = g.permutation(10**6)[:n].astype(np.int64)
    state = np.full(n, pp.WAITING, dtype=np.uint8)
    flags = np.where(g.random(n) < 0.5, pp.CBP_ONE, 0).astype(np.uint8)
    key = rng.day_key(7, rng.STREAM["cbp_one_lottery"], slots)
    event = np.zeros(n, dtype=np.uint8)
    won = encounter.lottery_nb(key, n, state, flags, uid, slots, event)
    cand = np.flatnonzero(flags & pp.CBP_ONE)
    want = encounter.lottery(key, uid, cand, slots)
    assert won == want.size
    np.testing.assert_array_equal(np.flatnonzero(event == encounter.OFO_APPT), want)
