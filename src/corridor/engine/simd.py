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

Where the CPU has no compress instruction for the lane width (:func:`native_compress`), LLVM
expands it lane by lane (an extract, a store and an add each), and the listings use a table
instead: eight lanes at a time, the mask's byte picks a row of the positions of its set
bits, the piece's first index is added and the eight are stored at once. On AMD Zen 3 (AVX2)
that lists the due people in 0.27 against 1.15 ns a person (docs/profile.md). The same
indices either way; the choice is made when a caller compiles, and numba's cache is keyed by
the host CPU's name and features, so a kernel cached on one CPU is never loaded on another.
"""

from __future__ import annotations

import llvmlite.binding as llb
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_HOST_FEATURES = frozenset(llb.get_host_cpu_features().flatten().split(","))


def native_compress(lane_bits: int) -> bool:
    """Whether this CPU compresses a 512-bit vector of ``lane_bits`` lanes in one instruction:
    vpcompressd/q (AVX-512F) for 32 and 64 bits, vpcompressb/w (AVX-512 VBMI2) for 8 and 16."""
    return ("+avx512f" if lane_bits >= 32 else "+avx512vbmi2") in _HOST_FEATURES


# The positions of the set bits of each byte, in order, padded with 0: row m lists the k
# with bit k of m set (the table listing of _append_where_by_table).
_POSITIONS8 = [[k for k in range(8) if m >> k & 1] for m in range(256)]
_POSITIONS8 = [row + [0] * (8 - len(row)) for row in _POSITIONS8]


def _positions_table(builder):
    """The module's copy of ``_POSITIONS8`` as a constant [256 x <8 x i8>]."""
    mod = builder.module
    name = "corridor_simd_positions8"
    row = ir.VectorType(ir.IntType(8), 8)
    ty = ir.ArrayType(row, 256)
    if name in mod.globals:
        return mod.globals[name]
    gv = ir.GlobalVariable(mod, ty, name)
    gv.linkage = "internal"
    gv.global_constant = True
    gv.initializer = ir.Constant(ty, [ir.Constant(row, r) for r in _POSITIONS8])
    return gv


def _append_where_by_table(context, builder, out_ty, out, at, j, mask):
    """:func:`_append_where` without a vector compress: eight lanes at a time, the byte of
    the mask picks a row of set-bit positions, ``j`` plus the piece's start is added and all
    eight are stored at ``out[at]``; ``at`` moves by the byte's bit count."""
    lanes = mask.type.count
    o = context.make_array(out_ty)(context, builder, out)
    elem = context.get_data_type(out_ty.dtype)
    vec = ir.VectorType(elem, 8)
    table = _positions_table(builder)
    i32 = ir.IntType(32)
    bits = _fit(builder, builder.bitcast(mask, ir.IntType(lanes)), ir.IntType(64))
    for s in range(lanes // 8):
        byte = builder.and_(
            builder.lshr(bits, ir.Constant(bits.type, 8 * s)), ir.Constant(bits.type, 255)
        )
        row = builder.load(builder.gep(table, [ir.Constant(i32, 0), byte]), align=8)
        start = _fit(builder, builder.add(j, ir.Constant(j.type, 8 * s)), elem)
        idx = builder.add(builder.zext(row, vec), _splat(builder, start, vec))
        dst = builder.bitcast(builder.gep(o.data, [at]), vec.as_pointer())
        builder.store(idx, dst, align=out_ty.dtype.bitwidth // 8)
        at = builder.add(at, _fit(builder, builder.ctpop(byte), at.type))
    return at


def _fit(builder, value, ty):
    """An integer ``value`` as integer type ``ty`` (truncated or zero-extended)."""
    if value.type.width > ty.width:
        return builder.trunc(value, ty)
    if value.type.width < ty.width:
        return builder.zext(value, ty)
    return value


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
    if not native_compress(512 // lanes):
        return _append_where_by_table(context, builder, out_ty, out, at, j, mask)
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
