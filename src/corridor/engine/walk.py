"""Graph-walk kernel: the workload class Flee runs, in LASER style, for the benchmark suite.

Agents sit at the nodes of a directed graph or travel along its edges. Each day an agent in
transit counts down its remaining days and arrives when they reach zero; an agent at a node
leaves with the node's move probability p (Flee's "move chance"), picks an outgoing edge with
probability proportional to the edge's weight, and starts travelling for the edge's length in
days. Nodes with no outgoing edges are sinks and keep whoever reaches them. The day of
departure is the first day of a leg: an agent that leaves on day t along an edge of L days is
at the destination at the end of day t + L - 1 and may leave again on day t + L, so with L = 1
and move probability p the chance of still being at the start after t days is (1 - p)^t.

The daily "leave with probability p" is not drawn every day: an agent draws, once, on the day
it arrives at a node (or on its first day there, if it starts there), how many days D it stays
before leaving, from the geometric law P(D = k) = (1 - p)^k p, by inverting one uniform
against (1 - p)^k. The days spent at a node have the same law either way, so this is the same
Markov chain in distribution; it means that on most days an agent only counts a number down or
up. Nodes with p below DWELL_P_MIN (whose dwell could overflow int16) keep a draw every day.

State is two int16 arrays (4 bytes an agent): ``node`` (where the agent is, or where it is
heading while in transit) and ``left``: travel days still to go (> 0); 0 for an agent at a node
that has not drawn its dwell (as :func:`init_agents` makes them); -d for an agent waiting at a
node that leaves on the d-th day from now (so -1: leaves today); HOLD for an agent that stays
for good (at a sink). The graph is CSR: ``offsets`` (int32, n_nodes + 1), ``targets`` (int32),
``cumw`` (float32, cumulative weights normalised to 1 within each node, last exactly 1),
``lengths`` (int16 days, at least 1) and ``move_prob`` (float32 per node).

Every draw is ``uniform(day_key(seed, stream, day), counter)``: stream ``walk`` with the agent's
index for the edge choice, stream ``walk_dwell`` with 2 x index (dwell on arrival) or
2 x index + 1 (dwell on a first day) for the dwell, so an agent's path does not depend on
chunking or thread count. Arrivals are counted into ``arrivals[day, chunk, node]`` where each
chunk of ``CHUNK`` agents is owned by one thread: no atomics, no appends, and the same counts at
any thread count. :func:`walk_days_nb` is the kernel; :func:`walk_days_numpy` is its vectorised
reference and must agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine.rng import STREAM, day_key, day_key_nb, uniform_nb, uniforms
from corridor.engine.simd import list_events32
from corridor.model import places

CHUNK = 8192  # agents per work unit (offsets in it fit uint16); fixed so results never depend
# on the thread count
WALK_STREAM = STREAM["walk"]
DWELL_STREAM = STREAM["walk_dwell"]
HOLD = -32768  # ``left`` of an agent that stays where it is for good (a sink)
DWELL_K = 64  # dwell draws compare against (1-p)^k, k < DWELL_K, in blocks of DWELL_K days
DWELL_CAP = 32766  # longest dwell; -(DWELL_CAP + 1) still fits in int16 above HOLD
# Below this move probability a dwell could exceed DWELL_CAP (a uniform u >= 2^-53 gives at
# most log(2^-53) / log(1 - p) days), so such nodes draw every day instead (same chain). Above
# it only u = 0 (probability 2^-53, the draws' own resolution) reaches the cap.
DWELL_P_MIN = 0.002
DWELL_GUIDE = 1024  # buckets of u in the dwell draw's guide table (a power of two)
GUIDE = 64  # buckets of the edge-choice guide table (a power of two: u * GUIDE is exact)
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


def bytes_per_agent_step(event_rate: float = 0.0, move_rate: float = 0.0) -> float:
    """Bytes of agent state the kernel reads and writes per agent per day.

    Every agent's ``left`` is read and written every day (2 + 2 bytes). ``node`` is touched
    only by agents with an event that day (an arrival, a departure, or a dwell drawn on the
    first day at a node): read (2 bytes) by each of them, written (2 bytes) by each agent that
    leaves. ``event_rate`` and ``move_rate`` are those agents per agent-step (see
    ``walk_days_numpy(..., events=...)``). The graph arrays and counters are a few KB and stay
    in cache, so they are left out.

    This counts the bytes the kernel uses. The memory system moves whole 64-byte lines, and
    with events spread over the agents most lines of ``node`` hold one on a given day, so the
    traffic is larger; pass the lines' rates (lines per agent-step x 32 agents a line) to
    count that instead.
    """
    left = np.dtype(LEFT_DTYPE).itemsize
    nd = np.dtype(NODE_DTYPE).itemsize
    return 2 * left + nd * event_rate + nd * move_rate


# Node kinds: what an agent does at a node once it is there.
KIND_HOLD = 0  # a sink, or move probability 0: stays for good (left = HOLD)
KIND_LEAVE = 1  # move probability 1: leaves on its first day there
KIND_DWELL = 2  # geometric dwell, drawn once on arrival
KIND_DAILY = 3  # move probability below DWELL_P_MIN: a leaving draw every day (left = 0)


def node_kinds(offsets: np.ndarray, move_prob: np.ndarray) -> np.ndarray:
    """KIND_* of each node (int8)."""
    deg = np.diff(offsets)
    p = move_prob.astype(np.float64)
    kind = np.full(p.shape[0], KIND_DWELL, dtype=np.int8)
    kind[p < DWELL_P_MIN] = KIND_DAILY
    kind[p >= 1.0] = KIND_LEAVE
    kind[(deg == 0) | (p <= 0.0)] = KIND_HOLD
    return kind


def dwell_table(move_prob: np.ndarray) -> np.ndarray:
    """``T[v, k] = (1 - p_v)^k`` for k = 0..DWELL_K, by repeated float64 multiplication.

    Built the same way (one IEEE multiply per step) by the kernel and the reference, so both
    compare draws against the same numbers.
    """
    q = 1.0 - move_prob.astype(np.float64)
    t = np.empty((q.shape[0], DWELL_K + 1), dtype=np.float64)
    t[:, 0] = 1.0
    for k in range(1, DWELL_K + 1):
        t[:, k] = t[:, k - 1] * q
    return t


@nb.njit(cache=True)
def _tables_nb(
    offsets: np.ndarray, move_prob: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node kinds, dwell_table, and the dwell guide: ``gd[v, b]`` = #{k in 1..K-1 : T[k] >=
    (b+1)/DWELL_GUIDE}, the fewest days any u in [b/G, (b+1)/G) can give within a block."""
    n_nodes = offsets.shape[0] - 1
    kind = np.empty(n_nodes, dtype=np.int8)
    t = np.empty((n_nodes, DWELL_K + 1), dtype=np.float64)
    gd = np.zeros((n_nodes, DWELL_GUIDE), dtype=np.int8)
    for v in range(n_nodes):
        p = np.float64(move_prob[v])
        if offsets[v + 1] == offsets[v] or p <= 0.0:
            kind[v] = KIND_HOLD
        elif p >= 1.0:
            kind[v] = KIND_LEAVE
        elif p < DWELL_P_MIN:
            kind[v] = KIND_DAILY
        else:
            kind[v] = KIND_DWELL
        q = 1.0 - p
        t[v, 0] = 1.0
        for k in range(1, DWELL_K + 1):
            t[v, k] = t[v, k - 1] * q
        c = DWELL_K - 1
        for b in range(DWELL_GUIDE):
            while c > 0 and t[v, c] < (b + 1) / DWELL_GUIDE:
                c -= 1
            gd[v, b] = c
    return kind, t, gd


