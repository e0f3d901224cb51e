"""Backtests: how well the calibrated model reproduces and forecasts CBP's record.

In-sample (Oct 2020 - Dec 2023): WAPE of the monthly Southwest total, of each CBP citizenship
group, of Border Patrol by nationality, the Title 42 / Title 8 split, the FY2021 re-encounter
rate, December 2023 and the Title 42 total. Out of sample: a posterior fitted on data through
December 2022 forecasts January-December 2023 from 2023's policy timeline; its WAPE on the
monthly total is set beside a seasonal-naive forecast (the same month of 2022) and statsmodels'
ETS and ARIMA fitted to the same history.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from corridor.analysis.figures import band_trace
from corridor.calibration import compare, discrepancy
from corridor.data import targets as data_targets

TARGETS = {
    "sw_total": 0.08,
    "sw_by_citizenship_group": 0.15,
    "usbp_sw_by_nationality": 0.25,
    "sw_by_title": 0.15,
}


def in_sample_table(members: list[xr.Dataset]) -> pd.DataFrame:
    """Fit of the ensemble median, Oct 2020 - Dec 2023, against the issue's targets."""
    j = median_join(members)
    ft = compare.fit_table(j, "2020-10-01", "2023-12-01")
    ft["target_max"] = ft["target"].map(TARGETS)
    ft = ft[ft.target.isin(TARGETS)].reset_index(drop=True)
    facts = j[j.period_start != j.period_end].set_index("target")
    dec = j[j.target == "sw_total_dec2023"].iloc[0]
    rows = [
        (
            "sw_reencounter_rate_pct_fy2021",
            "all",
            np.nan,
            facts.loc["sw_reencounter_rate_pct_fy2021", "obs"],
            facts.loc["sw_reencounter_rate_pct_fy2021", "sim"],
            np.nan,
        ),
        (
            "title42_expelled_at_us_mexico_border",
            "all",
            abs(
                facts.loc["title42_expelled_at_us_mexico_border", "sim"]
                / facts.loc["title42_expelled_at_us_mexico_border", "obs"]
                - 1
            ),
            facts.loc["title42_expelled_at_us_mexico_border", "obs"],
            facts.loc["title42_expelled_at_us_mexico_border", "sim"],
            0.15,
        ),
        ("sw_total_dec2023", "all", abs(dec.sim / dec.obs - 1), dec.obs, dec.sim, 0.10),
    ]
    extra = pd.DataFrame(
        rows, columns=["target", "category", "wape", "observed", "simulated", "target_max"]
    )
    out = pd.concat([ft, extra], ignore_index=True)
    out["pass"] = np.where(
        out.target_max.isna(),
        out.target == "sw_reencounter_rate_pct_fy2021",
        out.wape <= out.target_max,
    )
    rr = out.target == "sw_reencounter_rate_pct_fy2021"
    out.loc[rr, "pass"] = out.loc[rr, "simulated"].between(22, 32)
    return out


def darien_table(members: list[xr.Dataset]) -> pd.DataFrame:
    """Panama's Darien counts (months, years, year-to-date, 2022 by nationality) against the
    ensemble: median and 5-95% predictive band, and the ratio of the median to the count."""
    j = median_join(members)
    m = j[j.target.isin(data_targets.DARIEN_TARGETS)]
    m = m.sort_values(["target", "period_start", "category"])  # months, then periods
    month = m.target == data_targets.DARIEN_MONTHS
    return pd.DataFrame(
        {
            "period": np.where(
                month,
                m.period_start.dt.strftime("%Y-%m"),
                m.period_start.dt.strftime("%Y-%m") + " .. " + m.category.astype(str),
            ),
            "observed": m.obs.to_numpy(float),
            "simulated": m.sim.to_numpy(float),
            "sim_5pct": m.lo.to_numpy(float),
            "sim_95pct": m.hi.to_numpy(float),
            "ratio": (m.sim / m.obs).to_numpy(float),
        }
    )


