"""Flee 3.1 against corridor's walk kernel on the same graph walk.

Flee (Suleimenova, Bell & Groen 2017) is the reference agent-based model of forced migration on a
location graph; its per-agent Python loop is the cost a LASER-style kernel replaces. We write
corridor's places and routes in Flee's input format (locations.csv, routes.csv, closures.csv,
simsetting.yml), load them through Flee's own InputGeography, and make Flee walk the same Markov
chain as :mod:`corridor.engine.walk`:

* links are made one-way after loading (Flee's linkUp adds both directions; corridor's graph is
  directed), so sinks (camps with move chance 0) absorb;
* ``distance_power: 0`` makes every link weight the endpoint score (1.0): an equal split, as in
  corridor_graph();
* each location's move chance is set to corridor's move probability;
* a link of L days gets distance (L + 1) * max_move_speed - 1 km. Flee lets an agent that
  arrives with distance to spare leave again the same day, so this makes departures fall on the
  same days as in corridor (a leg of L days, then the next day's move draw).

Flee draws every day whether an agent at a location leaves; corridor's kernel draws, on
arrival, the geometric number of days before it leaves (P(D = k) = (1-p)^k p), which is the same
law for the wait: the same chain in distribution. Random numbers differ too (Flee uses Python's
``random``), so the runs agree in distribution, not agent by agent; the final occupancy of the
two is printed side by side as a check.
Run: ``.venv-bench/bin/python benchmarks/flee_bench.py [--agents N] [--days D]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from corridor.engine import walk
from corridor.model import places

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine  # noqa: E402  (sibling benchmark module)

SEED = 20240110
MAX_MOVE_SPEED = 360.0  # Flee's default km per day


def flee_location_type(g: walk.Graph, v: int) -> str:
    """Flee's closest location type for node v (the move chance is overwritten anyway)."""
    deg = g.offsets[v + 1] - g.offsets[v]
    if deg == 0:
        return "camp"
    if v == 0:
        return "conflict_zone"
    return "forward" if g.move_prob[v] >= 1.0 else "town"


def write_flee_inputs(folder: Path, g: walk.Graph) -> None:
    """Write locations.csv, routes.csv, closures.csv and simsetting.yml for Flee 3.1."""
    folder.mkdir(parents=True, exist_ok=True)
    country = {}
    for name in g.names:
        if name in places.SECTORS or name == "us_interior":
            country[name] = "usa"
        elif name in ("origin", "darien"):
            country[name] = "south"
        else:
            country[name] = "mexico"
    rows = ["#name,region,country,lat,lon,location_type,conflict_date,pop/cap"]
    for v, name in enumerate(g.names):
        kind = flee_location_type(g, v)
        pop = "1000000" if kind == "conflict_zone" else ""
        rows.append(f"{name},{name},{country[name]},0.0,0.0,{kind},0,{pop}")
    (folder / "locations.csv").write_text("\n".join(rows) + "\n")
    rows = ["#name1,name2,distance,forced_redirection"]
    for v, name in enumerate(g.names):
        for k in range(g.offsets[v], g.offsets[v + 1]):
            km = (int(g.lengths[k]) + 1) * MAX_MOVE_SPEED - 1.0
            rows.append(f"{name},{g.names[g.targets[k]]},{km},0")
    (folder / "routes.csv").write_text("\n".join(rows) + "\n")
    (folder / "closures.csv").write_text("#closure_type,name1,name2,closure_start,closure_end\n")
    (folder / "simsetting.yml").write_text(
        "log_levels:\n  agent: 0\n  link: 0\n  camp: 0\n  conflict: 0\n  init: 0\n"
        "spawn_rules:\n  take_from_population: False\n  insert_day0: False\n"
        "move_rules:\n"
        f"  max_move_speed: {MAX_MOVE_SPEED}\n"
        "  distance_power: 0.0\n  awareness_level: 1\n  camp_movechance: 0.0\n"
        f"  conflict_movechance: {float(g.move_prob[0])}\n"
        "  default_movechance: 0.1\n"
    )


def build_flee(folder: Path, g: walk.Graph) -> tuple[Any, list[Any]]:
    """Load the inputs through Flee's InputGeography and make the links one-way."""
    from flee import InputGeography, flee
    from flee.SimulationSettings import SimulationSettings

    SimulationSettings.ReadFromYML(str(folder / "simsetting.yml"))
    e = flee.Ecosystem()
    e.print_location_output = False
    ig = InputGeography.InputGeography()
    ig.ReadLocationsFromCSV(str(folder / "locations.csv"))
    ig.ReadLinksFromCSV(str(folder / "routes.csv"))
    ig.ReadClosuresFromCSV(str(folder / "closures.csv"))
    e, lm = ig.StoreInputGeographyInEcosystem(e)
    locs = [lm[name] for name in g.names]
    directed = {
        (g.names[v], g.names[g.targets[k]])
        for v in range(g.n_nodes)
        for k in range(g.offsets[v], g.offsets[v + 1])
    }
    for v, loc in enumerate(locs):
        loc.links = [lk for lk in loc.links if (loc.name, lk.endpoint.name) in directed]
        loc.movechance = float(g.move_prob[v]) if loc.links else 0.0
    return e, locs


