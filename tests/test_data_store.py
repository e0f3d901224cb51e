"""The local DuckDB store and the `corridor data` commands.

Every test points CORRIDOR_HOME at its own tmp_path, so nothing touches a real user store.
Files written here are small synthetic CBP-layout files cut from (or modelled on) the shipped
copy; the one month after December 2023 that appears is synthetic (count 7), not CBP data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from corridor.cli.data_cmd import data_app
from corridor.data import cbp
from corridor.data.errors import DataFileError
from corridor.store import local

DEC_2023 = pd.Timestamp("2023-12-01")
NOV_2023 = pd.Timestamp("2023-11-01")


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    store_home = tmp_path / "corridor-home"
    monkeypatch.setenv("CORRIDOR_HOME", str(store_home))
    return store_home


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The shipped file as text, in CBP's layout, to cut test files from."""
    return pd.read_csv(cbp.SHIPPED_SW, dtype=str, keep_default_na=False)


def cut(raw: pd.DataFrame, months: list[str], scale: int = 1) -> pd.DataFrame:
    """Rows of the shipped file for (fiscal year, month label) pairs like '2024 (FYTD)/DEC'."""
    keys = raw["Fiscal Year"] + "/" + raw["Month (abbv)"]
    out = raw[keys.isin(months)].copy()
    out["Encounter Count"] = (out["Encounter Count"].astype(int) * scale).astype(str)
    return out


