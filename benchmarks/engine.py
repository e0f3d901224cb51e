"""Throughput of corridor's graph-walk kernel: numba on one thread, on all threads, and NumPy.

The workload is the one Flee runs (agents walking a location graph), at the scale that matters
for the corridor: 1,000,000 agents for 100 days on corridor_graph(). The first call, which
compiles the kernel or loads it from numba's on-disk cache, is timed separately and never
counted in a throughput. Throughputs are best of ``repeats`` runs from a fresh state.
Run: ``python benchmarks/engine.py [--agents N] [--days D]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

from corridor.engine import walk

SEED = 20240110


def warmup() -> float:
    """Seconds for the first call of the numba kernel (JIT compile or on-disk cache load)."""
    g = walk.corridor_graph()
    node, left = walk.init_agents(256)
    t0 = time.perf_counter()
    walk.walk_days_nb(node, left, *_graph_args(g), SEED, 0, 3, walk.new_arrivals(256, g.n_nodes, 3))
    return time.perf_counter() - t0


COMPILE_PROBE = """
import time
from corridor.engine import walk
g = walk.corridor_graph()
node, left = walk.init_agents(256)
t0 = time.perf_counter()
walk.walk_days_nb(node, left, g.offsets, g.targets, g.cumw, g.lengths, g.move_prob,
                  1, 0, 3, walk.new_arrivals(256, g.n_nodes, 3))
