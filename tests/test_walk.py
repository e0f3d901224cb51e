"""The graph-walk kernel: numba equals its NumPy reference, threads don't matter, agents are
conserved, and the walk has the distribution it claims."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from corridor.engine import walk

SEED = 20240110


def _graph_args(g: walk.Graph) -> tuple[np.ndarray, ...]:
    return (g.offsets, g.targets, g.cumw, g.lengths, g.move_prob)


def _run(kernel, g: walk.Graph, n: int, days: int, day0: int = 0, start: int = 0):
    node, left = walk.init_agents(n, start)
    arr = walk.new_arrivals(n, g.n_nodes, days)
    kernel(node, left, *_graph_args(g), SEED, day0, days, arr)
    return node, left, arr


def _random_graph() -> walk.Graph:
    """Uneven weights, lengths 1-6, stay chances, degrees 1-5 and two sinks (n7, n8)."""
    rng = np.random.default_rng(3)
    names = tuple(f"n{i}" for i in range(9))
    edges = []
    for a in range(7):
        for b in rng.choice(9, size=int(rng.integers(1, 7)), replace=False):
            if b != a:
                edges.append(
                    (names[a], names[int(b)], float(rng.integers(1, 7)), rng.random() + 0.1)
                )
    move = {names[a]: float(rng.uniform(0.2, 1.0)) for a in range(7)}
    return walk.build_graph(names, edges, move)


@pytest.mark.parametrize("graph", ["corridor", "random"])
def test_numba_equals_numpy(graph: str) -> None:
    g = walk.corridor_graph() if graph == "corridor" else _random_graph()
    n = 2 * walk.CHUNK + 1234  # several chunks, the last one partial
    a = _run(walk.walk_days_nb, g, n, 30, day0=5)
    b = _run(walk.walk_days_numpy, g, n, 30, day0=5)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    assert a[2].sum() > 0  # something arrived somewhere


def test_same_result_at_any_thread_count() -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has only one thread here")
    g = walk.corridor_graph()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run(walk.walk_days_nb, g, 3 * walk.CHUNK + 77, 30)
        numba.set_num_threads(2)
        two = _run(walk.walk_days_nb, g, 3 * walk.CHUNK + 77, 30)
    finally:
        numba.set_num_threads(before)
    for x, y in zip(one, two, strict=True):
        np.testing.assert_array_equal(x, y)


def test_agents_conserved_and_arrivals_exact() -> None:
    g = _random_graph()
    n = walk.CHUNK + 999
    node, left = walk.init_agents(n)
    for day in range(30):
        prev_node, prev_left = node.copy(), left.copy()
        arr = walk.new_arrivals(n, g.n_nodes, 1)
        walk.walk_days_nb(node, left, *_graph_args(g), SEED, day, 1, arr)
        at, transit = walk.occupancy(node, left, g.n_nodes)
        assert at.sum() + transit.sum() == n
        # An arrival is an agent now at a node (left <= 0: waiting, deciding or held) that was
        # travelling yesterday or moved today.
        arrived = (left <= 0) & ((prev_left > 0) | (node != prev_node))
        np.testing.assert_array_equal(
            arr[0].sum(axis=0), np.bincount(node[arrived], minlength=g.n_nodes)
        )
        # Sinks keep what they hold.
        sinks = np.flatnonzero(np.diff(g.offsets) == 0)
        held = np.isin(prev_node, sinks) & (prev_left <= 0)
        assert np.all(node[held] == prev_node[held]) and np.all(left[held] == walk.HOLD)
        # Waiting agents count up towards -1 (the day they leave) by one a day.
        waiting = (prev_left < -1) & (prev_left != walk.HOLD)
        np.testing.assert_array_equal(left[waiting], prev_left[waiting] + 1)
        np.testing.assert_array_equal(node[waiting], prev_node[waiting])
    assert walk.occupancy(node, left, g.n_nodes)[0][sinks].sum() > 0


@pytest.mark.parametrize("p", [0.05, 0.3, 0.001])  # 0.001: below DWELL_P_MIN, daily draws
def test_two_node_chain_matches_geometric(p: float) -> None:
    g = walk.chain_graph(p)
    n = 40_000
    node, left = walk.init_agents(n)
    for t in range(1, 21):
        walk.walk_days_nb(node, left, *_graph_args(g), SEED, t, 1, walk.new_arrivals(n, 2, 1))
        q = (1 - p) ** t
        still = int(np.count_nonzero(node == 0))
        se = np.sqrt(n * q * (1 - q))
        assert abs(still - n * q) < 4 * se, (t, still, n * q, se)


def test_edge_choice_proportional_to_weight() -> None:
    w = (1.0, 2.0, 3.0, 4.0)
    edges = [("hub", f"s{i}", 1.0, wi) for i, wi in enumerate(w)]
    g = walk.build_graph(("hub", "s0", "s1", "s2", "s3"), edges)
    n = 50_000
    node, _, arr = _run(walk.walk_days_nb, g, n, 1)
    counts = np.bincount(node, minlength=5)[1:]
    expected = n * np.asarray(w) / sum(w)
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected))
    np.testing.assert_array_equal(arr[0].sum(axis=0)[1:], counts)


def test_corridor_graph_shape() -> None:
    g = walk.corridor_graph()
    assert g.offsets.dtype == np.int32 and g.targets.dtype == np.int32
    assert g.cumw.dtype == np.float32 and g.lengths.dtype == np.int16
    assert g.n_edges == len(walk.places.graph_edges())
    assert np.all(g.lengths >= 1)
    # Cumulative weights end at exactly 1 on every node with edges.
    ends = g.offsets[1:][np.diff(g.offsets) > 0] - 1
    assert np.all(g.cumw[ends] == 1.0)
    sinks = {g.names[i] for i in np.flatnonzero(np.diff(g.offsets) == 0)}
    assert "us_interior" in sinks
    node, left = walk.init_agents(10)
    assert node.itemsize + left.itemsize < 32


@pytest.mark.parametrize("p", [0.02, 0.3, walk.DWELL_P_MIN])
def test_dwell_draw_is_geometric(p: float) -> None:
    """P(D >= k) = (1-p)^k, also past the DWELL_K-day blocks; numba equals NumPy."""
    g = walk.chain_graph(p)
    kind, t, gd = walk._tables_nb(g.offsets, g.move_prob)
    np.testing.assert_array_equal(kind, walk.node_kinds(g.offsets, g.move_prob))
    np.testing.assert_array_equal(t, walk.dwell_table(g.move_prob))
    n = 400_000
    u = walk.uniforms(walk.day_key(SEED, walk.DWELL_STREAM, 3), np.arange(n))
    u[:3] = (0.0, 1.0 - 2.0**-53, 2.0**-53)  # the extremes of the draws
    v = np.zeros(n, dtype=np.int64)
    d = walk._geometric(u, t, v)
    d_nb = np.array([walk._geometric_nb(x, t, gd, 0) for x in u[:20_000]])
    np.testing.assert_array_equal(d[:20_000], d_nb)
    assert d[0] == walk.DWELL_CAP and d[1] == 0 and 0 < d[2] < walk.DWELL_CAP
    q = 1.0 - float(np.float32(p))
    for k in np.unique(np.linspace(0, 5 / p, 40).astype(int)):
        expected = q**k
        se = np.sqrt(n * expected * (1 - expected)) + 1
        assert abs(np.count_nonzero(d[3:] >= k) - (n - 3) * expected) < 4 * se, (k, expected)


def test_dwell_then_leave_on_time() -> None:
    """An agent that arrives at a node draws its dwell D there and leaves on day D + 1 after
    arriving; a node with move probability 0 but an edge holds its agents for good."""
    g = walk.build_graph(
        ("a", "b", "c", "z"),
        [("a", "b", 1.0, 1.0), ("b", "c", 3.0, 1.0), ("z", "a", 1.0, 1.0)],
        {"a": 1.0, "b": 0.2, "z": 0.0},
    )
    n = 5000
    node, left = walk.init_agents(n)
    arr = walk.new_arrivals(n, g.n_nodes, 1)
    walk.walk_days_nb(node, left, *_graph_args(g), SEED, 0, 1, arr)
    assert np.all(node == 1) and np.all(left < 0) and arr[0].sum(axis=0)[1] == n
    dwell = -left.astype(np.int64) - 1  # days at b before the day it leaves
    for day in range(1, 200):
        walk.walk_days_nb(node, left, *_graph_args(g), SEED, day, 1, walk.new_arrivals(n, 4, 1))
        gone = node == 2
        np.testing.assert_array_equal(gone, dwell < day)  # left b on day dwell + 1
        since = day - (dwell[gone] + 1)  # days since it left b on the 3-day edge to sink c
        np.testing.assert_array_equal(left[gone], np.where(since >= 2, walk.HOLD, 2 - since))
    zn, zl = walk.init_agents(100, start=3)
    walk.walk_days_nb(zn, zl, *_graph_args(g), SEED, 0, 50, walk.new_arrivals(100, 4, 50))
    assert np.all(zn == 3) and np.all(zl == walk.HOLD)
