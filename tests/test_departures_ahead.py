"""The departures drawn ahead on a helper thread (corridor.model.departures_ahead) against the
driver drawing them itself: the same run bit for bit, when the arrays must grow mid-run (the
days drawn and not taken are undone), when a day does not fit a slot (the driver takes over),
in chunks, resumed from a checkpoint; a failing helper is an error, not a hang. Every run
with the helper here writes recycled tables left full of junk (engine.memory): the helper
and the driver must zero every row before it is written."""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest

import corridor
from corridor.api import prepare
from corridor.engine import memory
from corridor.engine.people import FIELDS, People
from corridor.engine.sim import Simulation
from corridor.model import departures_ahead as ahead
from corridor.model import fused
from corridor.model.checkpoint import History
from corridor.model.registry import PHASES

pytestmark = pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2, reason="the helper needs a second thread"
)


def _sim(scale: int = 200, stress: bool = False, make_scenario=None) -> Simulation:
    scn = prepare(make_scenario(stress=True)) if stress else prepare("baseline", scale=scale)
    return Simulation(scn, list(PHASES))


def _assert_same(a: Simulation, b: Simulation) -> None:
    for k in ("flows", "stocks", "cbp"):
        np.testing.assert_array_equal(getattr(a.res, k), getattr(b.res, k), err_msg=k)
    assert (a.res.agent_steps, a.res.peak_agents) == (b.res.agent_steps, b.res.peak_agents)
    n = a.people.n
    assert n == b.people.n
    for name, x, y in zip(FIELDS, a.people.arrays(), b.people.arrays(), strict=True):
        if name != "wake":  # reset at each driver call: runs in more calls look on other days
            np.testing.assert_array_equal(x[:n], y[:n], err_msg=name)
    da, db = a.module("departure"), b.module("departure")
    for attr in ("mem_in", "mem_all", "pool", "avail", "returning"):
        np.testing.assert_array_equal(getattr(da, attr), getattr(db, attr), err_msg=attr)


JUNK = 0xA5  # every byte of a recycled table before a run


def _junk_kept(shapes) -> None:
    """Kept mappings for tables of these shapes (int32), nothing viewing them, full of junk."""
    memory.release_kept()
    for shape in shapes:
        a = memory.zeroed(shape, np.int32)
        assert memory.keep(a)
        a.view(np.uint8)[...] = JUNK


@pytest.fixture(autouse=True)
def junk_tables(monkeypatch):
    """Before each test, junk in recycled tables of the baseline's sizes; ``recycled``
    counts the runs that took them."""
    res = _sim().res
    _junk_kept([t.shape for t in (res.flows, res.stocks, res.cbp)])
    seen = {"recycled": 0}
    real = fused._recycle_tables

    def recycle(res):
        took = real(res)
        seen["recycled"] += took
        return took

    monkeypatch.setattr(fused, "_recycle_tables", recycle)
    yield seen
    memory.release_kept()


@pytest.fixture()
def counted(monkeypatch):
    """Counts of helpers started, rings built with a slot, and days undone."""
    seen = {"helpers": 0, "rings": [], "undone": 0}
    real_start, real_ring, real_undo = ahead.start, ahead.ring_for, ahead._undo_nb

    def start(*args):
        h = real_start(*args)
        seen["helpers"] += h is not None
        return h

    def ring_for(*args):
        r = real_ring(*args)
        seen["rings"].append(r)
        return r

    def undo(first, last, ring, pool):
        seen["undone"] += last - first + 1
        return real_undo(first, last, ring, pool)

    monkeypatch.setattr(ahead, "start", start)
    monkeypatch.setattr(ahead, "ring_for", ring_for)
    monkeypatch.setattr(ahead, "_undo_nb", undo)
    return seen


@pytest.fixture(scope="module")
def drawn_by_driver() -> Simulation:
    """The baseline at scale 200 with the driver drawing its own departures."""
    fused.DRAW_AHEAD = False
    try:
        sim = _sim()
        sim.run(fused=True)
    finally:
        fused.DRAW_AHEAD = True
    return sim


def test_baseline_with_the_helper_equals_the_driver_alone(
    drawn_by_driver, counted, junk_tables
) -> None:
    sim = _sim()
    sim.run(fused=True)
    assert counted["helpers"] == 1 and counted["rings"][0].cap > 0
    assert junk_tables["recycled"] == 1  # on the junk tables
    _assert_same(drawn_by_driver, sim)
    assert sim.res.flows.sum() > 0


def test_a_run_keeps_its_tables_for_the_next(drawn_by_driver, junk_tables) -> None:
    """With nothing kept, a run keeps its fresh tables; while its results live the next run
    takes fresh ones; once they are dropped it takes them over, the same results."""
    memory.release_kept()
    first = _sim()
    first.run(fused=True)
    assert junk_tables["recycled"] == 0
    flows = first.res.flows
    second = _sim()
    second.run(fused=True)
    assert junk_tables["recycled"] == 0 and not np.shares_memory(second.res.flows, flows)
    _assert_same(drawn_by_driver, second)
    first.close()  # the modules point back at the simulation: without, gc frees it later
    second.close()
    del first, flows, second
    third = _sim()
    third.run(fused=True)
    assert junk_tables["recycled"] == 1
    _assert_same(drawn_by_driver, third)


def test_the_driver_alone_never_takes_recycled_tables(junk_tables, monkeypatch) -> None:
    monkeypatch.setattr(fused, "DRAW_AHEAD", False)
    sim = _sim()
    sim.run(fused=True)
    assert junk_tables["recycled"] == 0
    assert not (sim.res.flows.view(np.uint8) == JUNK).all()


