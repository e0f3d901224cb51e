"""Science tests of the levers: neutral values change nothing, each main lever moves its
outcomes the documented way, capacities are never exceeded, Title 42 touches only the dates and
nationalities it covered, and the shipped scenarios run and do what they say.

Comparisons use common random numbers: the same seed with and without a lever, so any
difference is the lever's. Runs are short (mid-2023 to mid-2024) and coarse (scale 200-400)
except where a lag needs a longer window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
import xarray as xr

import corridor
from corridor.api import prepare
from corridor.engine.sim import Simulation
from corridor.model.places import BORDER_CITIES, NATIONALITIES
from corridor.model.registry import PHASES, all_parameters
from corridor.scenario.levers import KEY_INDEX, LEVERS
from corridor.scenario.timeline import lever_table, load, shipped_names

SEED = 20240110
DECISION = "2024-01-01"
SHIPPED = (
    "us-asks",
    "mexico-asks",
    "title42-return",
    "emergency-authority-5000",
    "proclamation-2500-1500",
    "2024-as-announced",
)


def window(
    start: str = "2023-06-01", end: str = "2024-06-30", scale: int = 400, **extra: Any
) -> dict[str, Any]:
    """A short scenario with the shipped history, deciding on 2024-01-01."""
    return {
        "name": "lever-test",
        "start": start,
        "end": end,
        "decision_date": DECISION,
        "seed": SEED,
        "scale": scale,
        "history": True,
        **extra,
    }


SHORT = window()
LONG = window(end="2025-12-31", scale=200)  # long enough for the one-year policy lags
FULL_SCALE = 200  # the full baseline (Oct 2019 - Dec 2024) for capacity and date checks


def _key(scn: dict[str, Any] | str, sets: dict[str, Any] | None) -> tuple:
    return (repr(scn), repr(sorted((sets or {}).items())))


_CACHE: dict[tuple, xr.Dataset] = {}


def run(
    scn: dict[str, Any] | str, sets: dict[str, Any] | None = None, scale: int | None = None
) -> xr.Dataset:
    """``corridor.run`` with a per-session cache (the same run is used by several tests)."""
    k = (*_key(scn, sets), scale)
    if k not in _CACHE:
        _CACHE[k] = corridor.run(scn, sets=sets, scale=scale)
    return _CACHE[k]


def levers(
    scn: dict[str, Any] | str, sets: dict[str, Any] | None = None, scale: int | None = None
) -> np.ndarray:
    """The day x lever table a run used."""
    return lever_table(prepare(scn, sets=sets, scale=scale))


def lever(table: np.ndarray, key: str) -> np.ndarray:
    return table[:, KEY_INDEX[key]]


def series(
    ds: xr.Dataset,
    name: str,
    *,
    nat: str | list[str] | None = None,
    place: str | list[str] | None = None,
    t0: str | None = None,
    t1: str | None = None,
    by: tuple[str, ...] = (),
) -> xr.DataArray:
    """A flow or stock as a daily series, summed over the dimensions neither selected by a
    single name nor named in ``by``."""
    if name in ds.flow.values:
        x = ds.flows.sel(flow=name)
    else:
        x = ds.stocks.sel(stock=name)
    x = x.sel(time=slice(t0, t1))
    if nat is not None:
        x = x.sel(nationality=nat)
    if place is not None:
        x = x.sel(place=place)
    keep = (
        {"time", *by}
        | ({"nationality"} if isinstance(nat, str) else set())
        | ({"place"} if isinstance(place, str) else set())
    )
    return x.sum([d for d in x.dims if d not in keep])


def total(ds: xr.Dataset, name: str, **sel: Any) -> int:
    return int(series(ds, name, **sel).sum())


def same_run(a: xr.Dataset, b: xr.Dataset) -> bool:
    return all(
        np.array_equal(a[v].values, b[v].values)
        for v in ("flows", "stocks", "cbp", "emergency_authority_on", "flights")
    )


# --- neutral values ------------------------------------------------------------------------

NEUTRAL_XFAIL: dict[str, str] = {}


def _neutral_cases() -> list[Any]:
    cases = []
    for lv in LEVERS:
        if lv.neutral is None:
            continue
        marks = (
            [pytest.mark.xfail(strict=True, reason=NEUTRAL_XFAIL[lv.name])]
            if lv.name in NEUTRAL_XFAIL
            else []
        )
        cases.append(pytest.param(lv, id=lv.name, marks=marks))
    return cases


@pytest.mark.parametrize("lv", _neutral_cases())
def test_neutral_value_changes_nothing(lv: Any) -> None:
    """Setting a lever to its declared neutral value gives the identical run."""
    value: Any = bool(lv.neutral) if lv.kind == "switch" else lv.neutral
    assert same_run(run(SHORT, {lv.name: value}), run(SHORT))


def test_neutral_values_are_in_bounds() -> None:
    for lv in LEVERS:
        if lv.neutral is not None:
            assert lv.lo <= lv.neutral <= lv.hi, lv.name


# --- direction of effect -------------------------------------------------------------------

Y2024 = {"t0": DECISION, "t1": "2024-12-31"}


def test_takeback_cap_matters_only_where_it_binds() -> None:
    """A larger cap (100,000) never sends fewer back, and where the 30,000 cap never filled in
    a month of 2024 it changes nothing at all (common random numbers): Mexico's take-back is
    an upper limit on returns of those the US orders removed. Before the decision date
    nothing differs."""
    base, more = run(SHORT), run(SHORT, {"mexico.takeback_cap_per_month": 100_000})
    chnv = ["cuba", "haiti", "nicaragua", "venezuela"]
    back = total(more, "returns_to_mexico", nat=chnv, **Y2024)
    assert back >= total(base, "returns_to_mexico", nat=chnv, **Y2024) > 0
    monthly = series(base, "returns_to_mexico", nat=chnv, **Y2024).resample(time="MS").sum()
    if int(monthly.max()) < 30_000:
        assert same_run(base, more)
    before = {"t1": "2023-12-31"}
    assert total(more, "returns_to_mexico", **before) == total(base, "returns_to_mexico", **before)


def test_takeback_returns_only_those_ordered_removed() -> None:
    """Under Title 8, Mexico's take-back returns the covered nationalities' crossers whom the
    US orders removed (the removal share under the asylum rule, at most 0.45 in its range),
    not everyone it catches; a tight cap binds, sending fewer back and letting more in."""
    chnv = ["cuba", "haiti", "nicaragua", "venezuela"]
    base, tight = run(SHORT), run(SHORT, {"mexico.takeback_cap_per_month": 2_000})
    back = total(base, "returns_to_mexico", nat=chnv, **Y2024)
    caught = total(base, "encounters_usbp", nat=chnv, **Y2024)
    assert 0 < back <= 0.45 * caught
    assert total(tight, "returns_to_mexico", nat=chnv, **Y2024) < back
    assert total(tight, "releases", **Y2024) > total(base, "releases", **Y2024)


def test_title42_expels_and_brings_repeat_crossings() -> None:
    base, t42 = run(SHORT), run(SHORT, {"us.title42": True})
    assert total(base, "expulsions_title42", **Y2024) == 0
    assert total(t42, "expulsions_title42", **Y2024) > 0
    assert total(t42, "repeat_encounters", **Y2024) > total(base, "repeat_encounters", **Y2024)

    # The repeat rate (repeat / all encounters) rises, as in FY2021 (27% vs 14%).
    def rate(ds: xr.Dataset) -> float:
        enc = total(ds, "encounters_usbp", **Y2024) + total(ds, "encounters_ofo", **Y2024)
        return total(ds, "repeat_encounters", **Y2024) / enc

    assert rate(t42) > rate(base)


def test_cbp_one_capacity_raises_appointments_and_port_encounters() -> None:
    base, more = run(SHORT), run(SHORT, {"us.cbp_one_per_day": 5000})
    assert total(more, "cbp_one_appointments", **Y2024) > total(
        base, "cbp_one_appointments", **Y2024
    )
    assert total(more, "encounters_ofo", **Y2024) > total(base, "encounters_ofo", **Y2024)


def test_venezuela_flights_raise_removals_then_lower_departures() -> None:
    """Where flights add to who is sent back (Mexico not taking Venezuelans back, so those
    ordered removed would otherwise wait for the weekly flight or be released), more flights
    remove more, fewer Venezuelans set out for the first time later on, and more of those
    removed leave again (returnees)."""
    others = {"mexico.takeback_nationalities": ["cuba", "haiti", "nicaragua"]}
    base = run(LONG, others)
    more = run(LONG, {**others, "us.removal_flights_per_week.venezuela": 5})
    vz = {"nat": "venezuela"}
    assert total(more, "removals", **vz, **Y2024) > total(base, "removals", **vz, **Y2024)
    late = {"t0": "2024-09-01", "t1": "2024-12-31"}

    def first_time(ds: xr.Dataset) -> int:
        return total(ds, "departures", **vz, **late) - total(ds, "redepartures", **vz, **late)

    assert first_time(more) < first_time(base)
    assert total(more, "redepartures", **vz, **late) > total(base, "redepartures", **vz, **late)
    assert more.flights.sel(nationality="venezuela", time=slice(DECISION, None)).sum() > (
        base.flights.sel(nationality="venezuela", time=slice(DECISION, None)).sum()
    )


def test_southern_enforcement_raises_mexico_apprehensions() -> None:
    base, more = run(SHORT), run(SHORT, {"mexico.southern_enforcement": 3.0})
    assert total(more, "mexico_apprehensions", place="tapachula", **Y2024) > total(
        base, "mexico_apprehensions", place="tapachula", **Y2024
    )
    assert total(more, "mexico_apprehensions", **Y2024) > total(
        base, "mexico_apprehensions", **Y2024
    )


def test_no_shelter_beds_in_juarez_puts_everyone_on_the_street() -> None:
    base, none = run(SHORT), run(SHORT, {"mexico.shelter_beds.juarez": 0})
    jz = {"place": "juarez", **Y2024}
    assert total(base, "in_shelter", **jz) > 0
    assert total(none, "in_shelter", **jz) == 0
    assert total(none, "on_street", **jz) > total(base, "on_street", **jz)


def test_more_shelter_beds_lower_street_and_harm() -> None:
    base = run(SHORT)
    many = run(SHORT, {"mexico.shelter_beds": {c: 100_000 for c in BORDER_CITIES}})
    assert total(many, "on_street", **Y2024) < total(base, "on_street", **Y2024)
    assert total(many, "harm_incidents", **Y2024) < total(base, "harm_incidents", **Y2024)


def test_emergency_authority_at_one_per_day_returns_people() -> None:
    base = run(SHORT)
    on = run(SHORT, {"us.emergency_authority.on_above_per_day": 1})
    assert total(base, "emergency_returns") == 0
    assert total(on, "emergency_returns", **Y2024) > 0
    flag = on.emergency_authority_on.sel(time=slice(DECISION, None))
    assert bool(flag.all()), "with on=1/day and off=0 the authority never lifts"
    assert not bool(on.emergency_authority_on.sel(time=slice(None, "2023-12-30")).any())


def test_regional_aid_lowers_departures_after_its_lag() -> None:
    base, aid = run(LONG), run(LONG, {"us.regional_aid_usd_per_year": 20e9})
    lag = int(all_parameters()["departure.aid_lag_days"].value)
    quiet = str(dt.date(2024, 1, 1) + dt.timedelta(days=lag - 1))
    assert total(aid, "departures", t1=quiet) == total(base, "departures", t1=quiet)
    later = {"t0": "2025-07-01", "t1": "2025-12-31"}
    assert total(aid, "departures", **later) < total(base, "departures", **later)


def test_lifting_venezuela_sanctions_lowers_venezuelan_departures_eventually() -> None:
    base, lifted = run(LONG), run(LONG, {"us.venezuela_sanctions": False})
    vz = {"nat": "venezuela"}
    lag = int(all_parameters()["departure.policy_lag_days"].value)
    quiet = str(dt.date(2024, 1, 1) + dt.timedelta(days=lag - 1))
    assert total(lifted, "departures", **vz, t1=quiet) == total(base, "departures", **vz, t1=quiet)
    later = {"t0": "2025-07-01", "t1": "2025-12-31"}
    assert total(lifted, "departures", **vz, **later) < total(base, "departures", **vz, **later)


def test_mexico_deportations_follow_their_cap() -> None:
    none = run(SHORT, {"mexico.deportations_per_month": 0})
    many = run(SHORT, {"mexico.deportations_per_month": 20_000})
    assert total(none, "mexico_deportations", **Y2024) == 0
    assert total(many, "mexico_deportations", **Y2024) > 0
    monthly = series(many, "mexico_deportations", **Y2024).resample(time="MS").sum()
    assert int(monthly.max()) <= 20_000 + SHORT["scale"] // 2


# --- capacities ----------------------------------------------------------------------------

STRESS_SETS: dict[str, Any] = {
    "us.cbp_one_per_day": 3000,
    "us.detention_beds": 4000,
    "us.removal_flights_per_week": {"venezuela": 4, "cuba": 2, "nicaragua": 1, "colombia": 6},
    "mexico.shelter_beds": {c: 300 for c in BORDER_CITIES},
    "mexico.takeback_cap_per_month": 5000,
    "mexico.takeback_nationalities": ["colombia", "ecuador"],
    "us.emergency_authority.on_above_per_day": 6000,
    "us.emergency_authority.off_below_per_day": 4000,
    "mexico.deportations_per_month": 8000,
    "us.border_funding_to_mexico_usd": 2e8,
}
CAPACITY_RUNS = {
    "baseline": ("baseline", None, FULL_SCALE),
    "stress": (SHORT, STRESS_SETS, None),
}


@pytest.fixture(scope="module", params=list(CAPACITY_RUNS))
def cap_run(request: pytest.FixtureRequest) -> tuple[xr.Dataset, np.ndarray, int]:
    scn, sets, scale = CAPACITY_RUNS[request.param]
    ds = run(scn, sets, scale)
    return ds, levers(scn, sets, scale), int(ds.attrs["scale"])


def test_cbp_one_appointments_within_slots(cap_run: tuple) -> None:
    ds, lv, scale = cap_run
    appts = series(ds, "cbp_one_appointments").values
    assert (appts <= lever(lv, "us.cbp_one_per_day") + scale).all()
    assert appts.sum() > 0


def test_shelter_occupancy_within_beds(cap_run: tuple) -> None:
    ds, lv, _ = cap_run
    for city in BORDER_CITIES:
        occ = series(ds, "in_shelter", place=city).values
        beds = lever(lv, f"mexico.shelter_beds.{city}")
        assert (occ <= beds).all(), f"{city}: {int((occ - beds).max())} people over the beds"
    juarez = series(ds, "in_shelter", place="juarez").values
    full = juarez == lever(lv, "mexico.shelter_beds.juarez")
    assert full.any(), "the shelters never fill, so the test shows nothing"


def test_removals_within_flight_seats(cap_run: tuple) -> None:
    ds, lv, scale = cap_run
    removals = series(ds, "removals", by=("nationality",))
    seats = lever(lv, "us.seats_per_flight")[:, None]
    cap = ds.flights.values * seats + scale
    assert (removals.transpose("time", "nationality").values <= cap).all()
    # No flights to a country, no removals to it (Mexico and Cuba in the baseline).
    no_flights = ds.flights.sum("time").values == 0
    assert (removals.sum("time").values[no_flights] == 0).all()


def test_us_custody_within_border_beds(cap_run: tuple) -> None:
    ds, lv, scale = cap_run
    """Admissions never exceed the free border beds; a cut in beds does not evict detainees,
    so after one it may take up to ``removal.max_detention_days`` to get back under."""
    p = all_parameters()
    share = p["processing.border_share_of_beds"].value
    custody = series(ds, "in_us_custody").values
    admitted = series(ds, "detention_admissions").values
    beds = lever(lv, "us.detention_beds") * share
    free = np.maximum(beds[1:] - custody[:-1], 0)
    assert (admitted[1:] <= free).all(), int((admitted[1:] - free).max())
    settle = int(p["removal.max_detention_days"].value) + 1
    cut = np.flatnonzero(np.diff(beds) < 0)
    ok_from = int(cut[-1]) + 1 + settle if cut.size else 0
    assert (custody[ok_from:] <= beds[ok_from:]).all(), int((custody - beds)[ok_from:].max())
    assert (custody >= beds - scale).any(), "the beds never fill, so the test shows nothing"


def test_inm_apprehensions_within_capacity(cap_run: tuple) -> None:
    ds, lv, scale = cap_run
    p = all_parameters()
    budget = lever(lv, "mexico.inm_budget_mxn") + p["transit.mxn_per_usd"].value * lever(
        lv, "us.border_funding_to_mexico_usd"
    )
    ratio = budget / p["transit.inm_reference_budget_mxn"].value
    cap = (
        p["transit.inm_capacity_per_day"].value
        * ratio ** p["transit.capacity_budget_elasticity"].value
    )
    app = series(ds, "mexico_apprehensions").values
    assert (app <= cap + scale).all()


def test_mexico_deportations_within_monthly_cap(cap_run: tuple) -> None:
    ds, lv, scale = cap_run
    dep = series(ds, "mexico_deportations").to_series()
    cap = xr.DataArray(lever(lv, "mexico.deportations_per_month"), coords={"time": ds.time})
    by_month = dep.groupby(dep.index.to_period("M")).sum()
    cap_month = cap.to_series().groupby(dep.index.to_period("M")).max()
    assert (by_month <= cap_month + scale / 2).all()


def test_takeback_counter_never_exceeds_cap() -> None:
    """Step a simulation and read processing's monthly take-back counter each day."""
    scn = prepare(SHORT, sets=STRESS_SETS)
    sim = Simulation(scn, list(PHASES))
    proc = sim.module("processing")
    cap = lever(sim.levers, "mexico.takeback_cap_per_month") / sim.scale
    used_any = False
    for day in range(sim.n_days):
        for m in sim.modules:
            m.step(day)
        assert proc.takeback_used <= int(round(cap[day])), (day, proc.takeback_used)
        used_any |= proc.takeback_used > 0
    assert used_any


