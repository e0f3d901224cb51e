"""Readers for CBP's published encounter files, validated and made tidy.

CBP posts two monthly layouts: the Southwest Land Border Encounters ("SBO") file, whose shipped
copy covers Oct 2019 - Dec 2023, and the nationwide file with region, area of responsibility and
full citizenship. Users bring newer files in either layout; both come out in the project's
lower-case vocabulary (`corridor.model.places`) so that the model and the store see one shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from corridor.data.errors import (
    LINE,
    DataFileError,
    fail_first,
    map_labels,
    parse_counts,
    read_text_csv,
    require_filled,
    require_unique,
)
from corridor.model.places import CBP_DEMOGRAPHIC, CBP_GROUP, NATIONALITIES

SHIPPED_SW = (
    Path(__file__).with_name("shipped") / "cbp" / "sw-land-border-encounters-fy20-fy24dec.csv"
)

SW_COLUMNS: tuple[str, ...] = (
    "Fiscal Year",
    "Month Grouping",
    "Month (abbv)",
    "Component",
    "Demographic",
    "Citizenship Grouping",
    "Title of Authority",
    "Encounter Type",
    "Encounter Count",
)
NATIONWIDE_COLUMNS: tuple[str, ...] = (
    "Fiscal Year",
    "Month Grouping",
    "Month (abbv)",
    "Component",
    "Land Border Region",
    "Area of Responsibility",
    "AOR (Abbv)",
    "Demographic",
    "Citizenship",
    "Title of Authority",
    "Encounter Type",
    "Encounter Count",
)
Layout = Literal["sw", "nationwide"]

# Month labels in fiscal-year order (the fiscal year starts in October).
MONTHS: tuple[str, ...] = (
    "OCT", "NOV", "DEC", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP",
)  # fmt: skip
MONTH_NUMBER = {label: (i + 9) % 12 + 1 for i, label in enumerate(MONTHS)}
FIRST_FISCAL_YEAR = 1990  # before any CBP/INS monthly series in this layout

COMPONENTS = {"U.S. Border Patrol": "usbp", "Office of Field Operations": "ofo"}
# CBP has labelled unaccompanied children both "UAC" and "UC / Single Minors".
DEMOGRAPHIC_LABELS = {label: key for key, label in CBP_DEMOGRAPHIC.items()} | {
    "UC / Single Minors": "uac",
    "UAC / Single Minors": "uac",
}
CITIZENSHIP_GROUPS = {label: key for key, label in CBP_GROUP.items()} | {"Other": "other"}
TITLES = {"Title 8": "title8", "Title 42": "title42"}
ENCOUNTER_TYPES = {
    "Apprehensions": "apprehensions",
    "Inadmissibles": "inadmissibles",
    "Expulsions": "expulsions",
}
# The nationwide file's upper-case citizenship for each modelled nationality.
NATIONWIDE_CITIZENSHIP = {n.upper().replace("_", " "): n for n in NATIONALITIES if n != "other"}

SW_KEY = ("month", "component", "demographic", "citizenship", "title", "encounter_type")
NATIONWIDE_KEY = (
    "month",
    "component",
    "land_border_region",
    "aor",
    "aor_abbv",
    "demographic",
    "citizenship_original",
    "title",
    "encounter_type",
)
SW_OUTPUT = ("month", "fiscal_year", *SW_KEY[1:], "count")
NATIONWIDE_OUTPUT = (
    "month",
    "fiscal_year",
    "component",
    "land_border_region",
    "aor",
    "aor_abbv",
    "demographic",
    "citizenship",
    "citizenship_original",
    "title",
    "encounter_type",
    "count",
)


def detect_layout(path: str | Path) -> Layout:
    """Say whether a file is CBP's Southwest ('sw') or nationwide layout, from its header."""
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    except FileNotFoundError:
        raise DataFileError(path, "no such file", expected="a CSV file") from None
    except (pd.errors.EmptyDataError, UnicodeDecodeError, pd.errors.ParserError):
        header = pd.Index([])
    names = {str(c).strip() for c in header}
    if names.issuperset(NATIONWIDE_COLUMNS):
        return "nationwide"
    if names.issuperset(SW_COLUMNS):
        return "sw"
    closest = min((SW_COLUMNS, NATIONWIDE_COLUMNS), key=lambda cols: len(set(cols) - names))
    missing = [c for c in closest if c not in names]
    raise DataFileError(
        path,
        "not a CBP encounters file: missing column " + ", ".join(missing),
        row=1,
        column=missing[0],
        expected="the Southwest layout (" + ", ".join(SW_COLUMNS) + ") or the nationwide layout",
    )


