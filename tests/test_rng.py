"""Counter-based draws: the numba kernels equal their references bit for bit, and the draws have
the distribution and the independence the model assumes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from corridor.engine import rng
from corridor.engine.reference import pure
from corridor.model import reference

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
SEEDS = (0, 1, 20240110, 2**62)
DAYS = (0, 1, 2, 365, 1096, 32000)


def _mix_int(z: int) -> int:
    """SplitMix64's finaliser on Python integers (a reference independent of NumPy)."""
    z &= MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def _day_key_int(seed: int, stream: int, day: int) -> int:
    k = _mix_int(seed * GOLDEN + stream)
    return _mix_int(k ^ ((day * M1 + GOLDEN) & MASK))


def _uniform_int(key: int, agent: int) -> float:
    return (_mix_int(key ^ ((agent * GOLDEN) & MASK)) >> 11) * 2.0**-53


def _key(seed: int, stream: int, day: int) -> np.uint64:
    return np.uint64(rng.day_key_nb(seed, stream, day))


def _realistic_uids(n: int) -> np.ndarray:
    """Identities as spawn_nb makes them: (day << 28) | (nationality << 24) | k."""
    r = np.random.default_rng(0)
    day = r.integers(0, 2000, n).astype(np.int64)
    nat = r.integers(0, 11, n).astype(np.int64)
    k = r.integers(0, 5000, n).astype(np.int64)
    return (day << 28) | (nat << 24) | k


# --- bit-for-bit agreement -------------------------------------------------------------------


def test_mix_known_answers() -> None:
    """SplitMix64 seeded with 0 outputs mix(k * golden) for k = 1, 2, 3 (published values)."""
    expected = (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F)
    for k, want in enumerate(expected, start=1):
        z = (k * GOLDEN) & MASK
        assert _mix_int(z) == want
        assert int(rng.mix_nb(np.uint64(z))) == want
        assert int(rng.mix(np.uint64(z))) == want


