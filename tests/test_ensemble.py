"""Ensembles: members stack on a draw axis, member 0 is the central run, bands are ordered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import corridor
from corridor.analysis.ensemble import bands, member_parameters
from corridor.cli.main import app

SCN = {
    "name": "ens",
    "start": "2023-06-01",
    "end": "2023-12-31",
    "decision_date": "2023-10-01",
    "scale": 1000,
}


def test_member_zero_is_the_central_run_and_members_differ() -> None:
    ens = corridor.ensemble(SCN, draws=3)
    assert ens.sizes["draw"] == 3
    central = corridor.run(SCN, draw=0)
    np.testing.assert_array_equal(ens["flows"].isel(draw=0).values, central["flows"].values)
    dep = ens["flows"].sel(flow="departures").sum(("time", "nationality", "place")).values
    assert len(set(dep.tolist())) > 1  # literature draws move something
    b = bands(ens)
    assert bool((b.p05 <= b.p50).all()) and bool((b.p50 <= b.p95).all())


def test_literature_draws_respect_ranges_and_callers_values() -> None:
    from corridor.model.registry import all_parameters

    params = all_parameters()
    assert member_parameters(0, 7, set(), None) == {}
    draw = member_parameters(4, 7, {"departure.pull_strength"}, {"staging.cross_per_day": 0.2})
    assert "departure.pull_strength" not in draw
    assert draw["staging.cross_per_day"] == 0.2
    for key, value in draw.items():
        if key != "staging.cross_per_day":
            lo, hi = params[key].range
            assert lo <= value <= hi
    assert draw == member_parameters(
        4, 7, {"departure.pull_strength"}, {"staging.cross_per_day": 0.2}
    )


def test_cli_ensemble_writes_bands(tmp_path: Path) -> None:
    import yaml

    scn = tmp_path / "s.yaml"
    scn.write_text(yaml.safe_dump(SCN))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(scn), "--draws", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = pd.read_csv(out / "monthly.csv")
    assert {"value", "p05", "p95"} <= set(m.columns)
    assert (m.p05 <= m.value + 1e-9).all() and (m.value <= m.p95 + 1e-9).all()
    t = pd.read_csv(out / "targets.csv")
    assert {"month", "target", "category", "value", "p05", "p95", "sigma"} <= set(t.columns)


def test_ensemble_targets_carry_the_structural_error(tmp_path: Path) -> None:
    """targets.csv: CBP's monthly series for each member, their median and the predictive
    band, each month with its family's error: the fit error to December 2023, the forecast
    error after (corridor.calibration.discrepancy); the band holds the members' own."""
    from corridor.analysis.ensemble import target_bands_frame
    from corridor.calibration import discrepancy

    spec = {**SCN, "start": "2023-10-01", "end": "2024-03-31", "decision_date": "2024-01-01"}
    t = target_bands_frame(corridor.ensemble(spec, 3))
    assert set(t.target) == set(discrepancy.FAMILIES)
    assert (t.p05 <= t.value + 0.1).all() and (t.value <= t.p95 + 0.1).all()
    assert (t.p05 <= t.members_p05 + 0.1).all() and (t.members_p95 <= t.p95 + 0.1).all()
    for month, window in (("2023-12", "fit"), ("2024-02", "forecast")):
        row = t[(t.month == month) & (t.target == "sw_total")].iloc[0]
        sigma, _ = discrepancy.error_of(discrepancy.posterior.FOLDER, "sw_total", window)
        assert row.sigma == sigma
    assert t[t.month == "2024-02"].sigma.gt(t[t.month == "2023-12"].sigma.to_numpy()).any()
