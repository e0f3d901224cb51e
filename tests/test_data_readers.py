"""Readers, validation and calibration targets for the real data (shipped copy, Oct 2019-Dec 2023).

The science checks pin the shipped CBP file to CBP's published fiscal-year totals; the bad-input
checks make sure every refusal names the row and column a user must fix.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from corridor.data import cbp, context, ohss, targets
from corridor.data.errors import DataFileError
from corridor.model.places import DEMOGRAPHICS, NATIONALITIES, SECTORS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SW_HEADER = ",".join(cbp.SW_COLUMNS)
NATIONWIDE_HEADER = ",".join(cbp.NATIONWIDE_COLUMNS)
GOOD_ROW = "2023,FYTD,OCT,U.S. Border Patrol,Single Adults,Mexico,Title 8,Apprehensions,100"


@pytest.fixture(scope="module")
def sw() -> pd.DataFrame:
    return cbp.read_sw_encounters()


def write(tmp_path: Path, *lines: str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


# --- the shipped CBP file against CBP's published totals ------------------------------------


def test_sw_fiscal_year_totals_match_cbp_published(sw: pd.DataFrame) -> None:
    """CBP's published Southwest totals: FY20 458,088; FY21 1,734,686; FY22 2,378,944;
    FY23 2,475,669 (FY20-21 converted from CBP's dashboard, FY22+ as published)."""
    totals = sw.groupby("fiscal_year")["count"].sum()
    assert totals[2020] == 458_088
    assert totals[2021] == 1_734_686
    assert totals[2022] == 2_378_944
    assert totals[2023] == 2_475_669


def test_december_2023_is_the_record_month(sw: pd.DataFrame) -> None:
    monthly = sw.groupby("month")["count"].sum()
    assert monthly[pd.Timestamp("2023-12-01")] == 301_981
    assert monthly.idxmax() == pd.Timestamp("2023-12-01")


def test_shipped_data_ends_december_2023(sw: pd.DataFrame) -> None:
    """The project must not hold encounter figures after Dec 2023 (forecasts are judged on them)."""
    assert sw["month"].min() == pd.Timestamp("2019-10-01")
    assert sw["month"].max() == pd.Timestamp("2023-12-01")
    assert ohss.read_usbp_citizenship()["month"].max() == pd.Timestamp("2023-12-01")
    assert ohss.read_usbp_sector()["month"].max() == pd.Timestamp("2023-12-01")


def test_sw_is_tidy_in_project_vocabulary(sw: pd.DataFrame) -> None:
    assert tuple(sw.columns) == cbp.SW_OUTPUT
    assert sw["count"].dtype == "int64" and sw["fiscal_year"].dtype == "int64"
    assert (sw["month"].dt.day == 1).all()
    assert set(sw["component"]) == {"usbp", "ofo"}
    assert set(sw["demographic"]) == set(DEMOGRAPHICS)
    assert set(sw["citizenship"]) == {"mexico", "guatemala", "honduras", "el_salvador", "other"}
    assert set(sw["title"]) == {"title8", "title42"}
    assert set(sw["encounter_type"]) == {"apprehensions", "inadmissibles", "expulsions"}
    # Title 42 ran Mar 2020 - May 2023 only.
    t42 = sw.loc[sw["title"] == "title42", "month"]
    assert t42.min() >= pd.Timestamp("2020-03-01") and t42.max() <= pd.Timestamp("2023-05-01")


def test_fiscal_year_starts_in_october(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        SW_HEADER,
        "2024 (FYTD),FYTD,OCT,U.S. Border Patrol,FMUA,Honduras,Title 8,Apprehensions,5",
        "2024 (FYTD),FYTD,SEP,Office of Field Operations,UAC,Other,Title 8,Inadmissibles,6",
        "2020,FYTD,dec,U.S. Border Patrol,UC / Single Minors,El Salvador,Title 42,Expulsions,"
        '"1,234"',
    )
    df = cbp.read_sw_encounters(path).set_index("month")
    assert df.loc["2023-10-01", "fiscal_year"] == 2024
    assert df.loc["2024-09-01", "component"] == "ofo"
    assert df.loc["2019-12-01", "count"] == 1234  # thousands separator accepted
    assert df.loc["2019-12-01", "demographic"] == "uac"


@pytest.mark.skipif(not SHARED.exists(), reason="shared data folder not present")
def test_shipped_copies_match_shared_data() -> None:
    shipped = Path(cbp.SHIPPED_SW)
    source = SHARED / "cbp" / shipped.name
    assert _sha(shipped) == _sha(source)
    for name in ("parameters", "policy-timeline", "monthly-facts", "period-facts"):
        assert _sha(context.SHIPPED_DIR / f"{name}.csv") == _sha(SHARED / "context" / f"{name}.csv")
    full = ohss.read_usbp_sector(SHARED / "ohss" / "usbp-monthly-region-sector-fy2000-2023dec.csv")
    trimmed = full[(full["region"] == ohss.SOUTHWEST) & (full["month"] >= "2012-10-01")]
    pd.testing.assert_frame_equal(trimmed.reset_index(drop=True), ohss.read_usbp_sector())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- refusals: each names the row (1-based line) and column -------------------------------


BAD_SW = {
    "missing column": (
        [SW_HEADER.replace(",Encounter Type", ""), GOOD_ROW.replace(",Apprehensions", "")],
        1,
        "Encounter Type",
    ),
    "unknown month label": (
        [SW_HEADER, GOOD_ROW, GOOD_ROW.replace("OCT", "FOO")],
        3,
        "Month (abbv)",
    ),
    "negative count": ([SW_HEADER, GOOD_ROW.replace(",100", ",-5")], 2, "Encounter Count"),
    "non-numeric count": (
        [SW_HEADER, GOOD_ROW, GOOD_ROW.replace(",100", ",n/a")],
        3,
        "Encounter Count",
    ),
    "fractional count": ([SW_HEADER, GOOD_ROW.replace(",100", ",1.5")], 2, "Encounter Count"),
    "empty count": ([SW_HEADER, GOOD_ROW.replace(",100", ",")], 2, "Encounter Count"),
    "duplicated row": ([SW_HEADER, GOOD_ROW, GOOD_ROW.replace("OCT", "NOV"), GOOD_ROW], 4, None),
    "unknown component": (
        [SW_HEADER, GOOD_ROW.replace("U.S. Border Patrol", "ICE")],
        2,
        "Component",
    ),
    "unknown demographic": (
        [SW_HEADER, GOOD_ROW.replace("Single Adults", "Adults")],
        2,
        "Demographic",
    ),
    "unknown title": ([SW_HEADER, GOOD_ROW.replace("Title 8", "Title 9")], 2, "Title of Authority"),
    "unknown citizenship group": (
        [SW_HEADER, GOOD_ROW.replace("Mexico", "Venezuela")],
        2,
        "Citizenship Grouping",
    ),
    "impossible fiscal year": (
        [SW_HEADER, GOOD_ROW.replace("2023,", "1850,", 1)],
        2,
        "Fiscal Year",
    ),
    "future fiscal year": ([SW_HEADER, GOOD_ROW.replace("2023,", "2999,", 1)], 2, "Fiscal Year"),
    "non-numeric fiscal year": (
        [SW_HEADER, GOOD_ROW.replace("2023,", "FY23,", 1)],
        2,
        "Fiscal Year",
    ),
    "too many fields": ([SW_HEADER, GOOD_ROW, GOOD_ROW + ",7"], 3, None),
}


@pytest.mark.parametrize("case", list(BAD_SW))
def test_bad_sw_file_is_refused_at_row_and_column(tmp_path: Path, case: str) -> None:
    lines, row, column = BAD_SW[case]
    path = write(tmp_path, *lines)
    with pytest.raises(DataFileError) as caught:
        cbp.read_sw_encounters(path)
    err = caught.value
    message = str(err)
    assert err.row == row and f"row {row}" in message
    assert str(path) in message and "expected" in message
    if column is not None:
        assert err.column == column and f"column '{column}'" in message
    if case == "duplicated row":
        assert "row 2" in message and "Fiscal Year" in err.column


def test_refusal_messages_say_what_was_found() -> None:
    err = DataFileError(
        "x.csv",
        "negative count '-5'",
        row=7,
        column="Encounter Count",
        expected="a whole number >= 0",
    )
    assert str(err) == (
        "x.csv, row 7, column 'Encounter Count': negative count '-5'; expected a whole number >= 0"
    )
    assert isinstance(err, ValueError)


def test_month_label_refusal_names_the_label(tmp_path: Path) -> None:
    path = write(tmp_path, SW_HEADER, GOOD_ROW.replace("OCT", "FOO"))
    with pytest.raises(DataFileError, match=r"unknown month label 'FOO'.*OCT, NOV"):
        cbp.read_sw_encounters(path)


def test_header_only_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="row 2: no data rows"):
        cbp.read_sw_encounters(write(tmp_path, SW_HEADER))


