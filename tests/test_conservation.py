"""Accounting identities that hold exactly, every day: people are conserved, stocks add up,
encounters are counted once, and CBP's table agrees with the flows."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from corridor.api import prepare
from corridor.engine import people as pp
from corridor.engine.series import F
from corridor.engine.sim import Module, Simulation
from corridor.model.places import BORDER_CITIES, PLACE, SECTORS
from corridor.model.registry import PHASES

# Every transition into an absorbing state is counted in one of these flows:
#   IN_US: releases (processing, removal after max detention, MPP relief at a hearing), gotaways
#   HOME:  mexico_deportations (INM), removals (flights), gave_up (waiting, MPP waiting, and
#          going home after an MPP removal order)
ABSORBED = ("releases", "gotaways", "mexico_deportations", "removals", "gave_up")
# Every active state is in one of these stocks (waiting includes MPP).
ACTIVE = (
    "travelling_south",
    "in_mexico_transit",
    "in_mexico_detention",
    "waiting",
    "in_us_custody",
)

RUNS = ("baseline_run", "stress_run")


@pytest.fixture(params=RUNS)
def run(request):
    return request.getfixturevalue(request.param)


def _agents(ds, var: str, names: tuple[str, ...] | str) -> np.ndarray:
    """Series summed over ``names`` and place, in agents: [time, nationality] int64."""
    dim = "flow" if var == "flows" else "stock"
    arr = ds[var].sel({dim: list(np.atleast_1d(names))}).sum((dim, "place")).values
    scale = ds.attrs["scale"]
    assert np.all(arr % scale == 0)
    return arr // scale


def test_stress_run_exercises_every_transition(stress_run) -> None:
    tot = stress_run["flows"].sum(("time", "nationality", "place")).to_series()
    for flow in (
        "mpp_enrollments",
        "emergency_returns",
        "removals",
        "releases",
        "gotaways",
        "mexico_deportations",
        "gave_up",
        "detention_admissions",
        "expulsions_title42",
        "cbp_one_appointments",
    ):
        assert tot[flow] > 0, flow
    mpp = stress_run["stocks"].sel(stock="mpp_waiting").sum(("nationality", "place"))
    assert mpp.max() > 0 and (mpp.diff("time") < 0).any()  # people enter MPP and leave it


def test_people_are_conserved_every_day(run) -> None:
    """Departed minus absorbed (cumulative) equals everyone still on the move, at the end of
    every day and for every nationality, exactly."""
    departed = np.cumsum(_agents(run, "flows", "departures"), axis=0)
    absorbed = np.cumsum(_agents(run, "flows", ABSORBED), axis=0)
    active = _agents(run, "stocks", ACTIVE)
    assert departed[-1].sum() > 0 and absorbed[-1].sum() > 0
    bad = np.argwhere(departed - absorbed != active)
    assert bad.size == 0, f"not conserved on (day, nationality) {bad[:5].tolist()}"


def test_stocks_add_up(run) -> None:
    st = run["stocks"]
    waiting = st.sel(stock="waiting")
    np.testing.assert_array_equal(
        (st.sel(stock="in_shelter") + st.sel(stock="on_street")).values, waiting.values
    )
    assert (st.sel(stock="mpp_waiting") + st.sel(stock="cbp_one_registered") <= waiting).all()
    # People wait only in border cities; travellers, INM detainees and US custody where they
    # can be.
    cities = [PLACE[c] for c in BORDER_CITIES]
    others = [i for i in range(st.sizes["place"]) if i not in cities]
    for s in ("waiting", "in_shelter", "on_street", "mpp_waiting", "cbp_one_registered"):
        assert int(st.sel(stock=s).isel(place=others).sum()) == 0, s
    custody_ok = [PLACE[s] for s in SECTORS]
    bad = [i for i in range(st.sizes["place"]) if i not in custody_ok]
    assert int(st.sel(stock="in_us_custody").isel(place=bad).sum()) == 0


def test_nothing_is_negative(run) -> None:
    for var in ("flows", "stocks", "cbp"):
        assert int(run[var].min()) >= 0, var


def test_encounters_bound_unique_and_repeat_counts(run) -> None:
    fl = run["flows"].sum(("nationality", "place"))
    enc = fl.sel(flow="encounters_usbp") + fl.sel(flow="encounters_ofo")
    assert (fl.sel(flow="repeat_encounters") <= enc).all()
    monthly = fl.resample(time="MS").sum()
    m_enc = monthly.sel(flow="encounters_usbp") + monthly.sel(flow="encounters_ofo")
    assert (monthly.sel(flow="unique_people_encountered") <= m_enc).all()
    assert (monthly.sel(flow="unique_people_encountered") > 0).all()
    # CBP One appointments are OFO encounters.
    assert (fl.sel(flow="cbp_one_appointments") <= fl.sel(flow="encounters_ofo")).all()


def test_cbp_table_agrees_with_flows(run) -> None:
    """CBP's layout (component x title x demographic x nationality) counts each encounter
    once: its USBP and OFO totals are the encounter flows, its Title 42 total the expulsions."""
    cbp = run["cbp"]
    by_nat = run["flows"].sum("place")
    for comp, flow in (("usbp", "encounters_usbp"), ("ofo", "encounters_ofo")):
        np.testing.assert_array_equal(
            cbp.sel(component=comp).sum(("title", "demographic")).values,
            by_nat.sel(flow=flow).values,
        )
    np.testing.assert_array_equal(
        cbp.sel(title="title42").sum(("component", "demographic")).values,
        by_nat.sel(flow="expulsions_title42").values,
    )


# --- agent by agent -----------------------------------------------------------------------


class Observer(Module):
    """A passive module run after removal: who was encountered today, which of today's new
    departures are returnees (and their earlier encounter's day), and checks that the
    custody counter and every agent's state and place are consistent."""

    name = "observer"

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.encountered: dict[int, np.ndarray] = {}
        self.inherited: dict[int, int] = {}
        self.custody_mismatch: list[tuple[int, int, int]] = []
        self.bad_places: list[tuple[int, int, int]] = []

    def step(self, day: int) -> None:
        ppl = self.sim.people
        n = ppl.n
        state, place, t_last = ppl.state[:n], ppl.place[:n], ppl.t_last_enc[:n]
        self.encountered[day] = ppl.uid[:n][t_last == day].copy()
        new = (ppl.uid[:n] >> 28) == day  # departed today (no one is encountered that day)
        back = new & (t_last >= 0)
        self.inherited.update(zip(ppl.uid[:n][back].tolist(), t_last[back].tolist(), strict=True))
        held = int((state == pp.US_CUSTODY).sum())
        counter = self.sim.module("processing").custody
        if held != counter:
            self.custody_mismatch.append((day, held, counter))
        first, last = PLACE[BORDER_CITIES[0]], PLACE[BORDER_CITIES[-1]]
        in_city = (place >= first) & (place <= last)
        sectors = np.isin(place, [PLACE[s] for s in SECTORS])
        checks = (
            (np.isin(state, (pp.WAITING, pp.MPP)), in_city),
            (state == pp.US_CUSTODY, sectors),
            (
                state == pp.MEXICO_DETAINED,
                np.isin(place, (PLACE["tapachula"], PLACE["mexico_transit"])),
            ),
            (state == pp.IN_US, sectors | (place == PLACE["us_interior"])),
            (state == pp.HOME, place == PLACE["origin"]),
            (state == pp.TRAVEL_SOUTH, place == PLACE["origin"]),
        )
        for k, (who, ok) in enumerate(checks):
            bad = int((who & ~ok).sum())
            if bad:
                self.bad_places.append((day, k, bad))
        assert state.max(initial=0) < pp.N_STATES


@pytest.fixture(scope="module")
def observed(make_scenario):
    scn = prepare(make_scenario(stress=True))
    phases = list(PHASES)
    at = next(i for i, m in enumerate(phases) if m.name == "removal") + 1
    sim = Simulation(scn, [*phases[:at], Observer, *phases[at:]])
    res = sim.run()
    return sim, res


def test_unique_people_counted_once_a_month(observed) -> None:
    """unique_people_encountered in a month is exactly the number of distinct people
    encountered that month, and encounters are one per person per day."""
    sim, res = observed
    obs = sim.module("observer")
    months = (np.datetime64(sim.scn.start) + np.arange(sim.n_days)).astype("M8[M]")
    enc = res.flows[:, [F["encounters_usbp"], F["encounters_ofo"]]].sum(axis=(1, 2, 3))
    uniq = res.flows[:, F["unique_people_encountered"]].sum(axis=(1, 2))
    seen: dict[np.datetime64, set[int]] = defaultdict(set)
    for day in range(sim.n_days):
        uids = obs.encountered[day]
        assert uids.size == enc[day], day  # everyone encountered today, once
        seen[months[day]].update(uids.tolist())
    for m in np.unique(months):
        got = int(uniq[months == m].sum())
        assert got == len(seen[m]), (str(m), got, len(seen[m]))
    assert sum(len(v) for v in seen.values()) > 1000


def test_repeat_encounters_are_within_a_year(observed) -> None:
    """repeat_encounters counts encounters of people encountered in the previous 365 days,
    returnees' encounters before they went home included."""
    sim, res = observed
    obs = sim.module("observer")
    rep = res.flows[:, F["repeat_encounters"]].sum(axis=(1, 2))
    last: dict[int, int] = dict(obs.inherited)
    total = 0
    for day in range(sim.n_days):
        want = 0
        for u in obs.encountered[day].tolist():
            if u in last and day - last[u] <= 365:
                want += 1
            last[u] = day
        assert rep[day] == want, (day, rep[day], want)
        total += want
    assert total > 100
    assert len(obs.inherited) > 10  # returnees were there to count
    assert all(d >= 0 for d in obs.inherited.values())


def test_custody_counter_matches_people_in_custody(observed) -> None:
    sim, _ = observed
    assert sim.module("observer").custody_mismatch == []


def test_every_agent_is_somewhere_it_can_be(observed) -> None:
    """(day, check, how many) for agents whose place does not fit their state."""
    sim, _ = observed
    assert sim.module("observer").bad_places == []


# --- the emergency authority's switch -----------------------------------------------------


def _switch(per_day: np.ndarray, on_at: np.ndarray, off_at: np.ndarray, off_days: float):
    """The authority's rule on a daily series of encounters (people): on when the 7-day mean
    reaches ``on_at``; off after ``off_days`` consecutive days with the mean below ``off_at``.
    Thresholds are those of the next day (the switch acts from tomorrow)."""
    n = per_day.size
    out = np.zeros(n, dtype=bool)
    on, below = False, 0
    for d in range(n):
        mean7 = per_day[max(0, d - 6) : d + 1].mean()
        hi, lo = on_at[min(d + 1, n - 1)], off_at[min(d + 1, n - 1)]
        if hi <= 0:
            on = False
        elif not on and mean7 >= hi:
            on, below = True, 0
        elif on:
            below = below + 1 if mean7 < lo else 0
            if below >= off_days:
                on = False
        out[d] = on
    return out


def test_emergency_authority_counts_encounters_between_ports(make_scenario) -> None:
    """Recomputed from the run's own flows, the switch follows the 7-day mean of encounters
    between ports (thresholds chosen between the USBP-only and all-encounter means)."""
    import corridor
    from corridor.model.bookkeeping import Bookkeeping
    from corridor.scenario.levers import KEY_INDEX
    from corridor.scenario.timeline import lever_table

    levers = {
        "us.emergency_authority.on_above_per_day": 5000,
        "us.emergency_authority.off_below_per_day": 4500,
    }
    scn = make_scenario(policies=[{"from": "2023-06-01", "set": levers}])
    ds = corridor.run(scn)
    lv = lever_table(prepare(scn))
    usbp = ds["flows"].sel(flow="encounters_usbp").sum(("nationality", "place")).values
    off_days = next(p.value for p in Bookkeeping.PARAMS if p.name == "emergency_off_days")
    want = _switch(
        usbp.astype(float),
        lv[:, KEY_INDEX["us.emergency_authority.on_above_per_day"]],
        lv[:, KEY_INDEX["us.emergency_authority.off_below_per_day"]],
        off_days,
    )
    got = ds["emergency_authority_on"].values
    assert got.any()
    np.testing.assert_array_equal(got, want)
