"""Graph-walk kernel: the workload class Flee runs, in LASER style, for the benchmark suite.

Agents sit at the nodes of a directed graph or travel along its edges. Each day an agent in
transit counts down its remaining days and arrives when they reach zero; an agent at a node
leaves with the node's move probability (Flee's "move chance"), picks an outgoing edge with
probability proportional to the edge's weight, and starts travelling for the edge's length in
days. Nodes with no outgoing edges are sinks and keep whoever reaches them. The day of
departure is the first day of a leg: an agent that leaves on day t along an edge of L days is
at the destination at the end of day t + L - 1 and draws again on day t + L, so with L = 1 and
move probability p the chance of still being at the start after t days is (1 - p)^t.

State is two int16 arrays (4 bytes an agent): ``node`` (where the agent is, or where it is
heading while in transit) and ``left`` (travel days still to go; 0 means "at the node"). The
graph is CSR: ``offsets`` (int32, n_nodes + 1), ``targets`` (int32), ``cumw`` (float32,
cumulative weights normalised to 1 within each node, last exactly 1), ``lengths`` (int16 days,
at least 1) and ``move_prob`` (float32 per node).

Every draw is ``uniform(day_key(seed, STREAM['walk'], day), agent)``, so an agent's path does
not depend on chunking or thread count. Arrivals are counted into ``arrivals[day, chunk, node]``
where each chunk of ``CHUNK`` agents is owned by one thread: no atomics, no appends, and the
same counts at any thread count. :func:`walk_days_nb` is the kernel; :func:`walk_days_numpy`
is its vectorised reference and must agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine.rng import STREAM, day_key, day_key_nb, uniform_nb, uniforms
from corridor.model import places

CHUNK = 8192  # agents per work unit; fixed so results never depend on the thread count
WALK_STREAM = STREAM["walk"]
NODE_DTYPE = np.int16
LEFT_DTYPE = np.int16

# Move probabilities for the corridor benchmark graph (all other non-sink nodes: 1.0).
# Origin 0.05/day spreads departures over the 100 simulated days the way a spawn schedule
# would; 0.1/day at the border cities is a ~10-day wait before crossing. These shape the
# benchmark's mix of waiting, travelling and absorbed agents; they are not calibrated.
CORRIDOR_MOVE_PROB: dict[str, float] = {"origin": 0.05} | {c: 0.1 for c in places.BORDER_CITIES}


class Graph(NamedTuple):
    """A directed graph in CSR form, as the walk kernels read it."""

    names: tuple[str, ...]
    offsets: np.ndarray  # int32 (n_nodes + 1,)
    targets: np.ndarray  # int32 (n_edges,)
    cumw: np.ndarray  # float32 (n_edges,), cumulative normalised weight within each node
    lengths: np.ndarray  # int16 (n_edges,), travel days >= 1
    move_prob: np.ndarray  # float32 (n_nodes,)

    @property
    def n_nodes(self) -> int:
        return len(self.names)

    @property
    def n_edges(self) -> int:
        return int(self.targets.shape[0])


def build_graph(
    names: tuple[str, ...] | list[str],
    edges: list[tuple[str, str, float, float]],
    move_prob: Mapping[str, float] | None = None,
) -> Graph:
    """CSR graph from (origin, destination, days, weight) edges.

    Days are rounded to whole days (at least 1, so an agent never crosses two edges in one
    day); weights are normalised within each origin. Nodes not named in ``move_prob`` move
    with probability 1.
    """
    names = tuple(names)
    index = {n: i for i, n in enumerate(names)}
    n_nodes = len(names)
    if n_nodes > np.iinfo(NODE_DTYPE).max:
        raise ValueError(f"{n_nodes} nodes do not fit in {NODE_DTYPE.__name__}")
    out: list[list[tuple[int, int, float]]] = [[] for _ in range(n_nodes)]
    for a, b, days, w in edges:
        if w <= 0:
            raise ValueError(f"edge {a}->{b} has non-positive weight {w}")
        out[index[a]].append((index[b], max(1, int(round(days))), float(w)))
    offsets = np.zeros(n_nodes + 1, dtype=np.int32)
    targets, cumw, lengths = [], [], []
    for v in range(n_nodes):
        total = sum(w for _, _, w in out[v])
        acc = 0.0
        for j, (t, d, w) in enumerate(out[v]):
            acc += w
            targets.append(t)
            lengths.append(d)
            cumw.append(1.0 if j == len(out[v]) - 1 else acc / total)
        offsets[v + 1] = len(targets)
    mp = np.ones(n_nodes, dtype=np.float32)
    for name, p in (move_prob or {}).items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"move probability {p} for {name} is outside [0, 1]")
        mp[index[name]] = p
    return Graph(
        names=names,
        offsets=offsets,
        targets=np.asarray(targets, dtype=np.int32),
        cumw=np.asarray(cumw, dtype=np.float32),
        lengths=np.asarray(lengths, dtype=np.int16),
        move_prob=mp,
    )


def corridor_graph(move_prob: Mapping[str, float] | None = None) -> Graph:
    """The corridor's place graph (places.graph_edges) with equal weights on each node's edges.

    Equal split because the place model carries no route shares at this level; sinks are the
    places with no outgoing edge (us_interior, and matamoros, which graph_edges gives no
    crossing edge).
    """
    edges = [(a, b, d, 1.0) for a, b, d in places.graph_edges()]
    return build_graph(places.PLACES, edges, CORRIDOR_MOVE_PROB if move_prob is None else move_prob)


def chain_graph(p: float, length: int = 1) -> Graph:
    """Two nodes, one edge a->b: the analytic test case (P(still at a after t) = (1-p)^t)."""
    return build_graph(("a", "b"), [("a", "b", float(length), 1.0)], {"a": p})


def init_agents(n: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` agents at node ``start``, none in transit."""
    return np.full(n, start, dtype=NODE_DTYPE), np.zeros(n, dtype=LEFT_DTYPE)


