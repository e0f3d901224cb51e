"""Readers for the context tables: parameters, policy timeline, monthly and period facts.

These are figures from official releases and the press, each with its source; the model takes
parameter ranges and policy dates from them, and calibration checks period totals against them.
The readers validate dates and numbers so that a typo in a hand-kept table fails loudly here.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from corridor.data.errors import (
    LINE,
    fail_first,
    read_text_csv,
    require_filled,
    require_unique,
)

SHIPPED_DIR = Path(__file__).with_name("shipped") / "context"
PARAMETER_COLUMNS = ("name", "value_or_range", "unit", "source", "url", "confidence", "notes")
TIMELINE_COLUMNS = (
    "date", "end_date", "event", "key_numbers", "source", "url", "confidence", "notes",
)  # fmt: skip
FACT_COLUMNS = ("period_start", "period_end", "series", "value", "source")
NUMBER = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"


def read_parameters(path: str | Path | None = None) -> pd.DataFrame:
    """Parameter quantities with ranges and sources, as text (ranges are prose, e.g. '91% (Oct
    2020), 65% ...'); the modules that use a parameter parse the part they need."""
    path = SHIPPED_DIR / "parameters.csv" if path is None else Path(path)
    df = read_text_csv(path, PARAMETER_COLUMNS)
    require_filled(df, ["name", "value_or_range"], path)
    require_unique(df, ["name"], path, ["name"])
    return df.drop(columns=LINE)


def read_policy_timeline(path: str | Path | None = None) -> pd.DataFrame:
    """Dated policy events; `date` and `end_date` (NaT when open-ended) become Timestamps."""
    path = SHIPPED_DIR / "policy-timeline.csv" if path is None else Path(path)
    df = read_text_csv(path, TIMELINE_COLUMNS)
    require_filled(df, ["date", "event"], path)
    out = df.copy()
    out["date"] = _dates(df, "date", r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d", path)
    out["end_date"] = _dates(df, "end_date", r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d", path)
    _require_order(out, "date", "end_date", df, path)
    return out.drop(columns=LINE).sort_values("date", kind="stable").reset_index(drop=True)


def read_monthly_facts(path: str | Path | None = None) -> pd.DataFrame:
    """Single-month facts: period_start, period_end (first of month), series, value, source."""
    return _read_facts(SHIPPED_DIR / "monthly-facts.csv" if path is None else Path(path))


def read_period_facts(path: str | Path | None = None) -> pd.DataFrame:
    """Facts over a period (a fiscal year, the Title 42 era...), same columns as monthly facts."""
    return _read_facts(SHIPPED_DIR / "period-facts.csv" if path is None else Path(path))


def facts(series: str | None = None) -> pd.DataFrame:
    """Monthly and period facts together (optionally one series), with a `table` column."""
    both = pd.concat(
        [
            read_monthly_facts().assign(table="monthly-facts"),
            read_period_facts().assign(table="period-facts"),
        ],
        ignore_index=True,
    )
    return both if series is None else both[both["series"] == series].reset_index(drop=True)


def fact(
    series: str,
    period_start: str | pd.Timestamp | None = None,
    period_end: str | pd.Timestamp | None = None,
) -> float:
    """The value of one fact, e.g. `fact('sw_reencounter_rate_pct_fy', '2020-10')` -> 27.0.

    Raises KeyError naming the known series or periods when the lookup is empty or ambiguous.
    """
    rows = facts(series)
    if rows.empty:
        close = difflib.get_close_matches(series, facts()["series"].unique(), n=3)
        raise KeyError(f"no fact series {series!r}" + (f"; did you mean {close}?" if close else ""))
    for column, wanted in (("period_start", period_start), ("period_end", period_end)):
        if wanted is not None:
            rows = rows[rows[column] == pd.Timestamp(wanted)]
    if len(rows) != 1:
        known = facts(series)
        periods = ", ".join(
            known["period_start"].dt.strftime("%Y-%m")
            + ".."
            + known["period_end"].dt.strftime("%Y-%m")
        )
        what = "no" if rows.empty else f"{len(rows)}"
        raise KeyError(f"{what} rows of {series!r} for that period; its periods: {periods}")
    return float(rows["value"].iloc[0])


def parameter(name: str) -> dict[str, str]:
    """One row of parameters.csv by exact name, as a dict of its text fields."""
    df = read_parameters()
    rows = df[df["name"] == name]
    if rows.empty:
        close = difflib.get_close_matches(name, df["name"].tolist(), n=3, cutoff=0.4)
        raise KeyError(f"no parameter {name!r}" + (f"; did you mean {close}?" if close else ""))
    return rows.iloc[0].to_dict()


def _read_facts(path: Path) -> pd.DataFrame:
    df = read_text_csv(path, FACT_COLUMNS)
    require_filled(df, ["period_start", "period_end", "series", "value"], path)
    out = df.copy()
    for column in ("period_start", "period_end"):
        out[column] = _dates(df, column, r"\d{4}-(?:0[1-9]|1[0-2])", "%Y-%m", path)
    _require_order(out, "period_start", "period_end", df, path)
    bad = ~df["value"].str.fullmatch(NUMBER)
    fail_first(df, bad, path, "value", "value '{value}' is not a number", "a number, e.g. 27")
    out["value"] = df["value"].str.replace(",", "", regex=False).astype("float64")
    require_unique(out, ["series", "period_start", "period_end"], path, ["series", "period"])
    return out.drop(columns=LINE)


def _dates(df: pd.DataFrame, column: str, pattern: str, fmt: str, path: Path) -> pd.Series:
    """Parse a date column (empty cells become NaT), refusing any other shape."""
    text = df[column]
    bad = (text != "") & ~text.str.fullmatch(pattern)
    fail_first(df, bad, path, column, "unknown date '{value}'", f"a date as {fmt}")
    parsed = pd.to_datetime(text.where(text != ""), format=fmt, errors="coerce")
    fail_first(df, (text != "") & parsed.isna(), path, column, "impossible date '{value}'", fmt)
    return parsed.astype("datetime64[ns]")


def _require_order(out: pd.DataFrame, start: str, end: str, df: pd.DataFrame, path: Path) -> None:
    backwards = out[end].notna() & (out[end] < out[start])
    fail_first(df, backwards, path, end, "'{value}' is before " + start, f"{end} >= {start}")
