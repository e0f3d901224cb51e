"""First stage of calibration: the push curves, by fixed-point inversion against encounters.

Given the behavioural parameters, each nationality's quarterly push knot is scaled by the ratio
of observed to simulated encounters over the three months its departures mostly reach the
border (one month later), damped, until the ratios settle. It has one free value per
nationality per quarter (21 x 11), not one per data point, and it leaves the behavioural
parameters to the second stage (see docs/calibration.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from corridor.model import inputs
from corridor.model.places import NATIONALITIES

FIT_END = "2023-12-31"
# A run starts with nobody on the road: the first two months' encounters come only from the
# people who left since (Honduran encounters in October 2019 ~7% of the observed, November
# ~80%). Months before SPIN_UP_END are not scored (here or in fit.log_likelihood): the one
# near-empty month otherwise outweighed all others in the likelihood and pushed the fit away
# from anything that slows the first weeks' crossings.
SPIN_UP_END = pd.Timestamp("2019-12-01")
# Weight of the penalty on each nationality's quarter-to-quarter change of slope in log push
# (a Whittaker smooth after each update). Without it the knots swing x10-x40 between quarters
# exactly at policy dates (Venezuela 344 -> 31 at the Oct 2022 Title 42 extension) and the
# push, not the behavioural parameters, absorbs each policy's effect. Chosen on the 2022
# forecast from a fit through 2021 (docs/calibration.md, "Tried and not adopted: a smooth push"): 0.
PUSH_ROUGHNESS = 0.0
# A parole programme whose opening to a nationality makes crossing forfeit it (CHNV:
# Venezuela 2022-10-12; Cuba, Haiti, Nicaragua 2023-01-05) is a policy the model has
# mechanisms for (the severity it adds deters departures and crossings; parolees fly in). With
# every knot free, the knot of the quarter it opens in falls instead (Venezuela x0.07 in Q4
# 2022) and the deterrence parameters learn nothing from it. With ``parole_ties`` that
# quarter's knot shares the value of the one before (fitted to both quarters' months). Tried
# on the fit through 2022 and not adopted (docs/calibration.md, "Tried and not shipped: push
# held through a parole onset"): the fit left Venezuela's fall unexplained (log posterior
# -3) rather than deter more, and forecast 2023 worse (15.4% against 14.2%).
PAROLE_TIES = False


def simulated_by_nationality(ds) -> pd.DataFrame:
    """Monthly simulated encounters (USBP + OFO) by nationality."""
    f = ds["flows"].sel(flow=["encounters_usbp", "encounters_ofo"]).sum(("flow", "place"))
    m = f.resample(time="MS").sum().to_pandas()
    return m[list(NATIONALITIES)].astype(float)


def fit_push(
    iterations: int = 8,
    scale: int = 100,
    damping: float = 0.8,
    seed: int = 20240110,
    parameters: dict[str, float] | None = None,
    report: Callable[[int, float], None] | None = None,
    end: str = FIT_END,
    start_knots: pd.DataFrame | None = None,
    roughness: float | None = None,
    parole_ties: bool | None = None,
) -> pd.DataFrame:
    """Iterate the push knots towards the observed monthly encounters; returns the knots.
    ``roughness`` (default ``PUSH_ROUGHNESS``) smooths each nationality's curve after each
    update; 0 leaves every quarter free. ``parole_ties`` (default ``PAROLE_TIES``): the knot
    of the quarter a parole programme opens to a nationality shares the previous knot's value
    (:func:`parole_ties_for`)."""
    lam = PUSH_ROUGHNESS if roughness is None else float(roughness)
    obs = inputs.encounters_by_nationality()
    obs = obs[obs.index <= pd.Timestamp(end)]
    knots = inputs.initial_push_knots(end=end) if start_knots is None else start_knots.copy()
    knots = knots[pd.to_datetime(knots.knot) <= pd.Timestamp(end)].reset_index(drop=True)
    ties = parole_ties_for(end) if (PAROLE_TIES if parole_ties is None else parole_ties) else ()
    knots = tie(knots, ties)
    for it in range(iterations):
        ds = run_fit_window(knots, scale, seed, parameters or {}, end)
        sim = simulated_by_nationality(ds).reindex(obs.index).fillna(0.0)
        ratio = ((obs + 50.0) / (sim + 50.0))[obs.index >= SPIN_UP_END]
        wape = float((sim.sum(axis=1) - obs.sum(axis=1)).abs().sum() / obs.sum(axis=1).sum())
        if report is not None:
            report(it, wape)
        knots = tie(smooth(_update(knots, ratio, damping, ties), lam), ties)
    return knots


@cache
def parole_ties_for(end: str) -> tuple[tuple[str, pd.Timestamp], ...]:
    """(nationality, knot) pairs up to ``end`` where the knot's quarter holds the day a
    CHNV-style parole programme opens to the nationality (``Staging.parole_open`` on the
    history): each is tied to the knot before it."""
    from corridor.engine.sim import Simulation
    from corridor.model.registry import PHASES
    from corridor.scenario.timeline import day_dates

    scn = _scenario(100, 0, {}, end)
    open_ = Simulation(scn, list(PHASES)).module("staging").parole_open() > 0
    dates = pd.DatetimeIndex(day_dates(scn))
    out = []
    for a, nat in enumerate(NATIONALITIES):
        on = open_[:, a]
        for d in np.flatnonzero(on[1:] & ~on[:-1]) + 1:
            knot = dates[d].to_period("Q").start_time  # knots start calendar quarters
            if knot > inputs.FIRST_MONTH:
                out.append((nat, knot))
    return tuple(out)


def _previous(knots: pd.DataFrame, nat: str, knot: pd.Timestamp) -> tuple[int, int] | None:
    """Row indices of (the knot before, the knot) for ``nat``, or None if either is absent."""
    mine = knots[knots.nationality == nat]
    at = pd.to_datetime(mine.knot)
    here = mine.index[at == knot]
    before = mine.index[at < knot]
    if len(here) == 0 or len(before) == 0:
        return None
    return int(before[at[at < knot].argmax()]), int(here[0])


def tie(knots: pd.DataFrame, ties) -> pd.DataFrame:
    """Each tied knot set to the value of the knot before it."""
    if not ties:
        return knots
    out = knots.copy()
    for nat, knot in ties:
        pair = _previous(out, nat, knot)
        if pair is not None:
            out.loc[pair[1], "log_push"] = out.loc[pair[0], "log_push"]
    return out


def run_fit_window(knots: pd.DataFrame, scale: int, seed: int, params: dict, end: str):
    """The baseline history from Oct 2019 to ``end`` with candidate knots and parameters."""
    import corridor

    return corridor.run(_scenario(scale, seed, params, end), push_knots=knots, draw=None)


def _scenario(scale: int, seed: int, params: dict, end: str):
    from corridor.scenario.schema import Scenario

    return Scenario(
        name="push-fit",
        end=pd.Timestamp(end).date(),
        decision_date=pd.Timestamp(end).date(),
        seed=seed,
        scale=scale,
        parameters=params,
    )


def _update(knots: pd.DataFrame, ratio: pd.DataFrame, damping: float, ties=()) -> pd.DataFrame:
    """Scale each knot by the mean log-ratio of the three months after its quarter starts; a
    tied pair (:func:`tie`) both by the mean over the six months after the first starts."""
    out = knots.copy()
    months = ratio.index
    span = {}
    for nat, knot in ties:
        pair = _previous(out, nat, knot)
        if pair is not None:
            span[pair[0]] = 6
            span[pair[1]] = 0  # takes its partner's value in tie()
    for i, row in out.iterrows():
        lo = row.knot + pd.DateOffset(months=1)
        hi = row.knot + pd.DateOffset(months=span.get(i, 3))
        sel = ratio.loc[(months >= lo) & (months <= hi), row.nationality]
        if len(sel):
            out.loc[i, "log_push"] += damping * float(np.log(sel).mean())
    return out


def whittaker(y: np.ndarray, lam: float) -> np.ndarray:
    """The Whittaker smooth of ``y``: argmin_z |y - z|^2 + lam |D2 z|^2, with D2 the second
    differences (a straight line passes unchanged; lam = 0 returns ``y``)."""
    n = len(y)
    if lam <= 0 or n < 3:
        return np.asarray(y, float).copy()
    d2 = np.diff(np.eye(n), n=2, axis=0)
    return np.linalg.solve(np.eye(n) + lam * d2.T @ d2, np.asarray(y, float))


def smooth(knots: pd.DataFrame, lam: float) -> pd.DataFrame:
    """Each nationality's log push knots, in time order, replaced by their Whittaker smooth."""
    if lam <= 0:
        return knots
    out = knots.copy()
    for _, idx in out.groupby("nationality").groups.items():
        rows = out.loc[idx].sort_values("knot").index
        out.loc[rows, "log_push"] = whittaker(out.loc[rows, "log_push"].to_numpy(float), lam)
    return out


def push_file() -> Path:
    return Path(str(resources.files("corridor") / inputs.PUSH_FILE))


def save(knots: pd.DataFrame, path: Path | None = None) -> Path:
    path = path or push_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    k = knots.copy()
    k["knot"] = pd.to_datetime(k["knot"]).dt.strftime("%Y-%m-%d")
    k["log_push"] = k["log_push"].round(5)
    k.to_csv(path, index=False)
    return path