def run_flee(n_agents: int, days: int, g: walk.Graph | None = None) -> dict[str, Any]:
    """Spawn n_agents at the origin on day 0 and evolve Flee for `days` days."""
    g = walk.corridor_graph() if g is None else g
    random.seed(SEED)
    np.random.seed(SEED % 2**32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_flee_inputs(folder, g)
        noise = io.StringIO()
        with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
            t0 = time.perf_counter()
            e, locs = build_flee(folder, g)
            for _ in range(n_agents):
                e.addAgent(location=locs[0], attributes={})
            t_setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            for t in range(days):
                e.enact_border_closures(t)
                e.evolve()
            t_run = time.perf_counter() - t0
    at = np.zeros(g.n_nodes, dtype=np.int64)
    index = {name: i for i, name in enumerate(g.names)}
    for a in e.agents:
        if not a.travelling:
            at[index[a.location.name]] += 1
    return {
        "agents": n_agents,
        "days": days,
        "setup_s": t_setup,
        "run_s": t_run,
        "agent_steps_per_s": n_agents * days / t_run,
        "at_node_share": (at / n_agents).tolist(),
    }


def run_corridor(n_agents: int, days: int, repeats: int = 5) -> dict[str, Any]:
    """corridor's walk kernel on the same graph, N and days: all threads, and 1 thread.

    Best of ``repeats``: at small N each day is a short parallel region, so a busy
    neighbour process on the machine shows up as large outliers.
    """
    g = walk.corridor_graph()
    engine.warmup()
    one = engine.measure_walk(n_agents, days, threads=1, repeats=repeats)
    one.pop("_state")
    res = engine.measure_walk(n_agents, days, repeats=repeats)
    node, left, _ = res.pop("_state")
    at, _ = walk.occupancy(node, left, g.n_nodes)
    return res | {
        "run_s": res["best_s"],
        "agent_steps_per_s_1thread": one["agent_steps_per_s"],
        "at_node_share": (at / n_agents).tolist(),
    }


def bench(n_agents: int, days: int) -> dict[str, Any]:
    """Flee and corridor on the same graph, N and days, in this process."""
    try:
        import flee  # noqa: F401
    except ImportError as exc:  # report, never fake
        return {"available": False, "error": f"flee not importable: {exc}"}
    fl = run_flee(n_agents, days)
    co = run_corridor(n_agents, days)
    return {
        "available": True,
        "flee_version": _flee_version(),
        "graph_nodes": len(places.PLACES),
        "flee": fl,
        "corridor": co,
        "ratio": co["agent_steps_per_s"] / fl["agent_steps_per_s"],
        "ratio_1thread": co["agent_steps_per_s_1thread"] / fl["agent_steps_per_s"],
    }


def _flee_version() -> str:
    from importlib.metadata import version

    try:
        return version("flee")
    except Exception:  # noqa: BLE001 - version is informative only
        return "unknown"


def report(res: dict[str, Any]) -> None:
    """Print a result of :func:`bench`."""
    if not res.get("available"):
        print(f"Flee: not available ({res.get('error')})")
        return
    fl, co = res["flee"], res["corridor"]
    print(f"Flee {res['flee_version']}: {fl['agents']:,} agents x {fl['days']} days")
    print(f"  Flee setup (addAgent) {fl['setup_s']:.2f} s, evolve {fl['run_s']:.2f} s")
    print(f"  Flee      {fl['agent_steps_per_s']:.3e} agent-steps/s (1 thread, Python)")
    print(
        f"  corridor  {co['agent_steps_per_s']:.3e} agent-steps/s "
        f"(numba, {co['threads']} threads, best of {co['repeats']}); "
        f"{co['agent_steps_per_s_1thread']:.3e} on 1 thread"
    )
    print(
        f"  ratio corridor/Flee = {res['ratio']:.0f}x "
        f"({res['ratio_1thread']:.0f}x thread for thread)"
    )
    print("  final share of agents at each node (Flee vs corridor, same chain, different draws):")
    for name, a, b in zip(places.PLACES, fl["at_node_share"], co["at_node_share"], strict=True):
        if a > 0.005 or b > 0.005:
            print(f"    {name:<18} {a:6.3f} {b:6.3f}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--json", type=Path, help="also write the result here")
    a = ap.parse_args(argv)
    res = bench(a.agents, a.days)
    report(res)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
