"""A fused run's state at its decision date, so that a scenario with the same history resumes
there instead of simulating it again.

Scenarios that differ only from the decision date on (a lever set for 2024, a policy dated
after it) simulate the days before it identically: same seed, same counter-based draws, same
inputs. A :class:`History` keeps the driver's whole state at the decision date of the last few
runs: the people, the driver's scalar state, every module's tables and state arrays, and the
result tables so far. A later run resumes from one only when everything the driver reads
before that day is equal, array by array (an input table's rows before the day; any other
array, and every scalar, whole). Otherwise it runs from the first day, as without a history.
Either way the results are the same, bit for bit (tests/test_checkpoint.py): this only saves
time, for a dashboard moving a lever, a comparison of two scenarios, a sweep over levers.

A day-indexed array is one whose first axis has a row per day of the run. If the run before the
decision date wrote into such an array's later rows (a schedule filled ahead), those rows are
state too: a run resumes only if its own rows there were also equal before it started, and
takes them from the checkpoint. This relies on the kernels reading a day-indexed table only at
the day they run or earlier; what looks ahead (removal flight seats in the coming days) is
computed into that day's row before the run, and so compared with the rest.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


def _is_daily(x: object, n_days: int) -> bool:
    return isinstance(x, np.ndarray) and x.ndim >= 1 and x.shape[0] == n_days


def copy_pack(pack: tuple) -> tuple:
    return tuple(np.array(x, copy=True) if isinstance(x, np.ndarray) else x for x in pack)


def _equal(old: object, new: object, day: int, old_days: int, new_days: int, whole: bool) -> bool:
    """Whether a field of a pack as built for the checkpoint's run (``old``) and for a new run
    (``new``) are the same for the days before ``day`` (``whole``: on every day)."""
    if not isinstance(old, np.ndarray):
        return type(old) is type(new) and bool(old == new)
    if not isinstance(new, np.ndarray) or old.dtype != new.dtype:
        return False
    daily = _is_daily(old, old_days)
    if daily != _is_daily(new, new_days):
        return False
    if not daily or whole:
        return old.shape == new.shape and np.array_equal(old, new)
    return old.shape[1:] == new.shape[1:] and np.array_equal(old[:day], new[:day])


@dataclass
class Checkpoint:
    """The driver's state after the first ``day`` days of a run, and what that run's inputs
    were before it started (to match a new run against)."""

    day: int
    seed: int
    scale: int
    limit: int
    n_days: int
    state0: tuple[np.ndarray, np.ndarray]  # the driver's (int, float) state at day 0
    before: list[tuple]  # each module's pack as built
    after: list[tuple]  # ... and after ``day`` days
    ahead: list[tuple[bool, ...]]  # per field: written into rows from ``day`` on
    people: tuple[np.ndarray, ...]  # the first n agents' arrays
    event: np.ndarray
    tables: tuple[np.ndarray, np.ndarray, np.ndarray]  # flows, stocks, cbp: days before ``day``
    state: tuple[np.ndarray, np.ndarray]  # the driver's (int, float) state at ``day``

    @classmethod
    def take(cls, run: RunInputs, before: list[tuple], n: int, istate, fstate) -> Checkpoint:
        """The state of ``run`` after ``run.day`` days; ``before``: its packs as built."""
        sim, d = run.sim, run.day
        after = [copy_pack(p) for p in run.packs]
        ahead = [
            tuple(
                _is_daily(b, sim.n_days) and not np.array_equal(b[d:], a[d:])
                for b, a in zip(pb, pa, strict=True)
            )
            for pb, pa in zip(before, after, strict=True)
        ]
        res = sim.res
        return cls(
            day=d,
            seed=sim.seed,
            scale=run.scale,
            limit=run.limit,
            n_days=sim.n_days,
            state0=run.state0,
            before=before,
            after=after,
            ahead=ahead,
            people=tuple(a[:n].copy() for a in sim.people.arrays()),
            event=sim.event[:n].copy(),
            tables=(res.flows[:d].copy(), res.stocks[:d].copy(), res.cbp[:d].copy()),
            state=(istate.copy(), fstate.copy()),
        )

    def fits(self, run: RunInputs) -> bool:
        """Whether ``run`` (not started) reads the same inputs as this one before ``day``."""
        sim = run.sim
        same = (
            run.day == self.day
            and (sim.seed, run.scale, run.limit) == (self.seed, self.scale, self.limit)
            and sim.people.n == 0
            and all(np.array_equal(a, b) for a, b in zip(run.state0, self.state0, strict=True))
            and sim.res.flows.dtype == self.tables[0].dtype
            and len(run.packs) == len(self.before)
        )
        if not same:
            return False
        for old, new, ahead in zip(self.before, run.packs, self.ahead, strict=True):
            if len(old) != len(new):
                return False
            for o, x, w in zip(old, new, ahead, strict=True):
                if not _equal(o, x, self.day, self.n_days, sim.n_days, w):
                    return False
        return True

    def restore(self, run: RunInputs, istate: np.ndarray, fstate: np.ndarray) -> int:
        """Put this state into ``run`` (which :meth:`fits`); returns the day to go on from."""
        sim, d = run.sim, self.day
        for saved, pack, ahead in zip(self.after, run.packs, self.ahead, strict=True):
            for a, x, w in zip(saved, pack, ahead, strict=True):
                if not isinstance(a, np.ndarray):
                    continue
                if _is_daily(a, self.n_days) and not w:
                    x[:d] = a[:d]
                else:
                    x[...] = a
        n = self.people[0].shape[0]
        sim.people.reserve(n - sim.people.n)
        for dst, src in zip(sim.people.arrays(), self.people, strict=True):
            dst[:n] = src
        sim.people.n = n
        sim.ensure_event_capacity()
        sim.event[:n] = self.event
        for dst, src in zip((sim.res.flows, sim.res.stocks, sim.res.cbp), self.tables, strict=True):
            dst[:d] = src
        istate[:] = self.state[0]
        fstate[:] = self.state[1]
        return d


@dataclass
class RunInputs:
    """What a fused run is about to read: the simulation, its modules' packs, its state at day
    0, the scale its tables are written in, and the day a checkpoint is for."""

    sim: object
    packs: tuple[tuple, ...]
    state0: tuple[np.ndarray, np.ndarray]
    scale: int
    limit: int
    day: int


class History:
    """The checkpoints of the last ``size`` runs, newest first (``corridor.run(...,
    history=h)``). Safe to share between threads; each checkpoint holds a copy of the result
    tables up to its day (~50 MB at any scale for the shipped scenarios) and of the people
    then alive."""

    def __init__(self, size: int = 2) -> None:
        if size < 1:
            raise ValueError(f"a history keeps at least 1 checkpoint; got size={size}")
        self.size = int(size)
        self._items: list[Checkpoint] = []
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def find(self, run: RunInputs) -> Checkpoint | None:
        with self._lock:
            for ck in self._items:
                if ck.fits(run):
                    self.hits += 1
                    return ck
            self.misses += 1
            return None

    def keep(self, ck: Checkpoint) -> None:
        with self._lock:
            self._items = [ck, *self._items][: self.size]

    def __len__(self) -> int:
        return len(self._items)
