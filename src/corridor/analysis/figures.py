"""Pieces the Plotly figures share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def band_trace(x: Sequence, lo: Sequence, hi: Sequence, name: str, showlegend: bool = True) -> Any:
    """A shaded band between ``lo`` and ``hi`` over ``x`` (one closed polygon)."""
    import plotly.graph_objects as go

    x = list(x)
    return go.Scatter(
        x=x + x[::-1],
        y=list(hi) + list(lo)[::-1],
        fill="toself",
        line={"width": 0},
        name=name,
        showlegend=showlegend,
        fillcolor="rgba(31,119,180,0.2)",
    )
