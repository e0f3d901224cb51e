"""``corridor.run``: one scenario in, an xarray.Dataset out."""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import pandas as pd

from corridor import __version__
from corridor.analysis.results import CorridorResults, to_dataset
from corridor.calibration import posterior
from corridor.engine.sim import Simulation
from corridor.model.checkpoint import History
from corridor.model.registry import PHASES
from corridor.scenario.schema import Scenario
from corridor.scenario.timeline import day_dates, load, with_overrides


def prepare(
    scenario: str | Path | Scenario | dict = "baseline",
    *,
    seed: int | None = None,
    scale: int | None = None,
    sets: dict[str, Any] | None = None,
    parameters: dict[str, float] | None = None,
) -> Scenario:
    """Load and validate a scenario with command-line style overrides applied."""
    scn = load(scenario)
    update: dict[str, Any] = {}
    if seed is not None:
        update["seed"] = seed
    if scale is not None:
        update["scale"] = scale
    if parameters:
        update["parameters"] = dict(scn.parameters) | dict(parameters)
    if update:
        scn = Scenario.model_validate(scn.model_dump(by_alias=True) | update)
    return with_overrides(scn, sets or {})


_WARM = False


def warm_up(scn: Scenario) -> float:
    """Compile (or load from cache) every kernel on a 3-day run, through the Python loop and
    the fused driver, once per process; returns seconds taken (0 once warm)."""
    global _WARM
    if _WARM:
        return 0.0
    t0 = time.perf_counter()
    short = scn.model_copy(
        update={"end": scn.start + dt.timedelta(days=3), "decision_date": scn.start}
    )
    Simulation(short, list(PHASES)).run()
    Simulation(short, list(PHASES)).run(fused=True)
    # Compiling leaves numba's caught typing errors in reference cycles whose tracebacks
    # reach back to the caller's frame: without a collection now, the first run's tables
    # (the frame's locals by then) would wait for the cyclic collector's next pass.
    gc.collect()
    _WARM = True
    return time.perf_counter() - t0


def run(
    scenario: str | Path | Scenario | dict = "baseline",
    *,
    seed: int | None = None,
    scale: int | None = None,
    threads: int | None = None,
    sets: dict[str, Any] | None = None,
    parameters: dict[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    push_knots: pd.DataFrame | None = None,
    profile: bool = False,
    draw: int | None = 0,
    posterior_name: str = posterior.FOLDER,
    history: History | None = None,
) -> CorridorResults:
    """Run a scenario and return its results (people, daily) as an xarray.Dataset.

    ``sets`` adds a policy event setting those levers from the decision date to the end, as
    ``corridor run --set`` does. Same seed, same result, at any thread count.
    ``push_knots`` replaces the shipped push curves (calibration uses it).
    ``profile`` runs the Python day loop, which times each module (``module_seconds``);
    otherwise the fused driver runs the same phases, with the same results, much faster, and
    ``module_seconds`` is ``fused=<run seconds>``.
    ``draw`` picks the calibrated posterior draw (0 = the most probable; None = the modules'
    own default values and the shipped push curves). The scenario's own ``parameters`` and the
    ``parameters`` argument take precedence over the draw's.
    ``history`` (a :class:`corridor.History`): when a run in it had the same inputs before
    this scenario's decision date, start from its state there (the same results, bit for bit,
    in about half the time for the shipped scenarios); otherwise leave this run's state there
    for the next. ``resumed_from`` in the attributes names the day started from ('' = the
    start); ``run_s`` times only the days simulated.
    """
    scn = prepare(scenario, seed=seed, scale=scale, sets=sets, parameters=parameters)
    post = None if draw is None else posterior.draw(draw, posterior_name)
    if post is not None:
        post_params, post_knots = post
        scn = scn.model_copy(update={"parameters": post_params | dict(scn.parameters)})
        if push_knots is None:
            push_knots = post_knots
    if threads is not None:
        numba.set_num_threads(threads)
    compile_s = warm_up(scn)
    sim = Simulation(scn, list(PHASES), push_knots=push_knots)
    t0 = time.perf_counter()
    n = scn.n_days
    res = sim.run(
        None if progress is None else (lambda d: progress(d + 1, n)),
        fused=not profile,
        in_people=True,
        history=None if profile else history,
    )
    run_s = time.perf_counter() - t0
    attrs = {
        "scenario": scn.name,
        "seed": scn.seed,
        "scale": scn.scale,
        "version": __version__,
        "start": str(scn.start),
        "end": str(scn.end),
        "decision_date": str(scn.decision_date),
        "compile_s": round(compile_s, 4),
        "run_s": round(run_s, 4),
        "resumed_from": str(day_dates(scn)[sim.resumed_day]) if sim.resumed_day else "",
        "agent_steps": int(res.agent_steps),
        "agents_created": int(res.flows[:, 0].sum()) // res.scale,  # exact: all multiples
        "peak_agents": int(res.peak_agents),
        "threads": int(numba.get_num_threads()),
        "draw": -1 if post is None else int(draw),
        "posterior": posterior_name if post is not None else "none",
        # The last month of data the run's inputs read (push curves, demographic and sector
        # mixes): a posterior fitted through December 2022 gives 2022-12-01.
        "data_end": sim.data_end.strftime("%Y-%m-%d"),
    }
    timings = res.timings if profile else {"fused": run_s}
    attrs["module_seconds"] = ";".join(f"{k}={v:.4f}" for k, v in timings.items())
    more = {
        "emergency_authority_on": ("time", sim.module("bookkeeping").emergency),
        "flights": (("time", "nationality"), sim.module("removal").flights_flown),
    }
    ds = to_dataset(res, day_dates(scn), scn.scale, attrs, more)
    sim.close()
    return ds
