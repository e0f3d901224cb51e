"""The calibration's scoring: what the likelihood counts and how the push knots move.

The run starts with nobody on the road, so its first months are not scored: a near-empty
October 2019 once outweighed every other month. The knot update is the damped mean log-ratio
of the three months after its quarter starts (closed form on synthetic series).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import corridor
from corridor.calibration import compare, fit, push_fit

_RR = {"name": "rr", "start": "2021-03-01", "end": "2021-08-31", "decision_date": "2021-08-31"}


def _joined(sim_oct: float, sim_later: float) -> pd.DataFrame:
    months = pd.date_range("2019-10-01", "2020-12-01", freq="MS")
    rows = []
    for target in fit.MONTHLY_TARGETS:
        for m in months:
            sim = sim_oct if m == months[0] else sim_later
            rows.append((target, "all", m, m, 5000.0, sim))
    return pd.DataFrame(
        rows, columns=["target", "category", "period_start", "period_end", "obs", "sim"]
    )


def test_spin_up_months_are_not_scored() -> None:
    # A run that starts empty (October at ~1% of the observed) scores as one that does not.
    assert fit.log_likelihood(_joined(50.0, 5200.0)) == pytest.approx(
        fit.log_likelihood(_joined(5000.0, 5200.0))
    )
    # Scored months count: further from the data, lower likelihood.
    assert fit.log_likelihood(_joined(5000.0, 6500.0)) < fit.log_likelihood(_joined(5000.0, 5200.0))


def test_profiled_error_is_the_closed_form() -> None:
    j = _joined(5000.0, 5500.0)
    scored = j[j.period_start >= push_fit.SPIN_UP_END]
    r2 = (np.log(5530.0) - np.log(5030.0)) ** 2
    n = len(scored) // len(fit.MONTHLY_TARGETS)
    expect = -0.5 * n * len(fit.MONTHLY_TARGETS) * np.log(r2 + fit.SIGMA_MONTHLY**2 / 100)
    assert fit.log_likelihood(j) == pytest.approx(expect)


def test_knot_moves_by_the_damped_mean_log_ratio() -> None:
    knots = pd.DataFrame(
        {
            "knot": pd.to_datetime(["2019-10-01", "2020-01-01"]),
            "nationality": ["mexico", "mexico"],
            "log_push": [7.0, 7.0],
        }
    )
    months = pd.date_range("2019-12-01", "2020-06-01", freq="MS")
    ratio = pd.DataFrame({"mexico": np.linspace(0.5, 2.0, len(months))}, index=months)
    out = push_fit._update(knots, ratio, damping=0.8)
    # The first knot's window is Nov-Jan; November is spin-up (absent): Dec and Jan count.
    first = np.log(ratio.loc["2019-12-01":"2020-01-01", "mexico"]).mean()
    second = np.log(ratio.loc["2020-02-01":"2020-04-01", "mexico"]).mean()
    np.testing.assert_allclose(out.log_push, [7.0 + 0.8 * first, 7.0 + 0.8 * second])


def test_parole_onsets_tie_the_quarters_they_open_in() -> None:
    """The history opens CHNV-style parole to Venezuelans on 2022-10-12 and to Cubans,
    Haitians and Nicaraguans on 2023-01-05: those quarters' knots are tied, and a window that
    ends before an onset ties nothing."""
    assert push_fit.parole_ties_for("2021-12-31") == ()
    ven = ("venezuela", pd.Timestamp("2022-10-01"))
    assert push_fit.parole_ties_for("2022-12-31") == (ven,)
    chn = {(n, pd.Timestamp("2023-01-01")) for n in ("cuba", "haiti", "nicaragua")}
    assert set(push_fit.parole_ties_for("2023-12-31")) == {ven} | chn


def test_a_tied_pair_moves_as_one_knot_on_both_quarters() -> None:
    """A tied knot takes the value of the knot before, and the pair moves by the damped mean
    log-ratio of the six months after the first starts (the second's three months alone
    cannot move it); other nationalities' knots are untouched."""
    q = pd.to_datetime(["2022-07-01", "2022-10-01"])
    knots = pd.DataFrame(
        {
            "knot": np.concatenate([q, q]),
            "nationality": ["venezuela"] * 2 + ["cuba"] * 2,
            "log_push": [6.0, 3.0, 5.0, 4.0],
        }
    )
    ties = (("venezuela", pd.Timestamp("2022-10-01")),)
    tied = push_fit.tie(knots, ties)
    np.testing.assert_allclose(tied.log_push, [6.0, 6.0, 5.0, 4.0])
    months = pd.date_range("2022-08-01", "2023-01-01", freq="MS")
    ratio = pd.DataFrame(
        {"venezuela": np.linspace(2.0, 0.1, len(months)), "cuba": np.full(len(months), 1.0)},
        index=months,
    )
    out = push_fit.tie(push_fit._update(tied, ratio, 0.8, ties), ties)
    step = 0.8 * np.log(ratio.venezuela).mean()  # Aug-Jan: both quarters' months
    np.testing.assert_allclose(out.log_push, [6.0 + step, 6.0 + step, 5.0, 4.0])
    free = push_fit._update(tied, ratio, 0.8)
    assert free.log_push[1] < out.log_push[1] - 0.5  # untied, the Q4 knot falls on its own


