"""Model discrepancy: the structural error the calibration found, carried into the bands.

The likelihood (:func:`corridor.calibration.fit.log_likelihood`) scores each family of monthly
series by r = log(sim + 30) - log(obs + 30), Gaussian with a structural error sigma that the
data decide. An ensemble of posterior draws spreads only the parameters' uncertainty and the
simulation's own noise: its 5-95% band held 10% of the observed monthly Southwest totals in
sample (Oct 2020 - Dec 2023) and 5 of 12 of 2023's out of sample (measured; docs/calibration.md).
A band that claims 90% must hold the structural error too.

So each posterior folder ships ``discrepancy.csv``: per target family, the sigma

- ``fit``: of the months the posterior was fitted to (from ``push_fit.SPIN_UP_END`` to its
  end): the root-mean-square residual of the ensemble median, the sigma the likelihood
  profiles;
- ``forecast``: of the months after its end: the root-mean-square error of the earlier
  calibrations' forecasts of the year after their own end (rolling origins: the fit through
  2021 forecasting 2022, through 2022 forecasting 2023), pooled over those that end no later
  than this posterior, so no month after its end decides it. Without such an origin (the fit
  through 2021) the fit sigma stands in, flagged ``source = fit``.

:func:`predictive_band` widens each member by that error on the log(x + 30) scale (Student-t,
with the months behind sigma as degrees of freedom) and takes the quantiles over members and
errors together (a posterior predictive band). ``python -m
corridor.calibration.discrepancy`` recomputes the shipped files from the shipped posteriors.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from corridor.calibration import posterior, push_fit

FILE = "discrepancy.csv"
COLUMNS = ("target", "window", "sigma", "months", "source")
WINDOWS = ("fit", "forecast")
OFFSET = 30.0  # the likelihood's: small counts do not dominate the log residuals
MIN_MONTHS = 6  # a family needs this many scored months for a sigma of its own
# The monthly families CBP and OHSS publish that a scenario's ensemble reports with bands.
FAMILIES = (
    "sw_total",
    "sw_by_component",
    "sw_by_title",
    "sw_by_citizenship_group",
    "usbp_sw_by_nationality",
    "usbp_sw_by_sector",
)
ALIASES = {"sw_total_dec2023": "sw_total"}  # one month of a family, scored on its own
BISECTIONS = 60  # halvings of an interval of ~60 sigma: far below a person
# The shipped posteriors, by the last day of data each was fitted to (rolling origins first).
POSTERIORS = {
    "2021-12-31": "calibration/posterior-2021",
    "2022-12-31": "calibration/posterior-2022",
    "2023-12-31": posterior.FOLDER,
}


def residuals(j: pd.DataFrame, start: str | pd.Timestamp, end: str | pd.Timestamp) -> pd.Series:
    """log(sim + 30) - log(obs + 30) of the monthly rows of ``j`` (a joined observed/simulated
    table) from ``start`` to ``end``, indexed by target."""
    m = j[(j.period_start == j.period_end) & j.obs.notna() & j.sim.notna()]
    m = m[(m.period_start >= pd.Timestamp(start)) & (m.period_start <= pd.Timestamp(end))]
    r = np.log(m.sim.to_numpy(float) + OFFSET) - np.log(m.obs.to_numpy(float) + OFFSET)
    return pd.Series(r, index=m.target.to_numpy())


def sigma_table(r: pd.Series, window: str, source: str) -> pd.DataFrame:
    """Root-mean-square residual per target with at least :data:`MIN_MONTHS` months."""
    g = (r**2).groupby(level=0)
    out = pd.DataFrame({"sigma": np.sqrt(g.mean()), "months": g.size()})
    out = out[out.months >= MIN_MONTHS].rename_axis("target").reset_index()
    out["window"] = window
    out["source"] = source
    return out[list(COLUMNS)]


def estimate(joined: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The discrepancy tables of the posteriors in ``joined`` (end date -> the ensemble median
    of that posterior's draws over the record, joined to the data; :func:`median_join`)."""
    ends = sorted(joined)
    out = {}
    for end in ends:
        fit = sigma_table(residuals(joined[end], push_fit.SPIN_UP_END, end), "fit", f"fit to {end}")
        origins = [e for e in ends if _next_year_end(e) <= pd.Timestamp(end)]
        if origins:
            r = pd.concat([_forecast_residuals(joined[e], e) for e in origins])
            years = ", ".join(str(pd.Timestamp(e).year + 1) for e in origins)
            forecast = sigma_table(r, "forecast", f"forecasts of {years}")
        else:
            forecast = fit.assign(window="forecast", source="fit")
        forecast = pd.concat(
            [
                forecast,
                fit[~fit.target.isin(forecast.target)].assign(window="forecast", source="fit"),
            ]
        )
        out[end] = pd.concat([fit, forecast], ignore_index=True)
    return out


