"""Regression against a stored baseline: the shipped default scenario, month by month.

The model is deterministic (counter-based draws), so the monthly headline series of
``corridor.run("baseline", scale=500)`` (posterior draw 0) are fixed numbers. Any change to the
model, the shipped posterior or the inputs moves them. A deliberate change regenerates the
file (``python tests/test_regression.py --write``) in the same commit and says why; an
accidental one fails here, with the months and series that moved.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import corridor

STORED = Path(__file__).parent / "data" / "regression_baseline.csv"
SCALE = 500
FLOWS = ("encounters_usbp", "encounters_ofo", "expulsions_title42", "returns_to_mexico")
FLOWS += ("releases", "gave_up", "removals", "departures")


def monthly_summary() -> pd.DataFrame:
    """Monthly totals of the headline flows and the month-end waiting stock (people)."""
    ds = corridor.run("baseline", scale=SCALE)
    flows = ds.flows.sel(flow=list(FLOWS)).sum(["nationality", "place"])
    out = flows.to_series().unstack("flow").resample("MS").sum()
    waiting = ds.stocks.sel(stock="waiting").sum(["nationality", "place"]).to_series()
    out["waiting_month_end"] = waiting.resample("MS").last()
    out.index = out.index.strftime("%Y-%m")
    out.index.name = "month"
    return out[[*FLOWS, "waiting_month_end"]].astype("int64")


def test_baseline_matches_the_stored_run() -> None:
    if not STORED.exists():
        pytest.fail(f"{STORED} missing: run `python tests/test_regression.py --write`")
    stored = pd.read_csv(STORED, index_col="month")
    got = monthly_summary()
    assert list(got.columns) == list(stored.columns), "the stored series differ"
    assert list(got.index) == list(stored.index), "the stored months differ"
    diff = (got != stored).any(axis=1)
    moved = [
        f"{m}: "
        + ", ".join(
            f"{c} {stored.at[m, c]} -> {got.at[m, c]}"
            for c in got.columns
            if got.at[m, c] != stored.at[m, c]
        )
        for m in got.index[diff][:5]
    ]
    assert not diff.any(), (
        f"{int(diff.sum())} months moved from {STORED.name} (first: {'; '.join(moved)}); if "
        "the change is deliberate, regenerate with `python tests/test_regression.py --write`"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_regression.py --write")
    monthly_summary().to_csv(STORED)
    print(f"wrote {STORED}")
