"""Process 4: meeting CBP. CBP One appointments at ports; crossings between ports.

Each day CBP One gives ``us.cbp_one_per_day`` appointments by lottery among registered people
waiting in border cities (never more than the slots). Those who cross without an appointment
go to a port (an OFO inadmissible) with a small probability, otherwise between ports, where
Border Patrol apprehends them or they get away. Each person crosses into the sector facing
their city (Mexicali: El Centro or Yuma; Juarez: El Paso or Big Bend, by the month's mix).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from corridor.engine import people as pp
from corridor.engine.params import Param
from corridor.engine.rng import STREAM, day_key_nb, uniform_nb, uniforms
from corridor.engine.series import F
from corridor.engine.sim import Module
from corridor.model.places import BORDER_CITIES, NAT, NATIONALITIES, PLACE, SECTOR_CITY, SECTORS
from corridor.model.staging import CROSS

_ST_CBP_ONE_LOTTERY = STREAM["cbp_one_lottery"]
_ST_SECTOR_CHOICE = STREAM["sector_choice"]
_ST_USBP_APPREHENSION = STREAM["usbp_apprehension"]

USBP = 3  # apprehended between ports (event code)
OFO = 4  # inadmissible at a port, no appointment
OFO_APPT = 5  # at a port with a CBP One appointment
_GOT = F["gotaways"]
_FIRST_CITY = PLACE[BORDER_CITIES[0]]


def _city_sectors() -> tuple[np.ndarray, np.ndarray]:
    """Primary and secondary sector place index of each city."""
    primary = np.zeros(len(BORDER_CITIES), dtype=np.int64)
    second = np.zeros(len(BORDER_CITIES), dtype=np.int64)
    for c, city in enumerate(BORDER_CITIES):
        secs = [s for s in SECTORS if SECTOR_CITY[s] == city] or ["rio_grande_valley"]
        primary[c] = PLACE[secs[0]]
        second[c] = PLACE[secs[-1]]
    return primary, second


PRIMARY_SECTOR, SECOND_SECTOR = _city_sectors()


class EncounterPack(NamedTuple):
    """What :func:`encounter_day_nb` needs (fused driver)."""

    slots: np.ndarray  # [day] CBP One appointments (agents)
    appointments_given: np.ndarray  # [day] int64, the module's own (updated in place)
    gotaway: np.ndarray  # [nat]
    port_share: float
    alt_sector: np.ndarray  # transit's [month row, city]
    month_row: np.ndarray  # transit's [day]
    primary: np.ndarray  # [city] place
    second: np.ndarray  # [city] place


def lottery(key: np.uint64, uid: np.ndarray, candidates: np.ndarray, slots: int) -> np.ndarray:
    """Pick ``slots`` of ``candidates`` (indices) by hashed priority; all if fewer.

    The priority of a person is a pure function of (seed, day, uid), so the winners do not
    depend on array order or thread count.
    """
    if candidates.size <= slots:
        return candidates
    pri = uniforms(key, uid[candidates])
    order = np.lexsort((uid[candidates], pri))
    return np.sort(candidates[order[:slots]])


@nb.njit(cache=True)
def lottery_nb(key, n, state, flags, uid, slots, event):
    """Numba kernel of :func:`lottery` over registered waiting people; marks the winners'
    ``event`` as OFO_APPT and returns how many won."""
    # One pass over the people: the registered waiting.
    cand = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if state[i] == pp.WAITING and (flags[i] & pp.CBP_ONE):
            cand[m] = i
            m += 1
    return draw_lottery_nb(key, cand[:m], uid, slots, event)


@nb.njit(cache=True)
def draw_lottery_nb(key, cand, uid, slots, event):
    """The lottery among the candidates ``cand`` (indices): the ``slots`` smallest hashed
    priorities win, ties by smallest uid (as :func:`lottery`); marks the winners' ``event``
    as OFO_APPT and returns how many won."""
    m = cand.shape[0]
    if m <= slots:
        for i in cand:
            event[i] = OFO_APPT
        return m
    # The winners are the ``slots`` smallest (priority, uid): kept in a max-heap, so most
    # candidates cost one draw and one comparison with the heap's top.
    hp = np.empty(slots)
    hu = np.empty(slots, dtype=np.int64)
    hj = np.empty(slots, dtype=np.int64)
    pri = np.empty(m)
    for j in range(m):  # the draws first, in a loop of their own that LLVM vectorises
        pri[j] = uniform_nb(key, uid[pp.index_nb(cand[j])])
    for j in range(m):
        p = pri[j]
        if j >= slots and p > hp[0]:  # most candidates: worse than the worst winner so far
            continue
        u = uid[pp.index_nb(cand[j])]
        if j < slots:  # fill, sifting up
            k = j
            while k > 0:
                parent = (k - 1) // 2
                if hp[parent] > p or (hp[parent] == p and hu[parent] > u):
                    break
                hp[k], hu[k], hj[k] = hp[parent], hu[parent], hj[parent]
                k = parent
            hp[k], hu[k], hj[k] = p, u, j
        elif p < hp[0] or (p == hp[0] and u < hu[0]):  # replace the top, sifting down
            k = 0
            while True:
                c = 2 * k + 1
                if c >= slots:
                    break
                if c + 1 < slots and (
                    hp[c + 1] > hp[c] or (hp[c + 1] == hp[c] and hu[c + 1] > hu[c])
                ):
                    c += 1
                if hp[c] < p or (hp[c] == p and hu[c] < u):
                    break
                hp[k], hu[k], hj[k] = hp[c], hu[c], hj[c]
                k = c
            hp[k], hu[k], hj[k] = p, u, j
    for k in range(slots):
        event[cand[hj[k]]] = OFO_APPT
    return slots


@pp.helper_nb
def slots_today_nb(day, pk, slot_carry):
    """Today's whole CBP One slots and the fraction carried to tomorrow."""
    s = pk.slots[day] + slot_carry
    slots = int(s)
    return slots, s - slots