def test_whittaker_keeps_lines_and_moments_and_damps_a_spike() -> None:
    """The smooth of y solves (I + lam D2'D2) z = y; D2 annihilates constants and lines, so a
    line passes unchanged and sum(z) and sum(t z) equal those of y, while a one-quarter spike
    (the shape a policy date left in the unpenalised curves) loses most of its height."""
    t = np.arange(9.0)
    np.testing.assert_allclose(push_fit.whittaker(2.0 + 0.5 * t, 30.0), 2.0 + 0.5 * t)
    y = np.zeros(9)
    y[4] = 3.0
    for lam in (1.0, 10.0, 100.0):
        z = push_fit.whittaker(y, lam)
        np.testing.assert_allclose([z.sum(), (t * z).sum()], [y.sum(), (t * y).sum()], atol=1e-9)
        assert z[4] < 0.5 * y[4]
        assert np.sum(np.diff(z, 2) ** 2) < np.sum(np.diff(y, 2) ** 2) / 10
    np.testing.assert_array_equal(push_fit.whittaker(y, 0.0), y)


def test_smooth_acts_on_each_nationality_in_time_order() -> None:
    """Rows are smoothed within their own nationality, in knot order whatever the row order."""
    q = pd.date_range("2020-01-01", periods=5, freq="QS")
    spike = np.array([1.0, 1.0, 4.0, 1.0, 1.0])
    rows = pd.DataFrame(
        {
            "knot": np.concatenate([q, q]),
            "nationality": ["cuba"] * 5 + ["haiti"] * 5,
            "log_push": np.concatenate([spike, np.full(5, 2.0)]),
        }
    )
    shuffled = rows.sample(frac=1.0, random_state=3)
    out = push_fit.smooth(shuffled, 5.0).loc[rows.index]
    np.testing.assert_allclose(out.log_push[:5], push_fit.whittaker(spike, 5.0))
    np.testing.assert_allclose(out.log_push[5:], 2.0)
    assert push_fit.smooth(shuffled, 0.0) is shuffled


def test_the_model_rates_its_months_like_cbp() -> None:
    """A run's monthly rate is 100 x repeat encounters / all encounters of that month, and the
    join keeps exactly the months CBP published."""
    ds = corridor.run({**_RR, "scale": 400}, draw=None)
    j = compare.joined(ds)
    m = j[j.target == "sw_reencounter_rate_pct_month"]
    assert list(m.period_start.dt.strftime("%Y-%m")) == ["2021-05", "2021-07"]
    f = ds["flows"].sum(("nationality", "place")).sel(time=slice("2021-07-01", "2021-07-31"))
    f = f.sum("time")
    enc = float(f.sel(flow="encounters_usbp") + f.sel(flow="encounters_ofo"))
    expect = 100.0 * float(f.sel(flow="repeat_encounters")) / enc
    assert m.sim.iloc[1] == pytest.approx(expect)
    assert m.obs.tolist() == [38.0, 27.0]