def test_takeback_returns_within_cap_by_month() -> None:
    """Colombians and Ecuadorians are not on Mexico's Title 42 list, so with no MPP every return
    of theirs to Mexico (take-back or emergency authority) counts against the monthly cap."""
    ds = run(SHORT, STRESS_SETS)
    ret = series(ds, "returns_to_mexico", nat=["colombia", "ecuador"], **Y2024).to_series()
    by_month = ret.groupby(ret.index.to_period("M")).sum()
    assert (by_month <= 5000 + SHORT["scale"] / 2).all(), by_month.to_dict()
    assert by_month.max() > 0


# --- Title 42 dates and nationalities ------------------------------------------------------


@pytest.fixture(scope="module")
def full_base() -> xr.Dataset:
    return run("baseline", None, FULL_SCALE)


def test_title42_only_while_in_force(full_base: xr.Dataset) -> None:
    t42 = series(full_base, "expulsions_title42")
    cbp42 = full_base.cbp.sel(title="title42").sum(("component", "demographic", "nationality"))
    for x in (t42, cbp42):
        assert int(x.sel(time=slice(None, "2020-03-19")).sum()) == 0
        assert int(x.sel(time=slice("2023-05-12", None)).sum()) == 0
        during = x.sel(time=slice("2020-03-20", "2023-05-11"))
        assert float((during > 0).mean()) > 0.9


