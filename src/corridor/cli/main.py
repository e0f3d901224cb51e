"""The ``corridor`` command: run scenarios, check them, list them and the levers; data tools.

Bad input (a malformed scenario, an unknown lever, an out-of-range value) prints what was wrong
and what was expected, exits with status 2, and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from corridor.cli import calibrate_cmd
from corridor.cli.data_cmd import data_app
from corridor.scenario.schema import ScenarioError

app = typer.Typer(
    name="corridor",
    help="Simulate the US-Mexico migration corridor and the levers of the January 2024 talks.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data", help="Load and inspect CBP data files.")
app.command()(calibrate_cmd.calibrate)
app.command()(calibrate_cmd.backtest)
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``lever=value`` pairs; values are read as YAML (numbers, true/false, [lists])."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"--set {item!r}: expected lever=value, e.g. mexico.takeback_cap_per_month=60000")
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            fail(
                f"--set {item!r}: cannot read the value {raw!r}; expected a number, true/false "
                "or a [list]"
            )
    return out


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or YAML path")] = (
        "baseline"
    ),
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results")] = Path(
        "out/baseline"
    ),
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's)")] = None,
    scale: Annotated[int | None, typer.Option(help="People per agent (1 = individuals)")] = None,
    threads: Annotated[int | None, typer.Option(help="Numba threads")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="lever=value from the decision date to the end (repeatable)"),
    ] = None,
    cbp_csv: Annotated[
        Path | None,
        typer.Option("--cbp-csv", help="Also write encounters in CBP's SW Land Border layout"),
    ] = None,
    profile: Annotated[bool, typer.Option(help="Print each module's time")] = False,
    draws: Annotated[
        int,
        typer.Option(
            help="Ensemble members (posterior draws and literature "
            "ranges); monthly.csv then has p05/p95 bands"
        ),
    ] = 1,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address for ensembles")] = None,
) -> None:
    """Run a scenario and write monthly.csv, daily.parquet and summary.json into --out."""
    import corridor

    if seed is not None and seed < 0:
        fail(f"--seed {seed}: expected a non-negative integer")
    if threads is not None and threads < 1:
        fail(f"--threads {threads}: expected at least 1")
    try:
        scn = corridor.prepare(scenario, seed=seed, scale=scale, sets=parse_sets(set_ or []))
    except ScenarioError as e:
        fail(str(e))
    if draws < 1:
        fail(f"--draws {draws}: expected at least 1")
    if draws > 1:
        with err.status(f"{scn.name}: {draws} ensemble members"):
            ds = corridor.ensemble(scn, draws, client=dask)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} days"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task(
                f"{scn.name} (seed {scn.seed}, scale {scn.scale})", total=scn.n_days
            )
            ds = corridor.run(
                scn,
                threads=threads,
                progress=lambda d, n: bar.update(task, completed=d),
                profile=profile,
            )
    from corridor.analysis.outputs import write_run

    written = write_run(ds, out, cbp_csv=cbp_csv)
    console.print(f"[green]wrote[/] {', '.join(str(p) for p in written)}")
    console.print(
        f"compile {ds.attrs['compile_s']:.2f} s, run {ds.attrs['run_s']:.2f} s, "
        f"{ds.attrs['agent_steps']:,} agent-steps"
    )
    if profile:
        table = Table("module", "seconds", "share")
        parts = [kv.split("=") for kv in ds.attrs["module_seconds"].split(";")]
        total = sum(float(v) for _, v in parts) or 1.0
        for k, v in parts:
            table.add_row(k, f"{float(v):.3f}", f"{float(v) / total:.0%}")
        console.print(table)


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="The reference scenario (name or YAML path)")],
    b: Annotated[str, typer.Argument(help="The scenario compared with it")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the tables")] = Path(
        "out/compare"
    ),
    draws: Annotated[int, typer.Option(help="Ensemble members, paired across a and b")] = 10,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: a's)")] = None,
    scale: Annotated[int | None, typer.Option(help="People per agent (default: a's)")] = None,
    set_a: Annotated[
        list[str] | None, typer.Option("--set-a", help="lever=value for a (repeatable)")
    ] = None,
    set_b: Annotated[
        list[str] | None, typer.Option("--set-b", help="lever=value for b (repeatable)")
    ] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address")] = None,
) -> None:
    """What b changes against a: both as paired ensembles (member k of each: the same
    posterior and literature draws, the same seed), so the band of b - a is the spread of
    the member-wise differences. Writes compare.csv (totals from the decision date, people
    waiting at the end), compare_monthly.csv and compare.html (b - a by month) into --out."""
    from corridor.analysis.comparison import compare as paired
    from corridor.analysis.comparison import plot_html
    from corridor.analysis.outputs import write_tables

    if draws < 1:
        fail(f"--draws {draws}: expected at least 1")
    if seed is not None and seed < 0:
        fail(f"--seed {seed}: expected a non-negative integer")
    try:
        sets_a, sets_b = parse_sets(set_a or []), parse_sets(set_b or [])
        with err.status(f"{a} against {b}: {draws} paired members each"):
            head, months = paired(
                a, b, draws, seed=seed, scale=scale, sets_a=sets_a, sets_b=sets_b, client=dask
            )
    except (ScenarioError, ValueError) as e:
        fail(str(e))
    page = plot_html(months, f"{b} against {a}: b - a by month")
    files = {"compare.csv": head, "compare_monthly.csv": months, "compare.html": page}
    written = write_tables(files, out)
    table = Table("quantity", "a", "b", "b - a", "b - a (5-95%)", title=f"{a} -> {b}")
    for r in head.itertuples(index=False):
        table.add_row(
            r.quantity,
            f"{r.a:,.0f}",
            f"{r.b:,.0f}",
            f"{r.b_minus_a:+,.0f}",
            f"{r.b_minus_a_p05:+,.0f} .. {r.b_minus_a_p95:+,.0f}",
        )
    console.print(table)
    console.print(f"[green]wrote[/] {', '.join(str(p) for p in written)}")


@app.command()
def check(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or YAML path")],
) -> None:
    """Validate a scenario and summarise it."""
    from corridor.scenario.timeline import history_events, load

    try:
        scn = load(scenario)
    except ScenarioError as e:
        fail(str(e))
    console.print(
        f"[green]ok[/] {scn.name}: {scn.start} to {scn.end} ({scn.n_days} days), "
        f"decision {scn.decision_date}, seed {scn.seed}, scale {scn.scale}"
    )
    if scn.description:
        console.print(scn.description.strip())
    table = Table("from", "to", "set", "note")
    events = (history_events() if scn.history else []) + list(scn.policies)
    for e in events:
        table.add_row(
            str(e.start),
            str(e.end or scn.end),
            ", ".join(f"{k}={v}" for k, v in e.set.items()),
            e.note[:60],
        )
    console.print(table)
    if scn.parameters:
        console.print("parameters: " + ", ".join(f"{k}={v}" for k, v in scn.parameters.items()))


@app.command()
def scenarios() -> None:
    """List the scenarios shipped with corridor."""
    from corridor.scenario.timeline import load, shipped_names

    table = Table("name", "description")
    for name in shipped_names():
        table.add_row(name, " ".join(load(name).description.split())[:100])
    console.print(table)


@app.command()
def levers() -> None:
    """List every lever with its unit, default and bounds (details: docs/levers.md)."""
    from corridor.scenario.levers import LEVERS

    table = Table("unit", "default", "bounds")
    table.columns.insert(0, Column("lever", no_wrap=True))
    for lv in LEVERS:
        name = lv.name + (
            ".<" + ("city" if "shelter" in lv.name else "country") + ">"
            if lv.per and lv.kind != "nationalities"
            else ""
        )
        table.add_row(name, lv.unit, f"{lv.default:g}", f"[{lv.lo:g}, {lv.hi:g}]")
    console.print(table)


def main() -> None:  # pragma: no cover
    app()
