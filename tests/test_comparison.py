"""Paired comparisons (`corridor compare`): common random numbers, an analytic difference,
and the command's refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from corridor.analysis.comparison import compare
from corridor.cli.main import app

SCN = {
    "name": "cmp",
    "start": "2023-10-01",
    "end": "2024-03-31",
    "decision_date": "2024-01-01",
    "scale": 1000,
}


def test_a_scenario_against_itself_differs_by_nothing() -> None:
    head, months = compare(SCN, SCN, 2)
    assert (head.filter(like="b_minus_a").to_numpy() == 0).all()
    assert (months.filter(like="b_minus_a").to_numpy() == 0).all()
    assert (head.a > 0).any()


def test_more_cbp_one_slots_add_the_slots_and_nothing_before_the_decision() -> None:
    """Common random numbers: before the decision date the two runs are the same, member by
    member. After it, 550 more CBP One slots a day (1,450 -> 2,000) add 550 x 91 days of
    appointments (Jan - Mar 2024, 2024 a leap year) while registrants outnumber slots: the
    analytic difference, to within an agent (1,000 people)."""
    head, months = compare(SCN, SCN, 2, sets_b={"us.cbp_one_per_day": 2000})
    before = months[months.month < "2024-01"]
    assert len(before) > 0 and (before.filter(like="b_minus_a").to_numpy() == 0).all()
    row = head[head.quantity.str.startswith("cbp_one_appointments")].iloc[0]
    for col in ("b_minus_a", "b_minus_a_p05", "b_minus_a_p95"):
        assert abs(row[col] - 550 * 91) <= 1000, row
    after = months[(months.month >= "2024-01") & (months.series == "cbp_one_appointments")]
    np.testing.assert_allclose(after.b_minus_a, 550 * np.array([31, 29, 31]), atol=1000)


def test_cli_compare_writes_both_tables(tmp_path: Path) -> None:
    import yaml

    scn = tmp_path / "s.yaml"
    scn.write_text(yaml.safe_dump(SCN))
    out = tmp_path / "out"
    args = ["compare", str(scn), str(scn), "--draws", "2", "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--set-b", "us.cbp_one_per_day=2000"])
    assert res.exit_code == 0, res.output
    head = pd.read_csv(out / "compare.csv")
    assert {"quantity", "a", "b", "b_minus_a", "b_minus_a_p05", "b_minus_a_p95"} <= set(head)
    assert len(pd.read_csv(out / "compare_monthly.csv")) > 0
    html = (out / "compare.html").read_text()
    assert "cbp_one_appointments" in html and "waiting in juarez" in html


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--set-b", "us.cbp_one_per_day=-5"], "us.cbp_one_per_day"),
        (["--set-b", "no.such_lever=1"], "no.such_lever"),
        (["--draws", "0"], "--draws 0"),
    ],
)
def test_cli_compare_refuses_bad_input_and_writes_nothing(tmp_path, extra, needle) -> None:
    import yaml

    scn = tmp_path / "s.yaml"
    scn.write_text(yaml.safe_dump(SCN))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["compare", str(scn), str(scn), "--out", str(out), *extra])
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert not out.exists()


def test_scenarios_of_different_spans_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected the same start and end dates"):
        compare(SCN, {**SCN, "end": "2024-02-29"}, 1)
