"""The fused day loop (one compiled call per chunk of days) against the Python loop it replaces:
the same flows, stocks, CBP table, emergency switch and flights, the same end state of every
module, at any chunk size, thread count or starting capacity."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import corridor
from corridor.analysis.outputs import summary
from corridor.api import prepare
from corridor.engine.people import FIELDS, People
from corridor.engine.sim import Simulation
from corridor.model import day_pass, fused
from corridor.model.registry import PHASES
from corridor.scenario.schema import Scenario

SERIES = ("flows", "stocks", "cbp", "emergency_authority_on", "flights")
# Each module's state after the last day: the Python loop's and the fused driver's must agree.
MODULE_STATE = {
    "transit": ("cap_carry", "deported_this_month", "month_seen"),
    "encounter": ("slot_carry", "appointments_given"),
    "processing": ("custody", "takeback_used", "takeback_month", "emergency_on"),
    "removal": ("seat_carry",),
    "bookkeeping": ("below_days", "daily_encounters", "emergency"),
    "departure": ("mem_in", "mem_all", "let_in", "sent_back"),
}


def _baseline(scale: int = 200) -> Scenario:
    """The shipped baseline, Oct 2019 - Dec 2024 (MPP, Title 42, CHNV, CBP One, the rule)."""
    return prepare("baseline", scale=scale)


def _run(scn: Scenario, fused_: bool, **kw) -> Simulation:
    sim = Simulation(scn, list(PHASES))
    sim.run(fused=fused_, **kw)
    return sim


def _assert_same_sims(a: Simulation, b: Simulation) -> None:
    for k in ("flows", "stocks", "cbp"):
        np.testing.assert_array_equal(getattr(a.res, k), getattr(b.res, k), err_msg=k)
    assert a.res.agent_steps == b.res.agent_steps
    assert a.res.peak_agents == b.res.peak_agents
    assert a.people.n == b.people.n
    n = a.people.n
    for name, x, y in zip(FIELDS, a.people.arrays(), b.people.arrays(), strict=True):
        if name != "wake":  # the fused pass's schedule of looks (the loop looks every day)
            np.testing.assert_array_equal(x[:n], y[:n], err_msg=name)
    for name, attrs in MODULE_STATE.items():
        ma, mb = a.module(name), b.module(name)
        for attr in attrs:
            np.testing.assert_array_equal(
                getattr(ma, attr), getattr(mb, attr), err_msg=f"{name}.{attr}"
            )


def _assert_same_ds(a, b) -> None:
    for v in SERIES:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    for k in ("agent_steps", "agents_created", "peak_agents"):
        assert a.attrs[k] == b.attrs[k], k


@pytest.fixture(scope="module")
def baseline_loop() -> Simulation:
    return _run(_baseline(), False)


@pytest.fixture(scope="module")
def stress_loop(make_scenario) -> Simulation:
    return _run(prepare(make_scenario(stress=True)), False)


def test_baseline_fused_equals_loop(baseline_loop) -> None:
    got = _run(_baseline(), True)
    _assert_same_sims(baseline_loop, got)
    flows = got.res.flows.sum(axis=(0, 2, 3))
    assert flows.min() >= 0 and flows.sum() > 0
    assert got.res.timings.keys() == {"fused"}


def test_stress_fused_equals_loop(stress_loop, make_scenario) -> None:
    got = _run(prepare(make_scenario(stress=True)), True)
    _assert_same_sims(stress_loop, got)
    # The stress levers are exercised: the switch turns on, MPP and flights happen.
    assert got.module("bookkeeping").emergency.any()
    assert got.module("removal").flights_flown.sum() > 0


@pytest.mark.parametrize("split", [2, 3])
def test_the_pass_split_over_threads(stress_loop, baseline_loop, make_scenario, monkeypatch, split):
    """Every day's pass split into ranges (more ranges than threads is allowed): INM's caps,
    the shelter beds and the day's lists keep the serial order, so nothing changes."""
    monkeypatch.setattr(day_pass, "SPLIT", split)
    monkeypatch.setattr(day_pass, "SPLIT_MIN", 0)
    _assert_same_sims(stress_loop, _run(prepare(make_scenario(stress=True)), True))
    _assert_same_sims(baseline_loop, _run(_baseline(), True))


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunks_and_progress(stress_loop, make_scenario, monkeypatch, chunk: int) -> None:
    """A progress callback splits the run into chunks; results do not change, and progress
    reaches the last day in order."""
    monkeypatch.setattr(fused, "CHUNK_DAYS", chunk)
    seen: list[int] = []
    got = _run(prepare(make_scenario(stress=True)), True, progress=seen.append)
    _assert_same_sims(stress_loop, got)
    assert seen == sorted(seen) and seen[-1] == got.n_days - 1
    assert len(seen) >= -(-got.n_days // chunk)


def test_growing_the_people_arrays_mid_run(baseline_loop, monkeypatch) -> None:
    """With no room set aside, the driver stops before the day that would overflow, Python
    grows the arrays, and the run resumes there: same results."""
    monkeypatch.setattr(fused, "_initial_capacity", lambda sim: 0)
    sim = Simulation(_baseline(), list(PHASES))
    sim.people = People(1024)
    sim.event = np.zeros(1024, dtype=np.uint8)
    calls = []
    real = fused.run_days_nb

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(fused, "run_days_nb", counting)
    sim.run(fused=True)
    assert len(calls) > 2  # it had to grow
    assert sim.people.capacity >= sim.res.peak_agents
    _assert_same_sims(baseline_loop, sim)


def test_initial_capacity_fits_the_baseline_peak(baseline_loop) -> None:
    sim = Simulation(_baseline(), list(PHASES))
    assert fused._initial_capacity(sim) >= baseline_loop.res.peak_agents


def test_corridor_run_fused_equals_profile(make_scenario) -> None:
    scn = make_scenario(stress=True)
    fast = corridor.run(scn)
    slow = corridor.run(scn, profile=True)
    _assert_same_ds(fast, slow)
    assert fast.attrs["module_seconds"].startswith("fused=")
    names = [kv.split("=")[0] for kv in slow.attrs["module_seconds"].split(";")]
    assert names == [m.name for m in PHASES]
    # Both forms parse as name=seconds (summary.json and `corridor run --profile`).
    assert summary(fast)["timings"]["modules_s"] == {"fused": pytest.approx(fast.attrs["run_s"])}
    assert set(summary(slow)["timings"]["modules_s"]) == set(names)


def test_thread_count_does_not_matter_fused(make_scenario) -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has only one thread here")
    before = numba.get_num_threads()
    scn = make_scenario(stress=True)
    try:
        one = corridor.run(scn, threads=1)
        two = corridor.run(scn, threads=2)
        assert (one.attrs["threads"], two.attrs["threads"]) == (1, 2)
        loop_two = corridor.run(scn, threads=2, profile=True)
    finally:
        numba.set_num_threads(before)
    _assert_same_ds(one, two)
    _assert_same_ds(one, loop_two)


def test_fused_refuses_other_phase_lists(make_scenario) -> None:
    scn = prepare(make_scenario(end="2022-10-10", decision_date="2022-10-05"))
    with pytest.raises(ValueError, match="fused=False"):
        Simulation(scn, list(PHASES[:-1])).run(fused=True)


def test_driver_cache_is_stamped_by_the_kernels_it_calls() -> None:
    """A cached kernel embeds every kernel it calls or inlines, and the code of the intrinsics
    it uses: its cache entry must go stale when any of their files changes, not only its own.
    So the driver and the kernels it links (the pass, the walk) are all stamped by every file
    of engine/ and model/."""
    from corridor.engine import jit_cache, walk

    files = jit_cache.dependency_files()
    assert {"fused.py", "transit.py", "processing.py", "rng.py", "people.py", "simd.py"} <= {
        p.name for p in files
    }
    for kernel in (
        fused.run_days_nb,
        day_pass.travel_and_wait_nb,
        day_pass.due_list_nb,
        walk.walk_days_nb,
    ):
        locator = kernel._cache._impl.locator
        assert isinstance(locator, jit_cache.DependentStamp), kernel
        assert len(locator.get_source_stamp()) == len(files)
