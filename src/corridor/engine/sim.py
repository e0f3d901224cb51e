"""The daily loop: a fixed phase order of modules over the people arrays.

Each module declares its parameters (``PARAMS``), keeps its own state, and contributes counts to
the day's flow table. The loop times every module so ``corridor run --profile`` can say where
the time goes. ``run(fused=True)`` runs the same phases in one compiled call per chunk of days
(:mod:`corridor.model.fused`), which removes the loop's per-module Python overhead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from corridor.engine.memory import zeroed
from corridor.engine.params import Param, table
from corridor.engine.people import People
from corridor.engine.series import N_FLOWS, N_STOCKS
from corridor.engine.units import in_people
from corridor.model import inputs
from corridor.model.places import DEMOGRAPHICS, N_NAT, N_PLACES
from corridor.scenario.levers import KEY_INDEX
from corridor.scenario.schema import Scenario
from corridor.scenario.timeline import lever_table


class Module:
    """A process of the model: parameters, state, and a daily step."""

    name: str = "module"
    PARAMS: tuple[Param, ...] = ()

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        declared = table(self.PARAMS)
        self.p = {k: sim.overrides.get(f"{self.name}.{k}", v.value) for k, v in declared.items()}

    def pack(self) -> tuple:  # pragma: no cover - interface
        """The module's schedules, parameters and state arrays as a NamedTuple for numba."""
        raise NotImplementedError

    @cached_property
    def pk(self) -> tuple:
        """The pack, built once: the Python loop and the fused driver share its arrays."""
        return self.pack()

    def step(self, day: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class Results:
    """Raw daily tables in agent units (multiply by ``scale`` for people), or already in
    people when ``scale`` (what they have been multiplied by) is not 1."""

    flows: np.ndarray  # [day, flow, nat, place] int32
    stocks: np.ndarray  # [day, stock, nat, place] int32
    cbp: np.ndarray  # [day, component, title, demographic, nat] int32
    timings: dict[str, float] = field(default_factory=dict)
    agent_steps: int = 0
    agents_created: int = 0
    peak_agents: int = 0
    scale: int = 1

    def to_people(self, scale: int) -> None:
        """Multiply the tables by ``scale`` (in place while int32 holds them, else widened to
        int64); nothing to do when they already are."""
        if self.scale == scale:
            return
        if self.scale != 1:
            raise ValueError(f"the tables are in people at scale {self.scale}, not {scale}")
        self.flows = in_people(self.flows, scale)
        self.stocks = in_people(self.stocks, scale)
        self.cbp = in_people(self.cbp, scale)
        self.scale = scale


@lru_cache(maxsize=64)
def _lever_columns(prefix: str, names: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """For :meth:`Simulation.lever_over`: the names' positions that have a lever, and its
    column in the lever table."""
    at = [j for j, name in enumerate(names) if f"{prefix}.{name}" in KEY_INDEX]
    return at, [KEY_INDEX[f"{prefix}.{names[j]}"] for j in at]


class Simulation:
    """One scenario, one seed: the people, the modules and the day loop."""

    def __init__(
        self,
        scn: Scenario,
        modules: list[type[Module]],
        overrides: dict[str, float] | None = None,
        push_knots: object | None = None,
    ) -> None:
        self.scn = scn
        self.push_knots = push_knots  # a calibration's candidate push curves, else shipped
        self.data_end = inputs.data_end(push_knots)  # no input from data after this month
        self.seed = int(scn.seed)
        self.scale = int(scn.scale)
        self.n_days = scn.n_days
        self.overrides = dict(scn.parameters) | dict(overrides or {})
        self.levers = lever_table(scn)
        self.people = People(capacity=self._capacity_guess())
        self.res = Results(
            flows=zeroed((self.n_days, N_FLOWS, N_NAT, N_PLACES), np.int32),
            stocks=zeroed((self.n_days, N_STOCKS, N_NAT, N_PLACES), np.int32),
            cbp=zeroed((self.n_days, 2, 2, len(DEMOGRAPHICS), N_NAT), np.int32),
        )
        self.modules = [m(self) for m in modules]
        self.res.timings = {m.name: 0.0 for m in self.modules}
        self.event = np.zeros(self.people.capacity, dtype=np.uint8)  # per-agent event of the day
        self.resumed_day = 0  # the day a fused run started from (> 0: from a checkpoint)

    def _capacity_guess(self) -> int:
        # Active people rarely exceed ~2 months of departures; ~8,000/day at the 2023 peak.
        return int(8_000 * 60 / self.scale) + 4096

    def lever(self, key: str) -> np.ndarray:
        """One concrete lever's value on every day."""
        return self.levers[:, KEY_INDEX[key]]

    def lever_over(self, prefix: str, names: tuple[str, ...]) -> np.ndarray:
        """A per-place or per-nationality lever on every day: [day, len(names)] (0 where the
        lever has no entry for a name, e.g. flights to Mexico)."""
        by_name = np.zeros((len(names), self.n_days))  # the table is stored lever by lever
        at, keys = _lever_columns(prefix, names)
        if at:
            by_name[at] = self.levers.T[keys]
        return np.ascontiguousarray(by_name.T)

    def close(self) -> None:
        """Drop the modules (each points back here): without the cycle, the result tables
        (~60 MB) are freed when the last result holding them goes, not at the cyclic garbage
        collector's next pass. For a caller done with the simulation itself."""
        self.modules = []

    def module(self, name: str) -> Module:
        return next(m for m in self.modules if m.name == name)

    def ensure_event_capacity(self) -> None:
        if self.event.shape[0] < self.people.capacity:
            self.event = np.zeros(self.people.capacity, dtype=np.uint8)

    def run(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        fused: bool = False,
        in_people: bool = False,
        history: object | None = None,
    ) -> Results:
        """Run every day; ``progress(day)`` after each day (each chunk of days when fused).

        ``fused=True`` takes the compiled driver (only for the registry's phases); the Python
        loop is the reference and times each module. ``in_people``: the tables come back
        multiplied by the scale (``Results.scale``); the driver does it day by day.
        ``history`` (fused only): a :class:`corridor.model.checkpoint.History` to resume from
        at the decision date, or to leave a checkpoint there in.
        """
        if fused:
            from corridor.model.fused import run_fused

            t0 = time.perf_counter()
            res = run_fused(self, progress, in_people=in_people, history=history)
            res.timings = {"fused": time.perf_counter() - t0}
            return res
        timings = self.res.timings
        for day in range(self.n_days):
            for m in self.modules:
                t0 = time.perf_counter()
                m.step(day)
                timings[m.name] += time.perf_counter() - t0
            self.res.agent_steps += self.people.n
            self.res.peak_agents = max(self.res.peak_agents, self.people.n)
            if progress is not None:
                progress(day)
        if in_people:
            self.res.to_people(self.scale)
        return self.res
