"""Title 42 as CBP applied it: shares by period, and expulsion by air only with a seat in sight.

The shares expelled break where the CBP series (title by demographic) breaks: families from
February 2021, single adults from April 2022; children alone are never expelled. A nationality
Mexico does not accept is expelled by air only while the removal flights of the next
``t42_flight_horizon_days`` have seats beyond those already held (``flight_room_nb``): the room
is the removal schedule's seats summed over that window, less the people held.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import corridor
from corridor.api import prepare
from corridor.engine.sim import Simulation
from corridor.model import processing
from corridor.model.places import DEMO, NAT
from corridor.model.registry import PHASES

SCN = {
    "name": "t42",
    "start": "2020-10-01",
    "end": "2022-06-30",
    "decision_date": "2022-06-30",
    "scale": 400,
}


def _sim(**parameters: float) -> Simulation:
    return Simulation(prepare(SCN, parameters=parameters), list(PHASES))


def _day(sim: Simulation, date: str) -> int:
    return (pd.Timestamp(date) - pd.Timestamp(sim.scn.start)).days


def test_shares_break_at_their_dates() -> None:
    sim = _sim(
        **{
            "processing.t42_adult_share": 0.9,
            "processing.t42_adult_share_late": 0.7,
            "processing.t42_family_share": 0.6,
            "processing.t42_family_share_late": 0.2,
        }
    )
    share = sim.module("processing").t42_share()
    fam, sa, uac = DEMO["fmua"], DEMO["single_adult"], DEMO["uac"]
    feb21, apr22 = _day(sim, processing.FAMILY_LATE_FROM), _day(sim, processing.ADULT_LATE_FROM)
    assert (share[:feb21, fam] == 0.6).all() and (share[feb21:, fam] == 0.2).all()
    assert (share[:apr22, sa] == 0.9).all() and (share[apr22:, sa] == 0.7).all()
    assert (share[:, uac] == 0.0).all()


def test_seats_ahead_sum_the_removal_schedule() -> None:
    sim = _sim(**{"processing.t42_flight_horizon_days": 10.0})
    ahead = sim.module("processing").seats_ahead
    seats = sim.module("removal").seats  # [day, nat] agents on the flights leaving that day
    for day in (0, 100, seats.shape[0] - 11):
        np.testing.assert_allclose(ahead[day], seats[day : day + 10].sum(axis=0))


def test_flight_room_is_seats_less_those_held() -> None:
    nat = np.array([NAT["colombia"], NAT["colombia"], NAT["ecuador"], NAT["mexico"]], np.uint8)
    ahead = np.zeros(len(NAT))
    ahead[NAT["colombia"]], ahead[NAT["ecuador"]] = 5.7, 0.4
    room = processing.flight_room_nb(ahead, nat, np.array([0, 1, 2], dtype=np.int64))
    assert room[NAT["colombia"]] == 6 - 2  # 5.7 seats: 6 agents
    assert room[NAT["ecuador"]] == 0 - 1  # 0.4 seats: none
    assert room[NAT["mexico"]] == 0  # index 3 is not held


def test_title42_flight_expulsions_stay_within_the_seats() -> None:
    """A Title 42 expulsion by air is admitted only with a seat in sight beyond everyone
    already held, so over the run they stay within the seats the nationality's flights
    offered plus the last window and one agent of rounding, at any horizon (before the rule,
    three to five times the seats); and they do happen."""
    for horizon in (7.0, 21.0):
        ds = corridor.run({**SCN, "parameters": {"processing.t42_flight_horizon_days": horizon}})
        sim = _sim(**{"processing.t42_flight_horizon_days": horizon})
        scale = SCN["scale"]
        seats = sim.module("removal").seats.sum(axis=0) * scale  # people
        flows = ds.flows.sum(["time", "place"]).to_pandas()
        for name in ("colombia", "ecuador", "other"):
            t42 = flows.loc["expulsions_title42", name]
            window = sim.module("processing").seats_ahead[-1, NAT[name]] * scale
            assert 0 < t42 <= seats[NAT[name]] + window + scale, (name, horizon)
