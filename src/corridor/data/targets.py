"""Calibration targets: what the model must reproduce for Oct 2019 - Dec 2023.

Monthly Southwest encounters (total, by component, by title, by CBP citizenship group) come from
CBP's file; Border Patrol by nationality and by sector from OHSS (rounded to 10, Border Patrol
only); a few period facts (re-encounter rate, Title 42 total, the December 2023 record) close
the list. The window stops at December 2023 by design: later months are what forecasts are
judged against, so they never enter calibration even if a user has imported them.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import xarray as xr

from corridor.data import cbp, context, ohss
from corridor.model.places import DARIEN_NATIONALITIES, NATIONALITIES, SECTORS

WINDOW_START = pd.Timestamp("2019-10-01")
WINDOW_END = pd.Timestamp("2023-12-01")
CITIZENSHIP_GROUPS: tuple[str, ...] = ("mexico", "guatemala", "honduras", "el_salvador", "other")
COMPONENTS: tuple[str, ...] = ("usbp", "ofo")
TITLES: tuple[str, ...] = ("title8", "title42")

CBP_SOURCE = "CBP Southwest Land Border Encounters (shipped copy, FY2020-Dec 2023)"
OHSS_SOURCE = "DHS OHSS CBP Encounters - USBP (Southwest Land Border; rounded to 10)"
TARGET_COLUMNS = (
    "target",
    "dimension",
    "category",
    "period_start",
    "period_end",
    "value",
    "source",
)

# Monthly SW breakdowns from CBP's file: target name -> (column, categories).
CBP_BREAKDOWNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sw_by_component": ("component", COMPONENTS),
    "sw_by_title": ("title", TITLES),
    "sw_by_citizenship_group": ("citizenship", CITIZENSHIP_GROUPS),
}
# Period facts from context/period-facts.csv: target name -> (series, period_start).
CONTEXT_FACTS: dict[str, tuple[str, str]] = {
    "sw_reencounter_rate_pct_fy2021": ("sw_reencounter_rate_pct_fy", "2020-10"),
    "title42_expelled_at_us_mexico_border": (
        "title42_expelled_at_us_mexico_border_segob",
        "2020-03",
    ),
}

# Monthly facts from context/monthly-facts.csv, one row per month the series has: target
# name -> series. CBP's press releases gave the share of a month's encounters whose person had
# been encountered in the previous twelve months.
MONTHLY_FACTS: dict[str, str] = {
    "sw_reencounter_rate_pct_month": "sw_reencounter_rate_pct",
    "darien_crossings_month": "darien_crossings",
}
DARIEN_MONTHS = "darien_crossings_month"
# Panama's counts of people crossing the Darien (context/period-facts.csv): years, year-to-date
# and 2022 by nationality, as one target whose category is "<who> to <last month>" (several
# periods start in the same month). Not encounters: they pin how many of the South Americans,
# Haitians and others who reach the border set out, which encounters alone do not.
DARIEN_PERIODS = "darien_crossings_period"
DARIEN_PREFIX = "darien_crossings_"
DARIEN_TARGETS = (DARIEN_MONTHS, DARIEN_PERIODS)


def months() -> pd.DatetimeIndex:
    """The calibration window, one entry per month (first of month)."""
    return pd.date_range(WINDOW_START, WINDOW_END, freq="MS")


def calibration_targets(sw: pd.DataFrame | None = None) -> pd.DataFrame:
    """All targets as one tidy table (columns `TARGET_COLUMNS`).

    Monthly targets have period_start == period_end; `dimension` names the breakdown ('total'
    for totals) and `category` its value. `sw` overrides CBP's shipped file (e.g. the store's
    overlay) but is still cut to the window.
    """
    sw = _window(cbp.read_sw_encounters() if sw is None else sw)
    parts = [_monthly(sw, "sw_total", None, ("all",), CBP_SOURCE)]
    parts += [
        _monthly(sw, target, column, categories, CBP_SOURCE)
        for target, (column, categories) in CBP_BREAKDOWNS.items()
    ]
    nationality = _window(ohss.usbp_by_nationality())
    sector = _window(ohss.usbp_by_sector())
    parts.append(
        _monthly(nationality, "usbp_sw_by_nationality", "nationality", NATIONALITIES, OHSS_SOURCE)
    )
    parts.append(_monthly(sector, "usbp_sw_by_sector", "sector", SECTORS, OHSS_SOURCE))
    parts.append(_period_facts(sw))
    parts.append(_monthly_facts())
    parts.append(_darien_periods())
    return pd.concat(parts, ignore_index=True)[list(TARGET_COLUMNS)]


def targets_dataset(sw: pd.DataFrame | None = None) -> xr.Dataset:
    """The same targets as an xarray.Dataset: monthly series on a `month` axis with one extra
    dimension per breakdown, and each period fact as a 0-d variable whose attrs give its period
    and source."""
    table = calibration_targets(sw)
    monthly = table[table["period_start"] == table["period_end"]]
    monthly = monthly[monthly["target"].isin(_monthly_targets())]
    ds = xr.Dataset(coords={"month": months().values.astype("datetime64[ns]")})
    for target, frame in monthly.groupby("target", sort=False):
        ds[target] = _to_array(frame)
    for target in MONTHLY_FACTS:  # a month axis, NaN where no figure was published
        rows = table[table["target"] == target].set_index("period_start")["value"]
        ds[target] = xr.DataArray(rows.reindex(months()).to_numpy(), dims=["month"])
    scalar = ~table["target"].isin([*_monthly_targets(), *MONTHLY_FACTS])
    for row in table[scalar].itertuples():
        ds[row.target] = xr.DataArray(
            row.value,
            attrs={
                "period_start": f"{row.period_start:%Y-%m}",
                "period_end": f"{row.period_end:%Y-%m}",
                "source": row.source,
            },
        )
    ds.attrs = {
        "window": f"{WINDOW_START:%Y-%m}..{WINDOW_END:%Y-%m}",
        "sources": f"{CBP_SOURCE}; {OHSS_SOURCE}; shared/data/context",
        "note": "OHSS quantities are rounded to 10; OHSS counts Border Patrol only",
    }
    return ds


def _monthly_targets() -> tuple[str, ...]:
    return ("sw_total", *CBP_BREAKDOWNS, "usbp_sw_by_nationality", "usbp_sw_by_sector")


def _window(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["month"] >= WINDOW_START) & (df["month"] <= WINDOW_END)]


def _monthly(
    df: pd.DataFrame,
    target: str,
    column: str | None,
    categories: tuple[str, ...],
    source: str,
) -> pd.DataFrame:
    """Monthly sums over the window for each category (zeros where a category is absent)."""
    keys = ["month"] if column is None else ["month", column]
    sums = df.groupby(keys)["count"].sum()
    if column is None:
        sums.index = pd.MultiIndex.from_arrays([sums.index, ["all"] * len(sums)])
    grid = pd.MultiIndex.from_product([months(), list(categories)])
    sums = sums.reindex(grid, fill_value=0)
    return pd.DataFrame(
        {
            "target": target,
            "dimension": column or "total",
            "category": sums.index.get_level_values(1),
            "period_start": sums.index.get_level_values(0),
            "period_end": sums.index.get_level_values(0),
            "value": sums.to_numpy(dtype="float64"),
            "source": source,
        }
    )


def _period_facts(sw: pd.DataFrame) -> pd.DataFrame:
    """The period targets: two from context/period-facts.csv, the Dec 2023 record from CBP."""
    known = context.read_period_facts()
    rows = []
    for target, (series, start) in CONTEXT_FACTS.items():
        row = known[(known["series"] == series) & (known["period_start"] == pd.Timestamp(start))]
        if len(row) != 1:
            raise KeyError(f"period-facts.csv has {len(row)} rows of {series!r} from {start}")
        row = row.iloc[0]
        rows.append((target, row["period_start"], row["period_end"], row["value"], row["source"]))
    december = int(sw.loc[sw["month"] == WINDOW_END, "count"].sum())
    rows.append(("sw_total_dec2023", WINDOW_END, WINDOW_END, float(december), CBP_SOURCE))
    out = pd.DataFrame(rows, columns=["target", "period_start", "period_end", "value", "source"])
    return out.assign(dimension="total", category="all")


def _monthly_facts() -> pd.DataFrame:
    """The single-month facts inside the window (``MONTHLY_FACTS``)."""
    known = context.read_monthly_facts()
    parts = []
    for target, series in MONTHLY_FACTS.items():
        rows = known[(known["series"] == series) & (known["period_start"] >= WINDOW_START)]
        rows = rows[rows["period_start"] <= WINDOW_END]
        parts.append(
            pd.DataFrame(
                {
                    "target": target,
                    "period_start": rows["period_start"].to_numpy(),
                    "period_end": rows["period_end"].to_numpy(),
                    "value": rows["value"].to_numpy(),
                    "source": rows["source"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True).assign(dimension="total", category="all")


def darien_periods() -> pd.DataFrame:
    """Darien period facts inside the window: category ("<who> to YYYY-MM"), nationality
    ("all" or one), period_start, period_end, value, source. Read once (every calibration
    evaluation compares a run with them); callers get a copy."""
    return _darien_periods_read().copy()


@lru_cache(maxsize=1)
def _darien_periods_read() -> pd.DataFrame:
    known = context.read_period_facts()
    rows = known[known["series"].str.startswith(DARIEN_PREFIX)]
    rows = rows[(rows["period_start"] >= WINDOW_START) & (rows["period_end"] <= WINDOW_END)]
    who = rows["series"].str.removeprefix(DARIEN_PREFIX)
    who = who.where(who.isin(NATIONALITIES), "all")
    # The model routes Cubans by air to Nicaragua, never through the Darien (5,961 did in
    # 2022, ~3% of Cuban encounters): their row is not a target.
    keep = (who == "all") | who.isin(DARIEN_NATIONALITIES)
    rows, who = rows[keep], who[keep]
    return pd.DataFrame(
        {
            "category": who + " to " + rows["period_end"].dt.strftime("%Y-%m"),
            "nationality": who,
            "period_start": rows["period_start"],
            "period_end": rows["period_end"],
            "value": rows["value"].astype(float),
            "source": rows["source"],
        }
    ).reset_index(drop=True)


def _darien_periods() -> pd.DataFrame:
    rows = darien_periods().drop(columns="nationality")
    return rows.assign(target=DARIEN_PERIODS, dimension="period")


def _to_array(frame: pd.DataFrame) -> xr.DataArray:
    """One monthly target's rows as a DataArray (month x category, or month for totals)."""
    dimension = frame["dimension"].iloc[0]
    table = frame.pivot(index="period_start", columns="category", values="value")
    if dimension == "total":
        return xr.DataArray(table["all"].to_numpy(), dims=["month"])
    categories = list(dict.fromkeys(frame["category"]))
    name = "citizenship_group" if dimension == "citizenship" else dimension
    values = table[categories].to_numpy()
    return xr.DataArray(values, dims=["month", name], coords={name: categories})
