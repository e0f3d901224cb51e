"""Readers for DHS OHSS Border Patrol tables: monthly by region and citizenship, and by sector.

CBP's Southwest file groups every nationality beyond Mexico and the Northern Triangle as "Other";
OHSS is where Venezuelans, Cubans, Haitians... and the nine Southwest sectors are counted, for
the Border Patrol only. OHSS rounds every quantity to the nearest 10, so sums of these tables
differ from CBP's by a few hundred per month.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from corridor.data.errors import (
    LINE,
    fail_first,
    map_labels,
    parse_counts,
    read_text_csv,
    require_filled,
    require_unique,
)
from corridor.model.places import NATIONALITIES, OHSS_SECTOR, SECTORS

SHIPPED_DIR = Path(__file__).with_name("shipped") / "ohss"
SHIPPED_CITIZENSHIP = SHIPPED_DIR / "usbp-monthly-region-citizenship-sw-fy2013-2023dec.csv"
SHIPPED_SECTOR = SHIPPED_DIR / "usbp-monthly-region-sector-sw-fy2013-2023dec.csv"

SOUTHWEST = "Southwest Land Border"
REGIONS = {r: r for r in (SOUTHWEST, "Northern Land Border", "Coastal Border")}
FIRST_FISCAL_YEAR = 1990
SECTOR_OF_OHSS = {name: sector for sector, name in OHSS_SECTOR.items()}


def read_usbp_citizenship(path: str | Path | None = None) -> pd.DataFrame:
    """Read OHSS 'Monthly Rgn and Citp' (shipped Southwest copy when `path` is None).

    Columns: month, fiscal_year, region, citizenship (OHSS's name), count.
    """
    return _read(SHIPPED_CITIZENSHIP if path is None else Path(path), "citizenship")


def read_usbp_sector(path: str | Path | None = None) -> pd.DataFrame:
    """Read OHSS 'Monthly Rgn and Sector' (shipped Southwest copy when `path` is None).

    Columns: month, fiscal_year, region, sector (OHSS's name, e.g. 'El Paso, TX'), count.
    """
    return _read(SHIPPED_SECTOR if path is None else Path(path), "sector")


def usbp_by_nationality(region: str = SOUTHWEST, path: str | Path | None = None) -> pd.DataFrame:
    """Border Patrol encounters by month and project nationality, every other citizenship
    folded into 'other'. One row per (month, nationality), zeros included, so sums conserve
    the OHSS total for the region.
    """
    df = read_usbp_citizenship(path)
    df = _in_region(df, region, path)
    df["nationality"] = _nationality(df["citizenship"])
    return _complete(df, "nationality", NATIONALITIES)


def usbp_by_sector(path: str | Path | None = None) -> pd.DataFrame:
    """Southwest Border Patrol encounters by month and project sector (`places.SECTORS`)."""
    df = _in_region(read_usbp_sector(path), SOUTHWEST, path)
    df["sector"] = df["sector"].map(SECTOR_OF_OHSS)
    return _complete(df, "sector", SECTORS)


def _nationality(citizenship: pd.Series) -> pd.Series:
    """Map OHSS citizenship names ('El Salvador') to NATIONALITIES ('el_salvador'), else 'other'."""
    key = citizenship.str.casefold().str.replace(" ", "_", regex=False)
    return key.where(key.isin(NATIONALITIES) & (key != "other"), "other")


def _in_region(df: pd.DataFrame, region: str, path: str | Path | None) -> pd.DataFrame:
    out = df[df["region"] == region].copy()
    if out.empty:
        where = "the shipped copy (Southwest only)" if path is None else str(path)
        raise ValueError(f"no rows for region {region!r} in {where}")
    return out


def _complete(df: pd.DataFrame, column: str, categories: tuple[str, ...]) -> pd.DataFrame:
    """Sum by (month, category) over the full grid of months and categories, zeros filled."""
    grid = pd.MultiIndex.from_product(
        [sorted(df["month"].unique()), list(categories)], names=["month", column]
    )
    sums = df.groupby(["month", column])["count"].sum().reindex(grid, fill_value=0)
    return sums.astype("int64").reset_index()


def _read(path: Path, kind: str) -> pd.DataFrame:
    """Read and validate either OHSS table; `kind` is 'citizenship' or 'sector'."""
    columns = ("month", "fiscal_year", "region", kind, "quantity")
    df = read_text_csv(path, columns)
    month = _months(df, path)
    fiscal_year = _fiscal_years(df, month, path)
    region = map_labels(df, "region", REGIONS, path)
    require_filled(df, [kind], path)
    if kind == "sector":
        unknown = (region == SOUTHWEST) & ~df[kind].isin(list(SECTOR_OF_OHSS))
        known = ", ".join(SECTOR_OF_OHSS)
        fail_first(df, unknown, path, kind, "unknown Southwest sector '{value}'", f"one of {known}")
    out = pd.DataFrame(
        {
            "month": month,
            "fiscal_year": fiscal_year,
            "region": region,
            kind: df[kind],
            "count": parse_counts(df, "quantity", path),
            LINE: df[LINE],
        }
    )
    require_unique(out, ["month", "region", kind], path, ["month", "region", kind])
    out = out.sort_values(["month", "region", kind], kind="stable").reset_index(drop=True)
    return out.drop(columns=LINE)


def _months(df: pd.DataFrame, path: Path) -> pd.Series:
    """Parse 'YYYY-MM' into the first day of the month."""
    require_filled(df, ["month"], path)
    bad = ~df["month"].str.fullmatch(r"\d{4}-(?:0[1-9]|1[0-2])")
    fail_first(df, bad, path, "month", "unknown month label '{value}'", "YYYY-MM, e.g. 2023-12")
    month = pd.to_datetime(df["month"], format="%Y-%m").astype("datetime64[ns]")
    future = month > pd.Timestamp.today().normalize()
    fail_first(df, future, path, "month", "month '{value}' is in the future", "a past month")
    return month


def _fiscal_years(df: pd.DataFrame, month: pd.Series, path: Path) -> pd.Series:
    """Parse fiscal years, refusing any that disagree with the month (FY starts in October)."""
    column = "fiscal_year"
    require_filled(df, [column], path)
    bad = ~df[column].str.fullmatch(r"\d{4}")
    fail_first(df, bad, path, column, "impossible fiscal year '{value}'", "a year like 2023")
    years = df[column].astype("int64")
    implied = month.dt.year + (month.dt.month >= 10).astype("int64")
    fail_first(
        df,
        (years != implied) | (years < FIRST_FISCAL_YEAR),
        path,
        column,
        "impossible fiscal year '{value}' for this row's month",
        "the fiscal year that contains the month (October starts the next fiscal year)",
    )
    return years
