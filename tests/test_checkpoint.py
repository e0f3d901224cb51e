"""Resuming at the decision date from a checkpoint (model/checkpoint.py, corridor.History)
gives the results of a run from the start, bit for bit, and only when the history matches."""

from __future__ import annotations

import numpy as np
import pytest

import corridor
from corridor.model.checkpoint import History, _equal

SCALE = 1000


def _same(a, b) -> bool:
    return set(a.data_vars) == set(b.data_vars) and all(
        np.array_equal(a[v].values, b[v].values) for v in a.data_vars
    )


@pytest.fixture(scope="module")
def cold():
    return {s: corridor.run(s, scale=SCALE) for s in ("baseline", "mexico-asks", "us-asks")}


def test_a_scenario_resumed_from_another_s_checkpoint_is_the_run_from_the_start(cold) -> None:
    h = History()
    first = corridor.run("baseline", scale=SCALE, history=h)
    assert first.attrs["resumed_from"] == "" and len(h) == 1  # left a checkpoint
    assert _same(first, cold["baseline"])
    for name in ("mexico-asks", "us-asks"):
        ds = corridor.run(name, scale=SCALE, history=h)
        assert ds.attrs["resumed_from"] == "2024-01-01"
        assert _same(ds, cold[name])
        assert ds.attrs["agent_steps"] == cold[name].attrs["agent_steps"]
    assert not _same(cold["mexico-asks"], cold["baseline"])  # the comparison can fail
    assert h.hits == 2 and h.misses == 1


def test_resuming_with_progress_chunks_gives_the_same(cold) -> None:
    h = History()
    corridor.run("baseline", scale=SCALE, history=h, progress=lambda d, n: None)
    ds = corridor.run("mexico-asks", scale=SCALE, history=h, progress=lambda d, n: None)
    assert ds.attrs["resumed_from"] == "2024-01-01" and _same(ds, cold["mexico-asks"])


def test_a_different_history_does_not_resume(cold) -> None:
    h = History(size=4)
    corridor.run("baseline", scale=SCALE, history=h)
    # another seed, another parameter, another posterior draw: all before the decision date
    for kw in ({"seed": 7}, {"parameters": {"staging.cross_per_day": 0.2}}, {"draw": 1}):
        ds = corridor.run("mexico-asks", scale=SCALE, history=h, **kw)
        assert ds.attrs["resumed_from"] == "", kw
    ds = corridor.run("mexico-asks", scale=SCALE, history=h, seed=7)
    assert ds.attrs["resumed_from"] == "2024-01-01"  # the seed-7 run left its own checkpoint
    assert _same(ds, corridor.run("mexico-asks", scale=SCALE, seed=7))


def test_a_history_keeps_its_newest_checkpoints() -> None:
    h = History(size=1)
    corridor.run("baseline", scale=SCALE, history=h)
    corridor.run("baseline", scale=SCALE, history=h, seed=7)
    assert len(h) == 1
    assert corridor.run("baseline", scale=SCALE, history=h).attrs["resumed_from"] == ""
    with pytest.raises(ValueError, match="at least 1"):
        History(size=0)


def test_a_daily_table_matches_on_the_days_before_unless_written_ahead() -> None:
    a = np.arange(40.0).reshape(10, 4)
    b = a.copy()
    b[6:] += 1.0  # differs from day 6 on
    assert _equal(a, b, 6, 10, 10, whole=False)
    assert not _equal(a, b, 7, 10, 10, whole=False)
    assert not _equal(a, b, 6, 10, 10, whole=True)  # rows the history wrote ahead must match
    assert _equal(a[:, 0].copy(), b[:8, 0].copy(), 6, 10, 8, whole=False)  # other end date
    assert not _equal(a.T.copy(), b.T.copy(), 6, 10, 10, whole=False)  # not daily: whole
    assert _equal(0.5, 0.5, 6, 10, 10, False) and not _equal(0.5, 1, 6, 10, 10, False)


def test_paired_ensembles_resume_member_by_member() -> None:
    """corridor.compare's pairing: member k of b resumes from member k of a's checkpoint."""
    h = History(size=2)
    corridor.ensemble("baseline", 2, scale=SCALE, history=h)
    eb = corridor.ensemble("mexico-asks", 2, scale=SCALE, history=h)
    assert eb.attrs["resumed_from"] == "2024-01-01" and h.hits == 2
    cold = corridor.ensemble("mexico-asks", 2, scale=SCALE)
    assert cold.attrs["resumed_from"] == ""
    assert _same(eb, cold)


def test_a_history_that_differs_on_the_eve_does_not_resume() -> None:
    """The emergency authority's policy starts on the decision date, but the switch decides on
    31 December with 1 January's threshold (bookkeeping.on_at is one day ahead): the days
    before the decision date differ, and the run must not resume."""
    h = History()
    corridor.run("baseline", scale=SCALE, history=h)
    ds = corridor.run("emergency-authority-5000", scale=SCALE, history=h)
    assert ds.attrs["resumed_from"] == "" and h.hits == 0
    assert _same(ds, corridor.run("emergency-authority-5000", scale=SCALE))
