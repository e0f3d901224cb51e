"""Departures' closed forms: parole by air against the land route, and the push beyond the data.

A parolee replaces a land departure with probability s x land / (land + paroles), so parole
takes at most the share s of the land route and never empties it (a plain subtraction did,
and left the push of a nationality under parole unidentified). Beyond its last knot a push
curve holds last year's mean departures per day: the arithmetic mean of the last four knots'
levels, so one quarter's collapse does not pull the forecast down to a fraction of the year.
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
    season = inputs.seasonal_profile()
    dates = np.datetime64("2019-10-01") + np.arange(days)
    moy = dates.astype("M8[M]").astype(np.int64) % 12
    base = push[:, NAT["venezuela"]] / season[moy]
    # Well past the last knot (and its 90-day ramp): flat at the mean level of the last two
    # (inputs.HOLD_KNOTS), an arithmetic mean of departures, not of log departures.
    assert inputs.HOLD_KNOTS == 2
    held = np.log(np.mean(np.exp(levels[-2:])))
    late = base[-200:]
    np.testing.assert_allclose(late, np.exp(held), rtol=1e-9)
    assert held > np.mean(levels[-2:]) + 0.5  # the geometric mean would sit far lower