@nb.njit(cache=True, inline="always")
def _geometric_nb(u: float, t: np.ndarray, gd: np.ndarray, v: np.int64) -> np.int64:
    """Days an agent stays before leaving (failures before the first success) by inversion:
    D = #{k >= 1 : u < (1-p)^k}, in blocks of DWELL_K days (memoryless: u / (1-p)^K is again
    uniform), capped at DWELL_CAP.

    Within a block, T = t[v] does not increase, so {k in 1..K-1 : u < T[k]} is 1..c; the guide
    gives a lower bound for c from u's bucket and comparisons with T finish the count (rarely
    more than one), so c depends on T and u only, as in the reference's plain count.
    """
    tk = t[v, DWELL_K]
    d = 0
    while u < tk and d < DWELL_CAP:
        d += DWELL_K
        u = u / tk
    c = np.int64(gd[v, np.int64(u * DWELL_GUIDE)])
    while c < DWELL_K - 1 and u < t[v, c + 1]:
        c += 1
    return min(d + c, DWELL_CAP)


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
    kind, t, gd = _tables_nb(offsets, move_prob)
    # The edge a leaver takes is the first whose cumulative weight exceeds u (the last if none
    # does). A guide table gives, for u in [b/G, (b+1)/G), the first edge k whose cumulative
    # weight exceeds b/G: no edge before it can be the one. If k is the last edge or its
    # cumulative weight is at least (b+1)/G, k is the one for every u in the bucket; otherwise
    # the entry is -(k + 1) and the kernel scans from k (never, for equal weights on a number
    # of edges that divides G).
    n_nodes = kind.shape[0]
    n_edges = targets.shape[0]
    guide = np.zeros(n_nodes * GUIDE, dtype=np.int32)
    last_edge = np.zeros(n_nodes, dtype=np.int64)
    for v in range(n_nodes):
        last_edge[v] = offsets[v + 1] - 1
        if last_edge[v] < offsets[v]:
            continue  # a sink: nobody leaves it
        k = np.int64(offsets[v])
        for b in range(GUIDE):
            while k < last_edge[v] and np.float64(cumw[k]) <= b / GUIDE:
                k += 1
            clean = k == last_edge[v] or np.float64(cumw[k]) >= (b + 1) / GUIDE
            guide[v * GUIDE + b] = k if clean else -k - 1
    settle = np.zeros(n_nodes, dtype=np.int16)  # left on arrival (KIND_DWELL: drawn then)
    for v in range(n_nodes):
        if kind[v] == KIND_HOLD:
            settle[v] = HOLD
        elif kind[v] != KIND_DAILY:
            settle[v] = -1
    tg = np.zeros(n_edges + 1, dtype=np.int64)
    ln = np.ones(n_edges + 1, dtype=np.int64)
    for k in range(n_edges):
        tg[k] = targets[k]
        ln[k] = lengths[k]
    for d in range(n_days):
        rkey = day_key_nb(seed, WALK_STREAM, day0 + d)
        dkey = day_key_nb(seed, DWELL_STREAM, day0 + d)
        for c in nb.prange(nch):
            counts = arrivals[d, c]
            lo = c * CHUNK
            hi = min(lo + CHUNK, n)
            # Pass 1, over ``left`` only. First list the agents with an event today (left -1,
            # 0 or 1), 32 at a time by a vector compare and compress (simd.py); then, vectorised,
            # travellers count down and waiting agents count up, while agents with an event
            # are left as they are for pass 2 and HOLD never changes. (On a view of the chunk
            # indexed from 0, with no branches and no stores by index: LLVM vectorises it.)
            lv = left[lo:hi]
            sz = hi - lo
            todo = np.empty(sz, dtype=np.uint16)  # offsets within the chunk
            m = 0
            full = sz - sz % 32
            for j in range(0, full, 32):
                m = list_events32(lv, j, todo, m)
            for j in range(full, sz):
                r = lv[j]
                todo[m] = j
                m += (r >= -1) & (r <= 1)
            for j in range(sz):
                r = lv[j]
                lv[j] = r - (r > 1) + ((r < -1) & (r != HOLD))
            # Pass 2: the events, sorted by kind into lists (branch-free) and each list run
            # on its own: arrivals and departures come in a random mix, and branching on which
            # each event is would mispredict about every other time.
            lists = np.empty(3 * m, dtype=np.uint16)
            arr_l = lists[:m]
            go_l = lists[m : 2 * m]
            dwell_l = lists[2 * m :]  # arrivals that draw a dwell
            ma = 0
            mg = 0
            for e in range(m):
                jj = todo[e]
                a1 = left[lo + jj] == 1
                arr_l[ma] = jj
                ma += a1
                go_l[mg] = jj
                mg += 1 - a1
            md = 0
            # Arrivals from transit.
            for e in range(ma):
                jj = arr_l[e]
                i = lo + jj
                v = np.int64(node[i])
                counts[v] += 1
                left[i] = settle[v]
                dwell_l[md] = jj
                md += kind[v] == KIND_DWELL
            # Departures (left -1), and first days at a node without a dwell (left 0). Their
            # edge-choice uniforms first, in a loop of their own that vectorises.
            ug = np.empty(mg, dtype=np.float64)
            for e in range(mg):
                ug[e] = uniform_nb(rkey, lo + np.int64(go_l[e]))
            for e in range(mg):
                jj = go_l[e]
                i = lo + jj
                v = np.int64(node[i])
                if left[i] == 0:  # (rare after day 0) draw the dwell now
                    kd = kind[v]
                    if kd == KIND_HOLD:
                        left[i] = HOLD
                        continue
                    if kd == KIND_DWELL:
                        dw = _geometric_nb(uniform_nb(dkey, 2 * i + 1), t, gd, v)
                        if dw > 0:
                            left[i] = np.int16(-dw)
                            continue
                    elif kd == KIND_DAILY:
                        if uniform_nb(dkey, 2 * i + 1) >= np.float64(move_prob[v]):
                            continue
                # The edge: the first whose cumulative weight exceeds u, from the guide table
                # (u is drawn even at one-edge nodes, where it is not needed: cheaper than a
                # branch that mispredicts).
                u = ug[e]
                k = np.int64(guide[v * GUIDE + np.int64(u * GUIDE)])
                if k < 0:  # an edge's cumulative weight falls inside this bucket: scan
                    k = -k - 1
                    while k < last_edge[v] and u >= np.float64(cumw[k]):
                        k += 1
                w = tg[k]
                node[i] = w
                rr = ln[k] - 1
                arrive = rr == 0  # a one-day edge: arrives today
                counts[w] += arrive
                # (Arithmetic select, not a conditional: whether a leg is one day long is a
                # coin flip from the branch predictor's point of view.)
                sw = np.int64(settle[w])
                left[i] = rr + arrive * (sw - rr)
                dwell_l[md] = jj
                md += arrive & (kind[w] == KIND_DWELL)
            # Dwell draws of today's arrivals at nodes with a geometric dwell (uniforms first,
            # vectorised, as above).
            ud = np.empty(md, dtype=np.float64)
            for e in range(md):
                ud[e] = uniform_nb(dkey, 2 * (lo + np.int64(dwell_l[e])))
            for e in range(md):
                i = lo + np.int64(dwell_l[e])
                w = np.int64(node[i])
                left[i] = np.int16(-(_geometric_nb(ud[e], t, gd, w) + 1))


