"""The model's modules in their fixed daily phase order, and their declared parameters."""

from __future__ import annotations

from corridor.engine.params import Param
from corridor.engine.sim import Module
from corridor.model.bookkeeping import Bookkeeping
from corridor.model.departure import Departure
from corridor.model.encounter import Encounter
from corridor.model.processing import Processing
from corridor.model.removal import Removal
from corridor.model.staging import Staging
from corridor.model.transit import Transit

# Departure -> transit -> staging -> encounter -> processing -> removal -> end of day.
PHASES: tuple[type[Module], ...] = (
    Departure,
    Transit,
    Staging,
    Encounter,
    Processing,
    Removal,
    Bookkeeping,
)


def all_parameters() -> dict[str, Param]:
    """Every declared parameter as ``module.name``."""
    return {f"{m.name}.{p.name}": p for m in PHASES for p in m.PARAMS}


def parameter(key: str) -> Param:
    """A declared parameter by ``module.name``; unknown keys are refused with the options."""
    params = all_parameters()
    if key not in params:
        module = key.split(".")[0]
        near = [k for k in params if k.startswith(module + ".")] or sorted(
            {k.split(".")[0] for k in params}
        )
        raise ValueError(f"unknown parameter {key!r}; expected one of {', '.join(near)}")
    return params[key]
