"""Scenario files: YAML validated by pydantic, refused loudly when wrong.

A scenario names its dates, seed, scale, places, parameter overrides and a timeline of dated
policy events. Unknown keys, wrong types, an end before the start, negative capacities, unknown
places or nationalities are refused with the key path, the value and what was expected
(:class:`ScenarioError`); nothing is run or written for a bad scenario.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from corridor.model.places import BORDER_CITIES, NATIONALITIES
from corridor.scenario.levers import LEVER_BY_NAME, Lever


class ScenarioError(ValueError):
    """A scenario that cannot be run, with one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid scenario\n" + "\n".join(f"  - {p}" for p in problems))


def resolve_lever(key: str) -> tuple[Lever, str | None]:
    """Split ``us.removal_flights_per_week.venezuela`` into its lever and the place/country."""
    if key in LEVER_BY_NAME:
        return LEVER_BY_NAME[key], None
    head, _, tail = key.rpartition(".")
    lever = LEVER_BY_NAME.get(head)
    if lever is None or not lever.per:
        raise ValueError(f"unknown lever {key!r}; expected one of docs/levers.md")
    if tail not in lever.per:
        raise ValueError(
            f"unknown {'city' if lever.per == BORDER_CITIES else 'country'} {tail!r} in {key!r}; "
            f"expected one of {', '.join(lever.per)}"
        )
    return lever, tail


def check_lever_value(key: str, value: Any) -> dict[str, float]:
    """Validate one ``set:`` entry and expand it into concrete lever keys and floats."""
    lever, sub = resolve_lever(key)
    if lever.kind == "nationalities":
        if sub is not None:
            return {key: _number(key, value, lever)}
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key}: got {value!r}; expected a list of nationalities")
        unknown = [v for v in value if v not in NATIONALITIES]
        if unknown:
            raise ValueError(
                f"{key}: unknown nationality {unknown[0]!r}; expected some of "
                f"{', '.join(NATIONALITIES)}"
            )
        return {f"{key}.{n}": float(n in value) for n in NATIONALITIES}
    if lever.per and sub is None:
        if not isinstance(value, dict):
            raise ValueError(f"{key}: got {value!r}; expected a mapping of {', '.join(lever.per)}")
        out: dict[str, float] = {}
        for k, v in value.items():
            out.update(check_lever_value(f"{key}.{k}", v))
        return out
    return {key: _number(key, value, lever)}


def _number(key: str, value: Any, lever: Lever) -> float:
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, int | float):
        raise ValueError(f"{key}: got {value!r}; expected a number ({lever.unit})")
    if lever.kind == "switch" and value not in (0, 1):
        raise ValueError(f"{key}: got {value!r}; expected true/false (or 1/0)")
    if not (lever.lo <= value <= lever.hi):
        raise ValueError(
            f"{key}: got {value!r}; expected a value in [{lever.lo:g}, {lever.hi:g}] ({lever.unit})"
        )
    return float(value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PolicyEvent(Strict):
    """A dated change of levers: from ``from`` to ``to`` (inclusive), ``set`` these values."""

    start: dt.date = Field(alias="from")
    end: dt.date | None = Field(default=None, alias="to")
    set: dict[str, Any]
    note: str = ""

    @field_validator("set")
    @classmethod
    def _levers(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            raise ValueError("empty 'set'; expected at least one lever: value")
        for key, value in v.items():
            check_lever_value(key, value)
        return v

    @model_validator(mode="after")
    def _order(self) -> PolicyEvent:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"'to' {self.end} is before 'from' {self.start}")
        return self

    def concrete(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in self.set.items():
            out.update(check_lever_value(key, value))
        return out


class City(Strict):
    """Per-city starting conditions."""

    shelter_beds: int | None = Field(default=None, ge=0)
    initial_waiting: int = Field(default=0, ge=0)


class Scenario(Strict):
    """A whole scenario."""

    name: str
    description: str = ""
    start: dt.date = dt.date(2019, 10, 1)
    end: dt.date = dt.date(2024, 12, 31)
    decision_date: dt.date = dt.date(2024, 1, 1)
    seed: int = Field(default=20240110, ge=0, le=2**62)
    scale: int = Field(default=100, ge=1, le=100_000)
    history: bool = True
    places: dict[str, City] = Field(default_factory=dict)
    parameters: dict[str, float] = Field(default_factory=dict)
    policies: list[PolicyEvent] = Field(default_factory=list)

    @field_validator("places")
    @classmethod
    def _cities(cls, v: dict[str, City]) -> dict[str, City]:
        for name in v:
            if name not in BORDER_CITIES:
                raise ValueError(
                    f"unknown place {name!r}; expected one of {', '.join(BORDER_CITIES)}"
                )
        return v

    @field_validator("parameters")
    @classmethod
    def _params(cls, v: dict[str, float]) -> dict[str, float]:
        from corridor.model.registry import parameter

        for key, value in v.items():
            p = parameter(key)
            p.check(value)
        return v

    @model_validator(mode="after")
    def _dates(self) -> Scenario:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        if (self.end - self.start).days > 32_000:
            raise ValueError("the scenario spans more than 32,000 days; expected under ~87 years")
        if not (self.start <= self.decision_date <= self.end):
            raise ValueError(
                f"decision_date {self.decision_date} is outside [{self.start}, {self.end}]"
            )
        return self

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def format_errors(err: ValidationError) -> list[str]:
    """One line per problem: key path, the value given, what was expected."""
    lines = []
    for e in err.errors():
        path = _loc(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key (value {e['input']!r}); expected none of that name")
        elif e["type"] == "missing":
            lines.append(f"{path}: missing; this key is required")
        else:
            lines.append(f"{path}: {msg} (got {e.get('input')!r})"[:400])
    return lines


def parse(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a mapping as a scenario, raising :class:`ScenarioError`."""
    if not isinstance(data, dict):
        raise ScenarioError(
            source, [f"expected a mapping at the top level, got {type(data).__name__}"]
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(source, format_errors(err)) from None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as err:
        raise ScenarioError(str(path), [f"cannot read the file: {err.strerror}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError(str(path), [f"not valid YAML: {err}"]) from None
