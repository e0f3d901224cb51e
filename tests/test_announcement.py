"""Announced-policy deterrence at the border, and the data cut-off of a run's inputs.

People waiting in a border city who have not yet been sent back weigh what crossing between
ports risks under the policy announced that day (``Staging.severity``); the test checks the
hazards against the closed form exp(-kappa x severity), the severity against the policy
timeline, and the effect on crossings the week Title 42 reached Cubans and Nicaraguans.
A run whose push curves end in December 2022 must take no input from later data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import corridor
from corridor.api import prepare
from corridor.engine.sim import Simulation
from corridor.model import inputs, staging
from corridor.model.departure import fiscal_year_index
from corridor.model.places import DEMOGRAPHICS, NAT
from corridor.model.registry import PHASES

SCN = {
    "name": "announce",
    "start": "2022-10-01",
    "end": "2023-02-28",
    "decision_date": "2023-02-28",
    "scale": 400,
}
CHN_DAY = pd.Timestamp("2023-01-05")  # Title 42 extended to Cubans, Haitians, Nicaraguans


def _sim(kappa: float, weight: float = 0.3, parole: float = 0.0) -> Simulation:
    scn = prepare(
        SCN,
        parameters={
            "staging.policy_deterrence": kappa,
            "staging.expulsion_weight": weight,
            "staging.deterred_give_up_per_day": 0.1,
            "staging.parole_deterrence": parole,
        },
    )
    return Simulation(scn, list(PHASES))


def _day(sim: Simulation, date: str | pd.Timestamp) -> int:
    return (pd.Timestamp(date) - pd.Timestamp(sim.scn.start)).days


def test_severity_follows_the_policy_timeline() -> None:
    sim = _sim(2.0)
    sev = sim.module("staging").severity()
    before, after = _day(sim, CHN_DAY) - 1, _day(sim, CHN_DAY)
    cuba, mex = NAT["cuba"], NAT["mexico"]
    # Cubans: nothing announced before January 5 (no Title 42 return to Mexico, no flights,
    # no parole); from then on, parole forfeited by crossing: severity 1.
    assert sev[before, cuba] < 0.05
    assert sev[after, cuba] == 1.0
    # Venezuelans have had the parole programme since October 2022.
    assert sev[_day(sim, "2022-11-01"), NAT["venezuela"]] == 1.0
    # Mexicans: no change that day; always within [0, 1].
    assert sev[after, mex] == pytest.approx(sev[before, mex])
    assert (sev >= 0).all() and (sev <= 1).all()


def test_announced_outcomes_are_probabilities_net_of_unaccompanied_children() -> None:
    sim = _sim(2.0)
    p42, p8 = sim.module("processing").announced_outcomes()
    shares = inputs.demographic_shares(sim.data_end)
    uac_min = shares[:, :, DEMOGRAPHICS.index("uac")].min(axis=0)
    total = p42 + p8
    assert (p42 >= 0).all() and (p8 >= 0).all()
    # Children alone are never sent back: P(sent back) <= 1 - their share (every fiscal year).
    assert (total <= 1.0 - uac_min[None, :] + 1e-12).all()
    # Title 42 applies to Cubans only from January 5, 2023.
    assert p42[: _day(sim, CHN_DAY), NAT["cuba"]].max() == 0.0
    assert p42[_day(sim, CHN_DAY), NAT["cuba"]] > 0.5


@pytest.mark.parametrize(("kappa", "parole"), [(0.5, 0.0), (2.0, 0.0), (0.5, 1.5)])
def test_hazards_are_the_closed_form(kappa: float, parole: float) -> None:
    """cross_today_nb against exp(-kappa (w x announced + (1 - w) x heard)) on hand-set news,
    times exp(-kappa_parole) for every kind while a parole programme open to the nationality
    (Venezuelans from 2022-10-12, Cubans, Haitians, Nicaraguans from 2023-01-05) is forfeited
    by crossing."""
    sim = _sim(kappa, weight=0.4, parole=parole)
    st = sim.module("staging")
    pk = st.pk
    rng = np.random.default_rng(3)
    n_nat = pk.news_in.shape[0]
    pk.news_all[:] = rng.uniform(0.5, 2.0, n_nat)
    pk.news_in[:] = pk.news_all * rng.uniform(0.0, 1.0, n_nat)
    pk.news_expelled[:] = (pk.news_all - pk.news_in) * rng.uniform(0.0, 1.0, n_nat)
    sev = st.severity()
    w = st.announcement_weight(sev)
    base = st.cross_by_nationality()
    heard = (pk.news_all - pk.news_in - 0.6 * pk.news_expelled) / pk.news_all
    start = _day(sim, CHN_DAY)
    open_ = np.zeros((sim.n_days, n_nat))
    open_[_day(sim, "2022-10-12") :, NAT["venezuela"]] = 1.0
    for nat in ("cuba", "haiti", "nicaragua"):
        open_[start:, NAT[nat]] = 1.0
    for day in (0, start - 1, start, start + 30, _day(sim, "2023-02-28")):
        e = w[day] * sev[day] + (1 - w[day]) * np.clip(heard, 0, 1)
        g = np.exp(-parole * open_[day])
        expect = base[day].copy()
        expect[:2, :] *= (np.exp(-kappa * e) * g)[None, :]
        # Re-crossers after an expulsion or a return: their own hazard and deterrence.
        expect[2:, :] *= (np.exp(-pk.kappa_recross * e) * g)[None, :]
        got = staging.cross_today_nb(day, pk)
        np.testing.assert_allclose(got, expect, rtol=1e-12)
        # New arrivals and registrants held back give up faster, in proportion to how much
        # they are held back; re-crossers keep their own giving-up hazard.
        give = np.repeat(pk.give_up[:, None], n_nat, axis=1)
        give[:2, :] += pk.deterred_give_up * (1.0 - np.exp(-kappa * e) * g)[None, :]
        np.testing.assert_allclose(staging.give_up_today_nb(day, pk), give, rtol=1e-12)


def test_the_announcement_fades() -> None:
    """Weight 1 the day Title 42 reaches Cubans, exp(-t / fade) after; 0 before any change."""
    sim = _sim(2.0)
    st = sim.module("staging")
    w = st.announcement_weight(st.severity())
    fade = st.p["announcement_fade_days"]
    d, cuba = _day(sim, CHN_DAY), NAT["cuba"]
    assert w[:d, cuba].max() == 0.0
    assert w[d, cuba] == 1.0
    assert w[d + 30, cuba] == pytest.approx(np.exp(-30 / fade))
    # Venezuelans: the October 12, 2022 change (Title 42 and parole).
    v = _day(sim, "2022-10-12")
    assert w[v, NAT["venezuela"]] == 1.0 and w[v - 1, NAT["venezuela"]] == 0.0


def _bp(ds, nat: str, t0: str, t1: str) -> int:
    f = ds.flows.sel(flow="encounters_usbp", nationality=nat, time=slice(t0, t1))
    return int(f.sum())


def test_cubans_hold_back_the_week_title42_reaches_them() -> None:
    """Same draws (common random numbers): with deterrence, Cuban Border Patrol encounters
    in the two weeks after January 5 fall well below the run without it, while Mexican ones
    (whose severity barely moved that day) change far less."""
    off = corridor.run(SCN, parameters={"staging.policy_deterrence": 0.0}, draw=None)
    on = corridor.run(SCN, parameters={"staging.policy_deterrence": 3.0}, draw=None)
    t0, t1 = "2023-01-06", "2023-01-19"
    cuba_off, cuba_on = _bp(off, "cuba", t0, t1), _bp(on, "cuba", t0, t1)
    assert cuba_off > 0
    assert cuba_on < 0.5 * cuba_off
    # Before the announcement both runs see Cubans at Title 8 severity ~0: similar counts.
    pre_off, pre_on = (
        _bp(off, "cuba", "2022-12-01", "2022-12-31"),
        _bp(on, "cuba", "2022-12-01", "2022-12-31"),
    )
    assert pre_on > 0.5 * pre_off


def test_data_end_follows_the_push_knots() -> None:
    knots = inputs.initial_push_knots(end="2022-12-31")
    assert inputs.data_end(knots) == pd.Timestamp("2022-12-01")
    assert inputs.data_end(None) == inputs.LAST_DATA_MONTH
    scn = prepare(SCN)
    assert Simulation(scn, list(PHASES), push_knots=knots).data_end == pd.Timestamp("2022-12-01")


def test_inputs_take_no_data_after_the_cut_off() -> None:
    cut = pd.Timestamp("2022-12-01")
    shares = inputs.demographic_shares(cut)
    # FY2023 and FY2024 are not complete by December 2022: both take calendar 2022's mix.
    np.testing.assert_array_equal(shares[3], shares[4])
    sw = inputs._sw()
    y22 = sw[(sw.month >= "2022-01-01") & (sw.month <= cut) & (sw.citizenship == "mexico")]
    mix = y22.groupby("demographic")["count"].sum().reindex(DEMOGRAPHICS).to_numpy(float)
    np.testing.assert_allclose(shares[3, NAT["mexico"]], mix / mix.sum())
    # Complete fiscal years are their own; the full data agree on them.
    np.testing.assert_array_equal(shares[:3], inputs.demographic_shares()[:3])
    # Sectors: months after the cut-off hold the mean of the twelve months up to it.
    sec = inputs.sector_shares(60, cut)
    k = 39  # months Oct 2019 .. Dec 2022
    np.testing.assert_allclose(sec[k:], np.tile(sec[k - 12 : k].mean(axis=0), (60 - k, 1)))
    np.testing.assert_array_equal(sec[:k], inputs.sector_shares(60)[:k])


def test_an_emergency_authority_is_announced_the_day_it_acts() -> None:
    """With the switch on from the end of day s, hazards from day s + 1 use the emergency
    severity weighted exp(-(day - s - 1) / fade); off again, the schedule's."""
    kappa = 2.0
    sim = _sim(kappa)
    st = sim.module("staging")
    pk = st.pk
    pk.news_all[:] = 1.0
    pk.news_in[:] = 0.5
    pk.news_expelled[:] = 0.25
    heard = (1.0 - 0.5 - (1.0 - st.p["expulsion_weight"]) * 0.25) / 1.0
    emergency = sim.module("bookkeeping").emergency
    s = _day(sim, "2022-12-01")
    emergency[s : s + 20] = True
    sev_e = st.severity(emergency=True)
    base = st.cross_by_nationality()
    fade = st.p["announcement_fade_days"]
    for day, t in ((s + 1, 0), (s + 10, 9), (s + 20, 19)):
        w = np.exp(-t / fade)
        f = np.exp(-kappa * (w * sev_e[day] + (1 - w) * heard))
        np.testing.assert_allclose(staging.cross_today_nb(day, pk)[0], base[day, 0] * f)
    # Mexicans are returned under the authority: severity = 1 - their unaccompanied share.
    shares = inputs.demographic_shares(sim.data_end)
    uac = DEMOGRAPHICS.index("uac")
    fy = fiscal_year_index(sim.scn)[s]
    assert sev_e[s, NAT["mexico"]] == pytest.approx(1 - shares[fy, NAT["mexico"], uac])
    # The day after it ends (off from the end of day s + 19), the schedule's severity again.
    day = s + 21
    w = st.announcement_weight(st.severity())[day]
    f = np.exp(-kappa * (w * st.severity()[day] + (1 - w) * heard))
    np.testing.assert_allclose(staging.cross_today_nb(day, pk)[0], base[day, 0] * f)


