"""Mesa 3 on the same graph walk as corridor's kernel, extrapolated to 1,000,000 x 100 days.

Mesa is the common Python ABM framework: one Python object per agent and a method call per
agent per step (``model.agents.shuffle_do("step")``). Each Mesa agent here walks the same
Markov chain as :func:`corridor.engine.walk.walk_days_nb` on corridor_graph() (count down while
travelling; at a node, leave with the node's move probability each day and pick an edge by
cumulative weight), with Mesa's own ``random``. It draws every day whether to leave, as Flee
does; corridor's kernel draws the geometric number of days before leaving once, on arrival:
the same law for the wait, so the same chain in distribution. Mesa cannot run 10^8 agent-steps
in a benchmark's time, so it runs a smaller population and its time is extrapolated linearly in
agent-steps (time per agent-step x 10^8); corridor's kernel is measured at the full size.
Run: ``python benchmarks/mesa_bench.py [--agents N] [--days D]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numba

from corridor.engine import walk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine  # noqa: E402  (sibling benchmark module)

SEED = 20240110
TARGET_AGENTS = 1_000_000
TARGET_DAYS = 100


def _model_class() -> type:
    import mesa

    class Walker(mesa.Agent):
        """One migrant: where it is, and travel days still to go."""

        def __init__(self, model: mesa.Model) -> None:
            super().__init__(model)
            self.node = 0
            self.left = 0

        def step(self) -> None:
            m = self.model
            if self.left > 0:
                self.left -= 1
                if self.left == 0:
                    m.arrivals[self.node] += 1
                return
            v = self.node
            k, e1 = m.offsets[v], m.offsets[v + 1]
            if k == e1:
                return
            u = self.random.random()
            mp = m.move_prob[v]
            if u >= mp:
                return
            while k < e1 - 1 and u >= mp * m.cumw[k]:
                k += 1
            self.node = m.targets[k]
            self.left = m.lengths[k] - 1
            if self.left == 0:
                m.arrivals[self.node] += 1

    class WalkModel(mesa.Model):
        """The corridor graph as plain Python lists, and n walkers at the origin."""

        def __init__(self, n: int, seed: int = SEED) -> None:
            super().__init__(seed=seed)
            g = walk.corridor_graph()
            self.offsets = g.offsets.tolist()
            self.targets = g.targets.tolist()
            self.cumw = [float(x) for x in g.cumw]
            self.lengths = g.lengths.tolist()
            self.move_prob = [float(x) for x in g.move_prob]
            self.arrivals = [0] * g.n_nodes
            for _ in range(n):
                Walker(self)

        def step(self) -> None:
            self.agents.shuffle_do("step")

    return WalkModel


def run_mesa(n_agents: int, days: int) -> dict[str, Any]:
    """Build and step a Mesa model; time the steps only."""
    import mesa

    model_cls = _model_class()
    t0 = time.perf_counter()
    model = model_cls(n_agents)
    t_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(days):
        model.step()
    t_run = time.perf_counter() - t0
    rate = n_agents * days / t_run
    return {
        "mesa_version": mesa.__version__,
        "agents": n_agents,
        "days": days,
        "setup_s": t_setup,
        "run_s": t_run,
        "agent_steps_per_s": rate,
        "extrapolated_s_1M_x_100d": TARGET_AGENTS * TARGET_DAYS / rate,
        "method": (
            f"measured {n_agents:,} agents x {days} days; time for "
            f"{TARGET_AGENTS:,} x {TARGET_DAYS} = measured time per agent-step x "
            f"{TARGET_AGENTS * TARGET_DAYS:.0e} (linear in agent-steps)"
        ),
    }


def bench(
    n_agents: int = 20_000, days: int = 20, corridor: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Mesa at n_agents x days vs corridor's kernel (all threads) at 1,000,000 x 100.

    ``corridor`` reuses a measurement from engine.measure_walk instead of timing again.
    """
    try:
        import mesa  # noqa: F401
    except ImportError as exc:
        return {"available": False, "error": f"mesa not importable: {exc}"}
    me = run_mesa(n_agents, days)
    if corridor is None:
        engine.warmup()
        corridor = engine.measure_walk(TARGET_AGENTS, TARGET_DAYS, threads=None)
        corridor.pop("_state", None)
    return {
        "available": True,
        "mesa": me,
        "corridor": {k: v for k, v in corridor.items() if not k.startswith("_")},
        "ratio": corridor["agent_steps_per_s"] / me["agent_steps_per_s"],
    }


def report(res: dict[str, Any]) -> None:
    """Print a result of :func:`bench`."""
    if not res.get("available"):
        print(f"Mesa: not available ({res.get('error')})")
        return
    me, co = res["mesa"], res["corridor"]
    print(f"Mesa {me['mesa_version']}: {me['agents']:,} agents x {me['days']} days")
    print(f"  Mesa      {me['agent_steps_per_s']:.3e} agent-steps/s (1 thread, Python)")
    print(
        f"  Mesa extrapolated to {TARGET_AGENTS:,} x {TARGET_DAYS} d: "
        f"{me['extrapolated_s_1M_x_100d']:.0f} s ({me['method']})"
    )
    print(
        f"  corridor  {co['agent_steps_per_s']:.3e} agent-steps/s at {co['agents']:,} x "
        f"{co['days']} d (numba, {co.get('threads', numba.get_num_threads())} threads): "
        f"{co['best_s']:.2f} s"
    )
    print(f"  ratio corridor/Mesa = {res['ratio']:.0f}x")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--json", type=Path, help="also write the result here")
    a = ap.parse_args(argv)
    res = bench(a.agents, a.days)
    report(res)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
