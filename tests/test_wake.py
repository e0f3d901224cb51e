"""The fused pass's wake-up days: nobody is skipped on a day something is due to them.

The fused driver's equality with the loop of phases (test_fused.py) checks this on whole runs;
here each rule is checked against a brute force over days: exact on the road and for CBP One
registration, a lower bound for crossing or giving up under any border news."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from corridor.api import prepare
from corridor.engine import people as pp
from corridor.engine.rng import first_reaching_nb
from corridor.engine.sim import Simulation
from corridor.model import staging, transit
from corridor.model.registry import PHASES


@nb.njit(cache=True)
def _transit_rules(day, h_cum, ppl):
    """Each person's (wake-up day after ``day``, due on ``day``) on the road."""
    n = ppl[0].shape[0]
    wake, due = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.bool_)
    for i in range(n):
        wake[i] = transit.wake_nb(i, day, h_cum, ppl)
        due[i] = transit.due_nb(i, day, h_cum, ppl)
    return wake, due


@nb.njit(cache=True)
def _staging_rules(day, hazard, h_max, register_cum, min_wait, ppl):
    """Each person's (wake-up day after ``day``, due on ``day``) waiting."""
    n = ppl[0].shape[0]
    wake, due = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.bool_)
    for i in range(n):
        wake[i] = staging.wake_nb(i, day, hazard, h_max, register_cum, min_wait, ppl)
        due[i] = staging.due_nb(i, day, hazard, register_cum, min_wait, ppl)
    return wake, due


def _people(n: int, state: int, rng: np.random.Generator) -> pp.People:
    ppl = pp.People(n)
    ppl.n = n
    ppl.uid[:n] = np.arange(n)
    ppl.nat[:n] = rng.integers(0, 11, n)
    ppl.state[:n] = state
    ppl.flags[:n] = rng.choice([0, pp.CBP_ONE, pp.EXPELLED, pp.RETURNED], n)
    return ppl


def test_first_reaching_is_the_first_day_at_or_above() -> None:
    cum = np.array([0.0, 0.5, 0.5, 1.0, 2.0])
    assert first_reaching_nb(cum, 0.5, 0) == 1
    assert first_reaching_nb(cum, 0.5, 2) == 2
    assert first_reaching_nb(cum, 0.7, 1) == 3
    assert first_reaching_nb(cum, 2.5, 0) == 5  # never: the length
    assert first_reaching_nb(cum, np.float32(-np.inf), 3) == 3
    assert first_reaching_nb(cum, np.float32(np.inf), 0) == 5


def test_on_the_road_the_wake_day_is_the_first_day_due() -> None:
    """Brute force: the first day after today that transit.due_nb is true, for random
    arrival days and INM thresholds (some reached before arrival, some not, some never)."""
    rng = np.random.default_rng(1)
    n_days, day, n = 300, 40, 4000
    h_cum = np.cumsum(rng.uniform(0.0, 0.02, n_days) * (rng.random(n_days) < 0.7))
    ppl = _people(n, pp.MEXICO_TRANSIT, rng)
    ppl.t_next[:n] = day + 1 + rng.integers(0, 200, n)
    thr = h_cum[day] + rng.exponential(1.0, n)
    thr[: n // 10] = np.inf
    ppl.thr[:n] = thr
    arrays = tuple(a[:n] for a in ppl.arrays())
    wake = _transit_rules(day, h_cum, arrays)[0]
    first = np.full(n, n_days)
    for d in range(n_days - 1, day, -1):
        first[_transit_rules(d, h_cum, arrays)[1]] = d
    past_end = first == n_days  # due after the schedule's end: on the arrival day
    np.testing.assert_array_equal(wake[~past_end], first[~past_end])
    assert (wake[past_end] >= n_days).all()
    assert (wake < ppl.t_next[:n]).any() and (wake == ppl.t_next[:n]).any()


@pytest.fixture(scope="module")
def pack() -> staging.StagingPack:
    sim = Simulation(prepare("baseline", scale=1000), list(PHASES))
    return sim.module("staging").pack()


def test_no_day_adds_more_than_the_hazard_bound(pack) -> None:
    """cross_today_into_nb under random border news, on or off an emergency authority, on
    every day of the baseline: no kind's daily hazard of crossing or giving up exceeds
    hazard_max, and the bound is not loose by orders of magnitude."""
    rng = np.random.default_rng(2)
    n_kind, n_nat = pack.cross.shape[1], pack.news_in.shape[0]
    cross = np.empty((n_kind, n_nat))
    give = np.empty_like(cross)
    hazard = np.zeros((2, n_kind, n_nat))
    most = np.zeros(n_kind)
    for trial in range(6):
        pack.news_all[:] = rng.uniform(0, 100, n_nat)
        pack.news_in[:] = pack.news_all * rng.uniform(0, 1, n_nat) ** (trial + 1)
        pack.news_expelled[:] = (pack.news_all - pack.news_in) * rng.uniform(0, 1, n_nat)
        pack.emergency[:] = trial % 2 == 1
        for day in range(pack.cross.shape[0]):
            staging.cross_today_into_nb(day, pack, cross, give)
            staging.sum_hazards_nb(cross, give, hazard)
            step = (hazard[1] - hazard[0]).max(axis=1)
            assert (step <= pack.hazard_max).all(), (day, step, pack.hazard_max)
            most = np.maximum(most, step)
    assert (most > pack.hazard_max / 3).all()


def test_waiting_nobody_is_due_before_the_wake_day(pack) -> None:
    """Random thresholds and registration thresholds; the future hazard sums grow by random
    amounts up to hazard_max (the fastest the news allows): the first day due is never
    before the wake-up day, and for a sum growing at the bound it is that day or the next."""
    rng = np.random.default_rng(3)
    n_days, day, n = pack.register_cum.shape[0], 500, 3000
    n_kind, n_nat = pack.cross.shape[1], pack.news_in.shape[0]
    ppl = _people(n, pp.WAITING, rng)
    ppl.t_state[:n] = day - rng.integers(0, 5, n)
    hazard = np.zeros((2, n_kind, n_nat))
    hazard[1] = rng.uniform(0, 50, (n_kind, n_nat))
    thr = hazard[1][staging._KIND[ppl.flags[:n] & staging._KIND_BITS], ppl.nat[:n]]
    ppl.thr[:n] = (thr + rng.exponential(1.0, n)).astype(np.float32)
    ppl.thr[: n // 5] = pp.PENDING
    reg = pack.register_cum[day] + rng.exponential(0.5, n)
    ppl.thr_reg[:n] = np.where(rng.random(n) < 0.5, reg, np.inf).astype(np.float32)
    arrays = tuple(a[:n] for a in ppl.arrays())
    wake = _staging_rules(day, hazard, pack.hazard_max, pack.register_cum, 2, arrays)[0]
    for share in (1.0, rng.uniform(0, 1, (n_kind, n_nat))):
        h = hazard.copy()
        first = np.full(n, n_days)
        for d in range(day + 1, min(day + 400, n_days)):
            h[1] += pack.hazard_max[:, None] * share
            due = _staging_rules(d, h, pack.hazard_max, pack.register_cum, 2, arrays)[1]
            first[due & (first == n_days)] = d
        assert (first >= wake).all()
        if np.isscalar(share):  # (a wake-up day already past: looked at tomorrow)
            seen = first < n_days
            assert (first[seen] - np.maximum(wake[seen], day + 1) <= 1).all()