def test_mix_numba_equals_references() -> None:
    r = np.random.default_rng(1)
    zs = np.concatenate(
        [
            np.array([0, 1, 2, 2**31, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64),
            r.integers(0, 2**64 - 1, 2000, dtype=np.uint64, endpoint=True),
        ]
    )
    ref = rng.mix(zs)
    assert ref.dtype == np.uint64
    nb = np.array([rng.mix_nb(z) for z in zs], dtype=np.uint64)
    np.testing.assert_array_equal(nb, ref)
    np.testing.assert_array_equal(ref, np.array([_mix_int(int(z)) for z in zs], dtype=np.uint64))


def test_day_key_numba_equals_references() -> None:
    for seed in SEEDS:
        for stream in range(max(rng.STREAM.values()) + 2):
            for day in DAYS:
                want = _day_key_int(seed, stream, day)
                assert int(rng.day_key_nb(seed, stream, day)) == want, (seed, stream, day)
                assert int(rng.day_key(seed, stream, day)) == want, (seed, stream, day)
                assert int(pure(rng.day_key_nb)(seed, stream, day)) == want


def test_uniforms_numba_equals_references() -> None:
    agents = np.concatenate([np.arange(5000, dtype=np.int64), _realistic_uids(5000)])
    for seed in SEEDS:
        key = _key(seed, rng.STREAM["cross_decision"], 17)
        nb = rng.uniforms_nb(key, agents)
        ref = rng.uniforms(key, agents)
        assert nb.dtype == ref.dtype == np.float64
        np.testing.assert_array_equal(nb, ref)  # bit for bit
        some = agents[::500]
        np.testing.assert_array_equal(ref[::500], [_uniform_int(int(key), int(a)) for a in some])
        assert ref.min() >= 0.0 and ref.max() < 1.0
        # 53-bit resolution: every draw is a multiple of 2**-53.
        assert np.all(np.ldexp(ref, 53) == np.floor(np.ldexp(ref, 53)))


def test_pure_python_draws_equal_numba() -> None:
    """The uncompiled kernels (what the model-kernel tests use as reference) draw the same."""
    key = _key(7, rng.STREAM["travel_time"], 123)
    for agent in _realistic_uids(300):
        a = np.int64(agent)
        assert pure(rng.uniform_nb)(key, a) == rng.uniforms_nb(key, np.array([a]))[0]
        assert pure(rng.normal_nb)(key, a) == rng.normal_nb(key, a)
        for lam in (0.0, 0.7, 3.0, 29.9, 30.1, 300.0):
            assert pure(rng.poisson_nb)(key, a, lam) == rng.poisson_nb(key, a, lam)
    for cell in range(50):
        for n, p in ((0, 0.5), (7, 1.0), (12, 0.3), (5000, 0.004), (300, 0.9)):
            c = np.int64(cell)
            want = rng.binomial_nb(key, c, n, p)
            assert pure(rng.binomial_nb)(key, c, n, p) == want
            assert reference.binomial(key, cell, n, p) == want


# --- distribution --------------------------------------------------------------------------


@pytest.mark.parametrize("seed,stream,day", [(20240110, 8, 0), (1, 14, 400), (2**62, 24, 31999)])
def test_uniforms_are_uniform(seed: int, stream: int, day: int) -> None:
    n = 1_000_000
    u = rng.uniforms_nb(_key(seed, stream, day), np.arange(n, dtype=np.int64))
    se_mean = np.sqrt(1 / 12 / n)
    se_var = np.sqrt((1 / 80 - 1 / 144) / n)  # sd of (U - 1/2)^2 over sqrt(n)
    assert abs(u.mean() - 0.5) < 4 * se_mean
    assert abs(u.var() - 1 / 12) < 4 * se_var
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Equal-width bins (chi-square) catch lumps the KS test is slow to see.
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_uniforms_of_realistic_identities_are_uniform() -> None:
    """Identities are structured (day, nationality, k bit fields), not a counter."""
    uids = np.unique(_realistic_uids(300_000))
    u = rng.uniforms_nb(_key(20240110, rng.STREAM["give_up"], 90), uids)
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / u.size)
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def _independent(x: np.ndarray, y: np.ndarray, bins: int = 10) -> None:
    """Pearson correlation within 4 standard errors of 0, and a chi-square test of
    independence on a bins x bins grid (catches non-linear dependence)."""
    r = np.corrcoef(x, y)[0, 1]
    assert abs(r) < 4 / np.sqrt(x.size), r
    grid = np.zeros((bins, bins))
    np.add.at(grid, ((x * bins).astype(int), (y * bins).astype(int)), 1)
    assert stats.chi2_contingency(grid).pvalue > 1e-3


@pytest.mark.parametrize(
    "other",
    [
        (20240110, 9, 100),  # another stream, same day
        (20240110, 8, 101),  # the next day
        (20240111, 8, 100),  # the next seed
        (20240110, 9, 101),  # both
    ],
)
def test_draws_of_different_keys_are_independent(other: tuple[int, int, int]) -> None:
    agents = np.arange(200_000, dtype=np.int64)
    a = rng.uniforms_nb(_key(20240110, 8, 100), agents)
    b = rng.uniforms_nb(_key(*other), agents)
    _independent(a, b)


def test_neighbouring_agents_are_independent() -> None:
    u = rng.uniforms_nb(_key(3, 8, 5), np.arange(400_001, dtype=np.int64))
    _independent(u[:-1], u[1:])


def test_same_agent_over_days_is_independent() -> None:
    """One agent's draws day after day (a hazard is a fresh coin each day)."""
    agents = np.array([0, 12345, (700 << 28) | (4 << 24) | 99], dtype=np.int64)
    for a in agents:
        u = np.array([rng.uniforms_nb(_key(5, 8, d), np.array([a]))[0] for d in range(30_000)])
        assert stats.kstest(u, "uniform").pvalue > 1e-3
        _independent(u[:-1], u[1:], bins=6)