def test_blank_lines_do_not_shift_row_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, SW_HEADER, GOOD_ROW, "", GOOD_ROW.replace(",100", ",-1"))
    with pytest.raises(DataFileError) as caught:
        cbp.read_sw_encounters(path)
    assert caught.value.row == 4


# --- nationwide layout and layout detection ------------------------------------------------


NW_ROWS = (
    "2023,FYTD,NOV,U.S. Border Patrol,Southwest Land Border,Del Rio Sector,Del Rio,"
    'Single Adults,VENEZUELA,Title 8,Apprehensions,"1,500"',
    "2023,FYTD,NOV,U.S. Border Patrol,Southwest Land Border,Del Rio Sector,Del Rio,"
    'Single Adults,"CHINA, PEOPLES REPUBLIC OF",Title 8,Apprehensions,20',
    "2023,FYTD,NOV,Office of Field Operations,Northern Land Border,Buffalo Field Office,BUF,"
    "FMUA,EL SALVADOR,Title 8,Inadmissibles,3",
)


def test_nationwide_maps_citizenship_and_keeps_original(tmp_path: Path) -> None:
    path = write(tmp_path, NATIONWIDE_HEADER, *NW_ROWS)
    assert cbp.detect_layout(path) == "nationwide"
    df = cbp.read_nationwide_encounters(path)
    assert tuple(df.columns) == cbp.NATIONWIDE_OUTPUT
    by_original = df.set_index("citizenship_original")
    assert by_original.loc["VENEZUELA", "citizenship"] == "venezuela"
    assert by_original.loc["VENEZUELA", "count"] == 1500
    assert by_original.loc["CHINA, PEOPLES REPUBLIC OF", "citizenship"] == "other"
    assert by_original.loc["EL SALVADOR", "citizenship"] == "el_salvador"
    assert set(df["citizenship"]) <= set(NATIONALITIES)
    assert (df["month"] == pd.Timestamp("2022-11-01")).all()


