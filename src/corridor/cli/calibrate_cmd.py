"""``corridor calibrate`` and ``corridor backtest``: fit the model to CBP's record and score it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)

IN_SAMPLE = "calibration/posterior"
# Rolling origins: a posterior fitted on data through December of the year, scored on its
# forecast of the next year. 2022 is the test the issue sets; 2021 is a second origin, used
# to choose forecasting rules without looking at 2023.
OUT_OF_SAMPLE = {2022: "calibration/posterior-2022", 2021: "calibration/posterior-2021"}
ENDS = ("2021-12-31", "2022-12-31", "2023-12-31")


def _reporter(bar: Progress, task: int, label: str, note: str, every: int):
    """A progress callback (count, best log posterior) for ``task``; when stderr is not a
    terminal (a log file, CI), where the bar is drawn only at the end, it also prints a plain
    line every ``every`` counts so a long fit shows progress."""

    def report(k: int, best: float) -> None:
        bar.update(task, completed=k, note=note.format(best))
        if not err.is_terminal and k % every == 0:
            err.print(f"{label} {k}/{bar.tasks[task].total} {note.format(best)}", highlight=False)

    return report


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=err,
    )


def calibrate(
    end: Annotated[
        str,
        typer.Option(
            help="Last day of data used: 2023-12-31 (in sample), 2022-12-31 (the out-of-sample "
            "test) or 2021-12-31 (a second forecast origin)"
        ),
    ] = "2023-12-31",
    walkers: Annotated[
        int | None, typer.Option(help="emcee walkers (>= 2 x parameters; default exactly that)")
    ] = None,
    steps: Annotated[int, typer.Option(help="emcee steps")] = 60,
    scale: Annotated[int, typer.Option(help="People per agent during the fit")] = 100,
    draws: Annotated[int, typer.Option(help="Posterior draws to save")] = 20,
    processes: Annotated[int, typer.Option(help="Worker processes")] = 2,
    optimize_evals: Annotated[
        int, typer.Option(help="Nelder-Mead evaluations for the MAP start")
    ] = 250,
    start: Annotated[
        Path | None,
        typer.Option(
            help="A posterior folder (with draws.csv) whose MAP starts Nelder-Mead "
            "(parameters it lacks start at their defaults)"
        ),
    ] = None,
    push_roughness: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Weight of the smoothness penalty on each nationality's log push curve "
            "(0: every quarter free; default calibration.push_fit.PUSH_ROUGHNESS)",
        ),
    ] = None,
    parole_ties: Annotated[
        bool | None,
        typer.Option(
            "--parole-ties/--no-parole-ties",
            help="Tie the push knot of the quarter a parole programme opens to a nationality "
            "to the knot before (default calibration.push_fit.PAROLE_TIES)",
        ),
    ] = None,
) -> None:
    """Fit push curves and behavioural parameters; save posterior draws into the package."""
    import pandas as pd

    from corridor.calibration import discrepancy, fit, posterior, push_fit

    if end not in ENDS:
        console.print(f"[red]error:[/] --end {end}: expected one of {', '.join(ENDS)}")
        raise typer.Exit(2)
    roughness = push_fit.PUSH_ROUGHNESS if push_roughness is None else push_roughness
    ties = push_fit.PAROLE_TIES if parole_ties is None else parole_ties
    if walkers is None:
        walkers = 2 * len(fit.FREE)
    if walkers < 2 * len(fit.FREE):
        console.print(
            f"[red]error:[/] --walkers {walkers}: expected at least "
            f"{2 * len(fit.FREE)} (2 x the {len(fit.FREE)} parameters)"
        )
        raise typer.Exit(2)
    theta0 = None
    if start is not None:
        path = start / "draws.csv" if start.is_dir() else start
        try:
            theta0 = fit.start_point(pd.read_csv(path))
        except (OSError, pd.errors.ParserError) as exc:
            console.print(f"[red]error:[/] --start {start}: expected a draws.csv ({exc})")
            raise typer.Exit(2) from exc
    t0 = time.perf_counter()
    with _bar() as bar:
        opt = bar.add_task("MAP (Nelder-Mead)", total=optimize_evals, note="")
        task = bar.add_task("MCMC (emcee)", total=steps, note="")
        chain, log_prob, acceptance = fit.run_mcmc(
            end=end,
            walkers=walkers,
            steps=steps,
            scale=scale,
            processes=processes,
            optimize_evals=optimize_evals,
            report=_reporter(bar, task, "MCMC step", "best logp {:.1f}", 1),
            report_opt=_reporter(bar, opt, "Nelder-Mead evaluation", "logp {:.1f}", 25),
            start=theta0,
            roughness=roughness,
            parole_ties=ties,
        )
        chosen, lps = fit.select_draws(chain, log_prob, draws)
        task2 = bar.add_task("push curves per draw", total=len(chosen), note="")
        knots = []
        for i, theta in enumerate(chosen):
            knots.append(
                push_fit.fit_push(
                    iterations=5,
                    scale=scale // 2 or 1,
                    parameters=fit.as_params(theta),
                    end=end,
                    roughness=roughness,
                    parole_ties=ties,
                )
            )
            bar.update(task2, completed=i + 1)
    name = IN_SAMPLE if end == ENDS[-1] else OUT_OF_SAMPLE[int(end[:4])]
    meta = {
        "end": end,
        "walkers": walkers,
        "steps": steps,
        "scale": scale,
        "seconds": round(time.perf_counter() - t0, 1),
        "acceptance": round(acceptance, 3),
        "free": [f.key for f in fit.FREE],
        "optimize_evals": optimize_evals,
        "push_roughness": roughness,
        "parole_ties": ties,
        "start": None if start is None else str(start),
    }
    fit.save_posterior(chosen, lps, knots, posterior.folder(name), meta)
    posterior.load.cache_clear()
    # The structural error of every shipped posterior: this one's fit, and the forecasts that
    # later posteriors learn their forecast error from (corridor.calibration.discrepancy).
    discrepancy.write_all(scale=scale)
    console.print(
        f"[green]saved[/] {len(chosen)} draws to {posterior.folder(name)} "
        f"in {meta['seconds']:.0f} s"
    )


def backtest(
    draws: Annotated[int, typer.Option(help="Posterior draws in the ensemble")] = 10,
    scale: Annotated[int, typer.Option(help="People per agent")] = 100,
    out: Annotated[Path, typer.Option(help="Folder for plots and tables")] = Path("out/backtest"),
) -> None:
    """Score the calibrated model in sample (2020-2023) and out of sample (2023, and 2022
    when a posterior fitted through 2021 is shipped)."""
    import corridor
    from corridor.analysis import backtest as bt
    from corridor.calibration import discrepancy, posterior

    if posterior.n_draws(IN_SAMPLE) == 0:
        console.print("[red]error:[/] no posterior shipped; run `corridor calibrate` first")
        raise typer.Exit(2)
    n_in = min(draws, posterior.n_draws(IN_SAMPLE))
    origins = {y: min(draws, posterior.n_draws(name)) for y, name in OUT_OF_SAMPLE.items()}
    members_in: list = []
    members_out: dict[int, list] = {y: [] for y, n in origins.items() if n > 0}
    with _bar() as bar:
        task = bar.add_task("ensemble", total=n_in + sum(origins.values()), note="")
        for k in range(n_in):
            members_in.append(corridor.run(_history("2023-12-31", scale), draw=k))
            bar.update(task, advance=1)
        for year, members in members_out.items():
            spec = _history(f"{year + 1}-12-31", scale)
            for k in range(origins[year]):
                members.append(corridor.run(spec, draw=k, posterior_name=OUT_OF_SAMPLE[year]))
                bar.update(task, advance=1)
    ins = bt.in_sample_table(members_in)
    _print(ins, "In sample, Oct 2020 - Dec 2023 (ensemble median)")
    result = {"in_sample": ins.to_dict(orient="records"), "draws": n_in, "scale": scale}
    j = bt.median_join(members_in)
    cover = discrepancy.coverage(j, "2020-10-01", "2023-12-01")
    _print(cover, "Observed months inside the 90% bands, in sample (predictive; members alone)")
    result["coverage_in_sample"] = cover.to_dict(orient="records")
    rates = bt.reencounter_table(members_in)
    _print(rates, "Re-encounter rates in the months CBP published them (reported, not fitted)")
    result["reencounter_months"] = rates.to_dict(orient="records")
    darien = bt.darien_table(members_in)
    _print(darien, "Darien crossings: Panama's counts (periods: first month .. who to last)")
    result["darien"] = darien.to_dict(orient="records")
    for year, members in sorted(members_out.items(), reverse=True):
        title = f"Out of sample: calibrated through Dec {year}, forecast of {year + 1}"
        months = bt.forecast_table(members, year + 1)  # ETS and ARIMA fitted once
        oos = bt.wape_table(months, year + 1)
        _print(oos, title)
        key = "out_of_sample" if year == 2022 else f"out_of_sample_{year + 1}"
        result[key] = oos.to_dict(orient="records")
        cover = discrepancy.coverage(
            bt.median_join(members), f"{year + 1}-01-01", f"{year + 1}-12-01"
        )
        _print(cover, f"Observed months of {year + 1} inside the 90% bands (forecast)")
        result[f"coverage_{year + 1}"] = cover.to_dict(orient="records")
        bt.plot_forecast(months, out / f"forecast_{year + 1}.html", title)
        months.index = months.index.strftime("%Y-%m")
        result[f"forecast_{year + 1}_monthly"] = months.reset_index().to_dict(orient="records")
    for target, title in (
        ("sw_total", "Southwest encounters"),
        ("sw_by_citizenship_group", "By CBP citizenship group"),
        ("usbp_sw_by_nationality", "Border Patrol by nationality"),
        ("sw_by_title", "Title 8 and Title 42"),
    ):
        bt.plot(j, target, out / f"{target}.html", title)
    out.mkdir(parents=True, exist_ok=True)
    (out / "backtest.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    console.print(f"[green]wrote[/] {out}/backtest.json and plots")


def _history(end: str, scale: int) -> dict:
    """The historical run a backtest scores: the record's policies up to ``end``."""
    return {"name": "backtest", "end": end, "decision_date": end, "scale": scale}


def _print(df, title: str) -> None:
    table = Table(*[str(c) for c in df.columns], title=title)
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
