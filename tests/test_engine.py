"""The engine: compact agents, kernels that equal their plain-Python selves, the CBP One lottery,
determinism (seed, thread count), and numba's on-disk cache."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher

import corridor
from corridor.api import prepare, warm_up
from corridor.engine import people as pp
from corridor.engine import rng
from corridor.engine.reference import array_leaves, copy_args, lottery_naive, pure
from corridor.engine.series import F
from corridor.engine.sim import Simulation
from corridor.model import (
    bookkeeping,
    departure,
    encounter,
    processing,
    removal,
    staging,
    transit,
)
from corridor.model.registry import PHASES

MODEL_MODULES = (departure, transit, staging, encounter, processing, removal, bookkeeping)
# Each step calls one compiled day function (the same the fused driver calls), which calls
# the module's kernels (spawn_nb, transit_nb, staging_nb, lottery_nb, encounter_nb,
# processing_nb, removal_nb, end_of_day_nb...). Replaying a day function
# through ``pure`` replays every kernel it calls as plain Python too.
KERNELS = {
    "departure_counts_nb": departure,
    "departure_day_nb": departure,
    "transit_day_nb": transit,
    "staging_day_nb": staging,
    "encounter_day_nb": encounter,
    "processing_day_nb": processing,
    "removal_day_nb": removal,
    "bookkeeping_day_nb": bookkeeping,
}


def _own_kernels(mod) -> dict[str, CPUDispatcher]:
    """The numba functions a module defines (not those it imports)."""
    return {
        name: obj
        for name, obj in vars(mod).items()
        if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == mod.__name__
    }


# Every numba function of the model modules; those a step calls from Python get replayed.
ALL_KERNELS = {name: mod for mod in MODEL_MODULES for name in _own_kernels(mod)}
assert set(KERNELS) <= set(ALL_KERNELS), "a required kernel is missing from its module"

# Days of the stress scenario (2022-10-01 to 2023-12-31) whose kernel calls are replayed: every
# fifth day (Title 42, CBP One, then from June 2023 the asylum rule with MPP, the emergency
# authority and more flights). bookkeeping_day_nb and removal_day_nb are also replayed on the
# first days something is due for them (an MPP hearing; someone in US custody), which are rare
# at scale 1000.
CAPTURE_DAYS = frozenset(range(0, 457, 5))
EXTRA_DAYS = 10


# --- agents --------------------------------------------------------------------------------


def test_agents_are_at_most_32_bytes() -> None:
    assert pp.BYTES_PER_AGENT <= 32
    ppl = pp.People(5000)
    arrays = ppl.arrays()
    assert len(arrays) == len(pp.FIELDS)
    assert sum(a.itemsize for a in arrays) == pp.BYTES_PER_AGENT
    assert all(a.shape == (ppl.capacity,) for a in arrays)
    assert ppl.nbytes_hot() == sum(a.nbytes for a in arrays)
    # Growing keeps the live agents and the dtypes.
    ppl.n = 5000
    ppl.uid[:5000] = np.arange(5000)
    ppl.reserve(10_000)
    assert ppl.capacity >= 15_000
    np.testing.assert_array_equal(ppl.uid[:5000], np.arange(5000))
    assert sum(a.itemsize for a in ppl.arrays()) == pp.BYTES_PER_AGENT


def _random_people(r: np.random.Generator, capacity: int) -> dict[str, np.ndarray]:
    out = {}
    for name, dt in pp.FIELDS.items():
        if dt.kind == "f":  # thresholds: any float, NaN and infinities included
            x = r.normal(0.0, 100.0, capacity).astype(dt)
            x[r.random(capacity) < 0.1] = r.choice([np.nan, np.inf, -np.inf])
            out[name] = x
            continue
        info = np.iinfo(dt)
        out[name] = r.integers(info.min, info.max, capacity, dtype=dt, endpoint=True)
    out["uid"] = r.permutation(capacity).astype(np.int64)
    out["state"] = r.integers(0, pp.N_STATES, capacity).astype(np.uint8)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_compact_numba_equals_numpy(seed: int) -> None:
    r = np.random.default_rng(seed)
    capacity = int(r.integers(1, 3000))
    n = int(r.integers(0, capacity + 1))
    if seed == 0:
        n = capacity  # full
    a = _random_people(r, capacity)
    if seed == 1:
        a["state"][:] = pp.IN_US  # all absorbed
    if seed == 2:
        a["state"][:] = pp.WAITING  # none absorbed
    b = {k: v.copy() for k, v in a.items()}
    active = a["uid"][:n][a["state"][:n] < pp.N_ACTIVE_STATES].copy()
    kept_nb = pp.compact_nb(n, tuple(a[k] for k in pp.FIELDS))
    kept_np = pp.compact_numpy(n, b)
    assert kept_nb == kept_np == active.size
    for k in pp.FIELDS:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    np.testing.assert_array_equal(a["uid"][:kept_nb], active)  # stable, only the active
    assert np.all(a["state"][:kept_nb] < pp.N_ACTIVE_STATES)


def test_people_compact_method() -> None:
    ppl = pp.People(100)
    ppl.n = 10
    ppl.uid[:10] = np.arange(10)
    ppl.state[:10] = [0, 6, 1, 7, 2, 3, 4, 5, 6, 7]
    assert ppl.compact() == 4
    assert ppl.n == 6
    np.testing.assert_array_equal(ppl.uid[:6], [0, 2, 4, 5, 6, 7])


# --- every model kernel equals its plain-Python self ----------------------------------------


@pytest.fixture(scope="module")
def kernel_calls(make_scenario):
    """Run the stress scenario at scale 1000 and record, on the capture days, each kernel's
    arguments before and after every call a step makes, and its return value."""
    scn = prepare(make_scenario(stress=True, scale=1000))
    warm_up(scn)  # compile (or load) every kernel before any is swapped for a recorder
    sim = Simulation(scn, list(PHASES))
    originals = {name: getattr(mod, name) for name, mod in ALL_KERNELS.items()}
    calls: dict[str, list] = {name: [] for name in ALL_KERNELS}
    today = {"day": -1}

    def wanted(name: str, day: int) -> bool:
        if day in CAPTURE_DAYS:
            return True
        extra = sum(d not in CAPTURE_DAYS for d, *_ in calls[name])
        if name not in ("bookkeeping_day_nb", "removal_day_nb") or extra >= EXTRA_DAYS:
            return False
        ppl = sim.people
        state = ppl.state[: ppl.n]
        if name == "removal_day_nb":
            return bool((state == pp.US_CUSTODY).any())
        return bool(((state == pp.MPP) & (ppl.t_next[: ppl.n] <= day)).any())

    def recorder(name: str, real):
        def call(*args):
            if not wanted(name, today["day"]):
                return real(*args)
            before = copy_args(args)
            out = real(*args)
            calls[name].append((today["day"], before, out, copy_args(args)))
            return out

        return call

    try:
        for name, mod in ALL_KERNELS.items():
            setattr(mod, name, recorder(name, originals[name]))
        for day in range(sim.n_days):
            today["day"] = day
            for m in sim.modules:
                m.step(day)
    finally:
        for name, mod in ALL_KERNELS.items():
            setattr(mod, name, originals[name])
    return originals, calls


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b)
    if isinstance(a, bool | np.bool_) or isinstance(b, bool | np.bool_):
        return bool(a) == bool(b)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_equals_plain_python(kernel_calls, name: str) -> None:
    _check_kernel(kernel_calls, name)


def test_other_step_kernels_equal_plain_python(kernel_calls) -> None:
    """Any other kernel a step calls from Python (helpers called only from inside kernels
    are checked through their callers)."""
    _, calls = kernel_calls
    for name in ALL_KERNELS:
        if name not in KERNELS and calls[name]:
            _check_kernel(kernel_calls, name)


def _check_kernel(kernel_calls, name: str) -> None:
    originals, calls = kernel_calls
    kernel = originals[name]
    assert isinstance(kernel, CPUDispatcher)
    ref = pure(kernel)
    assert calls[name], f"{name} was never called on the capture days"
    changed = 0
    for day, before, out, after in calls[name]:
        args = copy_args(before)
        got = ref(*args)
        assert _same(got, out), (name, day, got, out)
        for i, (x, y) in enumerate(zip(array_leaves(args), array_leaves(after), strict=True)):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y, err_msg=f"{name} day {day} array {i}")
        changed += any(
            not np.array_equal(x, y)
            for x, y in zip(array_leaves(before), array_leaves(after), strict=True)
        ) or (out is not None and bool(np.any(np.asarray(out, dtype=object) != 0)))
    assert changed, f"{name} changed and returned nothing on the replayed days: the check is empty"


def _arg(name: str, call: tuple, arg: str, when: int) -> object:
    """Argument ``arg`` of a recorded call, before (when=1) or after (when=3) the call."""
    params = list(inspect.signature(ALL_KERNELS[name].__dict__[name].py_func).parameters)
    return call[when][params.index(arg)]


def test_replayed_days_exercise_the_model(kernel_calls) -> None:
    """The replayed calls cover MPP hearings, custody, removals, emergency returns and more."""
    _, calls = kernel_calls

    def total(name: str, flow: str) -> int:
        return sum(
            int(_arg(name, c, "flows", 3)[F[flow]].sum() - _arg(name, c, "flows", 1)[F[flow]].sum())
            for c in calls[name]
        )

    hearings = 0
    fields = list(pp.FIELDS)
    for c in calls["bookkeeping_day_nb"]:
        n, day = _arg("bookkeeping_day_nb", c, "n", 1), _arg("bookkeeping_day_nb", c, "day", 1)
        ppl = _arg("bookkeeping_day_nb", c, "ppl", 1)
        state, t_next = ppl[fields.index("state")], ppl[fields.index("t_next")]
        hearings += int(((state[:n] == pp.MPP) & (t_next[:n] <= day)).sum())
    assert hearings > 0
    assert total("removal_day_nb", "removals") > 0
    assert total("processing_day_nb", "emergency_returns") > 0
    assert total("processing_day_nb", "mpp_enrollments") > 0
    assert total("processing_day_nb", "expulsions_title42") > 0
    assert total("encounter_day_nb", "gotaways") > 0
    assert total("processing_day_nb", "cbp_one_appointments") > 0
    assert total("transit_day_nb", "mexico_apprehensions") > 0
    assert total("transit_day_nb", "mexico_deportations") > 0
    assert total("staging_day_nb", "gave_up") > 0


# --- the CBP One lottery -------------------------------------------------------------------


@pytest.mark.parametrize("slots", [0, 1, 17, 250, 999, 1000, 1500])
def test_lottery_equals_naive_sort(slots: int) -> None:
    r = np.random.default_rng(slots)
    uid = (
        (r.integers(0, 500, 3000).astype(np.int64) << 28)
        | (r.integers(0, 11, 3000).astype(np.int64) << 24)
        | np.arange(3000, dtype=np.int64)
    )
    candidates = np.sort(r.choice(3000, 1000, replace=False)).astype(np.int64)
    key = rng.day_key(20240110, rng.STREAM["cbp_one_lottery"], 77)
    got = encounter.lottery(key, uid, candidates, slots)
    want = lottery_naive(key, uid, candidates, slots)
    np.testing.assert_array_equal(np.sort(got), want)
    assert got.size == min(slots, candidates.size)
    assert np.isin(got, candidates).all() and np.unique(got).size == got.size


def test_lottery_does_not_depend_on_array_order() -> None:
    r = np.random.default_rng(9)
    uid = r.permutation(10_000).astype(np.int64) * 7 + 3
    candidates = np.sort(r.choice(10_000, 2000, replace=False))
    key = rng.day_key(1, rng.STREAM["cbp_one_lottery"], 5)
    winners = uid[encounter.lottery(key, uid, candidates, 300)]
    perm = r.permutation(10_000)  # new position -> old position
    uid2 = uid[perm]
    where = np.argsort(perm)  # old position -> new position
    cand2 = np.sort(where[candidates])
    winners2 = uid2[encounter.lottery(key, uid2, cand2, 300)]
    np.testing.assert_array_equal(np.sort(winners), np.sort(winners2))


def test_lottery_is_fair() -> None:
    """Each registered person wins with probability slots / candidates over many days."""
    n, slots, days = 400, 40, 500
    uid = np.arange(n, dtype=np.int64) * 1_000_003
    candidates = np.arange(n)
    wins = np.zeros(n)
    for d in range(days):
        key = rng.day_key(3, rng.STREAM["cbp_one_lottery"], d)
        wins[encounter.lottery(key, uid, candidates, slots)] += 1
    p = slots / n
    se = np.sqrt(days * p * (1 - p))
    assert np.abs(wins - days * p).max() < 5 * se  # 5 SE: 400 people compared at once
    # No one is favoured by identity: wins are uncorrelated with uid.
    assert abs(np.corrcoef(wins, uid)[0, 1]) < 4 / np.sqrt(n)


# --- determinism ---------------------------------------------------------------------------

SERIES = ("flows", "stocks", "cbp", "emergency_authority_on", "flights")


def _assert_same(a, b) -> None:
    for v in SERIES:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


def test_same_seed_same_result(baseline_run, make_scenario) -> None:
    again = corridor.run(make_scenario())
    _assert_same(baseline_run, again)
    assert again.attrs["agent_steps"] == baseline_run.attrs["agent_steps"]
    assert baseline_run["flows"].sum() > 0


def test_thread_count_does_not_matter(baseline_run, make_scenario) -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has only one thread here")
    before = numba.get_num_threads()
    try:
        one = corridor.run(make_scenario(), threads=1)
        assert one.attrs["threads"] == 1
        two = corridor.run(make_scenario(), threads=2)
        assert two.attrs["threads"] == 2
    finally:
        numba.set_num_threads(before)
    _assert_same(one, two)
    _assert_same(one, baseline_run)


def test_different_seeds_differ(baseline_run, make_scenario) -> None:
    other = corridor.run(make_scenario(), seed=7)
    assert other.attrs["seed"] == 7
    a = baseline_run["flows"].values
    b = other["flows"].values
    assert not np.array_equal(a, b)
    # ... but not in expectation: total departures agree within a few percent.
    da = a[:, 0].sum()
    db = b[:, 0].sum()
    assert abs(da - db) < 0.05 * da


# --- numba's on-disk cache ------------------------------------------------------------------

ENGINE_MODULES = ("corridor.engine.people", "corridor.engine.rng")


def _compiled_kernels() -> dict[str, CPUDispatcher]:
    """Every numba function of the model and engine modules compiled in this process."""
    out = {}
    for mod in (*MODEL_MODULES, *(sys.modules[m] for m in ENGINE_MODULES)):
        for name, d in _own_kernels(mod).items():
            if d.signatures:
                out[f"{mod.__name__}.{name}"] = d
    return out


def test_kernels_are_cached_on_disk(baseline_run) -> None:
    compiled = _compiled_kernels()
    for name, mod in KERNELS.items():
        assert f"{mod.__name__}.{name}" in compiled, f"{name} did not run"
    for name, d in compiled.items():
        assert isinstance(d._cache, FunctionCache), f"{name} is not @njit(cache=True)"
        index = Path(d._cache._cache_file._index_path)
        assert index.suffix == ".nbi"
        assert index.exists(), f"{name}: no cache index at {index} after a run"
        data = list(index.parent.glob(index.name.removesuffix(".nbi") + ".*.nbc"))
        assert data, f"{name}: no cached machine code next to {index}"


def test_fresh_process_loads_kernels_from_cache(baseline_run, make_scenario) -> None:
    """After a run here, a new process running the model compiles nothing: every kernel it
    calls is a cache hit."""
    code = (
        "import json, sys\n"
        "import corridor\n"
        f"corridor.run({make_scenario(end='2022-10-20', decision_date='2022-10-10')!r})\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_engine import _compiled_kernels\n"
        "out = {k: [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]\n"
        "       for k, d in _compiled_kernels().items()}\n"
        "print(json.dumps(out))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    for name, mod in KERNELS.items():
        assert f"{mod.__name__}.{name}" in stats, f"{name} did not run"
    for key, (hits, misses) in stats.items():
        assert misses == 0, f"{key} was compiled again in a fresh process"
        assert hits >= 1, f"{key} was not loaded from the cache"


def test_a_dropped_result_frees_its_tables_at_once(make_scenario) -> None:
    """No reference cycle holds a run's tables: they go when the result does, without the
    cyclic garbage collector (repeated runs in one process do not pile up ~60 MB each), or,
    kept for the next run (engine/memory.py), are free for it at once."""
    import gc
    import weakref

    from corridor.engine import memory

    gc.collect()
    gc.disable()
    try:
        ds = corridor.run(make_scenario())
        flows = ds["flows"].values
        shape, dtype = flows.shape, flows.dtype
        owner = memory._mapping_of(flows) or flows
        alive = weakref.ref(owner)
        del ds, owner, flows
        if alive() is not None:
            again = memory.recycled(shape, dtype)
            assert again is not None and memory._mapping_of(again) is alive()
    finally:
        gc.enable()
        memory.release_kept()


def test_index_nb_keeps_every_person_index():
    """``pp.index_nb`` only tells LLVM the index is never negative: any index a list can hold
    (0 up to the largest array) comes back unchanged, in a compiled loop and in Python."""
    idx = np.array([0, 1, 7, 2**31 - 1, 2**31, 2**62 + 3], dtype=np.int64)

    @numba.njit
    def through(a):
        out = np.empty_like(a)
        for x in range(a.shape[0]):
            out[x] = pp.index_nb(a[x])
        return out

    assert np.array_equal(through(idx), idx)
    assert [int(pp.index_nb(int(i))) for i in idx] == idx.tolist()


@pytest.mark.parametrize("shape", [(3, 4), (1918, 23, 11, 22)])
def test_zeroed_tables_are_writable_zeros(shape):
    """``memory.zeroed`` stands in for ``np.zeros`` for the result tables: the same shape,
    dtype and zeros, C-contiguous and writable, small ones from numpy and large ones (over
    ``MIN_BYTES``) in a mapping of their own, which outlives the function that made it."""
    from corridor.engine.memory import MIN_BYTES, zeroed

    a = zeroed(shape, np.int32)
    assert a.shape == shape and a.dtype == np.int32 and a.flags.c_contiguous
    assert a.flags.writeable and not a.any()
    big = a.nbytes >= MIN_BYTES
    assert (a.base is not None) == big
    a[-1] = 7
    view = a[-1]
    del a
    assert (view == 7).all()


def test_kept_tables_are_recycled_only_once_nothing_views_them():
    """``memory.recycled`` hands a kept mapping over only when no array views it any more
    (a view of a view counts), with its contents as they were; at most ``KEEP`` of a size
    are kept; small arrays (numpy's) and forgotten mappings are never recycled."""
    from corridor.engine import memory

    shape = (700, 1000)
    memory.release_kept()
    try:
        a = memory.zeroed(shape, np.int32)
        assert memory.keep(a) and memory.keep(a)  # once: the same mapping
        assert memory.recycled(shape, np.int32) is None  # a views it
        a[0, :3] = (7, 8, 9)
        view = a[:1][0, :]
        del a
        assert memory.recycled(shape, np.int32) is None  # the view of a view does
        del view
        b = memory.recycled(shape, np.int32)
        assert b is not None and b.shape == shape and b.flags.writeable
        assert b[0, :3].tolist() == [7, 8, 9]  # the earlier contents: the caller zeroes
        assert memory.recycled(shape, np.int32) is None  # b views it now
        assert memory.recycled((70, 10000), np.int32) is None  # same size, but in use
        others = [memory.zeroed(shape, np.int32) for _ in range(memory.KEEP)]
        assert [memory.keep(o) for o in others] == [True] * (memory.KEEP - 1) + [False]
        assert not memory.keep(np.zeros(shape, np.int32)) and not memory.keep(np.zeros(3))
        del others
        c = memory.recycled(shape, np.int32)
        assert c is not None and not np.shares_memory(b, c)
        del c
        memory.release_kept()
        assert memory.recycled(shape, np.int32) is None
    finally:
        memory.release_kept()
