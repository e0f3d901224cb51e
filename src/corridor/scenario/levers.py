"""The levers of the January 2024 talks: every policy a scenario can set, with unit, bounds, source.

A lever is a named, dated input. Policies on a scenario's timeline set levers; modules read the
lever values of the day. The value before any event is the lever's ``default`` (the state of
October 2019, where the default timeline starts); the historical timeline in
``scenarios/history.yaml`` moves them to the late-2023 status quo. ``neutral`` is the value at
which the lever does nothing beyond the status quo; setting it changes no outcome.

Levers that name a city or a country (``mexico.shelter_beds.<city>``,
``us.removal_flights_per_week.<country>``) expand into one concrete lever per place; list levers
(``mexico.takeback_nationalities``) expand into one 0/1 lever per nationality. The engine keeps a
day x lever table of floats built from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corridor.model.places import BORDER_CITIES, NATIONALITIES

FLIGHT_COUNTRIES = tuple(n for n in NATIONALITIES if n != "mexico")


@dataclass(frozen=True)
class Lever:
    """One policy input."""

    name: str
    unit: str
    default: float
    lo: float
    hi: float
    source: str
    mechanism: str
    direction: str = ""
    kind: str = "number"  # number | switch | nationalities
    neutral: float | None = None
    per: tuple[str, ...] = field(default_factory=tuple)  # expand over these names
    defaults: dict[str, float] = field(default_factory=dict)  # per-name default overrides


P = "shared/data/context/parameters.csv"
T = "shared/data/context/policy-timeline.csv"

LEVERS: tuple[Lever, ...] = (
    Lever(
        "mexico.takeback_cap_per_month",
        "people/month",
        0.0,
        0.0,
        500_000.0,
        f"{P}: 'Mexico accepts CHNV returns 30,000/month'; {T} 2023-01-05, 2023-05-02",
        "Non-Mexicans of the covered nationalities caught between ports and ordered removed "
        "under Title 8 (the removal share: processing.removal_share, or "
        "processing.removal_share_asylum_rule under the asylum rule) are returned to Mexico "
        "while the month's cap lasts; those beyond it go to removal flights or release. A cap "
        "above what the removal share yields does not bind.",
        "raises returns_to_mexico, lowers releases; lowers later departures of the covered "
        "nationalities through the pull (learned with a lag)",
    ),
    Lever(
        "mexico.takeback_nationalities",
        "list of nationalities",
        0.0,
        0.0,
        1.0,
        f"{T} 2023-01-05 (Cuba, Haiti, Nicaragua, Venezuela)",
        "Which nationalities Mexico takes back under the monthly cap.",
        "widens the take-back",
        kind="nationalities",
        per=NATIONALITIES,
    ),
    Lever(
        "mexico.title42_accepts",
        "list of nationalities",
        0.0,
        0.0,
        1.0,
        f"{T} 2020-03-20 (Mexico, Northern Triangle), 2022-10-12 (Venezuela), 2023-01-05 (CHN)",
        "Nationalities Mexico accepts as Title 42 (or emergency-authority) expulsions; others "
        "can only be expelled on a flight home, seats permitting.",
        "more expulsions to Mexico, more repeat crossings",
        kind="nationalities",
        per=NATIONALITIES,
        defaults={"mexico": 1.0, "guatemala": 1.0, "honduras": 1.0, "el_salvador": 1.0},
    ),
    Lever(
        "mexico.visa_free_nationalities",
        "list of nationalities",
        0.0,
        0.0,
        1.0,
        "gob.mx SRE 2021-08-20 (visa for Ecuadorians from 2021-09-04, "
        "https://www.gob.mx/sre/prensa/mexico-temporarily-suspends-visa-exemption-for-citizens-"
        "of-ecuador); DOF 2022-01-06 (visa for Venezuelans from 2022-01-21, "
        "https://www.mondaq.com/mexico/employee-rights-labour-relations/1150468/); Colombians "
        "visa-free throughout 2019-2023",
        "Nationalities that may fly into Mexico without a visa: a share "
        "(`departure.air_share_visa_free`) of their departures fly in and travel north from "
        "there (no Darien, no southern border), the rest go by land. Only the route changes: "
        "the fall in departures that followed past impositions is in the fitted push curves, "
        "not in this lever.",
        "removing a nationality sends its migrants through the Darien and Tapachula: later "
        "arrivals, more Darien crossings and southern-border apprehensions",
        kind="nationalities",
        per=NATIONALITIES,
        defaults={"venezuela": 1.0, "colombia": 1.0, "ecuador": 1.0},
    ),
    Lever(
        "mexico.southern_enforcement",
        "multiplier (1 = late-2023)",
        1.0,
        0.0,
        5.0,
        f"{P}: Mexico irregular-migrant 'eventos' 2021-2023; Gathmann (2008) elasticity",
        "Scales the probability that INM apprehends a migrant at the southern border "
        "(Tapachula), within INM's daily capacity.",
        "raises mexico_apprehensions; lowers encounters for a while (released people re-try)",
        neutral=1.0,
    ),
    Lever(
        "mexico.interior_enforcement",
        "multiplier (1 = late-2023)",
        1.0,
        0.0,
        5.0,
        f"{P}: Mexico 'eventos'; {T} 2023-12-27 enforcement surge",
        "Scales INM's daily apprehension hazard on migrants in transit inside Mexico, within "
        "INM's daily capacity.",
        "raises mexico_apprehensions, lowers and delays encounters",
        neutral=1.0,
    ),
    Lever(
        "mexico.inm_budget_mxn",
        "MXN/year",
        1_897_700_000.0,
        0.0,
        20_000_000_000.0,
        f"{P}: INM budget approved MXN 1,897.7m (2024)",
        "INM's capacity to hold and process apprehended migrants scales with its budget "
        "(elasticity `transit.capacity_budget_elasticity`).",
        "raises the ceiling on mexico_apprehensions",
        neutral=1_897_700_000.0,
    ),
    Lever(
        "mexico.deportations_per_month",
        "people/month",
        10_000.0,
        0.0,
        200_000.0,
        f"{P}: Mexico deportations >130,000 (2021), ~122,000 (2022), 51,000 (Jan-Oct 2023); "
        f"{T} 2023-12-01 INM suspends deportations",
        "Monthly cap on deportations from Mexico of people INM holds; beyond it INM releases "
        "them with an exit order and they re-try from the south.",
        "raises mexico_deportations; lowers encounters a little",
    ),
    Lever(
        "mexico.shelter_beds",
        "beds",
        0.0,
        0.0,
        100_000.0,
        f"{P}: shelter capacity rows for Juarez, Tijuana, Reynosa, Matamoros; others estimated",
        "Beds in each border city's shelters. People waiting beyond the beds are on the street, "
        "where the daily harm hazard is higher.",
        "lowers on_street and harm_incidents",
        per=BORDER_CITIES,
        defaults={
            "tijuana": 3000.0,
            "mexicali": 800.0,
            "nogales": 500.0,
            "juarez": 2000.0,
            "piedras_negras": 400.0,
            "nuevo_laredo": 600.0,
            "reynosa": 3800.0,
            "matamoros": 850.0,
        },
    ),
    Lever(
        "us.title42",
        "switch",
        0.0,
        0.0,
        1.0,
        f"{T} 2020-03-20 to 2023-05-11",
        "Expulsion without asylum screening of single adults and (a share of) families of the "
        "nationalities Mexico accepts; others expelled by flight when seats allow.",
        "raises expulsions_title42 and repeat_encounters; lowers releases",
        kind="switch",
        neutral=0.0,
    ),
    Lever(
        "us.mpp",
        "share of eligible non-Mexicans enrolled",
        0.0,
        0.0,
        1.0,
        f"{T} MPP rows: ~68-71k enrolled Jan 2019-Jan 2021; 9,653 in MPP 2.0",
        "Share of non-Mexican adults and families processed under Title 8 sent to wait in a "
        "Mexican border city for their US hearing ('Remain in Mexico').",
        "raises waiting and harm in border cities; lowers releases",
        neutral=0.0,
    ),
    Lever(
        "us.asylum_rule",
        "switch",
        0.0,
        0.0,
        1.0,
        f"{T} 2023-05-11 (88 FR 31314)",
        "Circumvention of Lawful Pathways: crossing between ports without a CBP One appointment "
        "makes asylum presumptively barred, raising the share placed in expedited removal.",
        "raises removals (within detention and flights), shifts people to CBP One",
        kind="switch",
        neutral=1.0,
    ),
    Lever(
        "us.cbp_one_per_day",
        "appointments/day",
        0.0,
        0.0,
        20_000.0,
        f"{T} 2023-01-12 (~740), 2023-05-12 (1,000), 2023-06 (1,250), 2023-06-30 (1,450)",
        "Port appointments a day, allocated by lottery among registered people waiting in "
        "border cities.",
        "raises encounters_ofo and releases at ports; lowers crossings between ports",
    ),
    Lever(
        "us.removal_flights_per_week",
        "flights/week",
        0.0,
        0.0,
        100.0,
        f"{P}: ICE Air 99-153 flights/month (2022), DHS >30 repatriation flights/week (Dec "
        f"2023); Venezuela 11 flights Oct 18-Dec 27 2023; countries refusing returns",
        "Removal (and Title 42 expulsion) flights to each country; each carries "
        "`us.seats_per_flight` people from detention.",
        "raises removals, lowers releases and later departures of that nationality",
        per=FLIGHT_COUNTRIES,
        defaults={
            "guatemala": 10.0,
            "honduras": 8.0,
            "el_salvador": 3.0,
            "colombia": 2.0,
            "ecuador": 2.0,
            "haiti": 1.0,
            "other": 3.0,
        },
    ),
    Lever(
        "us.seats_per_flight",
        "seats",
        135.0,
        20.0,
        400.0,
        f"{P}: passengers per removal flight ~127-130 (Venezuela 737), range 120-180",
        "People each removal flight carries.",
        "raises removals per flight",
        neutral=135.0,
    ),
    Lever(
        "us.detention_beds",
        "beds",
        34_000.0,
        0.0,
        200_000.0,
        f"{P}: ICE ADP FY2023 28,289; funded ~34,000-41,500",
        "ICE beds; a share (`processing.border_share_of_beds`) holds border cases awaiting a "
        "removal flight. Without a bed, a removable person is released.",
        "raises removals, lowers releases",
        neutral=34_000.0,
    ),
    Lever(
        "us.chnv_parole_per_month",
        "paroles/month",
        0.0,
        0.0,
        200_000.0,
        f"{P}: CHNV parole 30,000/month; {T} 2022-10-12 (Venezuela, 24,000 cap), 2023-01-05",
        "Parole by air for Cubans, Haitians, Nicaraguans and Venezuelans; each parolee replaces "
        "a land departure with probability `departure.parole_substitution` x land / (land + "
        "paroles).",
        "lowers departures and encounters of CHNV nationalities",
    ),
    Lever(
        "us.chnv_parole_nationalities",
        "list of nationalities",
        0.0,
        0.0,
        1.0,
        f"{T} 2022-10-12 (Venezuela), 2023-01-05 (Cuba, Haiti, Nicaragua, Venezuela)",
        "Nationalities eligible for the parole programme; the monthly paroles are shared among "
        "them by `departure.parole_share_<nationality>`.",
        "widens parole",
        kind="nationalities",
        per=NATIONALITIES,
    ),
    Lever(
        "us.emergency_authority.on_above_per_day",
        "encounters/day (7-day mean)",
        0.0,
        0.0,
        20_000.0,
        f"{T} 2024-02-04 (Senate bill, 5,000), 2024-06-05 (Proclamation 10773, 2,500)",
        "When the 7-day mean of encounters between ports reaches this, summary return/removal "
        "replaces release for those crossing between ports (0 = no authority).",
        "caps releases in surges; more returns and removals",
        neutral=0.0,
    ),
    Lever(
        "us.emergency_authority.off_below_per_day",
        "encounters/day (7-day mean)",
        0.0,
        0.0,
        20_000.0,
        f"{T} 2024-06-05 (1,500/day for 14 days)",
        "The authority lifts 14 days after the 7-day mean falls below this.",
        "a lower off-threshold keeps the authority on longer",
        neutral=0.0,
    ),
    Lever(
        "us.regional_aid_usd_per_year",
        "USD/year above status quo",
        0.0,
        0.0,
        50e9,
        f"{P}: aid elasticity ~-0.15 per doubling (Lanati & Thiele); Clemens (2014) mobility "
        "transition; Clemens & Postel (2018) small at best",
        "Extra aid to Latin America and the Caribbean lowers push from origins after a lag, "
        "with an uncertain elasticity `departure.aid_elasticity` (range includes zero).",
        "lowers departures slowly (after ~1 year); uncertain",
        neutral=0.0,
    ),
    Lever(
        "us.venezuela_sanctions",
        "switch (1 = in force)",
        1.0,
        0.0,
        1.0,
        f"{P}: Rodriguez (2024) +1M emigrants over 5 years; Bahar & Hausmann (2025) contest",
        "Lifting sanctions changes Venezuelan push after a lag by `departure.sanctions_effect` "
        "(low confidence, range spans zero).",
        "lifting lowers Venezuelan departures in the central estimate",
        kind="switch",
        neutral=1.0,
    ),
    Lever(
        "us.cuba_embargo",
        "switch (1 = in force)",
        1.0,
        0.0,
        1.0,
        f"{P}: Cuban emigration 2022-23 ~1.0M (ONEI); no quantified embargo elasticity found",
        "Lifting the embargo changes Cuban push after a lag by `departure.embargo_effect` "
        "(an estimate with a wide range).",
        "lifting lowers Cuban departures in the central estimate",
        kind="switch",
        neutral=1.0,
    ),
    Lever(
        "us.legalized_residents",
        "people",
        0.0,
        0.0,
        15_000_000.0,
        f"{P}: IRCA 1986 (~2.7-3M legalised): apprehensions fell, then returned to normal",
        "Legalising residents gives a temporary dip in departures (IRCA), scaled by the number "
        "legalised, fading over `departure.legalization_fade_days`.",
        "temporary decrease in departures; no long-run change",
        neutral=0.0,
    ),
    Lever(
        "us.border_funding_to_mexico_usd",
        "USD/year",
        0.0,
        0.0,
        10e9,
        f"{P}: INM budget ~US$100-110M/yr at 17-19 MXN/USD",
        "US money for Mexico's enforcement adds to INM's budget at `transit.mxn_per_usd`.",
        "raises INM capacity, and so mexico_apprehensions",
        neutral=0.0,
    ),
)

LEVER_BY_NAME = {lv.name: lv for lv in LEVERS}


def expand() -> list[tuple[str, Lever, float]]:
    """Concrete lever keys (per-place and per-nationality expanded) with their defaults."""
    out: list[tuple[str, Lever, float]] = []
    for lv in LEVERS:
        if lv.per:
            for name in lv.per:
                out.append((f"{lv.name}.{name}", lv, lv.defaults.get(name, lv.default)))
        else:
            out.append((lv.name, lv, lv.default))
    return out


CONCRETE = expand()
KEY_INDEX = {key: i for i, (key, _, _) in enumerate(CONCRETE)}
N_KEYS = len(CONCRETE)


def index(key: str) -> int:
    """Column of a concrete lever key in the day x lever table."""
    return KEY_INDEX[key]