def reencounter_table(members: list[xr.Dataset]) -> pd.DataFrame:
    """The months whose re-encounter rate CBP published (percent of the month's encounters
    with an encounter in the previous twelve months) against the ensemble: median and 5-95%
    predictive band.
    Reported, not fitted (the FY2021 rate is the calibration's fact)."""
    j = median_join(members)
    m = j[j.target == "sw_reencounter_rate_pct_month"].sort_values("period_start")
    return pd.DataFrame(
        {
            "month": m.period_start.dt.strftime("%Y-%m").to_numpy(),
            "observed_pct": m.obs.to_numpy(float),
            "simulated_pct": m.sim.to_numpy(float),
            "sim_5pct": m.lo.to_numpy(float),
            "sim_95pct": m.hi.to_numpy(float),
        }
    )


def median_join(members: list[xr.Dataset], *, structural: bool = True) -> pd.DataFrame:
    """Observed vs the ensemble's median for every target. ``lo``, ``hi``: the 5-95% posterior
    predictive band: the members widened by the structural error their posterior's
    calibration found (:mod:`corridor.calibration.discrepancy`; with ``structural`` off, or
    runs without a posterior, the members' own band); ``ens_lo``, ``ens_hi``: the members'
    own 5% and 95% quantiles."""
    sims = [compare.joined(ds) for ds in members]
    base = sims[0][["target", "dimension", "category", "period_start", "period_end", "obs"]].copy()
    vals = np.column_stack([s["sim"].to_numpy(float) for s in sims])
    base["sim"] = np.median(vals, axis=1)
    base["ens_lo"] = np.quantile(vals, 0.05, axis=1)
    base["ens_hi"] = np.quantile(vals, 0.95, axis=1)
    name = members[0].attrs.get("posterior", "none") if structural else "none"
    sigma, months = discrepancy.row_errors(base, name)
    base["lo"], base["hi"] = discrepancy.predictive_band(vals, sigma, months)
    return base


def monthly_total(ds: xr.Dataset) -> pd.Series:
    cbp = ds["cbp"].resample(time="MS").sum()
    return cbp.sum(("component", "title", "demographic", "nationality")).to_pandas()


def observed_total(end: str = "2023-12-01") -> pd.Series:
    t = data_targets.calibration_targets()
    s = t[t.target == "sw_total"].set_index("period_start")["value"]
    s.index = pd.to_datetime(s.index)
    return s[s.index <= pd.Timestamp(end)].astype(float)


BENCHMARKS = ("seasonal_naive", "ets", "arima")