def read_sw_encounters(path: str | Path | None = None) -> pd.DataFrame:
    """Read a Southwest Land Border Encounters file (the shipped copy when `path` is None).

    Columns: month (first of the calendar month), fiscal_year, component, demographic,
    citizenship, title, encounter_type, count.
    """
    path = SHIPPED_SW if path is None else Path(path)
    df = read_text_csv(path, SW_COLUMNS)
    out = _common(df, path)
    out["citizenship"] = map_labels(df, "Citizenship Grouping", CITIZENSHIP_GROUPS, path)
    return _finish(df, out, path, SW_KEY, SW_OUTPUT, _sw_key_columns())


def read_nationwide_encounters(path: str | Path) -> pd.DataFrame:
    """Read CBP's nationwide encounters file.

    Citizenship maps to the project's nationalities where one matches (else 'other'); the
    published name stays in `citizenship_original` so that nothing is lost.
    """
    path = Path(path)
    df = read_text_csv(path, NATIONWIDE_COLUMNS)
    out = _common(df, path)
    require_filled(df, ["Land Border Region", "Area of Responsibility", "Citizenship"], path)
    out["land_border_region"] = df["Land Border Region"]
    out["aor"] = df["Area of Responsibility"]
    out["aor_abbv"] = df["AOR (Abbv)"]
    original = df["Citizenship"]
    out["citizenship"] = original.str.upper().map(NATIONWIDE_CITIZENSHIP).fillna("other")
    out["citizenship_original"] = original
    key_columns = [c for c in NATIONWIDE_COLUMNS if c not in ("Month Grouping", "Encounter Count")]
    return _finish(df, out, path, NATIONWIDE_KEY, NATIONWIDE_OUTPUT, key_columns)


def read_encounters(path: str | Path) -> tuple[Layout, pd.DataFrame]:
    """Detect a CBP file's layout and read it with the matching reader."""
    layout = detect_layout(path)
    if layout == "sw":
        return layout, read_sw_encounters(path)
    return layout, read_nationwide_encounters(path)


def _sw_key_columns() -> list[str]:
    return [c for c in SW_COLUMNS if c not in ("Month Grouping", "Encounter Count")]


def _common(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Parse the columns both layouts share: dates, component, demographic, title, type."""
    fiscal_year = _fiscal_years(df, path)
    month = _months(df, fiscal_year, path)
    return pd.DataFrame(
        {
            "month": month,
            "fiscal_year": fiscal_year,
            "component": map_labels(df, "Component", COMPONENTS, path),
            "demographic": map_labels(df, "Demographic", DEMOGRAPHIC_LABELS, path),
            "title": map_labels(df, "Title of Authority", TITLES, path),
            "encounter_type": map_labels(df, "Encounter Type", ENCOUNTER_TYPES, path),
        }
    )


def _fiscal_years(df: pd.DataFrame, path: Path) -> pd.Series:
    """Parse '2023' or '2024 (FYTD)', refusing years CBP cannot have published."""
    column = "Fiscal Year"
    found = df[column].str.extract(r"^(\d{4})(?:\s*\(FYTD\))?$", expand=False)
    last = pd.Timestamp.today().year + 1
    expected = f"a fiscal year from {FIRST_FISCAL_YEAR} to {last}, e.g. 2023 or '2024 (FYTD)'"
    require_filled(df, [column], path)
    fail_first(df, found.isna(), path, column, "impossible fiscal year '{value}'", expected)
    years = found.astype("int64")
    out_of_range = (years < FIRST_FISCAL_YEAR) | (years > last)
    fail_first(df, out_of_range, path, column, "impossible fiscal year '{value}'", expected)
    return years


def _months(df: pd.DataFrame, fiscal_year: pd.Series, path: Path) -> pd.Series:
    """Turn (fiscal year, month label) into the first day of the calendar month."""
    column = "Month (abbv)"
    number = df[column].str.upper().map(MONTH_NUMBER)
    require_filled(df, [column], path)
    expected = "a month label, one of " + ", ".join(MONTHS)
    fail_first(df, number.isna(), path, column, "unknown month label '{value}'", expected)
    number = number.astype("int64")
    year = fiscal_year - (number >= 10).astype("int64")
    month = pd.to_datetime(pd.DataFrame({"year": year, "month": number, "day": 1}))
    month = month.astype("datetime64[ns]")
    future = month > pd.Timestamp.today().normalize()
    fail_first(
        df,
        future,
        path,
        "Fiscal Year",
        "fiscal year '{value}' puts this row's month in the future",
        "a month that has already begun",
    )
    return month


def _finish(
    df: pd.DataFrame,
    out: pd.DataFrame,
    path: Path,
    key: tuple[str, ...],
    output: tuple[str, ...],
    key_columns: list[str],
) -> pd.DataFrame:
    """Parse counts, refuse repeated keys, and order rows and columns."""
    out["count"] = parse_counts(df, "Encounter Count", path)
    out[LINE] = df[LINE]
    require_unique(out, key, path, key_columns)
    out = out.sort_values(list(key), kind="stable").reset_index(drop=True)
    return out[list(output)]
