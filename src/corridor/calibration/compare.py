"""Model and data side by side: the calibration targets computed from a run, and fit metrics.

``simulated_targets`` returns rows of the same shape as ``data.targets.calibration_targets``
(target, dimension, category, period_start, period_end, value), so observed and simulated join
on (target, category, period_start). WAPE (weighted absolute percentage error) is the sum of
absolute errors over the sum of observed values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from corridor.data import targets as data_targets
from corridor.model.places import CBP_GROUP, NATIONALITIES, SECTORS

KEY = ["target", "category", "period_start"]


def _group(nat: str) -> str:
    return "mexico" if nat == "mexico" else nat if nat in CBP_GROUP else "other"


def _monthly_cbp(ds: xr.Dataset) -> xr.DataArray:
    return ds["cbp"].resample(time="MS").sum()


def _rows(series: pd.DataFrame, target: str, dimension: str) -> pd.DataFrame:
    """Wide (month x category) to the tidy target layout."""
    long = series.stack().rename("value").reset_index()
    long.columns = ["period_start", "category", "value"]
    long["target"] = target
    long["dimension"] = dimension
    long["period_end"] = long["period_start"]
    return long


def simulated_targets(ds: xr.Dataset) -> pd.DataFrame:
    """The monthly and period targets as the model produced them."""
    cbp = _monthly_cbp(ds)
    months = pd.DatetimeIndex(cbp["time"].values)
    total = cbp.sum(("component", "title", "demographic", "nationality")).to_pandas()
    parts = [_rows(total.to_frame("all"), "sw_total", "total")]
    comp = cbp.sum(("title", "demographic", "nationality")).to_pandas()
    parts.append(_rows(comp, "sw_by_component", "component"))
    title = cbp.sum(("component", "demographic", "nationality")).to_pandas()
    parts.append(_rows(title, "sw_by_title", "title"))
    by_nat = cbp.sum(("component", "title", "demographic")).to_pandas()
    groups = by_nat.T.groupby([_group(n) for n in by_nat.columns]).sum().T
    parts.append(
        _rows(
            groups[list(data_targets.CITIZENSHIP_GROUPS)], "sw_by_citizenship_group", "citizenship"
        )
    )
    usbp = cbp.sel(component="usbp").sum(("title", "demographic")).to_pandas()
    parts.append(_rows(usbp[list(NATIONALITIES)], "usbp_sw_by_nationality", "nationality"))
    sectors = ds["flows"].sel(flow="encounters_usbp", place=list(SECTORS)).sum("nationality")
    sec = sectors.resample(time="MS").sum().to_pandas()
    parts.append(_rows(sec, "usbp_sw_by_sector", "sector"))
    parts.append(_period_rows(ds, months, total))
    parts.append(_darien_rows(ds))
    out = pd.concat(parts, ignore_index=True)
    out["period_start"] = pd.to_datetime(out["period_start"])
    out["period_end"] = pd.to_datetime(out["period_end"])
    return out


def _period_rows(ds: xr.Dataset, months: pd.DatetimeIndex, total: pd.Series) -> pd.DataFrame:
    f = ds["flows"].sum(("nationality", "place")).resample(time="MS").sum().to_pandas()
    rows = []
    fy21 = (f.index >= "2020-10-01") & (f.index <= "2021-09-01")
    enc = f.loc[fy21, "encounters_usbp"].sum() + f.loc[fy21, "encounters_ofo"].sum()
    if enc > 0:
        rows.append(
            (
                "sw_reencounter_rate_pct_fy2021",
                "2020-10-01",
                "2021-09-01",
                100.0 * f.loc[fy21, "repeat_encounters"].sum() / enc,
            )
        )
    enc = f["encounters_usbp"] + f["encounters_ofo"]
    rate = (100.0 * f["repeat_encounters"] / enc)[enc > 0]  # the join keeps CBP's months
    rows += [("sw_reencounter_rate_pct_month", m, m, float(v)) for m, v in rate.items()]
    t42 = (f.index >= "2020-03-01") & (f.index <= "2023-05-01")
    if t42.any():
        rows.append(
            (
                "title42_expelled_at_us_mexico_border",
                "2020-03-01",
                "2023-05-01",
                float(f.loc[t42, "expulsions_title42"].sum()),
            )
        )
    if pd.Timestamp("2023-12-01") in total.index:
        rows.append(
            ("sw_total_dec2023", "2023-12-01", "2023-12-01", float(total.loc["2023-12-01"]))
        )
    df = pd.DataFrame(rows, columns=["target", "period_start", "period_end", "value"])
    df["dimension"] = "total"
    df["category"] = "all"
    return df


def _darien_rows(ds: xr.Dataset) -> pd.DataFrame:
    """Darien crossings by month (all nationalities) and over each period Panama reported
    (``data.targets.darien_periods``) that the run covers whole."""
    f = ds["flows"].sel(flow="darien_crossings").sum("place").resample(time="MS").sum()
    by_nat = f.to_pandas()
    total = by_nat.sum(axis=1)
    rows = [(data_targets.DARIEN_MONTHS, "all", m, m, float(v)) for m, v in total.items()]
    first, last = total.index.min(), total.index.max()
    for r in data_targets.darien_periods().itertuples():
        if r.period_start < first or r.period_end > last:
            continue
        span = by_nat.loc[r.period_start : r.period_end]
        v = span.to_numpy().sum() if r.nationality == "all" else span[r.nationality].sum()
        rows.append((data_targets.DARIEN_PERIODS, r.category, r.period_start, r.period_end, v))
    df = pd.DataFrame(rows, columns=["target", "category", "period_start", "period_end", "value"])
    return df.assign(dimension="total", value=df["value"].astype(float))


def joined(ds: xr.Dataset, observed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Observed and simulated targets side by side (``obs``, ``sim``)."""
    obs = data_targets.calibration_targets() if observed is None else observed
    obs = obs.copy()
    obs["period_start"] = pd.to_datetime(obs["period_start"])
    sim = simulated_targets(ds)
    out = obs.merge(sim[[*KEY, "value"]], on=KEY, how="inner", suffixes=("_obs", "_sim"))
    return out.rename(columns={"value_obs": "obs", "value_sim": "sim"})


def wape(obs: pd.Series | np.ndarray, sim: pd.Series | np.ndarray) -> float:
    obs, sim = np.asarray(obs, float), np.asarray(sim, float)
    denom = np.abs(obs).sum()
    return float(np.abs(sim - obs).sum() / denom) if denom > 0 else float("nan")


def fit_table(j: pd.DataFrame, start: str = "2020-10-01", end: str = "2023-12-01") -> pd.DataFrame:
    """WAPE per target and category over a window of months (monthly targets only)."""
    m = j[(j.period_start == j.period_end) & (j.period_start >= start) & (j.period_start <= end)]
    m = m[~m.target.isin(["sw_total_dec2023", *data_targets.MONTHLY_FACTS])]
    rows = [
        (t, c, wape(g.obs, g.sim), float(g.obs.sum()), float(g.sim.sum()))
        for (t, c), g in m.groupby(["target", "category"], sort=False)
    ]
    return pd.DataFrame(rows, columns=["target", "category", "wape", "observed", "simulated"])
