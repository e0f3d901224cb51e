"""Second stage of calibration: behavioural parameters by MCMC (emcee) on a likelihood.

For each candidate set of behavioural parameters the push curves are re-fitted by the
fixed-point inversion of ``push_fit`` (so each nationality's encounters are matched in level),
and the likelihood then scores what the push cannot absorb: the split between Border Patrol and
ports, Title 42 and Title 8, by citizenship group and Border Patrol nationality month by month,
the FY2021 re-encounter rate (27%) and the Title 42 total (2.71 million at the US-Mexico
border). Monthly series enter as log counts with a structural error ``SIGMA_MONTHLY``; the
ensemble sampler is emcee's affine-invariant one (Foreman-Mackey et al. 2013), run on the two
cores with a process pool.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from corridor.calibration import compare, push_fit
from corridor.data import targets as data_targets

SIGMA_MONTHLY = 0.15  # floor scale for the profiled structural error (1% of it is added)
SIGMA_REPEAT_PCT = 2.5  # FY2021 re-encounter rate, percentage points
SIGMA_T42_REL = 0.08  # Title 42 total, relative (SEGOB vs CBP definitions differ by ~7%)
# People waiting in the eight border cities, December 2023: no count exists; the known city
# figures (parameters.csv: Reynosa ">10,000 migrants in city", Matamoros camp "up to ~5,000",
# Juarez ">2,000" in shelters) summed and scaled for the cities without figures give ~60,000.
# A weak log-normal constraint (sd 0.5: 95% within ~23,000-160,000) keeps the waiting stock,
# which no encounter series pins down, within what was reported.
WAITING_DEC2023 = 60_000.0
SIGMA_WAITING_LOG = 0.5
MONTHLY_TARGETS = (
    "sw_by_component",
    "sw_by_title",
    "sw_by_citizenship_group",
    "usbp_sw_by_nationality",
)


@dataclass(frozen=True)
class Free:
    """A fitted parameter and its uniform prior."""

    key: str
    lo: float
    hi: float
    start: float


FREE: tuple[Free, ...] = (
    Free("departure.pull_strength", 0.0, 8.0, 2.0),
    Free("departure.pull_lag_days", 7.0, 120.0, 30.0),
    Free("departure.pull_memory_days", 7.0, 365.0, 100.0),
    Free("staging.cross_per_day", 0.03, 0.6, 0.12),
    Free("staging.cross_per_day_after_expulsion", 0.02, 0.8, 0.08),
    Free("staging.give_up_per_day_after_expulsion", 0.005, 0.3, 0.06),
    Free("staging.cross_per_day_after_return", 0.005, 0.3, 0.03),
    Free("processing.t42_adult_share", 0.5, 1.0, 0.9),
    Free("processing.t42_family_share", 0.0, 1.0, 0.45),
    Free("encounter.port_share", 0.01, 0.4, 0.08),
    Free("staging.cross_per_day_registered", 0.002, 0.1, 0.03),
    Free("staging.register_per_day", 0.02, 0.5, 0.1),
    Free("staging.policy_deterrence", 0.0, 6.0, 1.5),
    Free("staging.expulsion_weight", 0.0, 1.0, 0.3),
    Free("staging.announcement_fade_days", 7.0, 365.0, 60.0),
    Free("processing.t42_adult_share_late", 0.5, 1.0, 0.85),
    Free("processing.t42_family_share_late", 0.0, 0.6, 0.2),
    Free("staging.recrosser_deterrence", 0.0, 4.0, 0.5),
    Free("staging.give_up_per_day", 0.0005, 0.05, 0.005),
    Free("staging.deterred_give_up_per_day", 0.0, 0.5, 0.05),
    Free("departure.origin_deterrence", 0.0, 6.0, 1.0),
    Free("departure.redeparture_per_day", 0.0, 0.03, 0.003),
)


def as_params(theta: np.ndarray) -> dict[str, float]:
    return {f.key: float(v) for f, v in zip(FREE, theta, strict=True)}


def in_prior(theta: np.ndarray) -> bool:
    return all(f.lo <= v <= f.hi for f, v in zip(FREE, theta, strict=True))


def log_likelihood(j: pd.DataFrame) -> float:
    """Log-likelihood of the joined observed/simulated targets (monthly series from
    ``push_fit.SPIN_UP_END``: the run's first months, its road still filling, are not scored).

    Each family of monthly series has residuals r = log(sim + 30) - log(obs + 30), Gaussian
    with an unknown structural error sigma that is profiled out (sigma^2 = mean r^2, so the
    term is -n/2 log mean r^2): the data, not a guess, say how well the model can fit. Panama's
    Darien counts (``data.targets.DARIEN_TARGETS``) are one more such family: they pin how
    many of those who reach the border set out. The two period facts enter with their stated errors.
    """
    ll = 0.0
    scored = pd.to_datetime(j.period_start) >= push_fit.SPIN_UP_END
    for target in MONTHLY_TARGETS:
        m = j[(j.target == target) & scored]
        r = np.log(m.sim.to_numpy(float) + 30.0) - np.log(m.obs.to_numpy(float) + 30.0)
        if r.size:
            ll -= 0.5 * r.size * float(np.log(np.mean(r**2) + SIGMA_MONTHLY**2 / 100))
    # Panama's Darien counts (months, years, 2022 by nationality) as one more family.
    m = j[j.target.isin(data_targets.DARIEN_TARGETS)]
    r = np.log(m.sim.to_numpy(float) + 30.0) - np.log(m.obs.to_numpy(float) + 30.0)
    if r.size:
        ll -= 0.5 * r.size * float(np.log(np.mean(r**2) + SIGMA_MONTHLY**2 / 100))
    facts = j.set_index("target")["sim"]
    obs = j.set_index("target")["obs"]
    key = "sw_reencounter_rate_pct_fy2021"
    if key in facts:
        ll -= 0.5 * ((facts[key] - obs[key]) / SIGMA_REPEAT_PCT) ** 2
    key = "title42_expelled_at_us_mexico_border"
    if key in facts:
        ll -= 0.5 * (np.log(facts[key] / obs[key]) / SIGMA_T42_REL) ** 2
    return ll


def waiting_log_prior(ds) -> float:
    """The weak constraint on people waiting in border cities in December 2023 (if in the run)."""
    w = ds["stocks"].sel(stock="waiting").sum(("nationality", "place"))
    dec = w.sel(time=slice("2023-12-01", "2023-12-31"))
    if dec.size == 0:
        return 0.0
    return -0.5 * (np.log(float(dec.mean()) / WAITING_DEC2023) / SIGMA_WAITING_LOG) ** 2


class Objective:
    """log posterior of theta; remembers the push knots of the best point for warm starts."""

    def __init__(
        self,
        end: str,
        scale: int,
        seed: int,
        iterations: int,
        start: np.ndarray | None = None,
        roughness: float | None = None,
        parole_ties: bool | None = None,
    ) -> None:
        self.end = end
        self.roughness = roughness
        self.parole_ties = parole_ties
        self.scale = scale
        self.seed = seed
        self.iterations = iterations
        obs = data_targets.calibration_targets()
        self.observed = obs[pd.to_datetime(obs.period_end) <= pd.Timestamp(end)]
        # The first curves are fitted at the start point, so that evaluations near it begin
        # from curves close to their own (each evaluation runs only ``iterations`` steps).
        params = None if start is None else as_params(start)
        self.knots = push_fit.fit_push(
            iterations=4,
            scale=scale,
            seed=seed,
            end=end,
            parameters=params,
            roughness=roughness,
            parole_ties=parole_ties,
        )

    def evaluate(self, theta: np.ndarray) -> tuple[float, pd.DataFrame | None]:
        if not in_prior(theta):
            return -np.inf, None
        params = as_params(theta)
        knots = push_fit.fit_push(
            iterations=self.iterations,
            scale=self.scale,
            seed=self.seed,
            parameters=params,
            end=self.end,
            start_knots=self.knots,
            roughness=self.roughness,
            parole_ties=self.parole_ties,
        )
        ds = push_fit.run_fit_window(knots, self.scale, self.seed, params, self.end)
        ll = log_likelihood(compare.joined(ds, self.observed)) + waiting_log_prior(ds)
        return ll, knots

    def __call__(self, theta: np.ndarray) -> float:
        return self.evaluate(theta)[0]


def start_point(draws: pd.DataFrame | None = None) -> np.ndarray:
    """Where Nelder-Mead starts: each parameter's value in ``draws``' first row (an earlier
    posterior's MAP) when it is there and inside the prior, else its declared start."""
    out = []
    for f in FREE:
        v = f.start
        if draws is not None and f.key in draws.columns and len(draws):
            x = float(draws[f.key].iloc[0])
            if f.lo <= x <= f.hi:
                v = x
        out.append(v)
    return np.array(out)


def optimize(
    obj: Objective,
    maxiter: int,
    report: Callable[[int, float], None] | None = None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Maximum a posteriori start for the sampler: Nelder-Mead (scipy) on -log posterior."""
    from scipy.optimize import minimize

    theta0 = start_point() if start is None else np.asarray(start, float)
    best = {"lp": -np.inf, "theta": theta0, "n": 0}

    def neg(theta: np.ndarray) -> float:
        lp, knots = obj.evaluate(theta)
        best["n"] += 1
        if lp > best["lp"]:
            best.update(lp=lp, theta=theta.copy())
            obj.knots = knots  # warm-start later inversions from the best curves so far
        if report is not None:
            report(best["n"], best["lp"])
        return 1e12 if not np.isfinite(lp) else -lp

    minimize(
        neg,
        best["theta"],
        method="Nelder-Mead",
        options={
            "maxfev": maxiter,
            "xatol": 1e-3,
            "fatol": 0.5,
            "initial_simplex": _simplex(best["theta"]),
        },
    )
    return best["theta"]


def _simplex(start: np.ndarray) -> np.ndarray:
    """A first simplex spanning ~15% of each prior width."""
    width = np.array([f.hi - f.lo for f in FREE])
    pts = [start]
    for i in range(len(FREE)):
        p = start.copy()
        p[i] = np.clip(p[i] + 0.15 * width[i], FREE[i].lo, FREE[i].hi)
        if p[i] == start[i]:
            p[i] = start[i] - 0.15 * width[i]
        pts.append(p)
    return np.array(pts)


def run_mcmc(
    end: str = "2023-12-31",
    walkers: int = 20,
    steps: int = 30,
    scale: int = 100,
    seed: int = 20240110,
    iterations: int = 2,
    processes: int = 2,
    report: Callable[[int, float], None] | None = None,
    optimize_evals: int = 250,
    report_opt: Callable[[int, float], None] | None = None,
    start: np.ndarray | None = None,
    roughness: float | None = None,
    parole_ties: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Find the MAP (Nelder-Mead), then sample around it with emcee; returns
    (chain [steps, walkers, k], log_prob [steps, walkers], mean acceptance fraction)."""
    import emcee

    start = start_point() if start is None else np.asarray(start, float)
    obj = Objective(end, scale, seed, iterations, start, roughness, parole_ties)
    rng = np.random.default_rng(seed)
    start = optimize(obj, optimize_evals, report_opt, start)
    width = np.array([f.hi - f.lo for f in FREE])
    p0 = start + 0.02 * width * rng.standard_normal((walkers, len(FREE)))
    p0 = np.clip(p0, [f.lo for f in FREE], [f.hi for f in FREE])
    pool = None
    if processes > 1:
        import multiprocessing as mp

        # One numba thread per worker: the processes already fill the cores, and a day's
        # pass split over threads in each would oversubscribe them (results are the same).
        pool = mp.get_context("fork").Pool(processes, initializer=_one_thread)
    try:
        sampler = emcee.EnsembleSampler(walkers, len(FREE), obj, pool=pool)
        state = p0
        for k in range(steps):
            state = sampler.run_mcmc(state, 1, progress=False)
            if report is not None:
                report(k + 1, float(np.max(sampler.get_log_prob()[-1])))
    finally:
        if pool is not None:
            pool.close()
    acceptance = float(np.mean(sampler.acceptance_fraction))
    return sampler.get_chain(), sampler.get_log_prob(), acceptance


def _one_thread() -> None:
    import numba

    numba.set_num_threads(1)


def select_draws(
    chain: np.ndarray, log_prob: np.ndarray, n: int, burn: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` posterior draws from the chain after burn-in, best first (the first is the MAP)."""
    s = chain.shape[0]
    flat = chain[int(burn * s) :].reshape(-1, chain.shape[2])
    lp = log_prob[int(burn * s) :].reshape(-1)
    best = int(np.argmax(log_prob.reshape(-1)))
    map_theta = chain.reshape(-1, chain.shape[2])[best]
    rng = np.random.default_rng(0)
    pick = rng.choice(flat.shape[0], size=min(n - 1, flat.shape[0]), replace=False)
    draws = np.vstack([map_theta, flat[pick]])
    lps = np.concatenate([[log_prob.reshape(-1)[best]], lp[pick]])
    return draws, lps


def save_posterior(
    draws: np.ndarray, lps: np.ndarray, knots: list[pd.DataFrame], folder: Path, meta: dict
) -> None:
    """Write draws.csv (one row per draw), push_knots.csv (draw, knot, nationality, log_push)."""
    folder.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(draws, columns=[f.key for f in FREE])
    df.insert(0, "log_prob", np.round(lps, 3))
    df.insert(0, "draw", np.arange(len(df)))
    df.to_csv(folder / "draws.csv", index=False)
    k = pd.concat([kn.assign(draw=i) for i, kn in enumerate(knots)], ignore_index=True)
    k["knot"] = pd.to_datetime(k["knot"]).dt.strftime("%Y-%m-%d")
    k["log_push"] = k["log_push"].round(5)
    k[["draw", "knot", "nationality", "log_push"]].to_csv(folder / "push_knots.csv", index=False)
    (folder / "meta.json").write_text(
        json.dumps(meta | {"saved": time.strftime("%Y-%m-%d")}, indent=2) + "\n"
    )
