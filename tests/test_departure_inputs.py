"""Departures' closed forms: parole by air against the land route, and the push beyond the data.

A parolee replaces a land departure with probability s x land / (land + paroles), so parole
takes at most the share s of the land route and never empties it (a plain subtraction did,
and left the push of a nationality under parole unidentified). Beyond its last knot a push
curve holds the last half-year's mean departures per day: the arithmetic mean of the last two
knots' levels, so one quarter's collapse does not pull the forecast down to a fraction of the
year; its months follow the fit window's own seasonal pattern.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from corridor.model import inputs
from corridor.model.departure import land_departures
from corridor.model.places import NAT, NATIONALITIES


@pytest.mark.parametrize("s", [0.0, 0.3, 0.5, 1.0])
def test_parole_takes_at_most_its_share_of_the_land_route(s: float) -> None:
    land = np.array([0.0, 1.0, 10.0, 100.0, 1e4, 1e6])
    for parole in (0.0, 5.0, 266.0, 5e3):
        got = np.array([land_departures(x, parole, s) for x in land])
        assert (got >= (1.0 - s) * land - 1e-9).all()  # never below 1 - s of the land route
        assert (got <= land + 1e-9).all()
        assert (np.diff(got) > 0).all()  # more would-be migrants, more land departures
        if parole == 0.0:
            np.testing.assert_array_equal(got, land)
    # Far more would-be land migrants than paroles: each parolee replaces ~s of one.
    assert land_departures(1e6, 100.0, s) == pytest.approx(1e6 - s * 100.0, rel=1e-6)
    # The closed form at an ordinary point.
    assert land_departures(189.0, 266.0, s) == pytest.approx(189.0 * (1 - s * 266.0 / 455.0))


def _knots(levels: list[float]) -> pd.DataFrame:
    quarters = pd.date_range("2019-10-01", periods=len(levels), freq="QS-OCT")
    rows = [
        {"knot": q, "nationality": nat, "log_push": v}
        for nat in NATIONALITIES
        for q, v in zip(quarters, levels, strict=True)
    ]
    return pd.DataFrame(rows)


def test_push_holds_the_last_half_years_mean_departures_beyond_the_data() -> None:
    levels = [5.0, 5.0, 5.0, 5.0, 2.93, 5.04, 6.33, 2.80]  # a year with two collapsed quarters
    knots = _knots(levels)
    start = dt.date(2019, 10, 1)
    days = 4 * 365
    push = inputs.push_daily(start, days, knots)
    dates = np.datetime64("2019-10-01") + np.arange(days)
    moy = dates.astype("M8[M]").astype(np.int64) % 12
    end = inputs.data_end(knots)  # the last knot's quarter: July - September 2021
    assert end == pd.Timestamp("2021-09-01")
    after = dates >= np.datetime64("2021-10-01")
    season = np.where(after, inputs.forecast_profile(end)[moy], inputs.seasonal_profile()[moy])
    base = push[:, NAT["venezuela"]] / season
    # Well past the last knot (and its 90-day ramp): flat at the mean level of the last two
    # (inputs.HOLD_KNOTS), an arithmetic mean of departures, not of log departures.
    assert inputs.HOLD_KNOTS == 2
    held = np.log(np.mean(np.exp(levels[-2:])))
    late = base[-200:]
    np.testing.assert_allclose(late, np.exp(held), rtol=1e-9)
    assert held > np.mean(levels[-2:]) + 0.5  # the geometric mean would sit far lower


def test_visa_free_nationalities_fly_in_until_mexico_requires_visas() -> None:
    """The route shares follow the visa lever day by day: Venezuelans fly in (95%) until
    2022-01-20 and cross the Darien from 2022-01-21; Ecuadorians switch on 2021-09-04 to half
    by the Darien; Colombians fly throughout; Guatemalans never fly nor cross the Darien."""
    from corridor.api import prepare
    from corridor.engine.sim import Simulation
    from corridor.model.registry import PHASES

    scn = prepare({"name": "routes", "end": "2022-12-31", "decision_date": "2022-12-31"})
    dep = Simulation(scn, list(PHASES)).module("departure")
    day = {
        d: (pd.Timestamp(d) - pd.Timestamp("2019-10-01")).days
        for d in ("2021-09-03", "2021-09-04", "2022-01-20", "2022-01-21")
    }
    ve, ec, co, gt = (NAT[n] for n in ("venezuela", "ecuador", "colombia", "guatemala"))
    air, dar = dep.air_p, dep.darien_p
    assert air[day["2022-01-20"], ve] == pytest.approx(0.95)
    assert dar[day["2022-01-20"], ve] == pytest.approx(0.05)
    assert (air[day["2022-01-21"], ve], dar[day["2022-01-21"], ve]) == (0.0, 1.0)
    assert air[day["2021-09-03"], ec] == pytest.approx(0.95)
    assert (air[day["2021-09-04"], ec], dar[day["2021-09-04"], ec]) == (0.0, 0.5)
    assert (air[:, co] == pytest.approx(0.95)) and (dar[:, co] == pytest.approx(0.05))
    assert (air[:, gt] == 0).all() and (dar[:, gt] == 0).all()
    assert (air[:, NAT["mexico"]] == 0).all()
    assert ((air + dar) <= 1.0 + 1e-12).all()


def test_people_flying_in_skip_the_darien_and_the_southern_border() -> None:
    """With Venezuelans visa-free all along, 5% of their departures take the Darien (the
    share not flying) against all of them with visas, and almost none are caught at
    Tapachula. Compared as ratios of the two runs: those still on the road at the end (the
    same share in both) cancel."""
    import corridor

    spec = {"name": "visa", "start": "2022-03-01", "end": "2022-08-31", "scale": 50}
    spec["decision_date"] = "2022-08-31"
    share, south = {}, {}
    for free in ([], ["venezuela"]):
        pol = [{"from": "2022-03-01", "set": {"mexico.visa_free_nationalities": free}}]
        f = corridor.run({**spec, "policies": pol}, draw=None)["flows"]
        f = f.sel(nationality="venezuela").sum("time")
        left = float(f.sel(flow="departures").sum())
        assert left > 50_000
        share[bool(free)] = float(f.sel(flow="darien_crossings").sum()) / left
        south[bool(free)] = float(f.sel(flow="mexico_apprehensions", place="tapachula"))
    assert share[False] > 0.6  # with visas: everyone who reached Panama by the end
    assert 0.03 < share[True] / share[False] < 0.075  # 0.05, binomial noise
    assert south[True] < 0.15 * south[False]  # 0.05 of them reach Tapachula


def test_push_beyond_the_data_takes_the_months_of_the_fit_window_only() -> None:
    """The month-of-year factors beyond the data: Southwest encounters from October 2019 to
    the window's end over their centred 12-month mean, by month, mean 1; computed from those
    months alone (a later end gives other factors), and the FY2013-2019 profile inside."""
    sw = inputs._sw()
    for end in ("2021-12-01", "2022-12-01"):
        f = inputs.forecast_profile(pd.Timestamp(end))
        tot = sw[(sw.month >= "2019-10-01") & (sw.month <= end)].groupby("month")["count"].sum()
        ratio = tot / tot.rolling(12, center=True, min_periods=6).mean()
        by = ratio.groupby(ratio.index.month).mean().to_numpy()
        np.testing.assert_allclose(f, by / by.mean())
        assert f.mean() == pytest.approx(1.0)
    assert not np.allclose(
        inputs.forecast_profile(pd.Timestamp("2021-12-01")),
        inputs.forecast_profile(pd.Timestamp("2022-12-01")),
    )
    knots = _knots([5.0] * 8)  # through September 2021
    push = inputs.push_daily(dt.date(2019, 10, 1), 3 * 365, knots)[:, NAT["mexico"]]
    dates = np.datetime64("2019-10-01") + np.arange(3 * 365)
    month = pd.DatetimeIndex(dates).month.to_numpy()
    inside, beyond = dates < np.datetime64("2021-10-01"), dates >= np.datetime64("2021-10-01")
    prof, fc = inputs.seasonal_profile(), inputs.forecast_profile(pd.Timestamp("2021-09-01"))
    np.testing.assert_allclose(push[inside] / prof[month[inside] - 1], np.exp(5.0))
    np.testing.assert_allclose(push[beyond] / fc[month[beyond] - 1], np.exp(5.0))