def test_nationwide_refuses_duplicates_and_bad_counts(tmp_path: Path) -> None:
    with pytest.raises(DataFileError) as caught:
        cbp.read_nationwide_encounters(write(tmp_path, NATIONWIDE_HEADER, *NW_ROWS, NW_ROWS[1]))
    assert caught.value.row == 5
    bad = NW_ROWS[2].replace(",3", ",-3")
    with pytest.raises(DataFileError, match="row 2, column 'Encounter Count'"):
        cbp.read_nationwide_encounters(write(tmp_path, NATIONWIDE_HEADER, bad, name="b.csv"))


def test_detect_layout(tmp_path: Path) -> None:
    assert cbp.detect_layout(cbp.SHIPPED_SW) == "sw"
    with pytest.raises(DataFileError, match="row 1, column 'Citizenship Grouping'"):
        cbp.detect_layout(write(tmp_path, SW_HEADER.replace("Citizenship Grouping", "Country")))
    with pytest.raises(DataFileError, match="no such file"):
        cbp.detect_layout(tmp_path / "absent.csv")


# --- OHSS ----------------------------------------------------------------------------------


def test_ohss_nationality_mapping_conserves_totals() -> None:
    raw = ohss.read_usbp_citizenship()
    raw = raw[raw["region"] == ohss.SOUTHWEST]
    mapped = ohss.usbp_by_nationality()
    assert mapped["count"].sum() == raw["count"].sum()
    by_month = mapped.groupby("month")["count"].sum()
    pd.testing.assert_series_equal(by_month, raw.groupby("month")["count"].sum())
    assert set(mapped["nationality"]) == set(NATIONALITIES)
    assert len(mapped) == raw["month"].nunique() * len(NATIONALITIES)


