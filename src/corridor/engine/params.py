"""Declared module parameters: every number a process uses, with unit, bounds and source.

A module lists its parameters as :class:`Param` objects. A scenario may override any of them
by ``module.name`` under ``parameters:``; values outside ``[lo, hi]`` are refused. Uncertain
parameters carry a ``range`` (the literature's plausible interval) that ensembles sample.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """A model parameter with its provenance."""

    name: str
    value: float
    unit: str
    lo: float
    hi: float
    source: str
    range: tuple[float, float] | None = None  # plausible interval where the literature is unsure

    def check(self, value: float) -> None:
        """Refuse a value outside the declared bounds."""
        if not (self.lo <= value <= self.hi):
            raise ValueError(
                f"{self.name}={value!r} is outside its bounds; expected a number in "
                f"[{self.lo}, {self.hi}] ({self.unit})"
            )


def table(params: tuple[Param, ...]) -> dict[str, Param]:
    """Index a module's parameters by name, refusing duplicates."""
    out: dict[str, Param] = {}
    for p in params:
        if p.name in out:
            raise ValueError(f"parameter {p.name} declared twice")
        out[p.name] = p
    return out
