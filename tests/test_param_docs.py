"""docs/parameters.md is generated and must match the declarations and the shipped posterior."""

from __future__ import annotations

from corridor.model import param_docs
from corridor.model.registry import all_parameters


def test_page_is_current() -> None:
    assert param_docs.DOC.read_text() == param_docs.render(), (
        "docs/parameters.md is stale: run python -m corridor.model.param_docs"
    )


def test_every_parameter_has_a_row_and_a_source() -> None:
    page = param_docs.render()
    for key, p in all_parameters().items():
        assert f"| `{p.name}` |" in page, key
        assert p.source.strip(), f"{key} has no source"