def test_ohss_nationalities_are_the_named_ones() -> None:
    mapped = ohss.usbp_by_nationality().set_index(["month", "nationality"])["count"]
    raw = ohss.read_usbp_citizenship().set_index(["month", "citizenship"])["count"]
    for month, name, nationality in [
        ("2023-09-01", "Venezuela", "venezuela"),
        ("2023-12-01", "El Salvador", "el_salvador"),
        ("2022-12-01", "Cuba", "cuba"),
    ]:
        assert mapped[(pd.Timestamp(month), nationality)] == raw[(pd.Timestamp(month), name)]


def test_ohss_sector_mapping_conserves_totals() -> None:
    raw = ohss.read_usbp_sector()
    mapped = ohss.usbp_by_sector()
    assert set(mapped["sector"]) == set(SECTORS)
    assert mapped["count"].sum() == raw["count"].sum()


def test_ohss_agrees_with_cbp_border_patrol_within_rounding(sw: pd.DataFrame) -> None:
    """OHSS rounds each row to 10, so a month may differ from CBP by up to 5 per row."""
    usbp = sw[sw["component"] == "usbp"].groupby("month")["count"].sum()
    raw = ohss.read_usbp_citizenship()
    grouped = raw.groupby("month")["count"]
    gap = (grouped.sum().reindex(usbp.index) - usbp).abs()
    assert (gap <= 5 * grouped.size().reindex(usbp.index)).all()
    sectors = ohss.usbp_by_sector().groupby("month")["count"].sum().reindex(usbp.index)
    assert ((sectors - usbp).abs() / usbp).max() < 0.005


OHSS_HEADER = "month,fiscal_year,region,citizenship,quantity"
OHSS_GOOD = "2023-10,2024,Southwest Land Border,Venezuela,29640"
BAD_OHSS = {
    "missing column": ([OHSS_HEADER.replace(",quantity", ""), "2023-10,2024,x,y"], 1, "quantity"),
    "unknown month label": ([OHSS_HEADER, OHSS_GOOD.replace("2023-10", "FOO")], 2, "month"),
    "fiscal year disagrees": (
        [OHSS_HEADER, OHSS_GOOD.replace(",2024,", ",2023,")],
        2,
        "fiscal_year",
    ),
    "negative count": ([OHSS_HEADER, OHSS_GOOD.replace("29640", "-10")], 2, "quantity"),
    "non-numeric count": ([OHSS_HEADER, OHSS_GOOD.replace("29640", "ten")], 2, "quantity"),
    "unknown region": ([OHSS_HEADER, OHSS_GOOD.replace("Southwest", "Eastern")], 2, "region"),
    "duplicated row": ([OHSS_HEADER, OHSS_GOOD, OHSS_GOOD], 3, "month + region + citizenship"),
}


@pytest.mark.parametrize("case", list(BAD_OHSS))
def test_bad_ohss_file_is_refused_at_row_and_column(tmp_path: Path, case: str) -> None:
    lines, row, column = BAD_OHSS[case]
    with pytest.raises(DataFileError) as caught:
        ohss.read_usbp_citizenship(write(tmp_path, *lines))
    assert caught.value.row == row and f"row {row}" in str(caught.value)
    assert caught.value.column == column and column in str(caught.value)


def test_ohss_refuses_unknown_southwest_sector(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "month,fiscal_year,region,sector,quantity",
        '2023-10,2024,Southwest Land Border,"Marfa, TX",10',
    )
    with pytest.raises(DataFileError, match="row 2, column 'sector'.*Marfa"):
        ohss.read_usbp_sector(path)


def test_ohss_region_absent_from_shipped_copy_is_explained() -> None:
    with pytest.raises(ValueError, match="Southwest only"):
        ohss.usbp_by_nationality(region="Coastal Border")


