"""The push-floor diagnostic (calibration/push_floor.py): it moves only the chosen knots."""

import numpy as np
import pandas as pd
import pytest

from corridor.calibration import posterior, push_floor


def test_only_the_chosen_nationalities_move_towards_their_border_patrol_series() -> None:
    _, knots = posterior.draw(0)
    knots["knot"] = pd.to_datetime(knots["knot"])
    obs = push_floor.observed_usbp()
    sim = obs.copy()
    sim["venezuela"] = obs["venezuela"] / 2  # simulated half of what was seen
    sim["haiti"] = obs["haiti"] * 2  # and twice: Haiti is not chosen
    new = push_floor.usbp_update(knots, obs, sim, ["venezuela"])
    moved = new.log_push.to_numpy() - knots.log_push.to_numpy()
    ven = (knots.nationality == "venezuela").to_numpy()
    assert np.all(moved[~ven] == 0.0)
    # every Venezuelan knot with months after it rises, by at most 0.8 x log 2
    assert np.all(moved[ven][:-1] > 0.0) and np.all(moved[ven] <= 0.8 * np.log(2) + 1e-12)


def test_unknown_nationality_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown nationalities"):
        push_floor.push_floor(["atlantis"], iterations=0)


def test_a_short_floor_run_scores_each_iteration() -> None:
    table = push_floor.push_floor(["venezuela"], iterations=1, scale=1000, end="2021-06-30")
    assert list(table.index) == [0, 1] and list(table.columns) == ["venezuela"]
    assert np.all(np.isfinite(table.to_numpy())) and np.all(table.to_numpy() >= 0)
