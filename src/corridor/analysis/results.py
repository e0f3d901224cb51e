"""Results as an xarray.Dataset (time x series x nationality x place), and tidy monthly tables.

Counts are multiplied by the scenario's ``scale`` so every figure is in people. Monthly tables
sum flows and average stocks over each calendar month, and give each series for all people,
by nationality, and by place where the series has a place.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import xarray as xr

from corridor.engine.series import COMPONENTS, FLOWS, STOCKS, TITLES
from corridor.engine.sim import Results
from corridor.model.places import DEMOGRAPHICS, NATIONALITIES, PLACES


class CorridorResults(xr.Dataset):
    """An xarray.Dataset with corridor's tidy views."""

    __slots__ = ()

    def to_frame(self) -> pd.DataFrame:
        """Tidy monthly table: month, series, nationality, place, value."""
        return monthly_frame(self)


def to_dataset(
    res: Results,
    dates: np.ndarray,
    scale: int,
    attrs: dict,
    more: dict[str, tuple[str | tuple[str, ...], np.ndarray]] | None = None,
) -> CorridorResults:
    """Wrap the raw daily tables, in people, and ``more`` variables (dims, values) after them.

    The dataset takes ``res``'s tables over and scales them in place unless the run already did
    (they stay int32 unless a value times ``scale`` would not fit): copying them to int64 cost
    more than the day loop.
    """
    res.to_people(scale)
    return CorridorResults(
        {
            "flows": (("time", "flow", "nationality", "place"), res.flows),
            "stocks": (("time", "stock", "nationality", "place"), res.stocks),
            "cbp": (("time", "component", "title", "demographic", "nationality"), res.cbp),
            **(more or {}),
        },
        coords=_coords(dates.tobytes(), dates.dtype.str).copy(),
        attrs=attrs,
    )


@lru_cache(maxsize=8)
def _coords(dates: bytes, dtype: str) -> xr.Coordinates:
    """The coordinates for these dates, built once (~2 ms each time otherwise); each dataset
    takes a shallow copy (its indexes are immutable)."""
    return xr.Coordinates(
        {
            "time": np.frombuffer(dates, dtype=dtype),
            "flow": list(FLOWS),
            "stock": list(STOCKS),
            "nationality": list(NATIONALITIES),
            "place": list(PLACES),
            "component": list(COMPONENTS),
            "title": list(TITLES),
            "demographic": list(DEMOGRAPHICS),
        }
    )


def monthly(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """Flows summed and stocks averaged by calendar month."""
    flows = ds["flows"].resample(time="MS").sum()
    stocks = ds["stocks"].resample(time="MS").mean()
    return flows, stocks


def _tidy(arr: xr.DataArray, series_dim: str) -> pd.DataFrame:
    frames = []
    total = arr.sum(("nationality", "place"))
    frames.append(_frame(total, series_dim, "all", "all"))
    by_nat = arr.sum("place")
    frames.append(_frame(by_nat, series_dim, None, "all"))
    by_place = arr.sum("nationality")
    used = (by_place != 0).any(("time",))
    frames.append(_frame(by_place.where(used), series_dim, "all", None).dropna(subset=["value"]))
    return pd.concat(frames, ignore_index=True)


def _frame(arr: xr.DataArray, series_dim: str, nat: str | None, place: str | None) -> pd.DataFrame:
    df = arr.to_dataframe(name="value").reset_index()
    df = df.rename(columns={"time": "month", series_dim: "series"})
    if nat is not None:
        df["nationality"] = nat
    if place is not None:
        df["place"] = place
    return df[["month", "series", "nationality", "place", "value"]]


def monthly_frame(ds: xr.Dataset) -> pd.DataFrame:
    """The tidy ``monthly.csv`` table."""
    flows, stocks = monthly(ds)
    df = pd.concat([_tidy(flows, "flow"), _tidy(stocks, "stock")], ignore_index=True)
    df["month"] = pd.to_datetime(df["month"]).dt.strftime("%Y-%m")
    df["value"] = df["value"].round(1)
    return df.sort_values(["series", "nationality", "place", "month"], kind="stable").reset_index(
        drop=True
    )