class Encounter(Module):
    name = "encounter"
    PARAMS = (
        Param(
            "port_share",
            0.0589,
            "share of crossings made at a port without appointment",
            0.0,
            1.0,
            "calibration; OFO was ~15% of SW encounters FY2020 (CBP SW file)",
            range=(0.03, 0.2),
        ),
        Param(
            "gotaway_prob_mexico",
            0.30,
            "probability",
            0.0,
            1.0,
            "calibration; parameters.csv: gotaways 73,463 (Apr 2023), 32,840 (Jun 2023)",
            range=(0.15, 0.45),
        ),
        Param(
            "gotaway_prob_other",
            0.06,
            "probability",
            0.0,
            1.0,
            "estimate: asylum seekers mostly turn themselves in",
            range=(0.02, 0.15),
        ),
    )

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.gotaway = np.full(len(NATIONALITIES), self.p["gotaway_prob_other"])
        self.gotaway[NAT["mexico"]] = self.p["gotaway_prob_mexico"]
        self.slot_carry = 0.0
        self.appointments_given = np.zeros(sim.n_days, dtype=np.int64)
        self.slots = sim.lever("us.cbp_one_per_day") / sim.scale

    def pack(self) -> EncounterPack:
        """Schedules and parameters for the fused driver (same values step uses)."""
        t_pack = self.sim.module("transit").pack()
        c = np.ascontiguousarray
        return EncounterPack(
            c(self.slots, dtype=np.float64),
            self.appointments_given,
            c(self.gotaway, dtype=np.float64),
            float(self.p["port_share"]),
            t_pack.alt_sector,
            t_pack.month_row,
            PRIMARY_SECTOR,
            SECOND_SECTOR,
        )

    def step(self, day: int) -> None:
        sim = self.sim
        self.slot_carry = encounter_day_nb(
            day,
            sim.seed,
            self.pk,
            self.slot_carry,
            sim.people.n,
            sim.people.arrays(),
            sim.event,
            sim.res.flows[day],
        )


@nb.njit(cache=True)
def encounter_day_nb(day, seed, pk, slot_carry, n, ppl, event, flows):
    """:meth:`Encounter.step` with its carry of fractional slots; returns the new carry."""
    slots, slot_carry = slots_today_nb(day, pk, slot_carry)
    if slots > 0:
        key = day_key_nb(seed, _ST_CBP_ONE_LOTTERY, day)
        # ppl is People.arrays(): uid, nat, demo, state, place, flags, ...
        pk.appointments_given[day] = lottery_nb(key, n, ppl[3], ppl[5], ppl[0], slots, event)
    encounter_nb(
        n,
        day,
        seed,
        pk.port_share,
        pk.gotaway,
        pk.alt_sector[pk.month_row[day]],
        pk.primary,
        pk.second,
        ppl,
        event,
        flows,
    )
    return slot_carry


@nb.njit(cache=True)
def sector_key_nb(seed):
    """The key of each person's sector draw (one per run: the sector is fixed per person)."""
    return day_key_nb(seed, _ST_SECTOR_CHOICE, 0)


@pp.helper_nb
def sector_of(uid, city, key, alt, primary, second):
    """The sector a person from ``city`` crosses into (``key`` from :func:`sector_key_nb`)."""
    u = uniform_nb(key, uid)
    return second[city] if u < alt[city] else primary[city]


@pp.loop_nb
def encounter_nb(
    n,
    day,
    seed,
    port_share,
    gotaway,
    alt,
    primary,
    second,
    ppl,
    event,
    flows,
):
    """Resolve today's crossings: port or between ports; apprehended or got away."""
    k = day_key_nb(seed, _ST_USBP_APPREHENSION, day)
    k_sector = sector_key_nb(seed)
    for i in range(n):
        if event[i] == CROSS:
            event[i] = encounter_person_nb(
                i, k, k_sector, port_share, gotaway, alt, primary, second, ppl, flows
            )


@pp.person_nb
def encounter_person_nb(i, k, k_sector, port_share, gotaway, alt, primary, second, ppl, flows):
    """Person ``i``'s crossing today: returns the event, OFO (at a port), USBP (apprehended
    between ports) or 0 (got away into the US)."""
    uid, nat, demo, state, place, flags, enc, expl, rem, t_next, t_state, t_last, wake = ppl[:13]
    u = uniform_nb(k, uid[i])
    if u < port_share:
        return OFO
    if u < port_share + (1.0 - port_share) * gotaway[nat[i]]:
        sec = sector_of(uid[i], place[i] - _FIRST_CITY, k_sector, alt, primary, second)
        flows[_GOT, nat[i], sec] += 1
        state[i] = pp.IN_US
        place[i] = sec
        return 0
    return USBP
