"""Agents to people: the daily tables times ``scale``, in place while the dtype holds them.

Each agent stands for ``scale`` people. The tables are counted in agents and multiplied once
at the end; they stay int32 unless a product would not fit, then the whole table becomes
int64 (a copy). The fused driver applies the same rule one finished day at a time, while the
day is still in cache (:func:`scale_day_nb`), which saves a pass over ~60 MB of tables.
"""

from __future__ import annotations

import numba as nb
import numpy as np


def in_people(counts: np.ndarray, scale: int) -> np.ndarray:
    """``counts`` (agents) times ``scale``: in place when the dtype holds every product, else
    as a new int64 array."""
    if scale == 1 or counts.size == 0:
        return counts
    t = counts.dtype.type
    if scale_in_place_nb(counts.reshape(-1), t(scale), t(limit(counts.dtype, scale))):
        return counts
    return counts.astype(np.int64) * np.int64(scale)


def limit(dtype: np.dtype, scale: int) -> int:
    """The largest count whose product with ``scale`` the integer ``dtype`` holds."""
    return int(np.iinfo(dtype).max // scale)


@nb.njit(cache=True, _nrt=False)
def scale_in_place_nb(flat, scale, limit):
    """Multiply every entry by ``scale`` if none exceeds ``limit`` in magnitude (one read pass,
    one write pass; NumPy's max, min and multiply take three); returns whether it did. An
    all-zero array is left unwritten: its memory pages may never need to exist."""
    hi = flat[0]
    lo = flat[0]
    for i in range(flat.size):  # selects on the array's own type: LLVM vectorises this
        x = flat[i]
        hi = x if x > hi else hi
        lo = x if x < lo else lo
    if hi > limit or lo < -limit:
        return False
    if hi == 0 and lo == 0:
        return True
    for i in range(flat.size):
        flat[i] *= scale
    return True


@nb.njit(cache=True, _nrt=False)
def scale_day_nb(table, day, scale, limit, fits):
    """``table[day]`` (finished) into people, as :func:`in_people` would scale the whole table:
    while ``fits`` (no day so far had a count above ``limit``), in place; at the first day
    that does not fit, the days before are divided back (exact) and the table stays in agents
    for the caller to widen. Returns the new ``fits``."""
    if scale == 1 or not fits:
        return fits
    if scale_in_place_nb(table[day].reshape(-1), scale, limit):
        return True
    for d in range(day):
        flat = table[d].reshape(-1)
        for i in range(flat.size):
            flat[i] //= scale
    return False
