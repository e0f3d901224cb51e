"""How close the walk kernel comes to the memory-bandwidth bound.

A LASER-style kernel touches a few bytes per agent per day, so its ceiling is memory bandwidth
divided by those bytes. We measure bandwidth with a NumPy copy of >= 1 GiB (best of a few,
counting the bytes read plus the bytes written), count the bytes of agent state the kernel
reads and writes per agent-step (walk.bytes_per_agent_step: every agent's int16 ``left`` read
and written, 4 B, plus int16 ``node`` read by the agents with an event that day and written
by those that move, at the rates the NumPy reference counts for the same workload; the graph
and counters are a few KB and stay in cache), and report

    fraction = achieved agent-steps/s / (bandwidth / bytes per agent-step).

The memory system moves 64-byte lines, not bytes: with events spread over the agents most
lines of ``node`` hold one on any day, so the traffic is larger than the bytes used. That
line count is reported too (``line_bytes_per_agent_step``, ``fraction_by_lines``); the headline
fraction uses the bytes the kernel uses, the smaller count.

A multi-threaded (numba prange) copy is measured too, because one core may not saturate the
memory system; the bound uses the larger of the two bandwidths. Note that 10^6 agents are 4 MB
of state, which fits in cache, so at that size the kernel is not streaming from DRAM at all; a
fraction well below 1 then says the kernel is compute-bound (hashing, branching), not that
memory is slow. ``--stream-agents`` runs a population too large for cache as well.
Run: ``python benchmarks/bandwidth.py [--gib 1] [--stream-agents 100000000]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from corridor.engine import walk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine  # noqa: E402  (sibling benchmark module)

RATE_AGENTS = 250_000  # agents in the NumPy-reference run that counts events per agent-step


@nb.njit(parallel=True, cache=True)
def _parallel_copy(dst: np.ndarray, src: np.ndarray) -> None:
    n = src.shape[0]
    block = 1 << 20
    for b in nb.prange((n + block - 1) // block):
        lo = b * block
        hi = min(lo + block, n)
        for i in range(lo, hi):
            dst[i] = src[i]


def copy_bandwidth(gib: float = 1.0, repeats: int = 5) -> dict[str, float]:
    """Best bytes/s (read + write) of np.copyto and of a numba prange copy over gib GiB."""
    n = int(gib * 2**30) // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    moved = 2 * src.nbytes

    def best(fn: Any) -> float:
        fn()  # first touch of the pages, and compilation, are not timed
        t = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
        return moved / min(t)

    bw_np = best(lambda: np.copyto(dst, src))
    bw_par = best(lambda: _parallel_copy(dst, src))
    return {
        "bytes_copied": float(src.nbytes),
        "numpy_copy_Bps": bw_np,
        "parallel_copy_Bps": bw_par,
        "threads": float(nb.get_num_threads()),
    }


def bound_fraction(achieved: float, bandwidth: float, bytes_per_step: int) -> float:
    """achieved agent-steps/s as a fraction of bandwidth / bytes-per-agent-step."""
    return achieved / (bandwidth / bytes_per_step)


def bench(
    gib: float = 1.0,
    repeats: int = 5,
    achieved: dict[str, Any] | None = None,
    stream_agents: int = 0,
    stream_days: int = 5,
) -> dict[str, Any]:
    """Bandwidth, bytes per agent-step and the fraction of the bound the kernel reaches.

    ``achieved`` is an engine.measure_walk result (numba, all threads) to reuse; without it the
    kernel is timed here at 1,000,000 x 100.
    """
    bw = copy_bandwidth(gib, repeats)
    bandwidth = max(bw["numpy_copy_Bps"], bw["parallel_copy_Bps"])
    if achieved is None:
        engine.warmup()
        achieved = engine.measure_walk(1_000_000, 100)
    # Event rates per agent-step are the same in expectation at any N: count them on a sample.
    rates = engine.event_rates(min(achieved["agents"], RATE_AGENTS), achieved["days"])
    bps = rates["bytes_per_agent_step"]
    rate = achieved["agent_steps_per_s"]
    out: dict[str, Any] = {
        **bw,
        "bandwidth_Bps": bandwidth,
        "event_rates": rates,
        "bytes_per_agent_step": bps,
        "line_bytes_per_agent_step": rates["line_bytes_per_agent_step"],
        "bound_agent_steps_per_s": bandwidth / bps,
        "achieved_agent_steps_per_s": rate,
        "achieved_at": f"{achieved['agents']:,} agents x {achieved['days']} days",
        "fraction": bound_fraction(rate, bandwidth, bps),
        "fraction_vs_numpy_copy": bound_fraction(rate, bw["numpy_copy_Bps"], bps),
        "fraction_by_lines": bound_fraction(rate, bandwidth, rates["line_bytes_per_agent_step"]),
    }
    if stream_agents:
        srates = engine.event_rates(min(stream_agents, RATE_AGENTS), stream_days)
        big = engine.measure_walk(stream_agents, stream_days, repeats=1)
        state = np.dtype(walk.NODE_DTYPE).itemsize + np.dtype(walk.LEFT_DTYPE).itemsize
        out["stream"] = {
            "agents": stream_agents,
            "days": stream_days,
            "state_bytes": stream_agents * state,
            "bytes_per_agent_step": srates["bytes_per_agent_step"],
            "line_bytes_per_agent_step": srates["line_bytes_per_agent_step"],
            "agent_steps_per_s": big["agent_steps_per_s"],
            "fraction": bound_fraction(
                big["agent_steps_per_s"], bandwidth, srates["bytes_per_agent_step"]
            ),
            "fraction_by_lines": bound_fraction(
                big["agent_steps_per_s"], bandwidth, srates["line_bytes_per_agent_step"]
            ),
        }
    return out


def report(res: dict[str, Any]) -> None:
    """Print a result of :func:`bench`."""
    gb = res["bytes_copied"] / 2**30
    print(f"memory bandwidth (copy of {gb:.1f} GiB, read + write bytes, best of runs):")
    print(f"  numpy copyto (1 thread)      {res['numpy_copy_Bps'] / 1e9:6.1f} GB/s")
    print(
        f"  numba prange copy ({res['threads']:.0f} threads) "
        f"{res['parallel_copy_Bps'] / 1e9:6.1f} GB/s"
    )
    r = res["event_rates"]
    print(
        f"  walk kernel: {res['bytes_per_agent_step']:.2f} bytes per agent-step (left int16 "
        f"read + written by all; node int16 read by the {r['event_rate']:.3f} with an event, "
        f"written by the {r['move_rate']:.3f} that move); by 64-byte lines "
        f"{res['line_bytes_per_agent_step']:.2f}"
    )
    print(
        f"  bound {res['bound_agent_steps_per_s']:.3e} agent-steps/s; achieved "
        f"{res['achieved_agent_steps_per_s']:.3e} ({res['achieved_at']}): "
        f"fraction {res['fraction']:.3f} (vs numpy copy alone {res['fraction_vs_numpy_copy']:.3f};"
        f" by lines {res['fraction_by_lines']:.3f})"
    )
    if "stream" in res:
        s = res["stream"]
        print(
            f"  out of cache: {s['agents']:,} agents ({s['state_bytes'] / 1e6:.0f} MB state) x "
            f"{s['days']} d: {s['agent_steps_per_s']:.3e} agent-steps/s, "
            f"{s['bytes_per_agent_step']:.2f} B/agent-step: fraction {s['fraction']:.3f} "
            f"(by lines, {s['line_bytes_per_agent_step']:.2f} B: {s['fraction_by_lines']:.3f})"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--stream-agents", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the result here")
    a = ap.parse_args(argv)
    res = bench(a.gib, a.repeats, stream_agents=a.stream_agents)
    report(res)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
