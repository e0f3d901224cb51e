"""Zeroed arrays in fresh pages from the system, for the result tables (~60 MB a run).

``np.zeros`` takes memory from the C heap, which keeps and reuses what earlier runs freed,
and must then clear it on the calling thread (a memset of tens of MB in the driver's
thread, before the run starts). A private anonymous mapping is zero by the system's
promise: no page is written until first touched, and the fused driver's helper thread
touches the tables' pages ahead of the day it draws (``handoff.touch_pages``), so the
zeroing happens on the other core. Asked for in 2 MB pages where the system allows it
(Linux with transparent huge pages in ``madvise`` mode): one fault per 2 MB instead of
512, less of the helper's time.
"""

from __future__ import annotations

import mmap

import numpy as np

# Below this, np.zeros (a mapping per table costs a system call and at least a page).
MIN_BYTES = 1 << 20


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