def test_growing_mid_run_undoes_the_days_drawn_ahead(
    drawn_by_driver, counted, monkeypatch, junk_tables
):
    """With no room set aside the driver stops before each day that would overflow; the
    helper has drawn days past it, which are put back (returnees into the pool) and drawn
    again by the next call: the same run."""
    monkeypatch.setattr(fused, "_initial_capacity", lambda sim: 0)
    sim = _sim()
    sim.people = People(1024)
    sim.event = np.zeros(1024, dtype=np.uint8)
    sim.run(fused=True)
    assert counted["helpers"] > 2  # it had to grow, with a helper each call
    assert counted["undone"] > 0 and junk_tables["recycled"] == 1
    _assert_same(drawn_by_driver, sim)


def test_a_day_too_big_for_a_slot_hands_back_to_the_driver(
    drawn_by_driver, counted, monkeypatch, junk_tables
):
    """Slots of 40 agents: the helper stops at the first bigger day, the driver draws that day
    and the rest itself (and zeroes the rest of the recycled tables' rows)."""
    monkeypatch.setattr(
        ahead, "_ring", lambda cap, n_nat, lead, real=ahead._ring: real(min(cap, 40), n_nat, lead)
    )
    sim = _sim()
    sim.run(fused=True)
    ring = counted["rings"][0]
    assert ring.cap == 40 and ring.ctrl[ahead.C_FULL] == 1
    assert 0 < ring.ctrl[ahead.C_DRAWN] < sim.n_days - 1  # some days by each
    assert junk_tables["recycled"] == 1
    _assert_same(drawn_by_driver, sim)


def test_in_chunks_with_progress(drawn_by_driver, counted, junk_tables) -> None:
    sim = _sim()
    days = []
    sim.run(fused=True, progress=days.append)
    assert counted["helpers"] == -(-sim.n_days // fused.CHUNK_DAYS)
    assert junk_tables["recycled"] == 1
    _assert_same(drawn_by_driver, sim)


def test_stress_scenario_both_ways(make_scenario, counted, monkeypatch) -> None:
    """Emergency switch, MPP, flights and take-backs: more of the day's outcomes feed the
    pull and the pool the helper reads."""
    monkeypatch.setattr(fused, "DRAW_AHEAD", False)
    alone = _sim(stress=True, make_scenario=make_scenario)
    alone.run(fused=True)
    monkeypatch.setattr(fused, "DRAW_AHEAD", True)
    helped = _sim(stress=True, make_scenario=make_scenario)
    helped.run(fused=True)
    assert counted["helpers"] == 1
    _assert_same(alone, helped)


def test_resumed_from_the_decision_date(monkeypatch, counted, junk_tables) -> None:
    """A run that leaves a checkpoint and one resumed from it, with the helper, give what the
    driver alone gives (the first on junk tables, the resumed one on the first's)."""
    monkeypatch.setattr(fused, "DRAW_AHEAD", False)
    alone = corridor.run("mexico-asks", scale=200)
    monkeypatch.setattr(fused, "DRAW_AHEAD", True)
    h = History()
    corridor.run("baseline", scale=200, history=h)
    resumed = corridor.run("mexico-asks", scale=200, history=h)
    assert h.hits == 1 and counted["helpers"] >= 3  # two calls, then the resumed one
    assert junk_tables["recycled"] == 2
    for v in ("flows", "stocks", "cbp"):
        np.testing.assert_array_equal(alone[v].values, resumed[v].values, err_msg=v)


def test_a_failing_helper_is_an_error_not_a_hang(monkeypatch) -> None:
    def broken(*args):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(ahead, "draw_ahead_nb", broken)
    with pytest.raises(RuntimeError, match="helper thread failed") as e:
        _sim().run(fused=True)
    assert isinstance(e.value.__cause__, ZeroDivisionError)


def test_one_thread_or_a_one_day_lead_leaves_the_drawing_to_the_driver(counted) -> None:
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _sim().run(fused=True)
    finally:
        numba.set_num_threads(before)
    assert counted["helpers"] == 0 and counted["rings"][0].cap == 0
    pk = _sim().module("departure").pk
    assert ahead.lead_days(pk) == ahead.REDEPARTURE_MIN_DAYS  # the pull's lag is 41 days
    assert ahead.lead_days(pk._replace(lag_days=0)) == 1
    assert ahead.ring_for(np.ones(10), pk._replace(lag_days=0), True).cap == 0
    assert ahead.ring_for(np.ones(10), pk, True).cap > 0
    assert ahead.ring_for(np.ones(10), pk, False).cap == 0


@pytest.mark.parametrize("small_limit", [False, True])
def test_tables_multiplied_into_people_by_the_helper(monkeypatch, counted, small_limit) -> None:
    """The helper multiplies each finished day into people (the driver alone does it at the
    end of each day). With a limit of 40 a table overflows mid-run: its days so far are
    divided back and it is widened after the run, the same either way."""
    if small_limit:
        monkeypatch.setattr(fused, "scale_limit", lambda dtype, scale: 40)

    def run(ahead_on: bool) -> Simulation:
        monkeypatch.setattr(fused, "DRAW_AHEAD", ahead_on)
        sim = _sim()
        sim.run(fused=True, in_people=True)
        return sim

    alone, helped = run(False), run(True)
    assert counted["helpers"] == 1
    assert helped.res.scale == 200
    widened = [t.dtype == np.int64 for t in (helped.res.flows, helped.res.stocks)]
    assert any(widened) == small_limit
    _assert_same(alone, helped)


def test_two_runs_at_once_in_two_python_threads(drawn_by_driver) -> None:
    """The driver runs without the GIL: two runs overlap, each with its own helper, and each
    gives what one run alone gives."""
    sims = [_sim(), _sim()]
    threads = [threading.Thread(target=s.run, kwargs={"fused": True}) for s in sims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sims:
        _assert_same(drawn_by_driver, s)