def benchmark_forecasts(history: pd.Series, horizon: pd.DatetimeIndex) -> dict[str, pd.Series]:
    """Seasonal naive, ETS and ARIMA forecasts of the monthly total from ``history``."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    out = {}
    naive = [history.get(d - pd.DateOffset(years=1), np.nan) for d in horizon]
    out["seasonal_naive"] = pd.Series(naive, index=horizon)
    y = np.log(history.to_numpy(float))
    ets = ExponentialSmoothing(
        y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=12
    ).fit()
    out["ets"] = pd.Series(np.exp(ets.forecast(len(horizon))), index=horizon)
    arima = ARIMA(y, order=(1, 1, 0), seasonal_order=(0, 1, 0, 12)).fit()
    out["arima"] = pd.Series(np.exp(arima.forecast(len(horizon))), index=horizon)
    return out


def forecast_table(members: list[xr.Dataset], year: int = 2023) -> pd.DataFrame:
    """``year`` month by month: observed, the ensemble's median, its 5-95% predictive band
    (``corridor_5pct``, ``corridor_95pct``) and the members' own (``members_*``), each member,
    and the three benchmark forecasts made from the record before ``year`` only."""
    obs = observed_total(f"{year}-12-01")
    start = pd.Timestamp(f"{year}-01-01")
    hist, test = obs[obs.index < start], obs[obs.index >= start]
    sims = np.column_stack(
        [monthly_total(ds).reindex(test.index).to_numpy(float) for ds in members]
    )
    out = pd.DataFrame({"observed": test.to_numpy(float)}, index=test.index)
    out["corridor"] = np.median(sims, axis=1)
    # The 90% band: the members widened by the error of the earlier calibrations' forecasts
    # of their next year (corridor.calibration.discrepancy), not the members alone.
    name = members[0].attrs.get("posterior", "none")
    sigma, months = discrepancy.error_of(name, "sw_total", "forecast")
    lo, hi = discrepancy.predictive_band(
        sims, np.full(len(sims), sigma), np.full(len(sims), months)
    )
    out["corridor_5pct"], out["corridor_95pct"] = lo, hi
    out["members_5pct"] = np.quantile(sims, 0.05, axis=1)
    out["members_95pct"] = np.quantile(sims, 0.95, axis=1)
    for name, fc in benchmark_forecasts(hist, test.index).items():
        out[name] = fc.to_numpy(float)
    for k in range(sims.shape[1]):
        out[f"member_{k}"] = sims[:, k]
    out.index.name = "month"
    return out


def out_of_sample_table(members: list[xr.Dataset], year: int = 2023) -> pd.DataFrame:
    """``year``'s forecast WAPE of the model (ensemble median) and of the three benchmarks,
    each from the record before ``year`` only. For the model, ``members_5pct`` and
    ``members_95pct`` give the spread of the single members' WAPE: how much the verdict depends
    on the draws."""
    return wape_table(forecast_table(members, year), year)


def wape_table(f: pd.DataFrame, year: int) -> pd.DataFrame:
    """:func:`out_of_sample_table` from a :func:`forecast_table` already made."""
    test = f["observed"]
    each = [compare.wape(test, f[c].to_numpy()) for c in f.columns if c.startswith("member_")]
    lo, hi = np.quantile(each, [0.05, 0.95])
    rows = [("corridor", compare.wape(test, f["corridor"].to_numpy()), lo, hi)]
    for name in BENCHMARKS:
        rows.append((name, compare.wape(test, f[name].to_numpy()), np.nan, np.nan))
    columns = ["forecast", f"wape_{year}", "members_5pct", "members_95pct"]
    return pd.DataFrame(rows, columns=columns)


def plot_forecast(f: pd.DataFrame, path: Path, title: str) -> Path:
    """A :func:`forecast_table` drawn: observed, the model's median and 90% predictive band,
    and the benchmarks (Plotly)."""
    import plotly.graph_objects as go

    x = list(f.index)
    fig = go.Figure()
    fig.add_trace(band_trace(x, f.corridor_5pct, f.corridor_95pct, "corridor 90% predictive band"))
    fig.add_trace(go.Scatter(x=x, y=f.corridor, name="corridor (median)"))
    for name in BENCHMARKS:
        fig.add_trace(go.Scatter(x=x, y=f[name], name=name, line={"dash": "dash"}))
    fig.add_trace(go.Scatter(x=x, y=f.observed, name="CBP", line={"color": "black", "dash": "dot"}))
    fig.update_layout(title=title, yaxis_title="Southwest encounters a month")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs="cdn")
    return path


def plot(j: pd.DataFrame, target: str, path: Path, title: str) -> Path:
    """Observed vs simulated (median and 90% predictive band) for each category of a target
    (Plotly)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    m = j[(j.target == target) & (j.period_start == j.period_end)]
    cats = list(dict.fromkeys(m.category))
    fig = make_subplots(rows=len(cats), cols=1, subplot_titles=cats, shared_xaxes=True)
    for r, c in enumerate(cats, start=1):
        g = m[m.category == c].sort_values("period_start")
        x = g.period_start
        fig.add_trace(band_trace(x, g.lo, g.hi, "90% predictive band", r == 1), r, 1)
        fig.add_trace(
            go.Scatter(
                x=x, y=g.sim, name="corridor (median)", showlegend=r == 1, line={"color": "#1f77b4"}
            ),
            r,
            1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=g.obs,
                name="CBP / OHSS",
                showlegend=r == 1,
                line={"color": "black", "dash": "dot"},
            ),
            r,
            1,
        )
    fig.update_layout(title=title, height=260 * len(cats) + 120)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs="cdn")
    return path
