"""Vector intrinsics for listing, in order, the indices of a run of people (or agents) that meet
a test: one vector compare, a compress in registers and one store per 16 or 32 of them,
instead of a step (and a branch) each.

Most people on most days have nothing due, and the few who do fall at random places, so a
scalar scan either branches on each (and mispredicts) or writes each index and keeps it only
if counted (a dependent step per person). The compress is
``llvm.experimental.vector.compress``: vpcompress on AVX-512 (VBMI2 for 16-bit lanes), a
shuffle sequence elsewhere, the same indices either way. The packed lanes are written with
one full-width store at ``out[at]``; the lanes past the count are junk that a later store
overwrites or nobody reads. The caller keeps ``at <= j`` (it lists at most one index per
element read), so the store stays inside ``out`` whenever ``j`` + lanes does.

Not ``llvm.masked.compressstore``: its vpcompress with a memory operand is microcoded on AMD
Zen 4, and it halved the graph walk's rate there (5.9e8 against 1.2e9 agent-steps/s on one
thread, the same results; docs/profile.md).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


def _splat(builder, value, vec_ty):
    """``value`` in every lane of ``vec_ty``."""
    i32 = ir.IntType(32)
    lanes = vec_ty.count
    one = builder.insert_element(ir.Constant(vec_ty, ir.Undefined), value, ir.Constant(i32, 0))
    zeros = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
    return builder.shuffle_vector(one, ir.Constant(vec_ty, ir.Undefined), zeros)


def _load_lanes(context, builder, arr_ty, arr, j, lanes):
    """``arr[j : j + lanes]`` as one vector (unaligned load)."""
    a = context.make_array(arr_ty)(context, builder, arr)
    elem = context.get_data_type(arr_ty.dtype)
    vec = ir.VectorType(elem, lanes)
    ptr = builder.bitcast(builder.gep(a.data, [j]), vec.as_pointer())
    return builder.load(ptr, align=arr_ty.dtype.bitwidth // 8)


def _append_where(context, builder, out_ty, out, at, j, mask):
    """Write the indices ``j + k`` of the lanes ``k`` set in ``mask`` to ``out[at:]``, in
    order (as ``out``'s integer type); return ``at`` plus how many. The compress runs on one
    512-bit vector (16-bit lanes for 32, 32-bit for 16: the indices must fit, as the callers'
    do) and is widened to ``out``'s type to be stored: LLVM's compress of a wider vector
    (16 x i64) crashed at run time here."""
    lanes = mask.type.count
    o = context.make_array(out_ty)(context, builder, out)
    elem = context.get_data_type(out_ty.dtype)
    lane = ir.IntType(512 // lanes)
    vec = ir.VectorType(lane, lanes)
    offs = builder.add(
        _splat(builder, builder.trunc(j, lane), vec), ir.Constant(vec, list(range(lanes)))
    )
    fnty = ir.FunctionType(vec, [vec, mask.type, vec])
    name = f"llvm.experimental.vector.compress.v{lanes}i{lane.width}"
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    packed = builder.call(fn, [offs, mask, ir.Constant(vec, [0] * lanes)])
    wide = ir.VectorType(elem, lanes)
    if elem.width > lane.width:
        packed = builder.zext(packed, wide)
    dst = builder.bitcast(builder.gep(o.data, [at]), wide.as_pointer())
    builder.store(packed, dst, align=out_ty.dtype.bitwidth // 8)
    bits = builder.bitcast(mask, ir.IntType(lanes))
    n = builder.zext(builder.ctpop(bits), at.type)
    return builder.add(at, n)


def _int_array(t, dtype=None) -> bool:
    return isinstance(t, types.Array) and t.ndim == 1 and (dtype is None or t.dtype == dtype)


@intrinsic
def list_events32(typingctx, left, j, out, at):
    """The graph walk's events: offsets ``j .. j + 31`` where ``left`` (int16) is -1, 0 or 1,
    appended to ``out`` (uint16) at ``at``; returns the new ``at``."""
    if not (_int_array(left, types.int16) and _int_array(out, types.uint16)):
        return None
    sig = types.intp(left, types.intp, out, types.intp)

    def codegen(context, builder, signature, args):
        r = _load_lanes(context, builder, signature.args[0], args[0], args[1], 32)
        v = r.type
        mask = builder.icmp_unsigned(
            "<=", builder.add(r, ir.Constant(v, [1] * 32)), ir.Constant(v, [2] * 32)
        )
        return _append_where(context, builder, signature.args[2], args[2], args[3], args[1], mask)

    return sig, codegen


@intrinsic
def list_due16(typingctx, wake, j, day, out, at):
    """Indices ``j .. j + 15`` whose ``wake`` (int16) is at most ``day`` (which must fit in
    int16, as every wake-up day does), appended to ``out`` (int64) at ``at``; returns the new
    ``at``."""
    if not (_int_array(wake, types.int16) and _int_array(out, types.int64)):
        return None
    sig = types.intp(wake, types.intp, types.intp, out, types.intp)

    def codegen(context, builder, signature, args):
        r = _load_lanes(context, builder, signature.args[0], args[0], args[1], 16)
        d = _splat(builder, builder.trunc(args[2], ir.IntType(16)), r.type)
        mask = builder.icmp_signed("<=", r, d)
        return _append_where(context, builder, signature.args[3], args[3], args[4], args[1], mask)

    return sig, codegen


@intrinsic
def list_state_flag16(typingctx, state, code, flags, bit, j, out, at):
    """Indices ``j .. j + 15`` whose ``state`` (uint8) is ``code`` and whose ``flags`` (uint8)
    have ``bit`` set, appended to ``out`` (int64) at ``at``; returns the new ``at``."""
    if not (
        _int_array(state, types.uint8)
        and _int_array(flags, types.uint8)
        and _int_array(out, types.int64)
    ):
        return None
    sig = types.intp(state, types.intp, flags, types.intp, types.intp, out, types.intp)

    def codegen(context, builder, signature, args):
        i8 = ir.IntType(8)
        s = _load_lanes(context, builder, signature.args[0], args[0], args[4], 16)
        f = _load_lanes(context, builder, signature.args[2], args[2], args[4], 16)
        v = s.type
        is_code = builder.icmp_unsigned("==", s, _splat(builder, builder.trunc(args[1], i8), v))
        has_bit = builder.icmp_unsigned(
            "!=",
            builder.and_(f, _splat(builder, builder.trunc(args[3], i8), v)),
            ir.Constant(v, [0] * 16),
        )
        mask = builder.and_(is_code, has_bit)
        return _append_where(context, builder, signature.args[5], args[5], args[6], args[4], mask)

    return sig, codegen


@intrinsic
def below_bits64(typingctx, values, j, limit):
    """A bit for each of ``values[j .. j + 63]`` (uint8) below ``limit``: bit k for j + k."""
    if not _int_array(values, types.uint8):
        return None
    sig = types.uint64(values, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        r = _load_lanes(context, builder, signature.args[0], args[0], args[1], 64)
        lim = _splat(builder, builder.trunc(args[2], ir.IntType(8)), r.type)
        return builder.bitcast(builder.icmp_unsigned("<", r, lim), ir.IntType(64))

    return sig, codegen


@intrinsic
def compress64(typingctx, arr, j, bits, at):
    """Move the elements of ``arr[j .. j + 63]`` whose bit is set in ``bits`` (bit k for
    j + k) to ``arr[at:]``, in order, in place (``at <= j``); returns ``at`` plus how many.
    Any 1-, 2-, 4- or 8-byte element type (moved as its bits), in 512-bit pieces: each piece
    is stored at the write cursor, which never passes the start of the piece being read, so
    only elements already read are overwritten."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"):
        return None
    if arr.dtype.bitwidth not in (8, 16, 32, 64):
        return None
    sig = types.intp(arr, types.intp, types.uint64, types.intp)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        a = context.make_array(aty)(context, builder, args[0])
        width = aty.dtype.bitwidth
        lanes = 512 // width
        lane = ir.IntType(width)
        vec = ir.VectorType(lane, lanes)
        mty = ir.VectorType(ir.IntType(1), lanes)
        fnty = ir.FunctionType(vec, [vec, mty, vec])
        fn = cgutils.get_or_insert_function(
            builder.module, fnty, f"llvm.experimental.vector.compress.v{lanes}i{width}"
        )
        base = builder.bitcast(a.data, lane.as_pointer())
        j, bits, at = args[1], args[2], args[3]
        for s in range(64 // lanes):
            src = builder.gep(base, [builder.add(j, ir.Constant(j.type, s * lanes))])
            v = builder.load(builder.bitcast(src, vec.as_pointer()), align=width // 8)
            part = builder.lshr(bits, ir.Constant(bits.type, s * lanes))
            if lanes < 64:
                part = builder.trunc(part, ir.IntType(lanes))
            mask = builder.bitcast(part, mty)
            packed = builder.call(fn, [v, mask, ir.Constant(vec, [0] * lanes)])
            dst = builder.bitcast(builder.gep(base, [at]), vec.as_pointer())
            builder.store(packed, dst, align=width // 8)
            at = builder.add(at, builder.zext(builder.ctpop(part), at.type))
        return at

    return sig, codegen
