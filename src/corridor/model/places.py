"""The corridor's geography, nationalities and demographic groups.

Everything here is a fixed vocabulary: the engine stores indices into these tuples in small
integer arrays, and every output names them in lower case. Sources: CBP's Southwest Land Border
Encounters file (citizenship groups, demographics, components), DHS OHSS Border Patrol tables
(nationalities, the nine southwest sectors), and `shared/data/context/parameters.csv` (cities with
shelters).
"""

from __future__ import annotations

from dataclasses import dataclass

NATIONALITIES: tuple[str, ...] = (
    "mexico",
    "guatemala",
    "honduras",
    "el_salvador",
    "venezuela",
    "cuba",
    "haiti",
    "nicaragua",
    "colombia",
    "ecuador",
    "other",
)
NAT = {name: i for i, name in enumerate(NATIONALITIES)}
N_NAT = len(NATIONALITIES)

# CBP's citizenship grouping in the Southwest Land Border Encounters file.
CBP_GROUP = {
    "mexico": "Mexico",
    "guatemala": "Guatemala",
    "honduras": "Honduras",
    "el_salvador": "El Salvador",
}

# Who must cross the Darien Gap to reach Mexico overland (South Americans, Haitians and the
# extra-continental share of "other"); Panama SNM counts these nationalities
# (context/period-facts.csv darien_crossings_*).
DARIEN_NATIONALITIES = ("venezuela", "haiti", "colombia", "ecuador")
# Share of "other" that crosses the Darien (extra-continental migrants). Estimate from Panama SNM
# 2023: 520,085 crossings of which ~60k "other" (Chinese, Indian, Afghan, African) vs. ~15% of
# "other" USBP encounters; range 0.2-0.5 carried as a parameter in the transit module.
OTHER_DARIEN_SHARE = 0.3

# Demographic groups as CBP counts them.
DEMOGRAPHICS: tuple[str, ...] = ("single_adult", "fmua", "accompanied_minor", "uac")
DEMO = {name: i for i, name in enumerate(DEMOGRAPHICS)}
CBP_DEMOGRAPHIC = {
    "single_adult": "Single Adults",
    "fmua": "FMUA",
    "accompanied_minor": "Accompanied Minors",
    "uac": "UAC",  # the SW file's label; the reader also accepts "UC / Single Minors"
}

BORDER_CITIES: tuple[str, ...] = (
    "tijuana",
    "mexicali",
    "nogales",
    "juarez",
    "piedras_negras",
    "nuevo_laredo",
    "reynosa",
    "matamoros",
)
SECTORS: tuple[str, ...] = (
    "san_diego",
    "el_centro",
    "yuma",
    "tucson",
    "el_paso",
    "big_bend",
    "del_rio",
    "laredo",
    "rio_grande_valley",
)
# OHSS sector names (usbp-monthly-region-sector file) for each sector.
OHSS_SECTOR = {
    "san_diego": "San Diego, CA",
    "el_centro": "El Centro, CA",
    "yuma": "Yuma, AZ",
    "tucson": "Tucson, AZ",
    "el_paso": "El Paso, TX",
    "big_bend": "Big Bend, TX",
    "del_rio": "Del Rio, TX",
    "laredo": "Laredo, TX",
    "rio_grande_valley": "Rio Grande Valley, TX",
}
# The border city a migrant waits in before crossing into each sector. Yuma faces San Luis Rio
# Colorado (grouped with Mexicali); Big Bend faces Ojinaga (grouped with Juarez).
SECTOR_CITY = {
    "san_diego": "tijuana",
    "el_centro": "mexicali",
    "yuma": "mexicali",
    "tucson": "nogales",
    "el_paso": "juarez",
    "big_bend": "juarez",
    "del_rio": "piedras_negras",
    "laredo": "nuevo_laredo",
    "rio_grande_valley": "reynosa",
}
# Matamoros faces Brownsville, inside the Rio Grande Valley sector; a share of RGV crossers stage
# there (OHSS does not split RGV by station). The staging module splits RGV crossers between
# Reynosa and Matamoros with parameter `matamoros_share_of_rgv`.

# The place axis: one index per place an agent can be, in corridor order.
PLACES: tuple[str, ...] = (
    ("origin", "darien", "tapachula", "mexico_transit") + BORDER_CITIES + SECTORS + ("us_interior",)
)
PLACE = {name: i for i, name in enumerate(PLACES)}
N_PLACES = len(PLACES)
CITY_INDEX = tuple(PLACE[c] for c in BORDER_CITIES)
SECTOR_INDEX = tuple(PLACE[s] for s in SECTORS)


@dataclass(frozen=True)
class Route:
    """A leg of the journey with its travel time in days (median and spread)."""

    origin: str
    destination: str
    days: float
    days_sd: float
    source: str


# Travel legs. Times are medians from the press and NGO reporting; the transit module draws each
# agent's time from a gamma distribution with this mean and spread.
ROUTES: tuple[Route, ...] = (
    Route("origin", "darien", 10.0, 4.0, "estimate: Necocli/Capurgana to the Darien from Colombia"),
    Route(
        "darien", "tapachula", 12.0, 5.0, "estimate: 4-10 days in the jungle, then Central America"
    ),
    Route(
        "origin", "tapachula", 5.0, 2.0, "estimate: Northern Triangle to Mexico's southern border"
    ),
    Route("tapachula", "mexico_transit", 1.0, 0.5, "definition: leaving the southern border"),
)
TRANSIT_TO_CITY_DAYS = {
    # Tapachula to each border city by bus/train ("La Bestia"), days: estimate from distance
    # (2,300-3,500 km) and reporting of 2-6 week journeys; range carried as +/- 50%.
    "tijuana": 30.0,
    "mexicali": 28.0,
    "nogales": 25.0,
    "juarez": 22.0,
    "piedras_negras": 18.0,
    "nuevo_laredo": 16.0,
    "reynosa": 15.0,
    "matamoros": 15.0,
}


def graph_edges() -> list[tuple[str, str, float]]:
    """All travel edges (origin, destination, days) of the corridor, for benchmarks and exports."""
    edges = [(r.origin, r.destination, r.days) for r in ROUTES]
    edges += [("mexico_transit", c, d) for c, d in TRANSIT_TO_CITY_DAYS.items()]
    edges += [(SECTOR_CITY[s], s, 1.0) for s in SECTORS]
    edges.append(("reynosa", "matamoros", 1.0))
    edges += [(s, "us_interior", 2.0) for s in SECTORS]
    return edges
