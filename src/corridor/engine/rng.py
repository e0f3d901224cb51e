"""Counter-based random draws: a draw is a hash of (seed, stream, day, agent).

This is Starsim's lesson: when every draw is a pure function of who, when and why, the same seed
gives the same run at any thread count and in any loop order, and two scenarios that differ only
in their policies see the same draws wherever those policies do not differ (common random
numbers). The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014), which passes BigCrush
when applied to a counter.

Each ``*_nb`` function is a numba kernel; the plain-NumPy function of the same name without the
suffix is its reference, used in the tests to show the two agree bit for bit.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from corridor.engine.people import index_nb

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@nb.njit(cache=True, inline="always")
def mix_nb(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser on one 64-bit word."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@nb.njit(cache=True)
def day_key_nb(seed: int, stream: int, day: int) -> np.uint64:
    """Key for one (seed, stream, day); agents' draws are hashed from it."""
    k = mix_nb(np.uint64(seed) * _GOLDEN + np.uint64(stream))
    return mix_nb(k ^ (np.uint64(day) * _M1 + _GOLDEN))


@nb.njit(cache=True, inline="always")
def uniform_nb(key: np.uint64, agent: np.int64) -> float:
    """U[0,1) for one agent under a day key."""
    h = mix_nb(key ^ (np.uint64(agent) * _GOLDEN))
    return float(h >> _S11) * _INV53


def mix(z: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`mix_nb` (wrap-around uint64 arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def day_key(seed: int, stream: int, day: int) -> np.uint64:
    """NumPy reference of :func:`day_key_nb`."""
    with np.errstate(over="ignore"):
        k = mix(np.array([seed], dtype=np.uint64) * _GOLDEN + np.uint64(stream))
        d = np.array([day], dtype=np.uint64) * _M1 + _GOLDEN
        return mix(k ^ d)[0]


def uniforms(key: np.uint64, agents: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`uniform_nb` for many agents at once."""
    with np.errstate(over="ignore"):
        h = mix(np.uint64(key) ^ (np.asarray(agents, dtype=np.uint64) * _GOLDEN))
    return (h >> _S11).astype(np.float64) * _INV53


@nb.njit(cache=True)
def uniforms_nb(key: np.uint64, agents: np.ndarray) -> np.ndarray:
    out = np.empty(agents.shape[0], dtype=np.float64)
    for i in range(agents.shape[0]):
        out[i] = uniform_nb(key, agents[i])
    return out


@nb.njit(cache=True)
def normal_nb(key: np.uint64, agent: np.int64) -> float:
    """Standard normal by Box-Muller from two hashed uniforms of the same (key, agent)."""
    u1 = uniform_nb(key, 2 * agent)
    u2 = uniform_nb(key, 2 * agent + 1)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


@nb.njit(cache=True)
def poisson_nb(key: np.uint64, counter: np.int64, lam: float) -> np.int64:
    """Poisson draw from hashed uniforms: inversion below 30, rounded normal above.

    Above lam=30 the normal approximation's error in mean and variance is below 2%, far inside
    the model's other uncertainties, and it costs one draw instead of lam.
    """
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        z = normal_nb(key, counter)
        v = np.floor(lam + np.sqrt(lam) * z + 0.5)
        return np.int64(max(v, 0.0))
    u = uniform_nb(key, 2 * counter)  # the counters normal_nb would use: no overlap across
    p = np.exp(-lam)
    cdf = p
    k = 0
    while u > cdf and k < 200:
        k += 1
        p *= lam / k
        cdf += p
    return k


_BINOMIAL_CHUNK_MEAN = 16.0  # expected successes per inversion chunk (q^m stays above 1e-8)


@nb.njit(cache=True)
def binomial_nb(key: np.uint64, counter: np.int64, n: np.int64, p: float) -> np.int64:
    """Binomial(n, p) from hashed uniforms, exact: the n trials go in chunks of at most
    16 / p, each drawn by inversion of its CDF from one uniform (counters ``counter * 2**20``
    onward, one per chunk), and the chunks' counts add up. A city's harm incidents are one
    draw instead of one per person."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    chunk = max(np.int64(1), np.int64(_BINOMIAL_CHUNK_MEAN / p))
    ratio = p / (1.0 - p)
    total = np.int64(0)
    left = np.int64(n)
    j = np.int64(0)
    while left > 0:
        m = min(chunk, left)
        u = uniform_nb(key, counter * 1048576 + j)
        pmf = (1.0 - p) ** m
        cdf = pmf
        k = np.int64(0)
        while u > cdf and k < m:
            pmf *= (m - k) / (k + 1.0) * ratio
            k += 1
            cdf += pmf
        total += k
        left -= m
        j += 1
    return total


# Stream identifiers: one per decision, so adding a decision never shifts another's draws.
STREAM = {
    "departure_count": 1,
    "departure_demographic": 2,
    "departure_darien": 3,
    "travel_time": 4,
    "mexico_apprehension": 5,
    "mexico_deportation": 6,
    "city_choice": 7,
    "cross_decision": 8,
    "cbp_one_register": 9,
    "cbp_one_lottery": 10,
    "usbp_apprehension": 11,
    "processing": 12,
    "after_return": 13,
    "give_up": 14,
    "harm": 15,
    "removal_queue": 16,
    "parole": 17,
    "mpp_hearing": 18,
    "shelter": 19,
    "walk": 20,
    "mexico_release_city": 21,
    "mexico_release_time": 22,
    "sector_choice": 23,
    "custody_release": 24,
    "walk_dwell": 25,
    "redeparture_count": 26,
    "redeparture_pick": 27,
    "interior_threshold": 28,
    "crossing_threshold": 29,
}


@nb.njit(cache=True, inline="always")
def exponential_nb(key: np.uint64, agent: np.int64) -> float:
    """Exp(1) for one agent under a day key: a threshold on a summed hazard (the first day
    the sum reaches it is the day of the event: the same chances as a draw each day)."""
    return -math.log(1.0 - uniform_nb(key, agent))  # libm's, as in pure Python (tests)


@nb.njit(cache=True, inline="always")
def threshold_nb(key: np.uint64, agent: np.int64, cum: np.ndarray, first: int) -> np.float32:
    """A threshold on a summed hazard ``cum`` (``cum[d]``: the daily hazards summed through day
    ``d``) for an event possible from day ``first`` on: the sum before ``first`` plus an Exp(1)
    draw. The first day ``d`` with ``cum[d] >= threshold`` is the event's, with the same
    chances as a draw each day; no day after today need be known."""
    before = cum[first - 1] if first > 0 else 0.0
    return np.float32(before + exponential_nb(key, agent))


@nb.njit(cache=True, inline="always")
def first_reaching_nb(cum: np.ndarray, x, start: int) -> int:
    """The first day ``d >= start`` with ``cum[d] >= x`` (``cum`` non-decreasing; its length
    if none): the day a threshold on a summed hazard is reached, found by bisection instead
    of looking each day. The comparison is the one the day's check makes."""
    lo, hi = start, cum.shape[0]
    while lo < hi:
        mid = index_nb((lo + hi) >> 1)  # never negative: no wraparound (engine.people)
        if cum[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


def hazard_sums(p: np.ndarray) -> np.ndarray:
    """``cum`` for :func:`threshold_nb` from daily probabilities ``p`` [day]: the hazards
    -log(1 - p) summed through each day (a certain event counts 700: any Exp(1) draw is
    below it in practice)."""
    h = -np.log(np.maximum(1.0 - np.asarray(p, dtype=np.float64), 1e-304))
    return np.cumsum(np.minimum(h, 700.0))
