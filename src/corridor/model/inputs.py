"""Inputs the model takes from data: demographic mix, sector mix, seasonality, push curves.

All come from the shipped CBP and OHSS files (through Dec 2023); months after the data are
held at the mean of the last twelve months of data. The push curve is a smooth function of
time per nationality (log-linear between quarterly knots, times a shared seasonal profile);
its knot values are the calibration's (``calibration/push_knots.csv``) when that file exists,
and otherwise an initial guess derived from encounters (see :func:`initial_push_knots`).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from corridor.data import cbp, ohss
from corridor.model.places import (
    BORDER_CITIES,
    DEMOGRAPHICS,
    N_NAT,
    NATIONALITIES,
    SECTOR_CITY,
    SECTORS,
)

FIRST_MONTH = pd.Timestamp("2019-10-01")
LAST_DATA_MONTH = pd.Timestamp("2023-12-01")
KNOT_MONTHS = 3  # one push knot per quarter
# Beyond the data, push holds at the mean level of this many last knots: two (the last
# half-year) forecast 2022 best from a fit through 2021 (10.4% against 26.2% with four; the
# rolling-origin choice in docs/calibration.md, made without looking at 2023).
HOLD_KNOTS = 2
PUSH_FILE = "calibration/push_knots.csv"


def month_index(dates: np.ndarray) -> np.ndarray:
    """Months since Oct 2019 for an array of datetime64[D] (may be negative)."""
    m = dates.astype("M8[M]").astype(np.int64)
    return m - np.datetime64("2019-10", "M").astype(np.int64)


@lru_cache(maxsize=1)
def _sw() -> pd.DataFrame:
    return cbp.read_sw_encounters()


def _group_of(nat: str) -> str:
    return nat if nat in ("mexico", "guatemala", "honduras", "el_salvador") else "other"


def data_end(knots: pd.DataFrame | None) -> pd.Timestamp:
    """The last month of data a run may use: the last month of its push curves' last quarter
    (a calibration through December 2022 gives December 2022), else the shipped data's."""
    if knots is None or len(knots) == 0:
        return LAST_DATA_MONTH
    key = _knots_key(knots)
    return _data_end(knots) if key is None else _data_end_cached(key)


def _data_end(knots: pd.DataFrame) -> pd.Timestamp:
    last = pd.Timestamp(pd.to_datetime(knots["knot"]).max())
    return min(last + pd.DateOffset(months=KNOT_MONTHS - 1), LAST_DATA_MONTH)


KnotsKey = tuple[str, bytes, tuple, bytes]


def _knots_key(knots: pd.DataFrame) -> KnotsKey | None:
    """What the push curves read from ``knots``, hashable, so that what is derived from them
    is computed once per distinct set of knots (a posterior draw, a calibration candidate);
    None (no caching) for a knot column that is not plain datetime64."""
    when = knots["knot"].to_numpy()
    if when.dtype.kind != "M":
        return None
    return (
        when.dtype.str,
        when.tobytes(),
        tuple(knots["nationality"].tolist()),
        knots["log_push"].to_numpy(float).tobytes(),
    )


def _knots_frame(key: KnotsKey) -> pd.DataFrame:
    """The knots a key was taken from (the columns the push curves read)."""
    dtype, when, who, log_push = key
    return pd.DataFrame(
        {
            "knot": np.frombuffer(when, dtype=dtype),
            "nationality": list(who),
            "log_push": np.frombuffer(log_push, dtype=np.float64),
        }
    )


@lru_cache(maxsize=64)
def _data_end_cached(key: KnotsKey) -> pd.Timestamp:
    return _data_end(_knots_frame(key))


@lru_cache(maxsize=4)
def demographic_shares(last_month: pd.Timestamp = LAST_DATA_MONTH) -> np.ndarray:
    """Share of each demographic by fiscal year (FY2020..FY2024) and nationality: [5, N_NAT, 4].

    From CBP's SW file (both components, both titles), months up to ``last_month`` only; a
    fiscal year not complete by then takes the twelve months ending at ``last_month``. The
    "Other" group's mix is used for the nationalities inside it.
    """
    sw = _sw()
    sw = sw[sw.month <= last_month]
    recent = sw[sw.month > last_month - pd.DateOffset(months=12)]
    g = sw.groupby(["fiscal_year", "citizenship", "demographic"])["count"].sum()
    tail = recent.groupby(["citizenship", "demographic"])["count"].sum()
    out = np.zeros((5, N_NAT, len(DEMOGRAPHICS)))
    for fy_i, fy in enumerate(range(2020, 2025)):
        complete = pd.Timestamp(f"{fy}-09-01") <= last_month
        for n, nat in enumerate(NATIONALITIES):
            grp = _group_of(nat)
            if complete:
                row = [g.get((fy, grp, d), 0) for d in DEMOGRAPHICS]
            else:
                row = [tail.get((grp, d), 0) for d in DEMOGRAPHICS]
            row = np.array(row, float)
            out[fy_i, n] = row / row.sum()
    return out


