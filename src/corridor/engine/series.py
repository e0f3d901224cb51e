"""The result series the engine counts, each day, by nationality and place.

Flows are counted when they happen (people per day); stocks are snapshots at the end of each
day. Both are kept in units of agents and multiplied by ``scale`` when results are written.
"""

from __future__ import annotations

FLOWS: tuple[str, ...] = (
    "departures",
    "chnv_paroles",
    "darien_crossings",
    "mexico_apprehensions",
    "mexico_deportations",
    "mexico_releases",
    "arrivals_border",
    "encounters_usbp",
    "encounters_ofo",
    "gotaways",
    "expulsions_title42",
    "returns_to_mexico",
    "removals",
    "releases",
    "cbp_one_appointments",
    "unique_people_encountered",
    "repeat_encounters",
    "harm_incidents",
    "mpp_enrollments",
    "emergency_returns",
    "gave_up",
    "detention_admissions",
    "redepartures",
)
STOCKS: tuple[str, ...] = (
    "waiting",
    "in_shelter",
    "on_street",
    "travelling_south",
    "in_mexico_transit",
    "in_mexico_detention",
    "in_us_custody",
    "mpp_waiting",
    "cbp_one_registered",
)
F = {name: i for i, name in enumerate(FLOWS)}
S = {name: i for i, name in enumerate(STOCKS)}
N_FLOWS = len(FLOWS)
N_STOCKS = len(STOCKS)

# CBP layout counters: component x title x demographic x nationality.
COMPONENTS = ("usbp", "ofo")
TITLES = ("title8", "title42")
