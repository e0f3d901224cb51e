"""Ensembles: a scenario over posterior draws and literature ranges, with 90% bands.

Member k runs posterior draw k (its behavioural parameters and push curves, fitted to data)
and, for k > 0, a draw of every uncertain parameter that the data cannot inform (aid and
sanctions elasticities, shelter harm rates, ...) from its declared range. All members share the
scenario's seed, so two scenarios compared member by member differ only through their policies
(common random numbers). Members run in this process, or on a Dask cluster when given a
``dask.distributed.Client`` (or a scheduler address): no home-made scheduler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from corridor.calibration import posterior
from corridor.model.registry import all_parameters


def member_parameters(
    k: int, seed: int, fitted: set[str], given: dict[str, float] | None
) -> dict[str, float]:
    """Literature draws for member ``k`` (none for k = 0), under the caller's own values."""
    lit = posterior.literature_sample(all_parameters(), fitted | set(given or {}), k, seed)
    return lit | dict(given or {})


def _member(scenario: Any, k: int, kwargs: dict[str, Any]) -> xr.Dataset:
    import corridor

    ds = corridor.run(scenario, draw=k if kwargs.pop("use_draw") else None, **kwargs)
    return xr.Dataset(ds.data_vars, coords=ds.coords, attrs=dict(ds.attrs))


def ensemble(
    scenario: str | Path | dict | Any = "baseline",
    draws: int = 10,
    *,
    seed: int | None = None,
    scale: int | None = None,
    sets: dict[str, Any] | None = None,
    parameters: dict[str, float] | None = None,
    client: Any = None,
    history: Any = None,
) -> xr.Dataset:
    """Run ``draws`` members and stack them along a ``draw`` dimension. ``history`` (a
    :class:`corridor.History`, members run here only): members resume from, or leave,
    checkpoints at the decision date (:func:`corridor.run`)."""
    import corridor

    if draws < 1:
        raise ValueError(f"draws={draws}: expected at least 1")
    scn = corridor.prepare(scenario, seed=seed, scale=scale, sets=sets)
    available = posterior.n_draws()
    post = posterior.load()
    fitted = (
        set() if post is None else {c for c in post[0].columns if c not in ("draw", "log_prob")}
    )
    use = available > 0
    jobs = [
        (
            k % available if use else k,
            {"parameters": member_parameters(k, scn.seed, fitted, parameters), "use_draw": use},
        )
        for k in range(draws)
    ]
    if client is not None:
        members = _on_dask(client, scn, jobs)
    else:
        members = [_member(scn, k, kw | {"history": history}) for k, kw in jobs]
    out = xr.concat(members, dim=pd.Index(np.arange(draws), name="draw"), combine_attrs="override")
    out.attrs = dict(members[0].attrs) | {
        "draws": draws,
        "run_s": round(sum(m.attrs["run_s"] for m in members), 4),
        "agent_steps": int(sum(m.attrs["agent_steps"] for m in members)),
    }
    return out


def _on_dask(client: Any, scn: Any, jobs: list[tuple[int, dict]]) -> list[xr.Dataset]:
    from dask.distributed import Client

    if isinstance(client, str):
        client = Client(client)
    futures = [client.submit(_member, scn, k, kw, pure=False) for k, kw in jobs]
    return client.gather(futures)


def bands(ds: xr.Dataset, var: str = "flows") -> xr.Dataset:
    """Median (p50) and the 5%-95% band of a variable across members, by month."""
    arr = (
        ds[var].resample(time="MS").sum() if var == "flows" else ds[var].resample(time="MS").mean()
    )
    q = arr.quantile([0.05, 0.5, 0.95], dim="draw")
    return xr.Dataset(
        {
            "p05": q.sel(quantile=0.05, drop=True),
            "p50": q.sel(quantile=0.5, drop=True),
            "p95": q.sel(quantile=0.95, drop=True),
        }
    )


def monthly_bands_frame(ds: xr.Dataset) -> pd.DataFrame:
    """The tidy monthly table of an ensemble: ``value`` is the members' median, with the 5%
    and 95% quantiles beside it."""
    from corridor.analysis.results import monthly_frame

    frames = [monthly_frame(ds.isel(draw=k)).assign(draw=k) for k in range(ds.sizes["draw"])]
    long = pd.concat(frames, ignore_index=True)
    g = long.groupby(["month", "series", "nationality", "place"], sort=False)["value"]
    out = g.quantile(0.5).rename("value").to_frame()
    out["p05"] = g.quantile(0.05)
    out["p95"] = g.quantile(0.95)
    return out.round(1).reset_index()


def target_bands_frame(ds: xr.Dataset) -> pd.DataFrame:
    """What CBP would record, month by month, for an ensemble: the monthly Southwest total,
    by component, title and citizenship group, Border Patrol by nationality and by sector
    (the families the calibration scores). ``value`` is the members' median; ``p05``,
    ``p95`` the 90% posterior predictive band: the members widened by the structural error
    of their posterior (its fit error up to the end of its data, its forecast error after;
    :mod:`corridor.calibration.discrepancy`), ``sigma`` that error; ``members_p05``,
    ``members_p95`` the members' own band."""
    from corridor.calibration import compare, discrepancy

    rows = []
    for k in range(ds.sizes["draw"]):
        t = compare.simulated_targets(ds.isel(draw=k))
        rows.append(t[(t.period_start == t.period_end) & t.target.isin(discrepancy.FAMILIES)])
    base = rows[0][["target", "category", "period_start", "period_end"]].reset_index(drop=True)
    vals = np.column_stack([r["value"].to_numpy(float) for r in rows])
    sigma, months = discrepancy.row_errors(base, ds.attrs.get("posterior", "none"))
    lo, hi = discrepancy.predictive_band(vals, sigma, months)
    out = pd.DataFrame(
        {
            "month": base.period_start.dt.strftime("%Y-%m"),
            "target": base.target,
            "category": base.category,
            "value": np.median(vals, axis=1),
            "p05": lo,
            "p95": hi,
            "sigma": sigma,
            "members_p05": np.quantile(vals, 0.05, axis=1),
            "members_p95": np.quantile(vals, 0.95, axis=1),
        }
    )
    return out.round({"value": 1, "p05": 1, "p95": 1, "members_p05": 1, "members_p95": 1})
