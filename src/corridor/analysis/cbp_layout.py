"""Simulated encounters in CBP's own Southwest Land Border Encounters layout.

So a user compares model and CBP with the same tools: the same columns, labels, fiscal-year
convention (October starts the year; the running year reads ``YYYY (FYTD)``) and no zero rows.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from corridor.data.cbp import COMPONENTS, SW_COLUMNS, TITLES
from corridor.model.places import CBP_DEMOGRAPHIC, CBP_GROUP

COLUMNS = list(SW_COLUMNS)
COMPONENT = {key: label for label, key in COMPONENTS.items()}
TITLE = {key: label for label, key in TITLES.items()}
DEMOGRAPHIC = CBP_DEMOGRAPHIC


def encounter_type(component: str, title: str) -> str:
    if title == "title42":
        return "Expulsions"
    return "Apprehensions" if component == "usbp" else "Inadmissibles"


def cbp_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Monthly simulated encounters as rows of CBP's SW file."""
    monthly = ds["cbp"].resample(time="MS").sum()
    df = monthly.to_dataframe(name="count").reset_index()
    df["group"] = df["nationality"].map(lambda n: CBP_GROUP.get(n, "Other"))
    df = df.groupby(["time", "component", "title", "demographic", "group"], as_index=False)[
        "count"
    ].sum()
    df = df[df["count"] > 0]
    t = pd.to_datetime(df["time"])
    fy = t.dt.year + (t.dt.month >= 10).astype(int)
    last_fy = int(fy.max()) if len(fy) else 0
    last_complete = len(df) and (t[fy == last_fy].dt.month == 9).any()
    label = fy.astype(str)
    if not last_complete:
        label = label.where(fy != last_fy, label + " (FYTD)")
    out = pd.DataFrame(
        {
            "Fiscal Year": label,
            "Month Grouping": "FYTD",
            "Month (abbv)": t.dt.strftime("%b").str.upper(),
            "Component": df["component"].map(COMPONENT),
            "Demographic": df["demographic"].map(DEMOGRAPHIC),
            "Citizenship Grouping": df["group"],
            "Title of Authority": df["title"].map(TITLE),
            "Encounter Type": [
                encounter_type(c, ti) for c, ti in zip(df.component, df.title, strict=True)
            ],
            "Encounter Count": df["count"].astype("int64"),
        }
    )
    return out[COLUMNS].reset_index(drop=True)