def n_chunks(n_agents: int) -> int:
    """Number of CHUNK-sized work units for ``n_agents``."""
    return (n_agents + CHUNK - 1) // CHUNK


def new_arrivals(n_agents: int, n_nodes: int, n_days: int) -> np.ndarray:
    """Zeroed per-day, per-chunk, per-node arrival counters for one call of a walk kernel."""
    return np.zeros((n_days, n_chunks(n_agents), n_nodes), dtype=np.int32)


def occupancy(node: np.ndarray, left: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """(agents at each node, agents in transit towards each node)."""
    moving = left > 0
    at = np.bincount(node[~moving], minlength=n_nodes)
    transit = np.bincount(node[moving], minlength=n_nodes)
    return at, transit


def bytes_per_agent_step() -> int:
    """Bytes of agent state the kernel reads and writes per agent per day (node + left, r+w).

    The graph arrays and counters are a few KB and stay in cache, so they are left out.
    """
    state = np.dtype(NODE_DTYPE).itemsize + np.dtype(LEFT_DTYPE).itemsize
    return 2 * state


@nb.njit(cache=True, parallel=True)
def walk_days_nb(
    node: np.ndarray,
    left: np.ndarray,
    offsets: np.ndarray,
    targets: np.ndarray,
    cumw: np.ndarray,
    lengths: np.ndarray,
    move_prob: np.ndarray,
    seed: int,
    day0: int,
    n_days: int,
    arrivals: np.ndarray,
) -> None:
    """Advance every agent ``n_days`` days from ``day0``, in place; add arrivals to counters.

    ``arrivals`` has shape (n_days, n_chunks, n_nodes). The day loop is outside the parallel
    loop, as in a simulator whose days must synchronise (capacities, policies).
    """
    n = node.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    n_nodes = offsets.shape[0] - 1
    # Nodes where an agent can leave: has an outgoing edge and a positive move probability.
    active = np.zeros(n_nodes, dtype=np.bool_)
    for v in range(n_nodes):
        active[v] = offsets[v + 1] > offsets[v] and move_prob[v] > 0
    for d in range(n_days):
        key = day_key_nb(seed, WALK_STREAM, day0 + d)
        for c in nb.prange(nch):
            counts = arrivals[d, c]
            lo = c * CHUNK
            hi = min(lo + CHUNK, n)
            # Pass 1, branch-light: travellers count down; list who stands at an active node.
            # Splitting the passes keeps the random mix of states from costing mispredictions.
            todo = np.empty(hi - lo, dtype=np.int32)  # offsets within the chunk
            m = 0
            for i in range(lo, hi):
                r = left[i]
                if r == 1:
                    counts[node[i]] += 1
                left[i] = r - (r > 0)
                todo[m] = i - lo
                m += (r == 0) & active[node[i]]
            # Pass 2: those agents draw; movers choose an edge by cumulative weight.
            for j in range(m):
                i = lo + np.int64(todo[j])
                v = node[i]
                u = uniform_nb(key, i)
                mp = np.float64(move_prob[v])
                if u >= mp:  # stays today
                    continue
                k = offsets[v]
                last = offsets[v + 1] - 1
                while k < last and u >= mp * np.float64(cumw[k]):
                    k += 1
                t = targets[k]
                node[i] = t
                r = lengths[k] - 1
                left[i] = r
                if r == 0:
                    counts[t] += 1


def walk_days_numpy(
    node: np.ndarray,
    left: np.ndarray,
    offsets: np.ndarray,
    targets: np.ndarray,
    cumw: np.ndarray,
    lengths: np.ndarray,
    move_prob: np.ndarray,
    seed: int,
    day0: int,
    n_days: int,
    arrivals: np.ndarray,
) -> None:
    """Vectorised NumPy reference of :func:`walk_days_nb` (same arguments, same results)."""
    n = node.shape[0]
    n_nodes = offsets.shape[0] - 1
    nch = arrivals.shape[1]
    deg = np.diff(offsets)
    max_deg = int(deg.max()) if n_nodes else 0
    chunk_of = np.arange(n, dtype=np.int64) // CHUNK
    for d in range(n_days):
        key = day_key(seed, WALK_STREAM, day0 + d)
        arrived = np.zeros(n, dtype=bool)
        # Agents in transit count down.
        moving = left > 0
        left[moving] -= 1
        arrived[moving] = left[moving] == 0
        # Agents at a non-sink node draw; movers choose an edge.
        idx = np.flatnonzero(~moving & (deg[node] > 0))
        v = node[idx].astype(np.int64)
        u = uniforms(key, idx)
        mp = move_prob[v].astype(np.float64)
        go = u < mp
        idx, v, u, mp = idx[go], v[go], u[go], mp[go]
        k = offsets[v].astype(np.int64)
        last = offsets[v + 1].astype(np.int64) - 1
        for _ in range(max_deg - 1):
            k += (k < last) & (u >= mp * cumw[k].astype(np.float64))
        node[idx] = targets[k]
        left[idx] = lengths[k] - 1
        arrived[idx] = left[idx] == 0
        where = np.flatnonzero(arrived)
        flat = chunk_of[where] * n_nodes + node[where]
        arrivals[d] += (
            np.bincount(flat, minlength=nch * n_nodes).reshape(nch, n_nodes).astype(arrivals.dtype)
        )
