"""docs/levers.md is generated from the lever registry and cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corridor.model.places import NATIONALITIES
from corridor.model.registry import all_parameters
from corridor.scenario import lever_docs
from corridor.scenario.levers import LEVER_BY_NAME, LEVERS

DOC = Path(__file__).resolve().parents[1] / "docs" / "levers.md"


@pytest.fixture(scope="module")
def rendered() -> str:
    return lever_docs.render()


def test_docs_match_the_registry(rendered: str) -> None:
    """The committed page is exactly what the generator writes (regenerate with
    ``python -m corridor.scenario.lever_docs``)."""
    assert DOC.exists(), "docs/levers.md is missing; run python -m corridor.scenario.lever_docs"
    assert DOC.read_text() == rendered, (
        "docs/levers.md is stale; run python -m corridor.scenario.lever_docs"
    )


def test_every_lever_is_documented(rendered: str) -> None:
    for lv in LEVERS:
        assert f"### `{lv.name}`" in rendered, lv.name
        assert f"[`{lv.name}`]" in rendered, f"{lv.name} missing from the summary table"
        assert lv.mechanism in rendered
        assert lv.source in rendered
    assert rendered.count("\n### `") == len(LEVERS)


def test_every_lever_points_to_its_effect_parameters() -> None:
    """Each lever names the module parameters that carry its effect, and they exist."""
    params = all_parameters()
    assert set(lever_docs.EFFECT_PARAMS) == set(LEVER_BY_NAME)
    for name, keys in lever_docs.EFFECT_PARAMS.items():
        assert keys, f"{name} names no effect parameter"
        for key in keys:
            assert key in params, f"{name}: {key} is not a declared parameter"


def test_effect_parameters_show_value_and_range(rendered: str) -> None:
    params = all_parameters()
    p = params["departure.aid_elasticity"]
    assert p.range is not None
    row = lever_docs._param_row("departure.aid_elasticity", p)
    assert row in rendered
    assert lever_docs.fmt(p.range[0]) in row and lever_docs.fmt(p.range[1]) in row


def test_status_quo_comes_from_history() -> None:
    """The late-2023 column reflects history.yaml (CBP One 1,450/day, 30,000 take-back)."""
    sq = lever_docs.status_quo_row()
    assert sq["us.cbp_one_per_day"] == 1450
    assert sq["mexico.takeback_cap_per_month"] == 30_000
    assert sq["us.title42"] == 0


def test_main_writes_the_page(tmp_path: Path, rendered: str) -> None:
    out = tmp_path / "levers.md"
    assert lever_docs.main([str(out)]) == 0
    assert out.read_text() == rendered


def test_mechanism_references_resolve() -> None:
    """Every `module.name` a lever's mechanism cites is a declared parameter or a lever."""
    params = all_parameters()
    bad = []
    for lv in LEVERS:
        for ref in re.findall(r"`([a-z_]+\.[a-z_<>.]+)`", lv.mechanism):
            keys = [ref.replace("<nationality>", n) for n in NATIONALITIES] if "<" in ref else [ref]
            if not any(k in params or k in LEVER_BY_NAME for k in keys):
                bad.append(f"{lv.name}: {ref}")
    assert not bad, bad
