"""The benchmark page's verdicts on the issue's aims follow the figures, and say when an item
did not run (benchmarks/run.py: aims)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

import run as bench  # noqa: E402


def _results(wall_1: float, rss: float, wall_100: float, flee: float, frac: float) -> dict:
    return {
        "scenarios": {
            "scale_1": {"available": True, "wall_s": wall_1, "peak_rss_bytes": rss},
            "scale_100": {"available": True, "wall_s": wall_100},
        },
        "flee": {"available": True, "ratio": flee},
        "bandwidth": {"fraction": frac},
    }


def test_each_aim_is_met_or_not_by_its_figure() -> None:
    met = [ok for _, _, ok in bench.aims(_results(59.9, 3.9e9, 0.099, 301, 0.21))]
    assert met == ["yes"] * 5
    missed = [ok for _, _, ok in bench.aims(_results(60.1, 4.1e9, 0.101, 299, 0.19))]
    assert missed == ["**no**"] * 5


def test_an_item_that_did_not_run_says_so() -> None:
    rows = bench.aims({"scenarios": {}, "flee": {"available": False}, "bandwidth": {}})
    assert [ok for _, _, ok in rows] == ["not run"] * 5
    assert all(v == "-" for _, v, _ in rows)


def test_the_resumed_rerun_is_shown_but_the_verdict_is_the_run_from_the_start() -> None:
    res = _results(30.0, 2e9, 0.30, 1000, 0.3)
    res["scenarios"]["scale_100"] |= {"resumed_wall_s": 0.05}
    aim, value, ok = bench.aims(res)[2]
    assert aim.startswith("scale 100") and ok == "**no**"
    assert "300 ms median" in value and "decision date: 50 ms" in value


def test_the_profile_names_numba_symbols_by_module_and_function() -> None:
    """``profile_driver.py`` labels the driver's linked functions from numba's mangled names
    (lengths before each part, an ABI tag after); its Python wrappers are marked as such."""
    import profile_driver as prof

    name = "_ZN8corridor5model8day_pass13pass_range_nbB4v391B40c8tJTIeFIjxB2IKSgI4CrvE"
    assert prof._demangle(name) == "day_pass.pass_range_nb"
    wrapper = "_ZN7cpython8corridor5model5fused11run_days_nbB4v318B40c8tJTIeFExx"
    assert prof._demangle(wrapper) == "fused.run_days_nb (Python wrapper)"
    assert prof._demangle("printf_format") == "printf_format"