@lru_cache(maxsize=4)
def _sector_table(last_month: pd.Timestamp = LAST_DATA_MONTH) -> pd.DataFrame:
    s = ohss.usbp_by_sector()
    s = s[(s.month >= FIRST_MONTH) & (s.month <= last_month)]
    return s.pivot(index="month", columns="sector", values="count")[list(SECTORS)]


def sector_shares(n_months: int, last_month: pd.Timestamp = LAST_DATA_MONTH) -> np.ndarray:
    """Share of Border Patrol encounters by sector for each month since Oct 2019: [m, 9];
    months after ``last_month`` take the mean of the last twelve months of data."""
    tab = _sector_table(last_month).to_numpy(float)
    tab = tab / tab.sum(axis=1, keepdims=True)
    tail = tab[-12:].mean(axis=0)
    out = np.empty((n_months, len(SECTORS)))
    k = min(n_months, tab.shape[0])
    out[:k] = tab[:k]
    out[k:] = tail
    return out


def city_choice(
    n_months: int, matamoros_share_of_rgv: float, last_month: pd.Timestamp = LAST_DATA_MONTH
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative city-choice probabilities [m, 8] and, per city, P(second sector) [m, 8].

    Cities facing two sectors (Mexicali: El Centro/Yuma; Juarez: El Paso/Big Bend) cross into
    the second with the sectors' share ratio. Reynosa and Matamoros split Rio Grande Valley.
    """
    sec = sector_shares(n_months, last_month)
    city_p = np.zeros((n_months, len(BORDER_CITIES)))
    alt = np.zeros((n_months, len(BORDER_CITIES)))
    ci = {c: i for i, c in enumerate(BORDER_CITIES)}
    for s, sector in enumerate(SECTORS):
        city_p[:, ci[SECTOR_CITY[sector]]] += sec[:, s]
    rgv = sec[:, SECTORS.index("rio_grande_valley")]
    city_p[:, ci["reynosa"]] -= matamoros_share_of_rgv * rgv
    city_p[:, ci["matamoros"]] += matamoros_share_of_rgv * rgv
    for city, second in (("mexicali", "yuma"), ("juarez", "big_bend")):
        tot = city_p[:, ci[city]]
        alt[:, ci[city]] = np.where(
            tot > 0, sec[:, SECTORS.index(second)] / np.maximum(tot, 1e-12), 0
        )
    return np.cumsum(city_p, axis=1), alt


@lru_cache(maxsize=1)
def seasonal_profile() -> np.ndarray:
    """Multiplicative month-of-year factors (Jan..Dec, mean 1) from Southwest Border Patrol
    encounters FY2013-FY2019, before the period the model fits (OHSS, shipped).
    """
    n = ohss.usbp_by_nationality()
    tot = n.groupby("month")["count"].sum()
    tot = tot[(tot.index >= pd.Timestamp("2012-10-01")) & (tot.index < pd.Timestamp("2019-10-01"))]
    trend = tot.rolling(12, center=True, min_periods=6).mean()
    ratio = (tot / trend).groupby(tot.index.month).mean()
    f = ratio.reindex(range(1, 13)).to_numpy(float)
    return f / f.mean()


@lru_cache(maxsize=1)
def encounters_by_nationality() -> pd.DataFrame:
    """Monthly SW encounters (USBP + OFO) by project nationality, Oct 2019 - Dec 2023.

    USBP by nationality is OHSS's; OFO is CBP's by citizenship group, with "Other" apportioned
    to the seven nationalities inside it by their Border Patrol shares that month.
    """
    usbp = ohss.usbp_by_nationality()
    usbp = usbp[(usbp.month >= FIRST_MONTH) & (usbp.month <= LAST_DATA_MONTH)]
    u = usbp.pivot(index="month", columns="nationality", values="count")[list(NATIONALITIES)]
    sw = _sw()
    ofo = sw[sw.component == "ofo"].groupby(["month", "citizenship"])["count"].sum().unstack()
    ofo = ofo.reindex(u.index).fillna(0)
    out = u.astype(float).copy()
    others = [n for n in NATIONALITIES if _group_of(n) == "other"]
    oshare = u[others].div(u[others].sum(axis=1), axis=0).fillna(1 / len(others))
    for nat in NATIONALITIES:
        if nat in others:
            out[nat] += ofo["other"] * oshare[nat]
        else:
            out[nat] += ofo[nat]
    return out


def initial_push_knots(
    repeat_share: float = 0.25, lead_months: int = 1, end: str = "2023-12-31"
) -> pd.DataFrame:
    """A first guess of the push curves: de-duplicated, de-seasonalised encounters, moved a
    month earlier (travel), averaged per quarter, from data up to ``end`` only (so an
    out-of-sample fit never sees later months). Calibration replaces these.
    """
    enc = encounters_by_nationality()
    enc = enc[enc.index <= pd.Timestamp(end)]
    season = seasonal_profile()[enc.index.month - 1]
    first = (
        enc.mul(1 - repeat_share).div(season, axis=0) / enc.index.days_in_month.to_numpy()[:, None]
    )
    first = first.shift(-lead_months).ffill()
    q = np.arange(len(first)) // KNOT_MONTHS
    knots = first.groupby(q).mean()
    knots.index = [FIRST_MONTH + pd.DateOffset(months=KNOT_MONTHS * i) for i in knots.index]
    long = knots.stack().rename("per_day").reset_index()
    long.columns = ["knot", "nationality", "per_day"]
    long["log_push"] = np.log(np.maximum(long["per_day"], 0.5))
    return long[["knot", "nationality", "log_push"]]


def push_knots() -> pd.DataFrame:
    """The calibrated knots when shipped, else the initial guess."""
    path = Path(str(resources.files("corridor") / PUSH_FILE))
    if path.exists():
        st = path.stat()
        return _read_knots(path, st.st_mtime_ns, st.st_size).copy()
    return initial_push_knots()


@lru_cache(maxsize=4)
def _read_knots(path: Path, mtime_ns: int, size: int) -> pd.DataFrame:
    """The shipped knots, read once per version of the file."""
    df = pd.read_csv(path, parse_dates=["knot"])
    return df[["knot", "nationality", "log_push"]]


def push_daily(start: dt.date, n_days: int, knots: pd.DataFrame | None = None) -> np.ndarray:
    """Baseline departures per day by nationality [n_days, N_NAT] (people, before pull/levers).

    Log-linear interpolation between knots placed mid-quarter; flat beyond the last knot at
    the last half-year's mean departures per day (the arithmetic mean of the last
    ``HOLD_KNOTS`` knots' levels); times the seasonal profile. Computed
    once per (start, days, knots) (~2 ms), a copy each call.
    """
    knots = push_knots() if knots is None else knots
    key = _knots_key(knots)
    if key is None:
        return _push_daily(start, n_days, knots)
    return _push_daily_cached(start, n_days, key).copy()


@lru_cache(maxsize=64)
def _push_daily_cached(start: dt.date, n_days: int, key: KnotsKey) -> np.ndarray:
    return _push_daily(start, n_days, _knots_frame(key))


def _push_daily(start: dt.date, n_days: int, knots: pd.DataFrame) -> np.ndarray:
    days = np.arange(n_days) + (np.datetime64(start) - np.datetime64("2019-10-01")).astype(int)
    dates = np.datetime64("2019-10-01") + days
    out = np.empty((n_days, N_NAT))
    # Plain arrays once, then per nationality (pandas' masks and sorts cost ~1 ms each).
    who = knots["nationality"].to_numpy()
    at = ((knots["knot"] - FIRST_MONTH).dt.days + 45).to_numpy(float)
    log_push = knots["log_push"].to_numpy(float)
    for n, nat in enumerate(NATIONALITIES):
        mine = np.flatnonzero(who == nat)
        mine = mine[np.argsort(at[mine], kind="stable")]
        kd, kv = at[mine], log_push[mine]
        kd = np.append(kd, kd[-1] + 90)
        kv = np.append(kv, np.log(np.exp(kv[-HOLD_KNOTS:]).mean()))
        out[:, n] = np.exp(np.interp(days, kd, kv))
    moy = dates.astype("M8[M]").astype(np.int64) % 12
    end = _data_end(knots)
    after = dates >= np.datetime64((end + pd.DateOffset(months=1)).date())
    season = np.where(after, forecast_profile(end)[moy], seasonal_profile()[moy])
    return out * season[:, None]


@lru_cache(maxsize=8)
def forecast_profile(end: pd.Timestamp) -> np.ndarray:
    """Month-of-year factors (Jan..Dec, mean 1) of the push beyond the data: the fit window's
    own record, Southwest encounters from October 2019 to ``end``, each month over its
    centred 12-month mean (as many months as there are, at least six), averaged by month of
    the year. Inside the window the quarterly knots carry the level and the FY2013-2019
    profile (:func:`seasonal_profile`) the months; beyond it the months of the last years
    are the better guess: chosen on the fit through 2021 alone (its 2022 forecast: 9.2%
    WAPE, against 11.3% with the FY2013-2019 profile and 9.3% flat; docs/calibration.md)."""
    sw = _sw()
    tot = sw[(sw.month >= FIRST_MONTH) & (sw.month <= end)].groupby("month")["count"].sum()
    trend = tot.rolling(12, center=True, min_periods=6).mean()
    ratio = (tot / trend).groupby(tot.index.month).mean()
    f = ratio.reindex(range(1, 13)).to_numpy(float)
    f = np.where(np.isfinite(f), f, seasonal_profile())  # a window too short for a month
    return f / f.mean()
