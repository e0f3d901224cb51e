"""Small Markov chains whose expected flows are known in closed form, run through the real
kernels: the graph walk (two places, moves both ways) and the staging kernel (people waiting
in a border city who cross, give up, or are harmed at daily hazards). Counts must fall within
4 binomial standard errors of the analytic expectation."""

from __future__ import annotations

import numpy as np
import pytest

from corridor.engine import people as pp
from corridor.engine.reference import staging_chain, two_state_chain
from corridor.engine.series import N_FLOWS, F
from corridor.model.places import BORDER_CITIES, N_NAT, N_PLACES, PLACE
from corridor.model.staging import CROSS, shelter_split_nb, staging_nb, sum_hazards_nb

SEED = 20240110
Z = 4.0  # standard errors allowed


def _within(observed: float, n: int, p: float, what: str) -> None:
    se = np.sqrt(n * p * (1 - p))
    assert abs(observed - n * p) <= Z * se + 1e-9, f"{what}: {observed} vs {n * p:.1f} ± {se:.1f}"


# --- the generic graph walk: a two-place chain --------------------------------------------

walk = pytest.importorskip("corridor.engine.walk")


@pytest.mark.parametrize("p,q", [(0.1, 0.05), (0.4, 0.3)])
def test_two_place_walk_matches_markov_chain(p: float, q: float) -> None:
    """a -> b with probability p a day, b -> a with q (one-day edges): P(at a after t days) =
    q/(p+q) + p/(p+q) (1-p-q)^t; arrivals at b on day t ~ Binomial(N, P(at a after t-1) p)."""
    g = walk.build_graph(("a", "b"), [("a", "b", 1.0, 1.0), ("b", "a", 1.0, 1.0)], {"a": p, "b": q})
    n = 40_000
    node, left = walk.init_agents(n)
    days = 40
    arr = walk.new_arrivals(n, 2, days)
    walk.walk_days_nb(
        node, left, g.offsets, g.targets, g.cumw, g.lengths, g.move_prob, SEED, 0, days, arr
    )
    assert np.all(left <= 0)  # nobody in transit at the end of a day on one-day edges
    arrivals = arr.sum(axis=1)  # [day, node]
    for t in range(1, days + 1):
        before = two_state_chain(p, q, t - 1)
        _within(arrivals[t - 1, 1], n, before * p, f"arrivals at b on day {t}")
        _within(arrivals[t - 1, 0], n, (1 - before) * q, f"arrivals at a on day {t}")
    # Occupancy at the end, day by day, from a run that stops after each day.
    node, left = walk.init_agents(n)
    for t in range(1, days + 1):
        walk.walk_days_nb(
            node,
            left,
            g.offsets,
            g.targets,
            g.cumw,
            g.lengths,
            g.move_prob,
            SEED,
            t - 1,
            1,
            walk.new_arrivals(n, 2, 1),
        )
        _within(int((node == 0).sum()), n, two_state_chain(p, q, t), f"at a after {t} days")
    # Near the stationary share q / (p + q) by the end.
    assert abs((node == 0).mean() - q / (p + q)) < 0.02


# --- the staging kernel: waiting, crossing, giving up, harm --------------------------------

CITY = PLACE[BORDER_CITIES[0]]
MIN_WAIT = 3
# Groups of people waiting, by the kind of hazard they face (staging's ``kind`` index): a
# nationality index labels each group so its flows can be read apart.
GROUPS = {  # nationality: (flags, kind)
    1: (0, 0),  # first try
    2: (pp.CBP_ONE, 1),  # registered for CBP One
    3: (pp.EXPELLED, 2),  # after a Title 42 expulsion
    4: (pp.RETURNED, 3),  # after a Title 8 return
}
MPP_NAT = 5
CROSS_H = np.array([0.12, 0.01, 0.25, 0.03])
GIVE_UP_G = np.array([0.003, 0.003, 0.04, 0.02])
MPP_GIVE_UP = 0.004
HARM = 0.02
SHELTER_FACTOR = 0.25