def save(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sw_summary() -> local.TableSummary:
    return next(s for s in local.summary() if s.table == "sw_encounters")


def test_store_lives_in_corridor_home(home: Path) -> None:
    assert local.store_path() == home / "store.duckdb"
    assert not local.store_path().exists()
    assert sw_summary().rows == 0  # reading an absent store creates nothing
    assert not local.store_path().exists()


def test_import_is_idempotent(raw: pd.DataFrame, tmp_path: Path) -> None:
    path = save(cut(raw, ["2024 (FYTD)/NOV", "2024 (FYTD)/DEC"]), tmp_path / "nov-dec.csv")
    first = local.import_file(path)
    assert first.status == "imported" and first.table == "sw_encounters"
    before = sw_summary()
    second = local.import_file(path)
    assert second.status == "already imported" and "already imported" in second.message
    after = sw_summary()
    assert after == before
    assert after.total == 242_399 + 301_981
    assert after.first_month == NOV_2023 and after.last_month == DEC_2023
    assert len(local.imports()) == 1


def test_newer_file_replaces_overlapping_months(raw: pd.DataFrame, tmp_path: Path) -> None:
    older = save(cut(raw, ["2024 (FYTD)/NOV", "2024 (FYTD)/DEC"]), tmp_path / "older.csv")
    revised = cut(raw, ["2024 (FYTD)/DEC"], scale=2).iloc[:-3]  # a revision with fewer rows
    newer = save(revised, tmp_path / "newer.csv")
    local.import_file(older)
    result = local.import_file(newer)
    assert result.replaced_months == (DEC_2023,)
    assert "replaced" in result.message and "2023-12" in result.message
    stored = local.imported_sw_encounters()
    assert stored.loc[stored["month"] == DEC_2023, "count"].sum() == (
        revised["Encounter Count"].astype(int).sum()
    )
    assert (stored["month"] == DEC_2023).sum() == len(revised)  # no stale rows left
    assert stored.loc[stored["month"] == NOV_2023, "count"].sum() == 242_399
    assert sw_summary().files == (str(older.resolve()), str(newer.resolve()))


def test_bad_file_leaves_the_store_unchanged(raw: pd.DataFrame, tmp_path: Path) -> None:
    bad = cut(raw, ["2024 (FYTD)/OCT"])
    bad.iloc[-1, bad.columns.get_loc("Encounter Count")] = "-4"
    bad_path = save(bad, tmp_path / "bad.csv")
    with pytest.raises(DataFileError):
        local.import_file(bad_path)
    assert not local.store_path().exists()  # nothing was even created

    local.import_file(save(cut(raw, ["2024 (FYTD)/DEC"]), tmp_path / "good.csv"))
    before, log = sw_summary(), local.imports()
    with pytest.raises(DataFileError) as caught:
        local.import_file(bad_path)
    assert caught.value.row == len(bad) + 1 and caught.value.column == "Encounter Count"
    assert sw_summary() == before
    pd.testing.assert_frame_equal(local.imports(), log)


def test_failure_inside_the_transaction_rolls_back(
    raw: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.import_file(save(cut(raw, ["2024 (FYTD)/DEC"]), tmp_path / "dec.csv"))
    before = local.imported_sw_encounters()

    def fail(*args: object) -> None:
        raise RuntimeError("simulated failure after the delete and insert")

    monkeypatch.setattr(local, "_require_unique_keys", fail)
    revised = save(cut(raw, ["2024 (FYTD)/DEC"], scale=5), tmp_path / "revised.csv")
    with pytest.raises(RuntimeError, match="simulated"):
        local.import_file(revised)
    pd.testing.assert_frame_equal(local.imported_sw_encounters(), before)
    assert len(local.imports()) == 1


def test_overlay_replaces_shipped_months_and_adds_new_ones(
    raw: pd.DataFrame, tmp_path: Path
) -> None:
    shipped_sha = sha(cbp.SHIPPED_SW)
    shipped = cbp.read_sw_encounters()
    assert local.load_sw_encounters().equals(shipped)  # nothing imported: the shipped copy

    revised = cut(raw, ["2024 (FYTD)/DEC"], scale=3)
    synthetic = revised.iloc[:1].copy()  # a synthetic later month, not CBP data
    synthetic["Month (abbv)"] = "JAN"
    synthetic["Encounter Count"] = "7"
    local.import_file(save(pd.concat([revised, synthetic]), tmp_path / "newer.csv"))

    overlay = local.load_sw_encounters()
    monthly = overlay.groupby("month")["count"].sum()
    assert monthly[DEC_2023] == 3 * 301_981
    assert monthly[pd.Timestamp("2024-01-01")] == 7
    assert monthly[NOV_2023] == 242_399  # shipped months not imported stay as shipped
    assert (overlay.dtypes == shipped.dtypes).all()
    assert tuple(overlay.columns) == cbp.SW_OUTPUT
    assert sha(cbp.SHIPPED_SW) == shipped_sha  # the shipped copy is never modified


def test_nationwide_file_goes_to_its_own_table(tmp_path: Path) -> None:
    header = ",".join(cbp.NATIONWIDE_COLUMNS)
    row = (
        "2023,FYTD,NOV,U.S. Border Patrol,Southwest Land Border,Tucson Sector,Tucson,"
        'Single Adults,"CHINA, PEOPLES REPUBLIC OF",Title 8,Apprehensions,40'
    )
    path = tmp_path / "nationwide.csv"
    path.write_text(f"{header}\n{row}\n")
    result = local.import_file(path)
    assert result.table == "nationwide_encounters"
    summary = {s.table: s for s in local.summary()}
    assert summary["nationwide_encounters"].total == 40
    assert summary["sw_encounters"].rows == 0


# --- CLI -------------------------------------------------------------------------------------


def test_cli_import_and_show(raw: pd.DataFrame, tmp_path: Path) -> None:
    runner = CliRunner()
    path = save(cut(raw, ["2024 (FYTD)/DEC"]), tmp_path / "dec.csv")
    result = runner.invoke(data_app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported" in result.output and "sw_encounters" in result.output
    again = runner.invoke(data_app, ["import", str(path)])
    assert again.exit_code == 0 and "already imported" in again.output
    shown = runner.invoke(data_app, ["show"])
    assert shown.exit_code == 0, shown.output
    assert "301,981" in shown.output and "2023-12" in shown.output


def test_cli_refuses_bad_file_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        ",".join(cbp.SW_COLUMNS)
        + "\n2023,FYTD,FOO,U.S. Border Patrol,FMUA,Mexico,Title 8,Apprehensions,5\n"
    )
    result = CliRunner().invoke(data_app, ["import", str(path)])
    assert result.exit_code == 2
    assert "row 2" in result.output and "Month (abbv)" in result.output
    assert "'FOO'" in result.output and "expected" in result.output
    assert not local.store_path().exists()
    missing = CliRunner().invoke(data_app, ["import", str(tmp_path / "absent.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output
