"""numba's on-disk cache, stamped so that an edit to any kernel reaches every cached function
built from it.

numba stamps a cached function with its own source file only. But a compiled function holds
the machine code of what it calls in other files: the kernels inlined into it
(``people.person_nb``), the intrinsics whose code it emits (``engine/simd.py``) and the
functions it links. An edit to, say, ``transit.transit_person_nb`` or ``simd.list_due16``
would leave ``day_pass.pass_range_nb``, and the fused driver that links it, stale in the
cache, running the old code with no sign of it. So every compiled function of
``corridor.engine`` and ``corridor.model`` is stamped by all of their sources: an edit
anywhere recompiles them all (a fresh checkout compiles everything anyway).

Imported by ``corridor/engine/__init__.py``, before any of those functions is decorated:
numba picks a function's cache locator when it is decorated.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

from numba.core import caching

_SOURCES = (Path(__file__).parent, Path(__file__).parent.parent / "model")
_PACKAGES = ("corridor.engine.", "corridor.model.")


def dependency_files() -> list[Path]:
    """The source files whose content every cached kernel's entry depends on."""
    # Test references (reference.py) are never called by the kernels: editing them must not
    # force a recompile.
    return sorted(p for d in _SOURCES for p in d.glob("*.py") if p.name != "reference.py")


@cache
def _digest(path: str, mtime: float, size: int) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class DependentStamp:
    """Cache-locator mixin: the functions of corridor.engine and corridor.model only, stamped
    by all their sources."""

    def get_source_stamp(self) -> tuple[str, ...]:
        out = []
        for p in dependency_files():
            st = os.stat(p)
            out.append(_digest(str(p), st.st_mtime, st.st_size))
        return tuple(out)

    @classmethod
    def from_function(cls, py_func: Callable, py_file: str) -> caching._CacheLocator | None:
        if not getattr(py_func, "__module__", "").startswith(_PACKAGES):
            return None
        return super().from_function(py_func, py_file)


class _UserProvidedLocator(DependentStamp, caching.UserProvidedCacheLocator):
    pass


class _InTreeLocator(DependentStamp, caching.InTreeCacheLocator):
    pass


class _UserWideLocator(DependentStamp, caching.UserWideCacheLocator):
    pass


_LOCATORS = [_UserProvidedLocator, _InTreeLocator, _UserWideLocator]
if not any(c.__module__ == __name__ for c in caching.CacheImpl._locator_classes):  # (reloads)
    caching.CacheImpl._locator_classes[:0] = _LOCATORS  # before numba's own, same order
