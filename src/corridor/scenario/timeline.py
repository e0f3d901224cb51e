"""Policies become a day x lever table; shipped scenarios are found by name.

History (Oct 2019 - Dec 2023) is itself a list of policy events (``scenarios/history.yaml``), so
the past and the futures a user writes are applied the same way: lever defaults first, then
history, then the scenario's own events, later events winning on the days they cover.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from corridor.scenario.levers import CONCRETE, KEY_INDEX, N_KEYS
from corridor.scenario.schema import (
    PolicyEvent,
    Scenario,
    ScenarioError,
    check_lever_value,
    parse,
    read_yaml,
)

SCENARIO_DIR = "scenarios"


def shipped_names() -> list[str]:
    """Names of the scenarios shipped inside the package (history is not one)."""
    root = Path(str(resources.files("corridor") / SCENARIO_DIR))
    return list(_shipped_names(root, root.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def _shipped_names(root: Path, mtime_ns: int) -> tuple[str, ...]:
    """The listing, once per version of the folder (adding or removing a file changes its
    modification time)."""
    return tuple(
        sorted(
            p.name.removesuffix(".yaml")
            for p in root.iterdir()
            if p.name.endswith(".yaml") and p.name != "history.yaml"
        )
    )


def _shipped_path(name: str) -> Path:
    return Path(str(resources.files("corridor") / SCENARIO_DIR / f"{name}.yaml"))


def load(ref: str | Path | Scenario | dict) -> Scenario:
    """A scenario from a shipped name, a YAML path, a mapping or a Scenario."""
    if isinstance(ref, Scenario):
        return ref
    if isinstance(ref, dict):
        return parse(ref)
    ref_s = str(ref)
    path = Path(ref_s)
    if not path.exists() and ref_s in shipped_names():
        path = _shipped_path(ref_s)
    if not path.exists():
        raise ScenarioError(
            ref_s, [f"no such file or shipped scenario; shipped: {', '.join(shipped_names())}"]
        )
    st = path.stat()
    # A copy: callers may change the scenario's lists and mappings in place.
    scn = _parse_file(path, path.resolve(), st.st_mtime_ns, st.st_size)
    return scn.model_copy(deep=True)


@lru_cache(maxsize=16)
def _parse_file(path: Path, resolved: Path, mtime_ns: int, size: int) -> Scenario:
    """A scenario file parsed and validated once per version of the file (YAML parsing and
    validation cost ~1-3 ms a run); ``path`` as given names it in errors."""
    return parse(read_yaml(path), str(path))


def history_events() -> list[PolicyEvent]:
    """The historical timeline, Oct 2019 - Dec 2023, as policy events (parsed once per version
    of the file: YAML parsing cost ~10 ms a run)."""
    path = _shipped_path("history")
    st = path.stat()
    return list(_history_events(path, st.st_mtime_ns, st.st_size))


@lru_cache(maxsize=4)
def _history_events(path: Path, mtime_ns: int, size: int) -> tuple[PolicyEvent, ...]:
    data = read_yaml(path)
    try:
        return tuple(PolicyEvent.model_validate(e) for e in data["policies"])
    except Exception as err:  # a broken shipped file is a bug; say where
        raise ScenarioError(str(path), [str(err)]) from None


def with_overrides(scn: Scenario, sets: dict[str, Any]) -> Scenario:
    """The scenario plus a policy event setting ``sets`` from its decision date to its end."""
    if not sets:
        return scn
    problems = []
    for key, value in sets.items():
        try:
            check_lever_value(key, value)
        except ValueError as err:
            problems.append(f"--set {err}")
    if problems:
        raise ScenarioError(scn.name, problems)
    event = PolicyEvent.model_validate(
        {"from": scn.decision_date, "to": scn.end, "set": sets, "note": "--set override"}
    )
    return scn.model_copy(update={"policies": [*scn.policies, event]})


def lever_table(scn: Scenario) -> np.ndarray:
    """Values of every concrete lever on every day of the scenario (float64, days x levers).
    Stored lever by lever (Fortran order): events write, and modules read, a lever's days
    as one contiguous run."""
    table = np.empty((N_KEYS, scn.n_days), dtype=np.float64).T
    table[:] = np.array([default for _, _, default in CONCRETE])
    for city, spec in scn.places.items():
        if spec.shelter_beds is not None:
            table[:, KEY_INDEX[f"mexico.shelter_beds.{city}"]] = spec.shelter_beds
    events = (history_events() if scn.history else []) + list(scn.policies)
    for event in events:
        first = max((event.start - scn.start).days, 0)
        end = event.end or scn.end
        last = min((end - scn.start).days, scn.n_days - 1)
        if last < first:
            continue
        for key, value in event.concrete().items():
            table[first : last + 1, KEY_INDEX[key]] = value
    return table


def day_dates(scn: Scenario) -> np.ndarray:
    return np.arange(
        np.datetime64(scn.start), np.datetime64(scn.end + dt.timedelta(days=1)), dtype="M8[D]"
    )