@pytest.mark.parametrize(
    ("nat", "added"),
    [("venezuela", "2022-10-12"), ("cuba", "2023-01-05"), ("nicaragua", "2023-01-05")],
)
def test_title42_nationalities_only_after_mexico_accepted_them(
    full_base: xr.Dataset, nat: str, added: str
) -> None:
    """No flights to these countries before Mexico accepted their nationals, so no Title 42
    expulsion of them before that date; afterwards, some."""
    before = str(np.datetime64(added) - np.timedelta64(1, "D"))
    assert total(full_base, "expulsions_title42", nat=nat, t1=before) == 0
    assert total(full_base, "expulsions_title42", nat=nat, t0=added, t1="2023-05-11") > 0


def test_title42_of_unaccepted_nationalities_only_by_flight(full_base: xr.Dataset) -> None:
    """On a day Mexico does not accept a nationality, its expulsions are flight expulsions:
    each is a detention admission, and only when that country has flights."""
    lv = levers("baseline", None, FULL_SCALE)
    by = ("nationality",)
    t42 = series(full_base, "expulsions_title42", by=by).transpose("time", ...).values
    det = series(full_base, "detention_admissions", by=by).transpose("time", ...).values
    for n, nat in enumerate(NATIONALITIES):
        accepted = lever(lv, f"mexico.title42_accepts.{nat}") > 0
        key = f"us.removal_flights_per_week.{nat}"
        flights = lever(lv, key) > 0 if key in KEY_INDEX else np.zeros(len(accepted), bool)
        assert (t42[~accepted, n] <= det[~accepted, n]).all(), nat
        assert t42[~accepted & ~flights, n].sum() == 0, nat
    haiti = NATIONALITIES.index("haiti")  # flights to Haiti before Mexico accepted Haitians
    accepted_day = int(np.searchsorted(full_base.time.values, np.datetime64("2023-01-05")))
    assert t42[:accepted_day, haiti].sum() > 0


