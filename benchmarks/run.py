"""Run the whole benchmark suite; write benchmarks/results/latest.json and docs/performance.md.

Items: the walk kernel (numba 1 thread / all threads / NumPy), Flee 3.1 and Mesa 3 on the same
graph walk, the memory-bandwidth bound, and two runs of the simulator itself (the full-scale
baseline scenario and the interactive scale 100). Each item is wrapped so that one failing or
missing piece (no Flee, no ``corridor.run`` yet) is reported as such and the rest still runs.
Every figure is written with the machine it ran on.

    python benchmarks/run.py            # full sizes (minutes)
    python benchmarks/run.py --quick    # reduced sizes, under two minutes

The last line printed is ``flee_ratio=<x> mesa_ratio=<y> bound_fraction=<z>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bandwidth  # noqa: E402
import engine  # noqa: E402
import flee_bench  # noqa: E402
import mesa_bench  # noqa: E402

SIZES: dict[str, dict[str, Any]] = {
    "quick": {
        "agents": 1_000_000,
        "days": 100,
        "repeats": 2,
        "numpy_agents": 250_000,
        "flee_agents": 20_000,
        "flee_days": 100,
        "mesa_agents": 10_000,
        "mesa_days": 20,
        "gib": 1.0,
        "bw_repeats": 3,
        "stream_agents": 0,
        "scales": (100,),
        "scenario_timeout_s": 60,
    },
    "full": {
        "agents": 1_000_000,
        "days": 100,
        "repeats": 5,
        "numpy_agents": 1_000_000,
        "flee_agents": 1_000_000,
        "flee_days": 100,
        "mesa_agents": 100_000,
        "mesa_days": 100,
        "gib": 1.0,
        "bw_repeats": 5,
        "stream_agents": 100_000_000,
        "scales": (100, 1),
        "scenario_timeout_s": 3600,
    },
}

# Runs in a fresh interpreter so that its peak RSS is the scenario's own.
SCENARIO_SCRIPT = r"""
import json, resource, sys, time
scale = int(sys.argv[1])


def peak_rss_bytes():
    # VmHWM: this address space's peak. ru_maxrss survives fork + exec on Linux, so in a child
    # it reports the benchmark process's own peak (its 1 GB bandwidth arrays) when larger.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


try:
    import corridor
    run = corridor.run
