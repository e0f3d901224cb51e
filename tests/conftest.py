"""Shared scenarios and session-scoped runs for the engine, RNG and conservation tests.

``baseline_run`` is the history from October 2022 to December 2023 at scale 400 (Title 42 to
May 2023, CBP One, the asylum rule, Venezuela flights). ``stress_run`` adds, from June 2023,
levers the history leaves off so that every transition of the model happens: MPP with short
hearings (relief, removal orders, giving up from MPP), removal flights to more countries and,
from October, an emergency authority that switches on.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import corridor

BASE: dict[str, Any] = {
    "name": "t",
    "start": "2022-10-01",
    "end": "2023-12-31",
    "decision_date": "2023-06-01",
    "scale": 400,
    "history": True,
}

STRESS_POLICY: dict[str, Any] = {
    "from": "2023-06-01",
    "set": {
        "us.mpp": 0.25,
        "us.removal_flights_per_week": {"venezuela": 4, "cuba": 2, "nicaragua": 1},
    },
    "note": "test: exercise MPP and more removal flights",
}
# From October an emergency authority with thresholds low enough to switch on at any fitted
# parameters (MPP runs alone before it, so both are exercised).
STRESS_EMERGENCY: dict[str, Any] = {
    "from": "2023-10-01",
    "set": {
        "us.emergency_authority.on_above_per_day": 1000,
        "us.emergency_authority.off_below_per_day": 800,
    },
    "note": "test: exercise the emergency authority",
}


def scenario(stress: bool = False, **changes: Any) -> dict[str, Any]:
    """A fresh copy of the test scenario (``stress`` adds the extra levers); keyword
    arguments replace top-level keys."""
    scn = copy.deepcopy(BASE)
    if stress:
        scn["name"] = "stress"
        # Announced-policy deterrence on, whatever the defaults: the fused driver and the
        # loop must agree on the border news it reads.
        # A two-day detention limit: weekly flights leave some of those held for removal
        # outlasting it (released), however few the fitted crossing rates put in custody.
        scn["parameters"] = {
            "processing.mpp_hearing_days": 30.0,
            "staging.policy_deterrence": 2.0,
            "removal.max_detention_days": 2.0,
        }
        scn["policies"] = [copy.deepcopy(STRESS_POLICY), copy.deepcopy(STRESS_EMERGENCY)]
    scn.update(changes)
    return scn


@pytest.fixture(scope="session")
def make_scenario():
    """The :func:`scenario` factory, for tests that build variants."""
    return scenario


@pytest.fixture(scope="session")
def baseline_run():
    """The history scenario, Oct 2022 - Dec 2023, scale 400, default seed."""
    return corridor.run(scenario())


@pytest.fixture(scope="session")
def stress_run():
    """The stress scenario (every transition of the model happens), scale 400."""
    return corridor.run(scenario(stress=True))
