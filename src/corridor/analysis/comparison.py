"""Two scenarios side by side: what a choice changes, member by member.

The questions the model answers are differences: what Mexico taking back 30,000 people a month
does *against* not doing it. Both scenarios run the same ensemble members (member k: posterior
draw k, the same literature draws, the same seed), so their common random numbers cancel and
the band of the difference is the spread of the member-wise differences, not of two
independent runs: before the decision date the two are identical, member by member. The
model's structural error (:mod:`corridor.calibration.discrepancy`) is largely common to both
and is not added to the difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from corridor.analysis.figures import band_trace
from corridor.model.places import BORDER_CITIES

# Headline flows (people over the comparison period) and stocks (people at its end).
FLOWS = (
    "encounters_usbp",
    "encounters_ofo",
    "expulsions_title42",
    "returns_to_mexico",
    "removals",
    "releases",
    "gotaways",
    "cbp_one_appointments",
    "mexico_apprehensions",
    "mexico_deportations",
    "gave_up",
    "harm_incidents",
)
STOCKS = ("waiting", "on_street", "in_us_custody", "in_mexico_transit")


def compare(
    a: str | Path | dict | Any,
    b: str | Path | dict | Any,
    draws: int = 10,
    *,
    seed: int | None = None,
    scale: int | None = None,
    sets_a: dict[str, Any] | None = None,
    sets_b: dict[str, Any] | None = None,
    client: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``a`` and ``b`` as paired ensembles and return (headline table, monthly table)
    (:func:`headline`, :func:`monthly`). Both run at ``a``'s seed and scale unless given."""
    import corridor

    sa = corridor.prepare(a, seed=seed, scale=scale, sets=sets_a)
    sb = corridor.prepare(b, seed=sa.seed, scale=sa.scale, sets=sets_b)
    if (sa.start, sa.end) != (sb.start, sb.end):
        raise ValueError(
            f"scenarios {sa.name!r} ({sa.start}..{sa.end}) and {sb.name!r} "
            f"({sb.start}..{sb.end}): expected the same start and end dates"
        )
    # Member k of b resumes at the decision date from member k of a when their histories
    # match (the same results, about half the time): one checkpoint per member.
    history = corridor.History(size=max(draws, 1)) if client is None else None
    ea = corridor.ensemble(sa, draws, client=client, history=history)
    eb = corridor.ensemble(sb, draws, client=client, history=history)
    since = max(sa.decision_date, sb.decision_date)
    return headline(ea, eb, str(since)), monthly(ea, eb)


def _quantities(ds: xr.Dataset, since: str) -> pd.DataFrame:
    """[member, quantity] of an ensemble: each headline flow summed from ``since`` to the end,
    the Southwest encounters, and each stock (and people waiting in each border city) on the
    last day."""
    after = ds.sel(time=slice(since, None))
    flows = after["flows"].sum(("time", "nationality", "place"))
    cols = {f"{f} (people, {since} on)": flows.sel(flow=f) for f in FLOWS}
    enc = flows.sel(flow="encounters_usbp") + flows.sel(flow="encounters_ofo")
    cols = {f"southwest_encounters (people, {since} on)": enc} | cols
    last = ds["stocks"].isel(time=-1)
    day = str(pd.Timestamp(ds["time"].values[-1]).date())
    for s in STOCKS:
        cols[f"{s} (people, {day})"] = last.sel(stock=s).sum(("nationality", "place"))
    for city in BORDER_CITIES:
        cols[f"waiting in {city} (people, {day})"] = last.sel(stock="waiting", place=city).sum(
            "nationality"
        )
    return pd.DataFrame({k: v.transpose("draw").to_numpy().astype(float) for k, v in cols.items()})


def _bands(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.quantile(x, q, axis=0) for q in (0.5, 0.05, 0.95))


def headline(ea: xr.Dataset, eb: xr.Dataset, since: str) -> pd.DataFrame:
    """Each quantity under a and b (median, 5% and 95% over members) and b - a: the median and
    5-95% of the member-wise differences."""
    qa, qb = _quantities(ea, since), _quantities(eb, since)
    out = pd.DataFrame({"quantity": list(qa.columns)})
    for label, x in (("a", qa), ("b", qb), ("b_minus_a", qb - qa)):
        x = x.to_numpy()
        med, lo, hi = _bands(x)
        out[label], out[f"{label}_p05"], out[f"{label}_p95"] = med, lo, hi
    out.attrs = {"a": ea.attrs.get("scenario"), "b": eb.attrs.get("scenario"), "since": since}
    return out


def monthly(ea: xr.Dataset, eb: xr.Dataset) -> pd.DataFrame:
    """Month by month, each headline flow and people waiting in each border city (end of
    month): a, b and the member-wise b - a (median, 5% and 95%)."""
    frames = []
    for label, ds in (("a", ea), ("b", eb)):
        f = ds["flows"].sel(flow=list(FLOWS)).sum(("nationality", "place"))
        f = f.resample(time="MS").sum()
        w = ds["stocks"].sel(stock="waiting", place=list(BORDER_CITIES)).sum("nationality")
        w = w.resample(time="MS").last()
        frames.append((label, f, w))
    (_, fa, wa), (_, fb, wb) = frames
    rows = []
    for series, xa, xb in [
        *((str(s), fa.sel(flow=s), fb.sel(flow=s)) for s in FLOWS),
        *((f"waiting in {c}", wa.sel(place=c), wb.sel(place=c)) for c in BORDER_CITIES),
    ]:
        va = xa.transpose("draw", "time").to_numpy().astype(float)
        vb = xb.transpose("draw", "time").to_numpy().astype(float)
        months = pd.DatetimeIndex(xa["time"].values).strftime("%Y-%m")
        row = {"month": months, "series": series}
        for label, x in (("a", va), ("b", vb), ("b_minus_a", vb - va)):
            med, lo, hi = _bands(x)
            row |= {label: med, f"{label}_p05": lo, f"{label}_p95": hi}
        rows.append(pd.DataFrame(row))
    return pd.concat(rows, ignore_index=True)


def plot_html(months: pd.DataFrame, title: str) -> str:
    """The monthly table drawn as a page: for each series, b - a by month with the band of
    the member-wise differences (Plotly, one panel per series)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    series = list(dict.fromkeys(months.series))
    fig = make_subplots(rows=len(series), cols=1, subplot_titles=series, shared_xaxes=True)
    for r, name in enumerate(series, start=1):
        g = months[months.series == name]
        x = list(g.month)
        band = band_trace(x, g.b_minus_a_p05, g.b_minus_a_p95, "b - a, 5-95% of members", r == 1)
        fig.add_trace(band, r, 1)
        line = go.Scatter(
            x=x, y=g.b_minus_a, name="b - a (median)", showlegend=r == 1, line={"color": "#1f77b4"}
        )
        fig.add_trace(line, r, 1)
    fig.update_layout(title=title, height=220 * len(series) + 120)
    return fig.to_html(include_plotlyjs="cdn")
