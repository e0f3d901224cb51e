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
