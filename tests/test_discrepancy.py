"""The structural error carried into the bands (corridor.calibration.discrepancy).

The band's arithmetic is checked against the lognormal closed form, the rolling-origin rule
(a posterior's forecast error is learnt only from earlier origins' forecasts) on synthetic
residuals, the shipped tables against a recomputation, and the honesty of the band on data the
posterior never saw: the fit through 2022's band for 2023.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import corridor
from corridor.analysis import backtest as bt
from corridor.calibration import discrepancy as dc

Z95 = 1.6448536269514722


def test_one_member_band_is_the_lognormal_quantiles() -> None:
    v, sigma = np.array([[1000.0], [5.0]]), np.array([0.2, 0.5])
    lo, hi = dc.predictive_band(v, sigma)
    z = np.log(v[:, 0] + dc.OFFSET)
    np.testing.assert_allclose(lo, np.maximum(np.exp(z - Z95 * sigma) - dc.OFFSET, 0), rtol=1e-6)
    np.testing.assert_allclose(hi, np.exp(z + Z95 * sigma) - dc.OFFSET, rtol=1e-6)


def test_an_error_from_few_months_is_student_t() -> None:
    """A sigma estimated from n residuals: a new residual over it is t with n degrees of
    freedom, so the one-member band is exp(z +- t_n(0.95) sigma) - 30."""
    from scipy.stats import t as student_t

    v, sigma, n = np.array([[1000.0]]), np.array([0.2]), np.array([12.0])
    lo, hi = dc.predictive_band(v, sigma, n)
    z, tq = np.log(1000.0 + dc.OFFSET), student_t.ppf(0.95, 12)
    assert tq == pytest.approx(1.782, abs=1e-3)
    assert lo[0] == pytest.approx(np.exp(z - tq * 0.2) - dc.OFFSET, rel=1e-6)
    assert hi[0] == pytest.approx(np.exp(z + tq * 0.2) - dc.OFFSET, rel=1e-6)


def test_band_widens_with_the_error_and_starts_at_the_members() -> None:
    rng = np.random.default_rng(3)
    v = rng.uniform(100, 200, size=(5, 10))
    lo0, hi0 = dc.predictive_band(v, np.zeros(5))
    assert (lo0 >= v.min(axis=1) - 1e-9).all() and (hi0 <= v.max(axis=1) + 1e-9).all()
    np.testing.assert_allclose(lo0, np.quantile(v, 0.05, axis=1), rtol=0.02)
    widths = [np.subtract(*dc.predictive_band(v, np.full(5, s))[::-1]) for s in (0, 0.1, 0.3)]
    assert (widths[0] < widths[1]).all() and (widths[1] < widths[2]).all()


def _joined(end_year: int, r_fit: float, r_next: float) -> pd.DataFrame:
    """A joined table whose residuals are +-r_fit up to ``end_year`` and +-r_next after."""
    months = pd.date_range("2019-12-01", "2023-12-01", freq="MS")
    obs = np.full(len(months), 1000.0)
    sign = np.where(np.arange(len(months)) % 2 == 0, 1.0, -1.0)
    r = np.where(months.year <= end_year, r_fit, r_next) * sign
    sim = (obs + dc.OFFSET) * np.exp(r) - dc.OFFSET
    return pd.DataFrame(
        {"target": "sw_total", "period_start": months, "period_end": months, "obs": obs, "sim": sim}
    )


def test_forecast_error_comes_from_earlier_origins_only() -> None:
    """The fit through 2021 has no earlier origin (its forecast sigma is its fit sigma,
    flagged); the fit through 2022 learns its forecast sigma from the 2021 fit's errors in
    2022, not from its own errors in 2023."""
    joined = {"2021-12-31": _joined(2021, 0.1, 0.3), "2022-12-31": _joined(2022, 0.05, 0.9)}
    out = dc.estimate(joined)
    t21 = out["2021-12-31"].set_index("window")
    assert t21.loc["fit", "sigma"] == pytest.approx(0.1)
    assert (
        t21.loc["forecast", "sigma"] == pytest.approx(0.1)
        and t21.loc["forecast", "source"] == "fit"
    )
    t22 = out["2022-12-31"].set_index("window")
    assert t22.loc["fit", "sigma"] == pytest.approx(0.05)
    assert t22.loc["forecast", "sigma"] == pytest.approx(0.3)
    assert t22.loc["forecast", "source"] == "forecasts of 2022"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.drop(columns="sigma"), "missing column(s) ['sigma']"),
        (lambda d: d.assign(window=["fit", "later"]), "line 3, column window: 'later'"),
        (lambda d: d.assign(sigma=[0.1, -0.2]), "line 3, column sigma: -0.2"),
        (lambda d: d.assign(window=["fit", "fit"]), "line 3: target 'sw_total' given twice"),
        (lambda d: d.assign(months=[40, 0.5]), "line 3, column months: 0.5"),
    ],
)
def test_a_malformed_table_is_refused_with_its_place(edit, message) -> None:
    good = pd.DataFrame(
        {
            "target": ["sw_total", "sw_total"],
            "window": ["fit", "forecast"],
            "sigma": [0.1, 0.2],
            "months": [40, 12],
            "source": ["fit to 2022-12-31", "forecasts of 2022"],
        }
    )
    dc.check(good, "d.csv")
    with pytest.raises(ValueError) as e:
        dc.check(edit(good), "d.csv")
    assert message in str(e.value) and "d.csv" in str(e.value)


SPEC = {"name": "backtest", "end": "2023-12-31", "decision_date": "2023-12-31", "scale": 100}


@pytest.fixture(scope="module")
def members_2021_2022():
    """Ten draws of each forecast origin over the record (scale 100, as shipped)."""
    return {
        year: [
            corridor.run(SPEC, draw=k, posterior_name=f"calibration/posterior-{year}")
            for k in range(10)
        ]
        for year in (2021, 2022)
    }


def test_shipped_forecast_error_is_the_2021_fits_error_in_2022(members_2021_2022) -> None:
    """posterior-2022/discrepancy.csv: its forecast sigma of the monthly total is what the
    fit through 2021 missed 2022 by (ten draws at scale 100, as shipped)."""
    j = bt.median_join(members_2021_2022[2021], structural=False)
    r = dc.residuals(j, "2022-01-01", "2022-12-01")
    expected = float(np.sqrt(np.mean(r["sw_total"] ** 2)))
    shipped, months = dc.error_of("calibration/posterior-2022", "sw_total", "forecast")
    assert months == 12
    assert shipped == pytest.approx(expected, abs=1e-4)


def test_the_2023_forecast_band_holds_the_months_it_claims(members_2021_2022) -> None:
    """Calibration error on data not fitted: the fit through 2022's 90% band for 2023's
    monthly Southwest totals, widened by the error learnt from 2022 alone, holds at least 9 of
    the 12 months (pre-registered; it held 10 with the Student-t error, which came after the
    normal one held 8 under the months beyond the data, and holds 9 under the threshold
    engine's streams: docs/calibration.md); the members alone hold 5."""
    f = bt.forecast_table(members_2021_2022[2022], 2023)
    inside = (f.observed >= f.corridor_5pct) & (f.observed <= f.corridor_95pct)
    alone = (f.observed >= f.members_5pct) & (f.observed <= f.members_95pct)
    assert inside.sum() >= 9, f[["observed", "corridor_5pct", "corridor_95pct"]]
    assert inside.sum() > alone.sum()


@pytest.mark.parametrize("year", [2021, 2022])
def test_each_forecast_beats_the_three_benchmarks(members_2021_2022, year) -> None:
    """The issue's out-of-sample test, from each origin (ten draws at scale 100, as shipped):
    the ensemble median's WAPE of next year's monthly Southwest total is below the seasonal
    naive's, ETS's and ARIMA's, each fitted to the record before that year (2023: 11.8%
    against 12.5%, 61.8%, 48.2%; 2022: 9.2% against 22.6%, 14.4%, 91.1%)."""
    t = bt.out_of_sample_table(members_2021_2022[year], year + 1).set_index("forecast")
    w = t[f"wape_{year + 1}"]
    assert w["corridor"] < min(w["seasonal_naive"], w["ets"], w["arima"]), t
