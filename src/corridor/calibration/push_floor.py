"""How low can a nationality's Border Patrol error go with a smooth push alone?

A diagnostic, not part of the fit. It holds the behavioural parameters of a posterior draw and
moves only the chosen nationalities' quarterly push knots, each towards that nationality's
Border Patrol series alone (not Border Patrol plus its apportioned share of the ports, which
:mod:`corridor.calibration.push_fit` matches). Nothing else competes for those knots, so the
best in-sample WAPE it reaches is a floor for what a quarterly push curve can do for that
nationality under those parameters. It is how docs/calibration.md shows that Venezuela (~28%)
and Haiti (~50%) cannot reach the issue's 25% with a smooth push: their misses are one-month
spikes that no curve with one value a quarter can follow.

    python -m corridor.calibration.push_floor venezuela haiti
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pandas as pd

from corridor.calibration import posterior, push_fit
from corridor.data import ohss
from corridor.model.places import NATIONALITIES

SCORED_FROM = pd.Timestamp("2020-10-01")  # the in-sample window starts Oct 2020


def observed_usbp(end: str = push_fit.FIT_END) -> pd.DataFrame:
    """OHSS Border Patrol encounters [month, nationality], Oct 2019 to ``end``."""
    u = ohss.usbp_by_nationality()
    obs = u.pivot(index="month", columns="nationality", values="count")[list(NATIONALITIES)]
    obs.index = pd.to_datetime(obs.index)
    return obs[(obs.index >= "2019-10-01") & (obs.index <= pd.Timestamp(end))].astype(float)


def simulated_usbp(ds) -> pd.DataFrame:
    """Simulated Border Patrol encounters [month, nationality]."""
    f = ds["flows"].sel(flow="encounters_usbp").sum("place").resample(time="MS").sum()
    return f.to_pandas()[list(NATIONALITIES)].astype(float)


def wape(obs: pd.Series, sim: pd.Series, since: pd.Timestamp = SCORED_FROM) -> float:
    keep = obs.index >= since
    return float((sim[keep] - obs[keep]).abs().sum() / obs[keep].sum())


def push_floor(
    nationalities: list[str],
    iterations: int = 8,
    draw: int = 0,
    scale: int = 100,
    end: str = push_fit.FIT_END,
    report: Callable[[int, dict[str, float]], None] | None = None,
) -> pd.DataFrame:
    """WAPE [iteration, nationality] of Border Patrol encounters while only these
    nationalities' knots move (damped fixed point, as in ``push_fit``). Row 0 is the draw as
    shipped."""
    unknown = sorted(set(nationalities) - set(NATIONALITIES))
    if unknown:
        raise ValueError(f"unknown nationalities {unknown}; expected some of {NATIONALITIES}")
    got = posterior.draw(draw)
    if got is None:
        raise ValueError("no posterior is shipped: run `corridor calibrate` first")
    params, knots = got
    knots["knot"] = pd.to_datetime(knots["knot"])
    obs = observed_usbp(end)
    rows = []
    for it in range(iterations + 1):
        ds = push_fit.run_fit_window(knots, scale, 20240110, params, end)
        sim = simulated_usbp(ds).reindex(obs.index).fillna(0.0)
        rows.append({n: wape(obs[n], sim[n]) for n in nationalities})
        if report is not None:
            report(it, rows[-1])
        knots = usbp_update(knots, obs, sim, nationalities)
    return pd.DataFrame(rows).rename_axis("iteration")


def usbp_update(
    knots: pd.DataFrame, obs: pd.DataFrame, sim: pd.DataFrame, nationalities: list[str]
) -> pd.DataFrame:
    """``push_fit``'s damped knot update on the Border Patrol ratio of ``nationalities``
    only; every other nationality's knots are left as they are (a ratio of 1)."""
    ratio = pd.DataFrame(1.0, index=obs.index, columns=list(NATIONALITIES))
    ratio[nationalities] = (obs[nationalities] + 50.0) / (sim[nationalities] + 50.0)
    return push_fit._update(knots, ratio[obs.index >= push_fit.SPIN_UP_END], 0.8)


def main(argv: list[str]) -> int:
    nats = argv or ["venezuela", "haiti"]
    table = push_floor(
        nats, report=lambda it, w: print(it, {k: round(100 * v, 1) for k, v in w.items()})
    )
    print("floor (best in-sample WAPE, %):", (100 * table.min()).round(1).to_dict())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
