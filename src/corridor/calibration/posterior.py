"""The shipped posterior: draws of the behavioural parameters and their push curves.

``corridor calibrate`` writes ``calibration/posterior/`` (draws.csv, push_knots.csv, meta.json);
the package ships it, and every run uses one draw (draw 0 is the maximum a posteriori point).
Ensembles run several draws and, on top, sample the literature ranges of the parameters that
the data cannot inform (aid, sanctions, embargo, legalisation effects...), so their uncertainty
reaches the results.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from corridor.engine.params import Param

FOLDER = "calibration/posterior"


def folder(name: str = FOLDER) -> Path:
    return Path(str(resources.files("corridor") / name))


@lru_cache(maxsize=4)
def load(name: str = FOLDER) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(draws, knots) of a saved posterior, or None when there is none."""
    f = folder(name)
    if not (f / "draws.csv").exists():
        return None
    draws = pd.read_csv(f / "draws.csv")
    knots = pd.read_csv(f / "push_knots.csv", parse_dates=["knot"])
    return draws, knots


def n_draws(name: str = FOLDER) -> int:
    post = load(name)
    return 0 if post is None else len(post[0])


def draw(k: int, name: str = FOLDER) -> tuple[dict[str, float], pd.DataFrame] | None:
    """Parameters and push knots of draw ``k`` (None without a posterior)."""
    post = load(name)
    if post is None:
        return None
    draws, _ = post
    if not 0 <= k < len(draws):
        raise ValueError(f"draw {k} is not in the posterior; expected 0..{len(draws) - 1}")
    f = folder(name)
    params, knots = _draw(name, k, _stamp(f / "draws.csv"), _stamp(f / "push_knots.csv"))
    return dict(params), knots.copy()  # copies: the caller may change them


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=32)
def _draw(
    name: str, k: int, draws_stamp: tuple[int, int], knots_stamp: tuple[int, int]
) -> tuple[dict[str, float], pd.DataFrame]:
    """:func:`draw`'s tables, picked out once per version of the files (~2 ms a run)."""
    draws, knots = load(name)
    row = draws.iloc[k]
    params = {c: float(row[c]) for c in draws.columns if c not in ("draw", "log_prob")}
    return params, knots[knots["draw"] == k][["knot", "nationality", "log_push"]].reset_index(
        drop=True
    )


def literature_sample(
    params: dict[str, Param], fixed: set[str], k: int, seed: int
) -> dict[str, float]:
    """Uniform draws within the declared ranges of uncertain parameters not fitted to data.

    Draw 0 keeps every central value; draw k > 0 is a pure function of (seed, k).
    """
    if k == 0:
        return {}
    rng = np.random.default_rng([seed, k])
    out = {}
    for key, p in sorted(params.items()):
        if p.range is None or key in fixed:
            continue
        out[key] = float(rng.uniform(*p.range))
    return out
