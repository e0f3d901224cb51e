"""Zeroed arrays in fresh pages from the system, for the result tables (~60 MB a run).

``np.zeros`` takes memory from the C heap, which keeps and reuses what earlier runs freed,
and must then clear it on the calling thread (a memset of tens of MB in the driver's
thread, before the run starts). A private anonymous mapping is zero by the system's
promise: no page is written until first touched, and the fused driver's helper thread
touches the tables' pages ahead of the day it draws (``handoff.touch_pages``), so the
zeroing happens on the other core. Asked for in 2 MB pages where the system allows it
(Linux with transparent huge pages in ``madvise`` mode): one fault per 2 MB instead of
512, less of the helper's time.

A 2 MB fault still stops the helper for the time it takes to zero 2 MB (~0.27 ms on the
benchmark machine, where a core writes ~7.5 GB/s): the driver, a few days behind, waited
for the day's departures on 20-130 days a run (2-3 ms). So a fused run with a helper keeps
its tables' mappings (:func:`keep`), and the next run with tables of the same sizes takes
them over once nothing refers to them any more (:func:`recycled`): their pages are already
there, and the helper zeroes each day's rows ahead of the driver instead (a few
microseconds a day). The mappings' contents are an earlier run's until then, so only the
fused driver with its helper (``model/fused.py``) takes recycled ones; every other array
here is zero. At most :data:`KEEP` mappings of each size are kept (the shipped scenarios'
three tables come to 60 MB), for the life of the process or until :func:`release_kept`.
"""

from __future__ import annotations

import mmap
import sys
import threading

import numpy as np

# Below this, np.zeros (a mapping per table costs a system call and at least a page).
MIN_BYTES = 1 << 20
KEEP = 2  # mappings kept of each size: a run's and the one before it, while one is in use

_kept: dict[int, list[mmap.mmap]] = {}
_lock = threading.Lock()


def zeroed(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """``np.zeros(shape, dtype)``, writable and C-contiguous, in a mapping of its own for
    anything of at least :data:`MIN_BYTES` (freed with the last array that views it)."""
    dt = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if size < MIN_BYTES or not hasattr(mmap, "MAP_PRIVATE"):
        return np.zeros(shape, dtype=dt)
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            buf.madvise(mmap.MADV_HUGEPAGE)
        except OSError:  # a kernel without transparent huge pages: 4 KB pages, still zero
            pass
    return np.frombuffer(buf, dtype=dt).reshape(shape)


def _mapping_of(a: np.ndarray) -> mmap.mmap | None:
    """The mapping an array from :func:`zeroed` views, or None for any other array."""
    base = a.base
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return base if isinstance(base, mmap.mmap) else None


def _free_refs() -> int:
    """The reference count :func:`recycled` sees for a mapping that only the kept list
    holds: the list's, the loop variable's and the argument's (measured the same way, not
    assumed). Every array that views a mapping adds to it (through a memoryview)."""
    probe = [mmap.mmap(-1, mmap.PAGESIZE)]
    for mm in probe:
        n = sys.getrefcount(mm)
    probe[0].close()
    return n


_FREE_REFS = _free_refs()


def keep(a: np.ndarray) -> bool:
    """Keep the mapping of ``a`` (a table from :func:`zeroed`) for :func:`recycled` once
    nothing views it, unless :data:`KEEP` of its size are kept; returns whether it is kept."""
    mm = _mapping_of(a)
    if mm is None:
        return False
    with _lock:
        kept = _kept.setdefault(len(mm), [])
        if any(k is mm for k in kept):
            return True
        if len(kept) >= KEEP:
            return False
        kept.append(mm)
        return True


def recycled(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray | None:
    """An array of ``shape`` over a kept mapping of its size that nothing views any more, or
    None if there is none. Its contents are an earlier run's: the caller zeroes it."""
    dt = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    with _lock:
        for mm in _kept.get(size, ()):
            if sys.getrefcount(mm) <= _FREE_REFS:  # nothing views it (_free_refs)
                return np.frombuffer(mm, dtype=dt).reshape(shape)
    return None


def release_kept() -> None:
    """Forget every kept mapping (each is unmapped once nothing views it)."""
    with _lock:
        _kept.clear()
