"""Handing work and memory between two threads inside compiled code: a day counter one thread
publishes and the other waits on, with the memory ordering that makes everything written
before the publish visible after the wait; pages touched by one thread so that the other does
not take their faults.

numba has no atomics, and a plain store or load of a shared counter may be reordered by the
compiler (a loop that waits on a plain load can be compiled into one that never reads it
again). ``publish`` is an LLVM store with release ordering, ``seen`` a load with acquire
ordering: what one thread wrote before it published a day, the other reads after it has
seen that day (C++'s release/acquire; on x86 both are plain moves the compiler must keep in
order). ``spin_pause`` is the processor's spin-wait hint on x86 (``pause``: it yields the
core's pipeline to the other hyper-thread and cuts the power of a busy wait), and after every
1,024 spins the waiter gives its core back to the system (``sched_yield``), so that a
waiting thread never starves the one it waits for when there are fewer cores than threads.

``touch_pages`` writes each page of an array once with a compare-and-swap from 0 to 0,
which changes no value even while another thread writes there; the first write to fresh
memory makes the system map and zero the page, on the toucher's core.

Used by :mod:`corridor.model.departures_ahead` and the fused driver; ``tests/test_handoff.py``
checks the order with two threads, and that a touch loses no concurrent write.
"""

from __future__ import annotations

import platform

import numba as nb
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
YIELD_EVERY = 1024  # spins between giving the core back to the system


def _slot_pointer(context, builder, arr_ty, arr, idx):
    a = context.make_array(arr_ty)(context, builder, arr)
    return builder.gep(a.data, [idx])


def _int64_array(t) -> bool:
    return isinstance(t, types.Array) and t.ndim == 1 and t.dtype == types.int64


@intrinsic
def publish(typingctx, arr, idx, value):
    """``arr[idx] = value`` (int64) with release ordering: every write before it is visible to
    a thread that then :func:`seen` this value."""
    if not _int64_array(arr):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot_pointer(context, builder, sig.args[0], args[0], args[1])
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(v, ptr, ordering="release", align=8)
        return context.get_dummy_value()

    return types.void(arr, idx, value), codegen


@intrinsic
def seen(typingctx, arr, idx):
    """``arr[idx]`` (int64) with acquire ordering (see :func:`publish`)."""
    if not _int64_array(arr):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(ptr, ordering="acquire", align=8)

    return types.int64(arr, idx), codegen


@intrinsic
def _pause(typingctx):
    def codegen(context, builder, sig, args):
        if _X86:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"
            )
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def _sched_yield(typingctx):
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield"
        )
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@nb.njit(cache=True, nogil=True)
def spin_pause(spins):
    """One step of a busy wait, the ``spins``-th: a pause, and every :data:`YIELD_EVERY` the
    core given back to the system. Returns ``spins + 1``."""
    _pause()
    if spins % YIELD_EVERY == YIELD_EVERY - 1:
        _sched_yield()
    return spins + 1


@intrinsic
def _touch(typingctx, arr, idx):
    """A compare-and-swap of ``arr[idx]`` from 0 to 0: a write to its page (the first makes
    the system map it) that leaves the value as it is, whatever another thread does."""
    if not (
        isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(arr.dtype, types.Integer)
    ):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot_pointer(context, builder, sig.args[0], args[0], args[1])
        zero = ir.Constant(context.get_data_type(sig.args[0].dtype), 0)
        builder.cmpxchg(ptr, zero, zero, "monotonic", "monotonic")
        return context.get_dummy_value()

    return types.void(arr, idx), codegen


PAGE_BYTES = 4096


@nb.njit(cache=True, nogil=True, _nrt=False)
def touch_pages(flat):
    """Every page of ``flat`` (integers) written once without changing a value
    (:func:`_touch`): a helper thread takes the page faults (the system zeroing fresh
    memory) for the tables the driver will write days later."""
    step = max(PAGE_BYTES // flat.itemsize, 1)
    for x in range(0, flat.size, step):
        _touch(flat, x)
    if flat.size > 0:
        _touch(flat, flat.size - 1)