def _stage_one_day(n, day, beds, ppl, event, flows, hazard) -> None:
    """One day of the staging kernel with the test's fixed hazards (no CBP One); ``hazard``:
    the summed hazards, carried from day to day as the staging step carries them."""
    cross = np.repeat(CROSS_H[:, None], N_NAT, axis=1)  # [kind, nationality]
    give_up = np.repeat(GIVE_UP_G[:, None], N_NAT, axis=1)
    sum_hazards_nb(cross, give_up, hazard)
    staging_nb(
        n,
        day,
        SEED,
        beds,
        cross,
        give_up,
        hazard,
        np.zeros(day + 1),  # no CBP One: nothing to register with
        MIN_WAIT,
        HARM,
        SHELTER_FACTOR,
        MPP_GIVE_UP,
        ppl.arrays(),
        event,
        flows,
    )


def _population(per_group: int) -> pp.People:
    total = per_group * (len(GROUPS) + 1)
    ppl = pp.People(total)
    ppl.n = total
    ppl.uid[:total] = (np.int64(30) << 28) | np.arange(total, dtype=np.int64) * 3
    ppl.state[:total] = pp.WAITING
    ppl.place[:total] = CITY
    ppl.t_state[:total] = 0
    ppl.t_last_enc[:total] = -1
    ppl.wake[:total] = -1
    ppl.thr[:total] = pp.PENDING
    ppl.thr_reg[:total] = pp.NONE
    for g, nat in enumerate([*GROUPS, MPP_NAT]):
        sl = slice(g * per_group, (g + 1) * per_group)
        ppl.nat[sl] = nat
        if nat == MPP_NAT:
            ppl.state[sl] = pp.MPP
            ppl.t_next[sl] = 10_000  # no hearing inside the test
        else:
            ppl.flags[sl] = GROUPS[nat][0]
    return ppl


def _days_present(h: float, g: float, days: int) -> tuple[float, float]:
    """Mean and variance of the number of days (of ``days``) a person is still waiting at the
    start of the day: every day of the minimum wait, then while the chain has not left."""
    s = (1 - h) * (1 - g)
    k = np.arange(1, days + 1)
    # P(T >= k): 1 for k <= MIN_WAIT + 1, then s^(k - 1 - MIN_WAIT).
    surv = np.where(k <= MIN_WAIT + 1, 1.0, s ** np.maximum(k - 1 - MIN_WAIT, 0))
    mean = surv.sum()
    var = ((2 * k - 1) * surv).sum() - mean**2
    return float(mean), float(var)