print(time.perf_counter() - t0)
"""


def compile_fresh() -> float | None:
    """Seconds to JIT-compile the kernel from nothing: its first call in a fresh interpreter
    with an empty numba cache directory (a warm cache only measures loading)."""
    with tempfile.TemporaryDirectory() as cache:
        p = subprocess.run(
            [sys.executable, "-c", COMPILE_PROBE],
            env=os.environ | {"NUMBA_CACHE_DIR": cache},
            capture_output=True,
            text=True,
            timeout=600,
        )
    try:
        return float(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _graph_args(g: walk.Graph) -> tuple[np.ndarray, ...]:
    return (g.offsets, g.targets, g.cumw, g.lengths, g.move_prob)


def measure_walk(
    n_agents: int,
    days: int,
    kernel: Callable[..., None] = walk.walk_days_nb,
    threads: int | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    """Time ``kernel`` on n_agents x days of corridor_graph(); best and median of repeats.

    ``threads`` sets numba's thread count for the numba kernel (restored afterwards).
    Returns the final state too, so callers can check kernels against each other.
    """
    g = walk.corridor_graph()
    before = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    times = []
    try:
        for _ in range(repeats):
            node, left = walk.init_agents(n_agents)
            arr = walk.new_arrivals(n_agents, g.n_nodes, days)
            t0 = time.perf_counter()
            kernel(node, left, *_graph_args(g), SEED, 0, days, arr)
            times.append(time.perf_counter() - t0)
        used = numba.get_num_threads()
    finally:
        numba.set_num_threads(before)
    steps = n_agents * days
    return {
        "agents": n_agents,
        "days": days,
        "threads": used if kernel is walk.walk_days_nb else 1,
        "repeats": repeats,
        "best_s": min(times),
        "median_s": statistics.median(times),
        "agent_steps_per_s": steps / min(times),
        "agent_steps_per_s_median": steps / statistics.median(times),
        "_state": (node, left, arr),
    }


def event_rates(n_agents: int, days: int) -> dict[str, float]:
    """Per agent-step: agents with an event (they read ``node``), agents that move (they write
    it), and 64-byte lines of ``node`` holding one of each, for the workload of
    :func:`measure_walk` (the NumPy reference, which takes the kernel's draws, counts them).
    """
    g = walk.corridor_graph()
    node, left = walk.init_agents(n_agents)
    ev = np.zeros((days, 4), dtype=np.int64)
    walk.walk_days_numpy(
        node, left, *_graph_args(g), SEED, 0, days, walk.new_arrivals(n_agents, g.n_nodes, days), ev
    )
    steps = n_agents * days
    per_line = 64 // np.dtype(walk.NODE_DTYPE).itemsize
    out = {
        "agents": n_agents,
        "days": days,
        "event_rate": ev[:, 0].sum() / steps,
        "move_rate": ev[:, 1].sum() / steps,
        "line_read_rate": ev[:, 2].sum() / steps,
        "line_write_rate": ev[:, 3].sum() / steps,
    }
    out["bytes_per_agent_step"] = walk.bytes_per_agent_step(out["event_rate"], out["move_rate"])
    out["line_bytes_per_agent_step"] = walk.bytes_per_agent_step(
        out["line_read_rate"] * per_line, out["line_write_rate"] * per_line
    )
    return {k: float(v) for k, v in out.items()}


def bench(
    n_agents: int = 1_000_000,
    days: int = 100,
    numpy_agents: int | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    """Numba at 1 thread and all threads, NumPy reference; checks they end in the same state.

    ``numpy_agents`` lets quick runs time the slow reference on fewer agents (rates are per
    agent-step; stated in the output).
    """
    compile_s = warmup()
    cache_hits = sum(walk.walk_days_nb.stats.cache_hits.values())
    fresh_s = compile_fresh()
    all_threads = numba.config.NUMBA_NUM_THREADS
    one = measure_walk(n_agents, days, threads=1, repeats=repeats)
    many = measure_walk(n_agents, days, threads=all_threads, repeats=repeats)
    n_np = n_agents if numpy_agents is None else numpy_agents
    ref = measure_walk(n_np, days, kernel=walk.walk_days_numpy, repeats=1)
    if n_np == n_agents:
        same = all(np.array_equal(a, b) for a, b in zip(many["_state"], ref["_state"], strict=True))
    else:
        chk = measure_walk(n_np, days, threads=all_threads, repeats=1)
        same = all(np.array_equal(a, b) for a, b in zip(chk["_state"], ref["_state"], strict=True))
    for r in (one, many, ref):
        del r["_state"]
    g = walk.corridor_graph()
    return {
        "graph": {"nodes": g.n_nodes, "edges": g.n_edges, "chunk": walk.CHUNK},
        "bytes_per_agent": np.dtype(walk.NODE_DTYPE).itemsize + np.dtype(walk.LEFT_DTYPE).itemsize,
        "first_call_s": compile_s,
        "first_call_from_cache": bool(cache_hits),
        "compile_fresh_s": fresh_s,
        "numba_1thread": one,
        "numba_all": many,
        "numpy": ref,
        "numba_equals_numpy": bool(same),
        "speedup_threads": many["agent_steps_per_s"] / one["agent_steps_per_s"],
        "ratio_1thread_vs_numpy": one["agent_steps_per_s"] / ref["agent_steps_per_s"],
        "ratio_all_vs_numpy": many["agent_steps_per_s"] / ref["agent_steps_per_s"],
    }


def report(res: dict[str, Any]) -> None:
    """Print a result of :func:`bench`."""
    one, many, ref = res["numba_1thread"], res["numba_all"], res["numpy"]
    g = res["graph"]
    print(
        f"walk kernel on corridor_graph ({g['nodes']} nodes, {g['edges']} edges), "
        f"{res['bytes_per_agent']} bytes/agent"
    )
    how = "loaded from numba's cache" if res["first_call_from_cache"] else "compiled"
    fresh = res["compile_fresh_s"]
    print(
        f"  first call ({how}; not timed below): {res['first_call_s']:.2f} s; "
        f"compile from an empty cache: {'n/a' if fresh is None else f'{fresh:.2f} s'}"
    )
    for label, r in (("numba 1 thread", one), (f"numba {many['threads']} threads", many)):
        print(
            f"  {label:<16} {r['agents']:,} x {r['days']} d: {r['agent_steps_per_s']:.3e} "
            f"agent-steps/s (best of {r['repeats']}; median {r['agent_steps_per_s_median']:.3e})"
        )
    print(
        f"  {'numpy reference':<16} {ref['agents']:,} x {ref['days']} d: "
        f"{ref['agent_steps_per_s']:.3e} agent-steps/s (1 run)"
    )
    print(
        f"  ratios: numba-1/numpy {res['ratio_1thread_vs_numpy']:.1f}x, "
        f"numba-{many['threads']}/numpy {res['ratio_all_vs_numpy']:.1f}x, "
        f"threads speedup {res['speedup_threads']:.2f}x"
    )
    print(f"  numba and numpy end in identical state: {res['numba_equals_numpy']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--numpy-agents", type=int, default=None)
    ap.add_argument("--json", type=Path, help="also write the result here")
    a = ap.parse_args(argv)
    res = bench(a.agents, a.days, a.numpy_agents)
    report(res)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
