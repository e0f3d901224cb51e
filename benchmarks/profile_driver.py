"""Where a scale-100 run's main thread spends its time, by compiled function, without hardware
performance counters (the benchmark machines are VMs that have none).

    python benchmarks/profile_driver.py [runs]      # needs Linux `perf` and binutils' `nm`

It runs ``corridor.run('baseline', scale=100)`` ``runs`` times (after two warm-ups) under
``perf record -e cpu-clock``, a timer-sampled profile, then attributes each sample of the
thread that ran the driver:

- numba's JIT code has no symbols perf can read, so the child writes ``/tmp/perf-<pid>.map``
  (perf's format for JIT code) with every compiled dispatcher's entry point;
- the driver (``fused.run_days_nb``) links every kernel it calls into one object, and numba
  keeps that object in its cache file (``__pycache__/fused.run_days_nb-*.nbc``): its symbol
  table (``nm``) places each linked function at an offset from the driver's entry point.

Only the samples of the timed runs count (perf's clock against the child's). Samples in the
driver's object are shown by linked function; the rest by perf's own symbol (libm, the
kernel, the interpreter) or, for other JIT code, as ``jit after <dispatcher>``: the map only
knows dispatchers' entry points, so that is any code loaded between one and the next (numba
loads each cached library into the next free block: the CBP One lottery's heap, for one,
showed up after ``encounter_day_nb``). Shares are of the main thread's samples; ms a run are
samples / rate / runs, and perf's own cost on a 2-core machine inflates them a little, most of
all the driver's waits for its helper thread (compare shares, not absolute times).
"""

from __future__ import annotations

import glob
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

RATE = 2000  # samples a second
HERE = Path(__file__).resolve().parent


def _child(runs: int) -> None:
    """In the profiled process: the runs, then the perf map of every dispatcher."""
    import gc

    from numba.core.registry import CPUDispatcher

    from corridor import run

    for _ in range(2):
        run("baseline", scale=100)
    t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
    for _ in range(runs):
        run("baseline", scale=100)
    t1 = time.clock_gettime(time.CLOCK_MONOTONIC)
    Path(f"/tmp/perf-{os.getpid()}.window").write_text(f"{t0} {t1}\n")
    names = {}
    for obj in gc.get_objects():
        if isinstance(obj, CPUDispatcher):
            for cres in obj.overloads.values():
                addr = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
                if addr:
                    names[addr] = f"jit after {obj.py_func.__module__}.{obj.py_func.__name__}"
    addrs = sorted(names)
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as f:
        for k, a in enumerate(addrs):
            size = min(addrs[k + 1] - a, 1 << 20) if k + 1 < len(addrs) else 1 << 16
            f.write(f"{a:x} {size:x} {names[a]}\n")


def _elf_blobs(obj):
    """The ELF objects inside a numba cache entry (the linked library's machine code)."""
    if isinstance(obj, bytes | bytearray):
        if obj[:4] == b"\x7fELF":
            yield bytes(obj)
    elif isinstance(obj, tuple | list):
        for x in obj:
            yield from _elf_blobs(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _elf_blobs(x)
    elif hasattr(obj, "__dict__"):
        yield from _elf_blobs(vars(obj))


def _demangle(sym: str) -> str:
    """``module.function`` from numba's Itanium-style name (``_ZN8corridor5model...``)."""
    wrapper = sym.startswith("_ZN7cpython")
    m = re.match(r"(?:cfunc\.)?_ZN(?:7cpython)?(.*)", sym)
    rest, words = (m.group(1) if m else ""), []
    while rest[:1].isdigit():
        n = int(re.match(r"\d+", rest).group())
        k = len(str(n))
        words.append(rest[k : k + n])
        rest = rest[k + n :]
    name = ".".join(words[-2:]) if words else sym[:40]
    return name + (" (Python wrapper)" if wrapper else "")


def _driver_symbols() -> list[tuple[int, int, str]]:
    """(offset, size, name) of the functions linked into the driver's cached object."""
    import corridor.model.fused as fused

    cache_dir = Path(fused.__file__).parent / "__pycache__"
    path = max(glob.glob(str(cache_dir / "fused.run_days_nb-*.nbc")), key=os.path.getmtime)
    with open(path, "rb") as f:
        blob = max(_elf_blobs(pickle.load(f)), key=len)
    with tempfile.NamedTemporaryFile(suffix=".o") as obj:
        obj.write(blob)
        obj.flush()
        out = subprocess.run(
            ["nm", "-S", "--defined-only", obj.name], capture_output=True, text=True, check=True
        ).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in "tTwW":
            name = _demangle(parts[3])
            syms.append((int(parts[0], 16), int(parts[1], 16), name))
    return sorted(syms)


def main(runs: int) -> None:
    data = Path(tempfile.mkdtemp()) / "perf.data"
    child = [sys.executable, __file__, "--child", str(runs)]
    subprocess.run(
        ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-e", "cpu-clock", "-F", str(RATE)]
        + ["-o", str(data), *child],
        check=True,
    )
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "tid,time,ip,sym"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split(None, 3) for line in script.splitlines() if line.strip()]
    pid = rows[0][0]  # the first sample is the child's own thread, whose id is the pid
    jit_map = [line.split(None, 2) for line in open(f"/tmp/perf-{pid}.map")]
    t0, t1 = (float(x) for x in open(f"/tmp/perf-{pid}.window").read().split())
    os.unlink(f"/tmp/perf-{pid}.map")
    os.unlink(f"/tmp/perf-{pid}.window")
    rows = [(r[0], r[2], r[3] if len(r) > 3 else "?") for r in rows if t0 <= float(r[1][:-1]) <= t1]
    base = next(int(a, 16) for a, _, n in jit_map if n.strip().endswith("fused.run_days_nb"))
    syms = _driver_symbols()
    main_tid = Counter(r[0] for r in rows).most_common(1)[0][0]
    # The helper is a new thread each run: the other threads' samples are summed.
    for on_main, label, top in ((True, "main thread", 25), (False, "other threads", 10)):
        by_fn: Counter[str] = Counter()
        for r in rows:
            if (r[0] == main_tid) != on_main:
                continue
            off = int(r[1], 16) - base
            fn = next((n for a, s, n in syms if a <= off < a + s), None)
            by_fn[f"driver: {fn}" if fn else r[2].strip()] += 1
        total = sum(by_fn.values())
        per_run = total / RATE / runs * 1e3
        print(f"{total} samples of the {label} in {runs} timed runs ({per_run:.0f} ms a run)")
        for name, n in by_fn.most_common(top):
            print(f"{n / total:6.1%} {n / RATE / runs * 1e3:6.1f} ms  {name}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
