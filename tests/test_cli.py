"""The command line: outputs of a run, and every kind of bad input refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from corridor.analysis.cbp_layout import COLUMNS
from corridor.cli.main import app

runner = CliRunner()

GOOD = {
    "name": "tiny",
    "start": "2023-10-01",
    "end": "2023-11-30",
    "decision_date": "2023-11-01",
    "scale": 500,
    "policies": [{"from": "2023-11-01", "set": {"mexico.takeback_cap_per_month": 60000}}],
}


def write(tmp: Path, data: dict | str) -> Path:
    p = tmp / "scn.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def test_run_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "run",
            str(write(tmp_path, GOOD)),
            "--out",
            str(out),
            "--cbp-csv",
            str(tmp_path / "cbp.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    monthly = pd.read_csv(out / "monthly.csv")
    assert list(monthly.columns) == ["month", "series", "nationality", "place", "value"]
    assert {"departures", "encounters_usbp", "waiting", "harm_incidents"} <= set(monthly.series)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "tiny" and summary["scale"] == 500
    assert summary["timings"]["compile_s"] >= 0 and summary["timings"]["run_s"] > 0
    daily = pd.read_parquet(out / "daily.parquet")
    assert (daily.value != 0).all()
    cbp = pd.read_csv(tmp_path / "cbp.csv")
    assert list(cbp.columns) == COLUMNS
    assert (cbp["Encounter Count"] > 0).all()
    # The CBP-layout total equals the encounters in monthly.csv.
    enc = monthly[
        (monthly.series.isin(["encounters_usbp", "encounters_ofo"]))
        & (monthly.nationality == "all")
        & (monthly.place == "all")
    ]
    assert cbp["Encounter Count"].sum() == enc.value.sum()
    # CBP's own layout: corridor's reader for CBP files takes it back unchanged.
    from corridor.data.cbp import read_sw_encounters

    back = read_sw_encounters(tmp_path / "cbp.csv")
    assert back["count"].sum() == cbp["Encounter Count"].sum()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"seed": "abc"}, "seed"),
        ({"end": "2023-09-01"}, "is not after start"),
        ({"start": "2023-02-30"}, "start"),
        ({"places": {"juarez": {"shelter_beds": -5}}}, "places.juarez.shelter_beds"),
        ({"places": {"atlantis": {"shelter_beds": 5}}}, "unknown place 'atlantis'"),
        (
            {
                "policies": [
                    {"from": "2023-11-01", "set": {"mexico.takeback_nationalities": ["narnia"]}}
                ]
            },
            "unknown nationality 'narnia'",
        ),
        (
            {"policies": [{"from": "2023-11-01", "set": {"us.warp_drive": 1}}]},
            "unknown lever 'us.warp_drive'",
        ),
        (
            {"policies": [{"from": "2023-11-01", "set": {"us.cbp_one_per_day": -1}}]},
            "policies[0].set: us.cbp_one_per_day: got -1",
        ),
        (
            {"policies": [{"from": "2023-11-01", "set": {"mexico.shelter_beds.juarez": -1}}]},
            "mexico.shelter_beds.juarez: got -1",
        ),
        (
            {"policies": [{"from": "2023-11-01", "to": "2023-10-01", "set": {"us.mpp": 1}}]},
            "is before 'from'",
        ),
        ({"policies": [{"from": "2023-11-01", "set": {"us.title42": 3}}]}, "true/false"),
        ({"parameters": {"staging.cross_per_day": 7}}, "outside its bounds"),
        ({"parameters": {"staging.teleport": 0.1}}, "unknown parameter 'staging.teleport'"),
        ({"scale": 0}, "scale"),
    ],
)
def test_bad_scenario_exit_2_nothing_written(tmp_path: Path, change: dict, needle: str) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(write(tmp_path, GOOD | change)), "--out", str(out)])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert needle in text, text
    assert not out.exists()
    assert not any(p.name.startswith(".corridor-") for p in tmp_path.iterdir())


def test_check_refuses_bad_and_accepts_good(tmp_path: Path) -> None:
    res = runner.invoke(app, ["check", str(write(tmp_path, GOOD))])
    assert res.exit_code == 0 and "tiny" in res.output
    res = runner.invoke(app, ["check", str(write(tmp_path, "name: [unclosed"))])
    assert res.exit_code == 2 and "not valid YAML" in res.output
    res = runner.invoke(app, ["check", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "no such file" in res.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "mexico.takeback_cap_per_month"], "expected lever=value"),
        (["--set", "us.cbp_one_per_day=lots"], "us.cbp_one_per_day: got 'lots'"),
        (["--set", "mexico.shelter_beds.gotham=10"], "unknown city 'gotham'"),
        (["--seed", "-3"], "--seed -3"),
        (["--threads", "0"], "--threads 0"),
    ],
)
def test_bad_command_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(write(tmp_path, GOOD)), "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert needle in " ".join(res.output.split())
    assert not out.exists()


def test_scenarios_and_levers_listed() -> None:
    res = runner.invoke(app, ["scenarios"])
    assert res.exit_code == 0 and "baseline" in res.output
    res = runner.invoke(app, ["levers"])
    assert res.exit_code == 0 and "mexico.takeback_cap_per_month" in res.output


def test_calibrate_start_must_be_a_draws_file(tmp_path: Path) -> None:
    res = runner.invoke(app, ["calibrate", "--start", str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    assert "--start" in res.output and "draws.csv" in res.output


def test_calibrate_push_roughness_must_not_be_negative() -> None:
    res = runner.invoke(app, ["calibrate", "--push-roughness", "-1"])
    assert res.exit_code == 2
    assert "--push-roughness" in res.output and "greater than or equal" in res.output


def test_calibrate_end_must_be_a_forecast_origin() -> None:
    res = runner.invoke(app, ["calibrate", "--end", "2020-12-31"])
    assert res.exit_code == 2
    assert "2020-12-31" in res.output and "2021-12-31" in res.output


def test_calibration_start_point_takes_an_earlier_map_inside_the_prior() -> None:
    from corridor.calibration import fit

    keys = [f.key for f in fit.FREE]
    default = fit.start_point()
    assert list(default) == [f.start for f in fit.FREE]
    first, second = fit.FREE[0], fit.FREE[1]
    draws = pd.DataFrame(
        {
            first.key: [0.5 * (first.lo + first.hi), 0.0],  # row 0 (the MAP) is used
            second.key: [second.hi + 1.0, 0.0],  # outside the prior: the declared start
            "not.a.parameter": [1.0, 2.0],
        }
    )
    got = fit.start_point(draws)
    assert got[keys.index(first.key)] == 0.5 * (first.lo + first.hi)
    assert got[keys.index(second.key)] == second.start
    rest = [i for i, k in enumerate(keys) if k not in (first.key, second.key)]
    assert (got[rest] == default[rest]).all()


def test_calibration_progress_prints_lines_without_a_terminal(capsys) -> None:
    """In a log file (no terminal) the bar is drawn only at the end: the callbacks print a
    plain line every ``every`` counts instead."""
    from corridor.cli import calibrate_cmd

    bar = calibrate_cmd._bar()
    task = bar.add_task("MAP (Nelder-Mead)", total=50, note="")
    report = calibrate_cmd._reporter(bar, task, "Nelder-Mead evaluation", "logp {:.1f}", 25)
    for k in range(1, 51):
        report(k, 600.0 + k)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("Nelder")]
    assert lines == [
        "Nelder-Mead evaluation 25/50 logp 625.0",
        "Nelder-Mead evaluation 50/50 logp 650.0",
    ]
    assert bar.tasks[task].completed == 50
