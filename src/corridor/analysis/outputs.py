"""Writing a run's files: monthly.csv, daily.parquet, summary.json (and CBP's layout).

Files are written into a fresh temporary folder beside the target and moved into place only
when all of them are complete, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from corridor.analysis.cbp_layout import cbp_frame
from corridor.analysis.ensemble import monthly_bands_frame, target_bands_frame
from corridor.analysis.results import monthly_frame


def summary(ds: xr.Dataset) -> dict:
    """The run's identity and timings, and headline totals."""
    flows = ds["flows"].sum(("nationality", "place"))
    totals = {
        str(k): int(v) for k, v in zip(flows["flow"].values, flows.sum("time").values, strict=True)
    }
    attrs = dict(ds.attrs)
    return {
        "scenario": attrs.get("scenario"),
        "seed": attrs.get("seed"),
        "scale": attrs.get("scale"),
        "version": attrs.get("version"),
        "start": attrs.get("start"),
        "end": attrs.get("end"),
        "decision_date": attrs.get("decision_date"),
        "threads": attrs.get("threads"),
        "timings": {
            "compile_s": attrs.get("compile_s"),
            "run_s": attrs.get("run_s"),
            "modules_s": dict(
                (kv.split("=")[0], float(kv.split("=")[1]))
                for kv in str(attrs.get("module_seconds", "")).split(";")
                if "=" in kv
            ),
        },
        "agent_steps": attrs.get("agent_steps"),
        "agents_created": attrs.get("agents_created"),
        "peak_agents": attrs.get("peak_agents"),
        "totals": totals,
    }


def daily_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Every non-zero daily value: date, kind (flow/stock), series, nationality, place, value."""
    frames = []
    for kind, var, dim in (("flow", "flows", "flow"), ("stock", "stocks", "stock")):
        arr = ds[var]
        idx = np.nonzero(arr.values)
        frames.append(
            pd.DataFrame(
                {
                    "date": arr["time"].values[idx[0]],
                    "kind": kind,
                    "series": arr[dim].values[idx[1]],
                    "nationality": arr["nationality"].values[idx[2]],
                    "place": arr["place"].values[idx[3]],
                    "value": arr.values[idx].astype(np.int64),  # int64 whatever the dtype
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_run(ds: xr.Dataset, out: Path, cbp_csv: Path | None = None) -> list[Path]:
    """Write all of a run's files into ``out`` atomically; returns the paths written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".corridor-", dir=out.parent))
    try:
        if "draw" in ds.dims:  # an ensemble: bands in monthly.csv, the central member elsewhere
            monthly_bands_frame(ds).to_csv(tmp / "monthly.csv", index=False)
            target_bands_frame(ds).to_csv(tmp / "targets.csv", index=False)
            central = ds.isel(draw=0)
        else:
            monthly_frame(ds).to_csv(tmp / "monthly.csv", index=False)
            central = ds
        daily_frame(central).to_parquet(tmp / "daily.parquet", index=False)
        info = summary(central) | {"draws": int(ds.sizes.get("draw", 1))}
        (tmp / "summary.json").write_text(json.dumps(info, indent=2) + "\n")
        if cbp_csv is not None:
            cbp_frame(central).to_csv(tmp / "cbp.csv", index=False)
        written = _move_all(tmp, out)
        if cbp_csv is not None:
            src = out / "cbp.csv"
            cbp_csv = Path(cbp_csv)
            if cbp_csv.resolve() != src.resolve():
                cbp_csv.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(src, cbp_csv)
                written[written.index(src)] = cbp_csv
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_all(tmp: Path, out: Path) -> list[Path]:
    """Every file of the finished ``tmp`` folder into ``out`` (each move atomic)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f in sorted(tmp.iterdir()):
        dest = out / f.name
        os.replace(f, dest)
        written.append(dest)
    return written


def write_tables(tables: dict[str, pd.DataFrame | str], out: Path) -> list[Path]:
    """Write tables (as CSV) and pages (text) into ``out``: all of them, or (on an error)
    none."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".corridor-", dir=out.parent))
    try:
        for name, content in tables.items():
            if isinstance(content, str):
                (tmp / name).write_text(content)
            else:
                content.to_csv(tmp / name, index=False)
        return _move_all(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