@pytest.mark.parametrize("sheltered", [False, True])
def test_staging_matches_markov_chain(sheltered: bool) -> None:
    """Each day (after the minimum wait) a person crosses with h, else gives up with g: the
    numbers still waiting, crossed and given up after t days are binomial with
    s^t, h (1 - s^t)/(1 - s) and (1 - h) g (1 - s^t)/(1 - s), s = (1 - h)(1 - g). MPP waiters
    give up with their own hazard from day 0. Harm strikes each waiting person-day with the
    street rate, or the shelter rate when everyone has a bed."""
    per_group = 20_000
    ppl = _population(per_group)
    n = ppl.n
    event = np.zeros(ppl.capacity, dtype=np.uint8)
    flows = np.zeros((N_FLOWS, N_NAT, N_PLACES), dtype=np.int32)
    beds = np.zeros(len(BORDER_CITIES), dtype=np.int64)
    if sheltered:
        beds[0] = n
    harm_rate = HARM * (SHELTER_FACTOR if sheltered else 1.0)
    crossed = np.zeros(N_NAT, dtype=np.int64)
    checks = {2, 3, 5, 10, 20, 40, 60}
    hazard = np.zeros((2, len(CROSS_H), N_NAT))
    for day in range(max(checks)):
        _stage_one_day(n, day, beds, ppl, event, flows, hazard)
        went = event[:n] == CROSS
        assert not went[ppl.state[:n] == pp.MPP].any()  # MPP waiters never cross
        crossed += np.bincount(ppl.nat[:n][went], minlength=N_NAT)
        ppl.state[:n][went] = pp.IN_US  # the encounter module takes them from here
        t = day + 1
        if t <= MIN_WAIT:
            assert crossed.sum() == 0 and flows[F["gave_up"], :MPP_NAT].sum() == 0
        if t not in checks:
            continue
        active = max(t - MIN_WAIT, 0)
        state, nat = ppl.state[:n], ppl.nat[:n]
        for g, (_, kind) in GROUPS.items():
            h, q = CROSS_H[kind], GIVE_UP_G[kind]
            exp = staging_chain(per_group, h, q, active)
            still = int(((nat == g) & (state == pp.WAITING)).sum())
            _within(still, per_group, exp["waiting"], f"group {g} waiting, day {t}")
            _within(crossed[g], per_group, exp["crossed"], f"group {g} crossed, day {t}")
            gave = int(flows[F["gave_up"], g, CITY])
            _within(gave, per_group, exp["gave_up"], f"group {g} gave up, day {t}")
            assert gave == int(((nat == g) & (state == pp.HOME)).sum())
            mean, var = _days_present(h, q, t)
            harm = flows[F["harm_incidents"], g, CITY]
            se = np.sqrt(per_group * (mean * harm_rate * (1 - harm_rate) + harm_rate**2 * var))
            assert abs(harm - per_group * mean * harm_rate) <= Z * se, (g, t, harm)
        mpp_left = int(((nat == MPP_NAT) & (state == pp.MPP)).sum())
        _within(mpp_left, per_group, (1 - MPP_GIVE_UP) ** t, f"MPP still waiting, day {t}")
        assert flows[F["gave_up"], MPP_NAT, CITY] == per_group - mpp_left
    # The first-try group's crossings by the end: mostly done, against the closed form.
    exp = staging_chain(per_group, CROSS_H[0], GIVE_UP_G[0], max(checks) - MIN_WAIT)
    assert exp["crossed"] > 0.9


@pytest.mark.parametrize("seed", range(5))
def test_shelter_beds_are_shared_in_proportion(seed: int) -> None:
    """A city's beds go to the nationalities waiting there in proportion to their numbers:
    whole beds, each nationality's within one of its exact share, all of them used when there
    are more people than beds, everyone in when there are beds enough, and the largest
    remainders (ties: the first nationality) take the beds left over."""
    r = np.random.default_rng(seed)
    n_city = len(BORDER_CITIES)
    waiting = r.integers(0, 400, (N_NAT, n_city)).astype(np.int64)
    waiting[:, 0] = 0  # a city with nobody
    beds = r.integers(0, 2000, n_city).astype(np.int64)
    beds[1] = 0  # a city without shelters
    out = np.zeros((2, N_NAT, n_city), dtype=np.int64)
    shelter_split_nb(beds, waiting, out)
    street, shelter = out
    np.testing.assert_array_equal(street + shelter, waiting)
    assert (shelter >= 0).all() and (street >= 0).all()
    total = waiting.sum(axis=0)
    np.testing.assert_array_equal(shelter.sum(axis=0), np.minimum(beds, total))
    for c in range(n_city):
        if total[c] > beds[c]:
            exact = waiting[:, c] * beds[c] / total[c]
            assert (np.abs(shelter[:, c] - exact) < 1).all()
            assert (shelter[:, c] >= np.floor(exact)).all()
    # Three nationalities of 1 each and 2 beds: the remainders tie, the first two get them.
    w = np.zeros((N_NAT, n_city), dtype=np.int64)
    w[[3, 5, 7], 2] = 1
    b = np.zeros(n_city, dtype=np.int64)
    b[2] = 2
    out[:] = 0
    shelter_split_nb(b, w, out)
    assert out[1, :, 2].tolist() == [0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]