def _next_year_end(end: str) -> pd.Timestamp:
    return pd.Timestamp(end) + pd.DateOffset(years=1)


def _forecast_residuals(j: pd.DataFrame, end: str) -> pd.Series:
    first = pd.Timestamp(end) + pd.Timedelta(days=1)
    return residuals(j, first, _next_year_end(end))


@lru_cache(maxsize=8)
def load(name: str = posterior.FOLDER) -> pd.DataFrame | None:
    """A posterior's discrepancy table (None when it ships none), checked."""
    path = posterior.folder(name) / FILE
    if not path.exists():
        return None
    return check(pd.read_csv(path), path)


def check(df: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    """Refuse a discrepancy table with missing columns, an unknown window, a sigma that is not
    a positive finite number, a count of months that is not a whole number or a target given
    twice for one window."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {list(COLUMNS)}")
    bad = ~df.window.isin(WINDOWS)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}, line {row + 2}, column window: {df.window.iloc[row]!r}; "
            f"expected one of {list(WINDOWS)}"
        )
    sigma = pd.to_numeric(df.sigma, errors="coerce")
    bad = ~(np.isfinite(sigma) & (sigma > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}, line {row + 2}, column sigma: {df.sigma.iloc[row]}; "
            "expected a positive number"
        )
    months = pd.to_numeric(df.months, errors="coerce")
    bad = ~(np.isfinite(months) & (months >= 1) & (months == np.round(months)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}, line {row + 2}, column months: {df.months.iloc[row]}; "
            "expected a whole number of months, at least 1"
        )
    dup = df.duplicated(["target", "window"])
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise ValueError(
            f"{path}, line {row + 2}: target {df.target.iloc[row]!r} given twice for window "
            f"{df.window.iloc[row]!r}; expected one row per target and window"
        )
    return df.assign(sigma=sigma.astype(float), months=months.astype(int))


def data_end(name: str = posterior.FOLDER) -> pd.Timestamp | None:
    """The last day of data a posterior was fitted to (its meta.json), or None."""
    path = posterior.folder(name) / "meta.json"
    if not path.exists():
        return None
    return pd.Timestamp(json.loads(path.read_text())["end"])


def row_errors(j: pd.DataFrame, name: str = posterior.FOLDER) -> tuple[np.ndarray, np.ndarray]:
    """The structural error of each row of a joined table: (sigma, the months it was
    estimated from): its family's ``fit`` row up to the posterior's end, its ``forecast`` row
    after; sigma 0 for rows of a family with none (the period facts) or without a table."""
    table = load(name) if name != "none" else None
    end = data_end(name) if table is not None else None
    if table is None or end is None:
        return np.zeros(len(j)), np.full(len(j), np.inf)
    monthly = (j.period_start == j.period_end).to_numpy()
    after = (pd.to_datetime(j.period_start) > end).to_numpy()
    family = j.target.replace(ALIASES)
    out = []
    for col in ("sigma", "months"):
        fit = table[table.window == "fit"].set_index("target")[col]
        fc = table[table.window == "forecast"].set_index("target")[col]
        out.append(np.where(after, family.map(fc), family.map(fit)).astype(float))
    sigma, months = out
    ok = monthly & np.isfinite(sigma)
    return np.where(ok, sigma, 0.0), np.where(ok, months, np.inf)


def error_of(name: str, target: str, window: str) -> tuple[float, float]:
    """One family's (sigma, months) for one window ((0, inf) when the posterior ships none)."""
    table = load(name) if name != "none" else None
    if table is None:
        return 0.0, np.inf
    row = table[(table.target == target) & (table.window == window)]
    return (float(row.sigma.iloc[0]), float(row.months.iloc[0])) if len(row) else (0.0, np.inf)


def predictive_band(
    values: np.ndarray,
    sigma: np.ndarray,
    months: np.ndarray | None = None,
    q: tuple[float, float] = (0.05, 0.95),
) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles ``q`` of members ``values`` [rows, members] each widened by a structural
    error of scale ``sigma`` [rows] on the log(x + 30) scale, found by bisection of the
    mixture's distribution function. The error is Student-t with ``months`` degrees of
    freedom (the residuals sigma was estimated from; normal when None or infinite): a new
    residual over a sigma estimated from n others is t with n degrees of freedom, so a sigma
    from one year's twelve forecast errors widens the 90% band by 8% over a normal's. A row
    with sigma 0 keeps the members' own quantiles."""
    values = np.asarray(values, float)
    sigma = np.asarray(sigma, float)
    dof = np.full(len(sigma), np.inf) if months is None else np.asarray(months, float)
    z = np.log(np.maximum(values, 0.0) + OFFSET)
    s = np.where(sigma > 0, sigma, 1.0)[:, None]
    df = dof[:, None]
    out = []
    for p in q:
        lo = z.min(axis=1) - 30.0 * s[:, 0]
        hi = z.max(axis=1) + 30.0 * s[:, 0]
        for _ in range(BISECTIONS):
            mid = 0.5 * (lo + hi)
            below = student_t.cdf((mid[:, None] - z) / s, df).mean(axis=1) < p
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        x = np.exp(0.5 * (lo + hi)) - OFFSET
        x = np.where(sigma > 0, x, np.quantile(values, p, axis=1))
        out.append(np.maximum(x, 0.0))
    return out[0], out[1]


def coverage(j: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """Share of the observed months from ``start`` to ``end`` inside the predictive band
    (``lo``, ``hi``) and inside the members' own band (``ens_lo``, ``ens_hi``), per target."""
    m = j[(j.period_start == j.period_end) & j.obs.notna()]
    m = m[(m.period_start >= pd.Timestamp(start)) & (m.period_start <= pd.Timestamp(end))]
    inside = (m.obs >= m.lo) & (m.obs <= m.hi)
    inside_ens = (m.obs >= m.ens_lo) & (m.obs <= m.ens_hi)
    g = pd.DataFrame({"target": m.target, "band": inside, "members": inside_ens}).groupby("target")
    out = g.mean().rename(columns={"band": "in_90pct_band", "members": "in_members_band"})
    out["months"] = g.size()
    return out.reset_index()


def write_all(draws: int = 10, scale: int = 100) -> dict[str, Path]:
    """Recompute and write every shipped posterior's ``discrepancy.csv``."""
    import corridor
    from corridor.analysis.backtest import median_join

    spec = {"name": "backtest", "end": "2023-12-31", "decision_date": "2023-12-31", "scale": scale}
    joined = {}
    for end, name in POSTERIORS.items():
        n = min(draws, posterior.n_draws(name))
        if n == 0:
            continue
        members = [corridor.run(spec, draw=k, posterior_name=name) for k in range(n)]
        joined[end] = median_join(members, structural=False)
    written = {}
    for end, table in estimate(joined).items():
        path = posterior.folder(POSTERIORS[end]) / FILE
        table.assign(sigma=table.sigma.round(4)).to_csv(path, index=False)
        written[end] = path
    load.cache_clear()
    return written


if __name__ == "__main__":  # pragma: no cover - the maintainers' regeneration step
    for end, path in write_all().items():
        print(f"{end}: wrote {path}")
