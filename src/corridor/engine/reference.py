"""Plain-Python and plain-NumPy references for the engine's compiled kernels (used by the tests).

:func:`pure` turns a numba kernel into the same code run by the Python interpreter, with every
numba function it calls (the draws, the helpers) swapped for its uncompiled Python too, so the
reference shares no compiled code with the kernel it checks. Integer arithmetic then follows
NumPy's scalar rules (uint64 wrap-around, uint8 flags), which is what the kernels mean.

:func:`lottery_naive` is the obvious CBP One lottery: sort every candidate by (priority, uid),
take the first ``slots``.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numba.core.registry import CPUDispatcher

from corridor.engine import rng


def _is_dispatcher(obj: Any) -> bool:
    return isinstance(obj, CPUDispatcher) and hasattr(obj, "py_func")


@functools.cache
def _pure_function(py_func: Callable) -> Callable:
    """``py_func`` rebuilt with its numba globals replaced by their pure versions."""
    glb = dict(py_func.__globals__)
    for name in py_func.__code__.co_names:
        obj = glb.get(name)
        if _is_dispatcher(obj):
            glb[name] = _pure_function(obj.py_func)
    fn = types.FunctionType(
        py_func.__code__, glb, py_func.__name__, py_func.__defaults__, py_func.__closure__
    )
    fn.__kwdefaults__ = py_func.__kwdefaults__
    glb[py_func.__name__] = fn  # a recursive kernel calls its pure self
    return fn


def pure(kernel: Callable) -> Callable:
    """The uncompiled Python of a numba kernel and of every numba function it calls.

    The result ignores uint64 overflow warnings: SplitMix64 relies on wrap-around.
    """
    py_func = kernel.py_func if _is_dispatcher(kernel) else kernel
    fn = _pure_function(py_func)

    @functools.wraps(py_func)
    def run(*args: Any) -> Any:
        with np.errstate(over="ignore"):
            return fn(*args)

    return run


def uniform(key: int, agent: int) -> float:
    """One draw by the NumPy reference of :func:`corridor.engine.rng.uniform_nb`."""
    return float(rng.uniforms(np.uint64(key), np.array([agent], dtype=np.int64))[0])


def lottery_naive(key: int, uid: np.ndarray, candidates: np.ndarray, slots: int) -> np.ndarray:
    """Reference CBP One lottery: every candidate's priority is its hashed uniform under
    ``key``; sort all candidates by (priority, uid) and keep the first ``slots`` (all of them
    if there are fewer), returned as sorted array indices."""
    cands = [int(c) for c in candidates]
    ranked = sorted(cands, key=lambda c: (uniform(key, int(uid[c])), int(uid[c])))
    return np.array(sorted(ranked[: max(int(slots), 0)]), dtype=np.asarray(candidates).dtype)


def staging_chain(n: int, h: float, g: float, t: int) -> dict[str, float]:
    """Expected counts after ``t`` days for ``n`` people waiting with cross hazard ``h`` and
    give-up hazard ``g``, in the order the staging kernel applies them (cross first; give up
    only if not crossing): each day P(cross) = h, P(give up) = (1 - h) g, P(stay) = s =
    (1 - h)(1 - g). Returns the probabilities per person of still waiting, having crossed and
    having given up by day ``t`` (the counts are binomial in ``n`` with these)."""
    s = (1.0 - h) * (1.0 - g)
    stay = s**t
    geo = (1.0 - stay) / (1.0 - s) if s < 1.0 else float(t)
    return {"waiting": stay, "crossed": h * geo, "gave_up": (1.0 - h) * g * geo, "n": n}


def two_state_chain(p: float, q: float, t: int) -> float:
    """P(at node a after ``t`` days) for a two-node chain a<->b, moving a->b with ``p`` and
    b->a with ``q`` per day, starting at a: q/(p+q) + p/(p+q) (1-p-q)^t."""
    if p + q == 0.0:
        return 1.0
    return q / (p + q) + p / (p + q) * (1.0 - p - q) ** t


def copy_args(args: tuple) -> tuple:
    """Deep copy of kernel arguments: arrays, and tuples / NamedTuples (packs, people) of them,
    so a kernel and its reference can run on the same inputs."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(a.copy())
        elif isinstance(a, tuple):
            inner = copy_args(a)
            out.append(type(a)(*inner) if hasattr(a, "_fields") else inner)
        else:
            out.append(a)
    return tuple(out)


def array_leaves(args: tuple) -> list[np.ndarray]:
    """Every array inside the arguments, depth first (packs and people tuples included)."""
    out: list[np.ndarray] = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(a)
        elif isinstance(a, tuple):
            out.extend(array_leaves(a))
    return out