def test_objective_fits_its_first_push_curves_at_the_start_point(monkeypatch) -> None:
    """Each evaluation runs only two inversion steps from the curves it is given: the first
    curves must be the start point's own, or the start is scored on another point's curves
    (the shipped out-of-sample MAP: 679.2 from the defaults' curves, 685.5 from its own)."""
    from corridor.calibration import fit, push_fit

    seen = []
    monkeypatch.setattr(push_fit, "fit_push", lambda **kw: seen.append(kw) or "knots")
    start = np.array([f.start for f in fit.FREE])
    start[0] = 3.25
    obj = fit.Objective("2022-12-31", 200, 1, 2, start)
    assert obj.knots == "knots" and len(seen) == 1
    assert seen[0]["parameters"] == fit.as_params(start)
    assert seen[0]["end"] == "2022-12-31" and seen[0]["iterations"] == 4
    fit.Objective("2022-12-31", 200, 1, 2)
    assert seen[1]["parameters"] is None  # no start: the modules' defaults
    assert seen[0]["roughness"] is None  # None: push_fit.PUSH_ROUGHNESS
    fit.Objective("2022-12-31", 200, 1, 2, roughness=3.0)
    assert seen[2]["roughness"] == 3.0
    assert seen[2]["parole_ties"] is None  # None: push_fit.PAROLE_TIES
    fit.Objective("2022-12-31", 200, 1, 2, parole_ties=False)
    assert seen[3]["parole_ties"] is False


def test_darien_targets_are_panamas_counts_model_routes_through_the_jungle() -> None:
    """Panama's counts inside the window become targets, one row per (who, period); Cubans,
    whom the model never routes through the Darien, are left out."""
    from corridor.data import context
    from corridor.data import targets as data_targets

    t = data_targets.calibration_targets()
    per = t[t.target == data_targets.DARIEN_PERIODS]
    assert not per.duplicated(["category", "period_start"]).any()
    assert not per.category.str.startswith("cuba").any()
    assert "venezuela to 2022-12" in set(per.category)
    facts = context.read_period_facts().set_index(["series", "period_start"])["value"]
    row = per[per.category == "all to 2021-12"].iloc[0]
    assert row.value == facts[("darien_crossings_year", pd.Timestamp("2021-01-01"))]
    assert (per.period_start >= pd.Timestamp("2019-10-01")).all()  # not 2019's full year
    months = t[t.target == "darien_crossings_month"]
    assert len(months) == 15 and months.value.iloc[0] == 1009.0


def test_darien_rows_sum_the_runs_crossings() -> None:
    """The simulated rows are the run's Darien crossings: by month, and summed over each
    reported period the run covers whole (by nationality where the period names one)."""
    spec = {"name": "d", "start": "2022-01-01", "end": "2022-12-31", "decision_date": "2022-12-31"}
    ds = corridor.run({**spec, "scale": 400}, draw=None)
    sim = compare.simulated_targets(ds)
    f = ds["flows"].sel(flow="darien_crossings").sum("place").resample(time="MS").sum()
    month = sim[sim.target == "darien_crossings_month"].set_index("period_start")["value"]
    np.testing.assert_allclose(month.to_numpy(), f.sum("nationality").to_numpy())
    per = sim[sim.target == "darien_crossings_period"].set_index("category")["value"]
    assert per["all to 2022-12"] == pytest.approx(float(f.sum()))
    assert per["all to 2022-06"] == pytest.approx(float(f.isel(time=slice(0, 6)).sum()))
    assert per["venezuela to 2022-12"] == pytest.approx(float(f.sel(nationality="venezuela").sum()))
    assert "all to 2021-12" not in per.index and "all to 2023-06" not in per.index


def test_darien_counts_are_a_scored_family() -> None:
    """Moving the Darien rows away from Panama's counts lowers the likelihood; nothing else
    changes."""
    rows = [("darien_crossings_month", "all", pd.Timestamp(f"2022-0{m}-01")) for m in (1, 2, 3)]
    base = _joined(5000.0, 5200.0)
    extra = pd.DataFrame([(t, c, p, p, 4000.0, 4100.0) for t, c, p in rows], columns=base.columns)
    far = extra.assign(sim=12000.0)
    assert fit.log_likelihood(pd.concat([base, far])) < fit.log_likelihood(pd.concat([base, extra]))