def test_departures_respond_to_the_announced_change() -> None:
    """At origins, an announced change moves departures by exp(-kappa_o x w x change): Cubans
    leave less from 5 January 2023 (severity up to 1), fading as exp(-t / fade); a
    nationality whose severity did not change is untouched."""
    sim = Simulation(prepare(SCN, parameters={"departure.origin_deterrence": 1.5}), list(PHASES))
    st, dep = sim.module("staging"), sim.module("departure")
    sev = st.severity()
    change = st.announced_change(sev)
    d, cuba, mex = _day(sim, CHN_DAY), NAT["cuba"], NAT["mexico"]
    assert change[d, cuba] == pytest.approx(sev[d, cuba] - sev[d - 1, cuba])
    assert change[d, cuba] > 0.9
    factor = dep.announced_at_origin()
    fade = st.p["announcement_fade_days"]
    assert factor[d, cuba] == pytest.approx(np.exp(-1.5 * change[d, cuba]))
    assert factor[d + 20, cuba] == pytest.approx(
        np.exp(-1.5 * np.exp(-20 / fade) * change[d, cuba])
    )
    assert factor[d - 1, cuba] == 1.0
    assert factor[d, mex] == pytest.approx(factor[d - 1, mex])
    np.testing.assert_allclose(dep.pk.policy_mult, dep.policy_mult * factor)