# --- context ---------------------------------------------------------------------------------


def test_context_tables_read_and_facts_look_up() -> None:
    assert len(context.read_parameters()) > 40
    timeline = context.read_policy_timeline()
    title42 = timeline[timeline["event"].str.startswith("Title 42 CDC order")].iloc[0]
    assert title42["date"] == pd.Timestamp("2020-03-20")
    assert title42["end_date"] == pd.Timestamp("2023-05-11")
    assert context.fact("sw_reencounter_rate_pct_fy", "2020-10") == 27
    assert context.fact("title42_expelled_at_us_mexico_border_segob") == 2_710_494
    assert context.fact("darien_crossings", "2023-03") == 38_099
    assert "30,000" in context.parameter("Mexico accepts CHNV returns")["value_or_range"]


def test_fact_lookup_explains_misses() -> None:
    with pytest.raises(KeyError, match="did you mean"):
        context.fact("darien_crosings")
    with pytest.raises(KeyError, match="rows of 'darien_crossings'"):
        context.fact("darien_crossings")  # many months: needs period_start


def test_bad_fact_file_is_refused(tmp_path: Path) -> None:
    header = ",".join(context.FACT_COLUMNS)
    path = write(tmp_path, header, "2023-01,2023-01,x,12,src", "2023-13,2023-13,y,5,src")
    with pytest.raises(DataFileError, match="row 3, column 'period_start'"):
        context.read_monthly_facts(path)
    path = write(tmp_path, header, "2023-01,2023-01,x,lots,src", name="v.csv")
    with pytest.raises(DataFileError, match="row 2, column 'value'"):
        context.read_period_facts(path)


# --- calibration targets ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return targets.calibration_targets()


def test_targets_cover_oct_2019_to_dec_2023(table: pd.DataFrame) -> None:
    monthly = table[table["target"] == "sw_total"]
    assert len(monthly) == 51
    assert monthly["period_start"].min() == pd.Timestamp("2019-10-01")
    assert monthly["period_end"].max() == pd.Timestamp("2023-12-01")
    assert tuple(table.columns) == targets.TARGET_COLUMNS


def test_target_breakdowns_add_up_to_the_total(table: pd.DataFrame) -> None:
    total = table[table["target"] == "sw_total"].set_index("period_start")["value"]
    for target in targets.CBP_BREAKDOWNS:
        parts = table[table["target"] == target].groupby("period_start")["value"].sum()
        pd.testing.assert_series_equal(parts, total, check_names=False)
    assert total[pd.Timestamp("2023-12-01")] == 301_981
    fy21 = total[(total.index >= "2020-10-01") & (total.index <= "2021-09-01")].sum()
    assert fy21 == 1_734_686


def test_period_targets(table: pd.DataFrame) -> None:
    period = table.set_index("target")
    assert period.loc["sw_reencounter_rate_pct_fy2021", "value"] == 27
    assert period.loc["sw_reencounter_rate_pct_fy2021", "period_start"] == pd.Timestamp(
        "2020-10-01"
    )
    assert period.loc["title42_expelled_at_us_mexico_border", "value"] == 2_710_494
    assert period.loc["sw_total_dec2023", "value"] == 301_981


def test_targets_dataset_matches_table(table: pd.DataFrame) -> None:
    ds = targets.targets_dataset()
    assert ds.sizes["month"] == 51
    assert list(ds["nationality"].values) == list(NATIONALITIES)
    assert list(ds["sector"].values) == list(SECTORS)
    assert float(ds["sw_total"].sum()) == table.loc[table["target"] == "sw_total", "value"].sum()
    assert float(ds["sw_by_title"].sel(title="title42", month="2023-06-01")) == 0
    assert float(ds["sw_total_dec2023"]) == 301_981
    assert ds["title42_expelled_at_us_mexico_border"].attrs["period_end"] == "2023-05"
    usbp = ds["sw_by_component"].sel(component="usbp")
    gap = abs(ds["usbp_sw_by_nationality"].sum("nationality") - usbp) / usbp
    assert float(gap.max()) < 0.005  # OHSS vs CBP, rounding only