def _geometric(u: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`_geometric_nb` for many agents (t rows by node v)."""
    tk = t[v, DWELL_K]
    d = np.zeros(u.shape[0], dtype=np.int64)
    u = u.copy()
    more = (u < tk) & (d < DWELL_CAP)
    while more.any():
        d[more] += DWELL_K
        u[more] = u[more] / tk[more]
        more = (u < tk) & (d < DWELL_CAP)
    c = (u[:, None] < t[v, 1:DWELL_K]).sum(axis=1)
    return np.minimum(d + c, DWELL_CAP)


def _settle(
    kind: np.ndarray, t: np.ndarray, v: np.ndarray, key: np.uint64, idx: np.ndarray
) -> np.ndarray:
    """NumPy reference of :func:`_settle_nb`: ``left`` for agents idx just arrived at v."""
    kd = kind[v]
    out = np.zeros(idx.shape[0], dtype=np.int64)
    out[kd == KIND_LEAVE] = -1
    out[kd == KIND_HOLD] = HOLD
    g = kd == KIND_DWELL
    out[g] = -(_geometric(uniforms(key, 2 * idx[g]), t, v[g]) + 1)
    return out.astype(LEFT_DTYPE)


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
    events: np.ndarray | None = None,
) -> None:
    """Vectorised NumPy reference of :func:`walk_days_nb` (same arguments, same results).

    ``events``, if given (int64, shape (n_days, 4)), gets, per day: the number of agents with
    an event (arrival, departure or dwell draw: the agents that read ``node``), the number that
    left a node (and wrote ``node``), and the number of 64-byte lines of ``node`` holding at
    least one of each (what the memory system moves, as opposed to the bytes the kernel uses:
    see :func:`bytes_per_agent_step`).
    """
    n = node.shape[0]
    n_nodes = offsets.shape[0] - 1
    nch = arrivals.shape[1]
    kind = node_kinds(offsets, move_prob)
    t = dwell_table(move_prob)
    max_deg = int(np.diff(offsets).max()) if n_nodes else 0
    chunk_of = np.arange(n, dtype=np.int64) // CHUNK
    for d in range(n_days):
        rkey = day_key(seed, WALK_STREAM, day0 + d)
        dkey = day_key(seed, DWELL_STREAM, day0 + d)
        r = left.copy()
        ev = (r >= -1) & (r <= 1)
        left[:] = r - (r > 1) + ((r < -1) & (r != HOLD))
        # Arrivals from transit settle at their node.
        arr_idx = np.flatnonzero(r == 1)
        left[arr_idx] = _settle(kind, t, node[arr_idx].astype(np.int64), dkey, arr_idx)
        # First day at a node without a dwell: draw it (or, for KIND_DAILY, today's chance).
        idx = np.flatnonzero(r == 0)
        v = node[idx].astype(np.int64)
        kd = kind[v]
        hold = kd == KIND_HOLD
        left[idx[hold]] = HOLD
        stay = np.zeros(idx.shape[0], dtype=bool)
        g = kd == KIND_DWELL
        dw = _geometric(uniforms(dkey, 2 * idx[g] + 1), t, v[g])
        left[idx[g][dw > 0]] = -dw[dw > 0]
        stay[np.flatnonzero(g)[dw > 0]] = True
        dl = kd == KIND_DAILY
        u = uniforms(dkey, 2 * idx[dl] + 1)
        stay[np.flatnonzero(dl)[u >= move_prob[v[dl]].astype(np.float64)]] = True
        go = np.sort(np.concatenate([np.flatnonzero(r == -1), idx[~hold & ~stay]]))
        # Leavers choose an edge by cumulative weight.
        v = node[go].astype(np.int64)
        k = offsets[v].astype(np.int64)
        last = offsets[v + 1].astype(np.int64) - 1
        u = uniforms(rkey, go)
        for _ in range(max_deg - 1):
            k += (k < last) & (u >= cumw[k].astype(np.float64))
        w = targets[k].astype(np.int64)
        node[go] = w
        rr = lengths[k].astype(np.int64) - 1
        left[go] = rr
        now = rr == 0
        left[go[now]] = _settle(kind, t, w[now], dkey, go[now])
        where = np.concatenate([arr_idx, go[now]])
        flat = chunk_of[where] * n_nodes + node[where]
        arrivals[d] += (
            np.bincount(flat, minlength=nch * n_nodes).reshape(nch, n_nodes).astype(arrivals.dtype)
        )
        if events is not None:
            per_line = 64 // node.itemsize
            events[d, 0] += int(np.count_nonzero(ev))
            events[d, 1] += go.shape[0]
            events[d, 2] += np.unique(np.flatnonzero(ev) // per_line).shape[0]
            events[d, 3] += np.unique(go // per_line).shape[0]