def test_normal_is_standard_normal() -> None:
    key = _key(11, rng.STREAM["travel_time"], 3)
    z = np.array([rng.normal_nb(key, a) for a in range(100_000)])
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)
    assert stats.kstest(z, "norm").pvalue > 1e-3


@pytest.mark.parametrize("lam", [3.0, 300.0])
def test_poisson_mean_and_variance(lam: float) -> None:
    n = 100_000
    key = _key(20240110, rng.STREAM["departure_count"], 42)
    x = np.array([rng.poisson_nb(key, c, lam) for c in range(n)], dtype=np.float64)
    assert x.min() >= 0
    se_mean = np.sqrt(lam / n)
    se_var = np.sqrt((lam + 2 * lam**2) / n)  # var of the sample variance: (mu4 - s^4) / n
    assert abs(x.mean() - lam) < 4 * se_mean, (x.mean(), lam)
    assert abs(x.var() - lam) < 4 * se_var, (x.var(), lam)


def test_poisson_small_lambda_is_poisson() -> None:
    """Below lambda 30 the draw is exact inversion: the counts follow the Poisson pmf."""
    n, lam = 100_000, 3.0
    key = _key(5, rng.STREAM["departure_count"], 7)
    x = np.array([rng.poisson_nb(key, c, lam) for c in range(n)])
    top = 9
    obs = np.bincount(np.minimum(x, top), minlength=top + 1)
    p = stats.poisson.pmf(np.arange(top), lam)
    exp = n * np.append(p, 1 - p.sum())
    assert stats.chisquare(obs, exp).pvalue > 1e-3
    assert rng.poisson_nb(key, 0, 0.0) == 0 and rng.poisson_nb(key, 0, -1.0) == 0


@pytest.mark.parametrize("n,p", [(12, 0.3), (200, 0.05), (40_000, 0.003), (30, 0.97)])
def test_binomial_is_binomial(n: int, p: float) -> None:
    """Harm incidents per city: exact in chunks of 16 / p trials, so the counts follow the
    binomial pmf whether one chunk (small n) or many (n = 40,000 is 8 chunks) are drawn."""
    draws = 40_000
    key = _key(11, rng.STREAM["harm"], 3)
    x = np.array([rng.binomial_nb(key, np.int64(c), n, p) for c in range(draws)])
    lo, hi = stats.binom.ppf([1e-4, 1 - 1e-4], n, p).astype(int)
    edges = np.arange(lo, hi + 1)
    obs = np.bincount(np.clip(x, lo, hi) - lo, minlength=hi - lo + 1)
    pmf = stats.binom.pmf(edges, n, p)
    pmf[0], pmf[-1] = stats.binom.cdf(lo, n, p), stats.binom.sf(hi - 1, n, p)
    keep = draws * pmf > 5  # chi-square cells with enough expected counts; pool the rest
    exp, got = draws * pmf[keep], obs[keep]
    if not keep.all():
        exp, got = np.append(exp, draws * pmf[~keep].sum()), np.append(got, obs[~keep].sum())
    assert stats.chisquare(got, exp * got.sum() / exp.sum()).pvalue > 1e-3
    assert rng.binomial_nb(key, 0, 0, p) == 0 and rng.binomial_nb(key, 0, 9, 1.0) == 9


def test_poisson_counters_under_one_key_are_independent() -> None:
    """Departures: nationality n's count is poisson_nb(key_of_day, n, lam[n]). Mexico (0) at a
    large lambda and Guatemala (1) at a small one must be independent across days."""
    n = 50_000
    keys = [_key(20240110, rng.STREAM["departure_count"], d) for d in range(n)]
    big = np.array([rng.poisson_nb(k, 0, 300.0) for k in keys])
    small = np.array([rng.poisson_nb(k, 1, 3.0) for k in keys])
    edges = np.quantile(big, np.linspace(0, 1, 9)[1:-1])
    grid = np.zeros((8, 7))
    np.add.at(grid, (np.searchsorted(edges, big, side="right"), np.minimum(small, 6)), 1)
    assert stats.chi2_contingency(grid).pvalue > 1e-3