except Exception as exc:
    print(json.dumps({"available": False, "error": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
t0 = time.perf_counter()
run("baseline", scale=100)  # warm-up: JIT compile / cache load, page-in
warm_s = time.perf_counter() - t0
repeats = 1 if scale < 50 else 15  # quick runs: the median of several (the machine is noisy)
walls, loops = [], []
for _ in range(repeats):
    t0 = time.perf_counter()
    ds = run("baseline", scale=scale)
    walls.append(time.perf_counter() - t0)
    loops.append(ds.attrs.get("run_s"))
    attrs = dict(getattr(ds, "attrs", {}))
order = sorted(range(repeats), key=walls.__getitem__)
mid = order[repeats // 2]
resumed = {}
if repeats > 1 and hasattr(corridor, "History"):
    # The dashboard's case: a lever moved from the decision date on. mexico-asks differs from
    # the baseline only from 2024-01-01, so it resumes from the baseline's checkpoint there.
    h = corridor.History()
    run("baseline", scale=scale, history=h)
    rw = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rs = run("mexico-asks", scale=scale, history=h)
        rw.append(time.perf_counter() - t0)
    rw.sort()
    resumed = {
        "resumed_scenario": "mexico-asks",
        "resumed_from": rs.attrs.get("resumed_from"),
        "resumed_wall_s": rw[repeats // 2],
        "resumed_best_wall_s": rw[0],
    }
wall_s = walls[mid]
steps = attrs.get("agent_steps")
run_s = loops[mid]
print(json.dumps({
    "available": True,
    "scale": scale,
    "warmup_s": warm_s,
    "repeats": repeats,
    "wall_s": wall_s,
    "best_wall_s": walls[order[0]],
    "run_s": run_s,
    "compile_s": attrs.get("compile_s"),
    "agent_steps": steps,
    "agent_steps_per_s_wall": steps / wall_s if steps else None,
    "agent_steps_per_s_run": steps / run_s if steps and run_s else None,
    "agents_created": attrs.get("agents_created"),
    "peak_agents": attrs.get("peak_agents"),
    "threads": attrs.get("threads"),
    "peak_rss_bytes": peak_rss_bytes(),
} | resumed))
"""


def machine() -> dict[str, Any]:
    """CPU, cores, RAM, versions and date: the context every figure is reported with."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                ram = int(line.split()[1]) * 1024
                break

    def ver(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "not installed"

    import numba

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "ram_bytes": ram,
        "python": platform.python_version(),
        "numba": numba.__version__,
        "numpy": ver("numpy"),
        "flee": ver("flee"),
        "mesa": ver("mesa"),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def machine_label(m: dict[str, Any]) -> str:
    """One-cell description of the machine for the table."""
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB, "
        f"Python {m['python']}, numba {m['numba']}, {m['date'][:10]}"
    )


def guarded(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one item; a failure becomes a recorded error, not the end of the suite."""
    print(f"\n== {name}", flush=True)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        res = fn()
    except Exception as exc:  # noqa: BLE001 - report whatever broke, keep going
        traceback.print_exc()
        res = {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    res["item_wall_s"] = time.perf_counter() - t0
    # Other work on the machine skews timings; record how busy it was around each item.
    res["load1_before_after"] = [load_before, os.getloadavg()[0]]
    return res


def scenario(scale: int, timeout_s: int) -> dict[str, Any]:
    """corridor.run('baseline', scale) in a fresh interpreter, after a warm-up run."""
    try:
        p = subprocess.run(
            [sys.executable, "-c", SCENARIO_SCRIPT, str(scale)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"available": False, "error": f"timed out after {timeout_s} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {"available": False, "error": f"exit {p.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def report_scenario(res: dict[str, Any]) -> None:
    if not res.get("available"):
        print(f"  not available: {res.get('error')}")
        return
    print(
        f"  scale {res['scale']}: {res['wall_s']:.3f} s wall after warm-up "
        f"(median of {res.get('repeats', 1)}) "
        f"(simulation loop {res['run_s']} s), {res['agent_steps']} agent-steps, "
        f"{res.get('agents_created')} agents created, "
        f"peak RSS {res['peak_rss_bytes'] / 2**20:.0f} MiB"
    )


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def markdown(results: dict[str, Any]) -> str:
    """docs/performance.md: a table in which every figure names its machine."""
    m = results["machine"]
    lab = machine_label(m)
    mode = results["mode"]
    rows: list[tuple[str, str, str]] = []
    e = results["engine"]
    if "numba_1thread" in e:
        for key in ("numba_1thread", "numba_all"):
            r = e[key]
            threads = "1 thread" if r["threads"] == 1 else f"{r['threads']} threads"
            rows.append(
                (
                    f"walk kernel, numba, {threads}",
                    f"{r['agents']:,} agents x {r['days']} days, corridor graph",
                    f"{r['agent_steps_per_s']:.3g} agent-steps/s (best of {r['repeats']})",
                )
            )
        r = e["numpy"]
        rows.append(
            (
                "walk kernel, NumPy reference",
                f"{r['agents']:,} agents x {r['days']} days",
                f"{r['agent_steps_per_s']:.3g} agent-steps/s; numba 1 thread is "
                f"{e['ratio_1thread_vs_numpy']:.1f}x, all threads {e['ratio_all_vs_numpy']:.1f}x",
            )
        )
        how = "numba cache load" if e["first_call_from_cache"] else "JIT compile"
        rows.append(
            (
                "walk kernel, warm-up (excluded from the rates)",
                f"first call ({how}); compile from an empty cache in a fresh process",
                f"{e['first_call_s']:.2f} s; compile {_fmt(e['compile_fresh_s'], '.2f')} s",
            )
        )
    else:
        rows.append(("walk kernel", "-", f"failed: {e.get('error')}"))
    f = results["flee"]
    if f.get("available"):
        rows.append(
            (
                f"Flee {f['flee_version']}",
                f"{f['flee']['agents']:,} agents x {f['flee']['days']} days, same graph walk",
                f"{f['flee']['agent_steps_per_s']:.3g} agent-steps/s; corridor "
                f"{f['corridor']['agent_steps_per_s']:.3g} on the same run: "
                f"**{f['ratio']:.0f}x** ({f['ratio_1thread']:.0f}x on 1 thread)",
            )
        )
    else:
        rows.append(("Flee 3.1", "-", f"not available: {f.get('error')}"))
    me = results["mesa"]
    if me.get("available"):
        r = me["mesa"]
        rows.append(
            (
                f"Mesa {r['mesa_version']}",
                f"{r['agents']:,} agents x {r['days']} days, extrapolated linearly in "
                "agent-steps to 1,000,000 x 100",
                f"{r['agent_steps_per_s']:.3g} agent-steps/s "
                f"({r['extrapolated_s_1M_x_100d']:.0f} s for 10^8); corridor "
                f"{me['corridor']['agent_steps_per_s']:.3g}: **{me['ratio']:.0f}x**",
            )
        )
    else:
        rows.append(("Mesa 3", "-", f"not available: {me.get('error')}"))
    b = results["bandwidth"]
    if "fraction" in b:
        rows.append(
            (
                "memory bandwidth",
                f"copy of {b['bytes_copied'] / 2**30:.0f} GiB, read + write bytes",
                f"NumPy {b['numpy_copy_Bps'] / 1e9:.1f} GB/s, numba prange "
                f"{b['parallel_copy_Bps'] / 1e9:.1f} GB/s",
            )
        )
        rows.append(
            (
                "bandwidth bound",
                f"{b['bytes_per_agent_step']:.2f} B/agent-step used (by 64-byte lines "
                f"{b['line_bytes_per_agent_step']:.2f}); achieved at {b['achieved_at']}",
                f"bound {b['bound_agent_steps_per_s']:.3g} agent-steps/s; "
                f"fraction **{b['fraction']:.3f}** (by lines {b['fraction_by_lines']:.3f})",
            )
        )
        if "stream" in b:
            s = b["stream"]
            rows.append(
                (
                    "bandwidth bound, out of cache",
                    f"{s['agents']:,} agents ({s['state_bytes'] / 1e6:.0f} MB) x {s['days']} days, "
                    f"{s['bytes_per_agent_step']:.2f} B/agent-step used "
                    f"(by lines {s['line_bytes_per_agent_step']:.2f})",
                    f"{s['agent_steps_per_s']:.3g} agent-steps/s; fraction {s['fraction']:.3f} "
                    f"(by lines {s['fraction_by_lines']:.3f})",
                )
            )
    else:
        rows.append(("memory bandwidth", "-", f"failed: {b.get('error')}"))
    for key, label in (("scale_1", "full-scale baseline scenario"), ("scale_100", None)):
        r = results["scenarios"].get(key)
        label = label or "interactive scale (scale 100)"
        if r is None:
            rows.append((label, "-", f"not run in {mode} mode"))
        elif not r.get("available"):
            rows.append((label, "corridor.run('baseline')", f"not available: {r.get('error')}"))
        else:
            rows.append(
                (
                    label,
                    f"corridor.run('baseline', scale={r['scale']}), timed after a warm-up"
                    + (
                        f" (median of {r['repeats']} runs; best {r['best_wall_s']:.3f} s)"
                        if r.get("repeats", 1) > 1
                        else ""
                    ),
                    f"{r['wall_s']:.3f} s wall ({_fmt(r['run_s'], '.3f')} s loop); "
                    f"{_fmt(r['agent_steps'], ',')} agent-steps, "
                    f"{_fmt(r['agent_steps_per_s_wall'], '.3g')} /s; "
                    f"{_fmt(r.get('agents_created'), ',')} agents created "
                    f"({_fmt(r.get('peak_agents'), ',')} at most at once); "
                    f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB",
                )
            )
            if r.get("resumed_wall_s") is not None:
                rows.append(resumed_row(r))
    out = [
        "# Performance",
        "",
        "Generated by `bash benchmarks/run.sh "
        f"{mode}` (benchmarks/run.py); raw numbers in `benchmarks/results/latest.json`.",
        f"Mode: **{mode}**"
        + (" (reduced sizes: see the Workload column)." if mode == "quick" else "."),
        "",
        f"Machine: {m['cpu']}; {m['cores']} cores (numba threads {m['numba_threads']}); "
        f"{m['ram_bytes'] / 2**30:.1f} GiB RAM; Python {m['python']}, numba {m['numba']}, "
        f"NumPy {m['numpy']}, Flee {m['flee']}, Mesa {m['mesa']}; run {m['date']}.",
        "",
        "| Benchmark | Workload | Result | Machine |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {a} | {w} | {r} | {lab} |" for a, w, r in rows]
    out += ["", "## Against the aims", "", "| aim | this run | met |", "| --- | --- | --- |"]
    out += [f"| {a} | {v} | {ok} |" for a, v, ok in aims(results)]
    out += [
        "",
        "## Method",
        "",
        "- **Workload.** The graph walk Flee runs: agents at the nodes of corridor's place graph",
        "  (`corridor.engine.walk.corridor_graph()`, from `places.graph_edges()`, equal split of",
        "  each node's edges) leave with the node's move probability, pick an edge by weight and",
        "  travel its length in days; sinks absorb. All agents start at the origin on day 0.",
        "  An agent-step is one agent for one day, whatever it does that day.",
        "- **corridor.** `walk_days_nb`: 4 bytes of state per agent (int16 node, int16 days",
        "  left: travel days to go, or, negative, days of waiting at the node), counter-based",
        "  draws, `prange` over fixed chunks of 8,192 agents with per-chunk arrival counters, so",
        "  results are identical at any thread count and equal to the NumPy reference (checked",
        "  on every run). An agent draws how long it stays at a node once, on arriving, from",
        "  the geometric law of the node's daily move chance p (inversion of one uniform against",
        "  (1-p)^k); each day a vectorised pass counts every agent's days left up or down, and",
        "  only agents that arrive or leave that day (about 1 in 10) touch `node` and draw.",
        "  Rates are the best of the repeats; the first call (compile or cache load) is timed",
        "  separately.",
        "- **Same chain.** Flee and the Mesa model draw every day whether an agent at a node",
        "  leaves (probability p); corridor draws the number of days before it leaves once",
        "  (P(D = k) = (1-p)^k p). The days an agent waits at a node have the same geometric law",
        "  either way, and the rest (edge choice by weight, travel days, absorbing sinks) is the",
        "  same, so all three walk the same Markov chain in distribution; only the random",
        "  numbers differ.",
        "- **Flee.** Flee's own input files and InputGeography, links made one-way, distance",
        "  weighting off, move chances and leg lengths set so Flee walks the same Markov chain.",
        "  Same N and days as the corridor figure it is compared with.",
        "- **Mesa.** A `mesa.Agent` per migrant with the walk's rules (a leaving draw each day),",
        "  `model.agents.shuffle_do('step')` per day; extrapolated linearly in agent-steps.",
        "- **Bandwidth.** Best of several copies of >= 1 GiB (NumPy, and a numba prange copy);",
        "  bytes counted read + write; bound = bandwidth / bytes per agent-step; the fraction uses",
        "  the larger bandwidth. Bytes per agent-step are those the kernel uses: `left` read and",
        "  written by every agent (4 B), `node` read by the agents with an event that day and",
        "  written by those that move (2 B each), at the rates the NumPy reference counts on the",
        "  same workload (250,000 agents). The memory system moves 64-byte lines, and most",
        "  lines of `node` hold an event on any day, so the traffic by lines is larger; that",
        "  count and its fraction are shown in brackets. At 10^6 agents the state (4 MB) sits in",
        "  cache, so a low fraction means the kernel is compute-bound there, not memory-bound.",
        "- **Scenarios.** `corridor.run` in a fresh interpreter after a warm-up run at scale 100",
        "  (scale 100: the median of 15 runs, the best shown beside it);",
        "  peak memory is the process's peak RSS (`VmHWM` of /proc/self/status, interpreter",
        "  included; not `getrusage`, whose peak a child inherits from the benchmark process).",
        "",
        "Numbers are what this machine gave on this run; they vary run to run on shared machines.",
        "1-minute load average before/after each item (other work on the machine skews timings): "
        + "; ".join(
            f"{k} {v['load1_before_after'][0]:.2f}/{v['load1_before_after'][1]:.2f}"
            for k, v in _items(results)
        )
        + ".",
        "",
    ]
    return "\n".join(out)


def resumed_row(r: dict[str, Any]) -> tuple[str, str, str]:
    """The interactive re-run: a scenario resumed at the decision date from the baseline's
    checkpoint (corridor.History), the same results as a run from the start."""
    return (
        "interactive re-run from the decision date",
        f"corridor.run('{r['resumed_scenario']}', scale={r['scale']}, history=h) after "
        f"corridor.run('baseline', ..., history=h): resumed at {r['resumed_from'] or 'n/a'}, "
        f"median of {r['repeats']} runs (best {r['resumed_best_wall_s']:.3f} s)",
        f"{r['resumed_wall_s']:.3f} s wall; {r['wall_s'] / r['resumed_wall_s']:.2f}x faster "
        "than the run from the start above",
    )


def aims(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The issue's aims beside this run's figures: (aim, figure, met: yes / no / not run)."""
    scn = results.get("scenarios", {})
    rows = []

    def add(aim: str, value: float | None, text: str, ok: bool | None) -> None:
        rows.append(
            (
                aim,
                "-" if value is None else text,
                "not run" if ok is None else "yes" if ok else "**no**",
            )
        )

    full = scn.get("scale_1") or {}
    wall = full.get("wall_s") if full.get("available") else None
    rss = full.get("peak_rss_bytes") if full.get("available") else None
    add("full scale: <= 60 s", wall, f"{wall or 0:.1f} s", None if wall is None else wall <= 60)
    gb = (rss or 0) / 1e9
    add("full scale: <= 4 GB", rss, f"{gb:.2f} GB peak RSS", None if rss is None else gb <= 4)
    inter = scn.get("scale_100") or {}
    med = inter.get("wall_s") if inter.get("available") else None
    resumed = inter.get("resumed_wall_s") if inter.get("available") else None
    add(
        "scale 100: <= 100 ms a run",
        med,
        f"{(med or 0) * 1e3:.0f} ms median"
        + ("" if resumed is None else f" (re-run from the decision date: {resumed * 1e3:.0f} ms)"),
        None if med is None else med <= 0.1,
    )
    f = results.get("flee", {})
    ratio = f.get("ratio") if f.get("available") else None
    add(
        "Flee: corridor >= 300x",
        ratio,
        f"{ratio or 0:.0f}x",
        None if ratio is None else ratio >= 300,
    )
    frac = results.get("bandwidth", {}).get("fraction")
    add(
        "within 5x of the bandwidth bound",
        frac,
        f"fraction {frac or 0:.3f}",
        None if frac is None else frac >= 0.2,
    )
    return rows


def _items(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    items = [(k, results[k]) for k in ("engine", "flee", "mesa", "bandwidth") if k in results]
    items += list(results.get("scenarios", {}).items())
    return [(k, v) for k, v in items if "load1_before_after" in v]


def final_line(results: dict[str, Any]) -> str:
    def get(d: dict[str, Any], key: str, spec: str) -> str:
        v = d.get(key)
        return "nan" if v is None else format(v, spec)

    return (
        f"flee_ratio={get(results['flee'], 'ratio', '.1f')} "
        f"mesa_ratio={get(results['mesa'], 'ratio', '.1f')} "
        f"bound_fraction={get(results['bandwidth'], 'fraction', '.4f')}"
    )


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, tuple | set):
        return list(x)
    return str(x)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced sizes, < 2 minutes")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite the markdown page")
    a = ap.parse_args(argv)
    mode = "quick" if a.quick else "full"
    sz = SIZES[mode]
    t_start = time.perf_counter()
    results: dict[str, Any] = {"mode": mode, "sizes": sz, "machine": machine()}
    print(f"benchmark suite, {mode} mode, on {machine_label(results['machine'])}")

    def run_engine() -> dict[str, Any]:
        res = engine.bench(sz["agents"], sz["days"], sz["numpy_agents"], sz["repeats"])
        engine.report(res)
        return res

    results["engine"] = guarded("walk kernel: numba vs NumPy", run_engine)
    corridor_all = results["engine"].get("numba_all")

    def run_flee() -> dict[str, Any]:
        res = flee_bench.bench(sz["flee_agents"], sz["flee_days"])
        flee_bench.report(res)
        return res

    results["flee"] = guarded("Flee 3.1 on the same walk", run_flee)

    def run_mesa() -> dict[str, Any]:
        res = mesa_bench.bench(sz["mesa_agents"], sz["mesa_days"], corridor=corridor_all)
        mesa_bench.report(res)
        return res

    results["mesa"] = guarded("Mesa 3 on the same walk", run_mesa)

    def run_bw() -> dict[str, Any]:
        res = bandwidth.bench(
            sz["gib"], sz["bw_repeats"], achieved=corridor_all, stream_agents=sz["stream_agents"]
        )
        bandwidth.report(res)
        return res

    results["bandwidth"] = guarded("memory-bandwidth bound", run_bw)

    results["scenarios"] = {}
    for scale in sz["scales"]:
        name = "full-scale baseline scenario (scale 1)" if scale == 1 else f"scale {scale} scenario"

        def run_scn(scale: int = scale) -> dict[str, Any]:
            res = scenario(scale, sz["scenario_timeout_s"])
            report_scenario(res)
            return res

        results["scenarios"][f"scale_{scale}"] = guarded(name, run_scn)

    results["total_s"] = time.perf_counter() - t_start
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(results, indent=2, default=_jsonable) + "\n")
    print(f"\nwrote {a.json}")
    if not a.no_doc:
        a.doc.parent.mkdir(parents=True, exist_ok=True)
        a.doc.write_text(markdown(results))
        print(f"wrote {a.doc}")
    print(f"total {results['total_s']:.1f} s")
    print(final_line(results))
    return results


if __name__ == "__main__":
    main()