# --- shipped scenarios ---------------------------------------------------------------------

SHIPPED_SCALE = 1000


@pytest.fixture(scope="module")
def shipped_base() -> xr.Dataset:
    return run("baseline", None, SHIPPED_SCALE)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_and_cites_sources(name: str) -> None:
    assert name in shipped_names()
    scn = load(name)
    assert scn.name == name
    assert (scn.start, scn.end, scn.decision_date) == (
        dt.date(2019, 10, 1),
        dt.date(2024, 12, 31),
        dt.date(2024, 1, 1),
    )
    assert (scn.seed, scn.scale, scn.history) == (SEED, 100, True)
    assert "policy-timeline" in scn.description or "parameters.csv" in scn.description
    assert scn.policies and all(e.start >= scn.decision_date for e in scn.policies)
    assert all(e.note for e in scn.policies)


def _y24(ds: xr.Dataset, name: str, **sel: Any) -> int:
    return total(ds, name, **Y2024, **sel)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_runs_and_does_what_it_says(name: str, shipped_base: xr.Dataset) -> None:
    ds, base = run(name, None, SHIPPED_SCALE), shipped_base
    before = {"t1": "2023-12-31"}
    assert total(ds, "encounters_usbp", **before) == total(base, "encounters_usbp", **before)
    on = ds.emergency_authority_on.to_series()
    if name == "us-asks":
        assert _y24(ds, "mexico_deportations") > _y24(base, "mexico_deportations") == 0
        assert _y24(ds, "returns_to_mexico", nat="colombia") > _y24(
            base, "returns_to_mexico", nat="colombia"
        )
        assert _y24(ds, "mexico_apprehensions") > _y24(base, "mexico_apprehensions")
    elif name == "mexico-asks":
        assert _y24(ds, "departures") < _y24(base, "departures")
    elif name == "title42-return":
        assert _y24(ds, "expulsions_title42") > 0
        assert _y24(ds, "repeat_encounters") > _y24(base, "repeat_encounters")
    elif name == "emergency-authority-5000":
        assert _y24(ds, "emergency_returns") > 0
        assert not on[:"2023-12-30"].any()
    elif name == "proclamation-2500-1500":
        assert not on[:"2024-06-03"].any() and on["2024-06-04":].any()
        assert _y24(ds, "emergency_returns") > 0
    elif name == "2024-as-announced":
        vz = ds.flights.sel(nationality="venezuela").to_series()
        assert vz["2024-01-01":"2024-02-12"].sum() > 0
        assert vz["2024-02-13":].sum() == 0
        assert not on[:"2024-06-03"].any() and on["2024-06-04":].any()
