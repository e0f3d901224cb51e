"""A local DuckDB store for encounter files a user brings (newer CBP releases).

The package ships CBP's file through December 2023 and never changes it; newer files are imported
into `$CORRIDOR_HOME/store.duckdb` (default ~/.local/share/corridor). An import is validated in
full before the database is touched, runs in one transaction, is recorded by the file's sha256
(so the same file twice changes nothing), and replaces whole months it overlaps (the newest
import wins: CBP revises recent months and omits zero rows, so a per-row upsert would leave stale
rows behind).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from corridor.data import cbp

STORE_FILE = "store.duckdb"
DEFAULT_HOME = Path("~/.local/share/corridor")

TABLE_OF_LAYOUT = {"sw": "sw_encounters", "nationwide": "nationwide_encounters"}
# Columns and DuckDB types of each table; the key is every column except count and import_id.
COLUMNS: dict[str, dict[str, str]] = {
    "sw_encounters": {
        "month": "DATE",
        "fiscal_year": "INTEGER",
        "component": "VARCHAR",
        "demographic": "VARCHAR",
        "citizenship": "VARCHAR",
        "title": "VARCHAR",
        "encounter_type": "VARCHAR",
        "count": "BIGINT",
    },
    "nationwide_encounters": {
        "month": "DATE",
        "fiscal_year": "INTEGER",
        "component": "VARCHAR",
        "land_border_region": "VARCHAR",
        "aor": "VARCHAR",
        "aor_abbv": "VARCHAR",
        "demographic": "VARCHAR",
        "citizenship": "VARCHAR",
        "citizenship_original": "VARCHAR",
        "title": "VARCHAR",
        "encounter_type": "VARCHAR",
        "count": "BIGINT",
    },
}
IMPORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS imports (
    id BIGINT PRIMARY KEY,
    sha256 VARCHAR NOT NULL UNIQUE,
    file VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    rows BIGINT NOT NULL,
    first_month DATE NOT NULL,
    last_month DATE NOT NULL,
    replaced_months BIGINT NOT NULL
)
"""


@dataclass(frozen=True)
class ImportResult:
    """What one `import_file` call did."""

    file: str
    sha256: str
    table: str
    status: str  # "imported" or "already imported"
    rows: int
    first_month: pd.Timestamp
    last_month: pd.Timestamp
    replaced_months: tuple[pd.Timestamp, ...] = ()

    @property
    def message(self) -> str:
        """One line for a person: what was loaded and what it replaced."""
        span = f"{self.first_month:%Y-%m}..{self.last_month:%Y-%m}"
        if self.status == "already imported":
            return f"{self.file}: already imported (sha256 {self.sha256[:12]}); nothing changed"
        text = f"{self.file}: imported {self.rows:,} rows into {self.table} ({span})"
        if self.replaced_months:
            months = ", ".join(f"{m:%Y-%m}" for m in self.replaced_months)
            text += f"; replaced earlier rows for {len(self.replaced_months)} month(s): {months}"
        return text


@dataclass(frozen=True)
class TableSummary:
    """What one store table holds."""

    table: str
    rows: int
    first_month: pd.Timestamp | None
    last_month: pd.Timestamp | None
    total: int
    files: tuple[str, ...]


def home() -> Path:
    """The corridor data folder: $CORRIDOR_HOME, else ~/.local/share/corridor."""
    return Path(os.environ.get("CORRIDOR_HOME") or DEFAULT_HOME).expanduser()


def store_path() -> Path:
    """The DuckDB file of the local store."""
    return home() / STORE_FILE


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, which identifies an import."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_file(path: str | Path) -> ImportResult:
    """Validate a CBP file and load it into the store (see the module docstring for the rules).

    Raises `DataFileError` for a file that fails validation; the store is then untouched.
    """
    path = Path(path)
    layout, df = cbp.read_encounters(path)  # validates the whole file first
    table = TABLE_OF_LAYOUT[layout]
    sha = file_sha256(path)
    first, last = df["month"].min(), df["month"].max()
    with _connect() as con:
        done = con.execute("SELECT table_name FROM imports WHERE sha256 = ?", [sha]).fetchone()
        if done is not None:
            return ImportResult(str(path), sha, done[0], "already imported", len(df), first, last)
        replaced = _write(con, table, df, path, sha)
    return ImportResult(str(path), sha, table, "imported", len(df), first, last, replaced)


def summary() -> list[TableSummary]:
    """Per table: rows, first and last month, total encounters and the files that supplied it."""
    if not store_path().exists():
        return [TableSummary(t, 0, None, None, 0, ()) for t in COLUMNS]
    with _connect(read_only=True) as con:
        return [_summarise(con, table) for table in COLUMNS]


def imports() -> pd.DataFrame:
    """The import log, oldest first (empty if nothing was ever imported)."""
    if not store_path().exists():
        return pd.DataFrame(columns=["id", "sha256", "file", "table_name", "imported_at", "rows"])
    with _connect(read_only=True) as con:
        return con.execute("SELECT * FROM imports ORDER BY id").df()


def imported_sw_encounters() -> pd.DataFrame:
    """The Southwest rows imported into the store (empty, same columns, if none)."""
    if not store_path().exists():
        return _typed(pd.DataFrame(columns=list(COLUMNS["sw_encounters"])))
    columns = ", ".join(f'"{c}"' for c in COLUMNS["sw_encounters"])
    with _connect(read_only=True) as con:
        df = con.execute(f"SELECT {columns} FROM sw_encounters").df()
    return _typed(df)


def load_sw_encounters() -> pd.DataFrame:
    """The shipped Southwest file with imported rows laid over it, month by month.

    Any month present in the store replaces that month of the shipped copy entirely.
    """
    shipped = cbp.read_sw_encounters()
    imported = imported_sw_encounters()
    if imported.empty:
        return shipped
    kept = shipped[~shipped["month"].isin(imported["month"].unique())]
    both = pd.concat([kept, imported.astype(shipped.dtypes.to_dict())], ignore_index=True)
    order = ["month", *cbp.SW_KEY[1:]]
    return both.sort_values(order, kind="stable").reset_index(drop=True)[list(cbp.SW_OUTPUT)]


@contextmanager
def _connect(read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store, creating its folder and tables on first write."""
    path = store_path()
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        if not read_only:
            _create_schema(con)
        yield con
    finally:
        con.close()


def _create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(IMPORTS_SCHEMA)
    for table, columns in COLUMNS.items():
        body = ", ".join(f'"{c}" {t} NOT NULL' for c, t in columns.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body}, import_id BIGINT NOT NULL)")


def _key(table: str) -> list[str]:
    return [c for c in COLUMNS[table] if c != "count"]


def _write(
    con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, path: Path, sha: str
) -> tuple[pd.Timestamp, ...]:
    """Replace the months `df` covers and record the import, all in one transaction."""
    columns = list(COLUMNS[table])
    quoted = ", ".join(f'"{c}"' for c in columns)
    incoming = df[columns]
    con.register("incoming", incoming)
    con.begin()
    try:
        overlap = f"FROM {table} WHERE month IN (SELECT DISTINCT CAST(month AS DATE) FROM incoming)"
        replaced = con.execute(f"SELECT DISTINCT month {overlap} ORDER BY month").fetchall()
        import_id = con.execute("SELECT coalesce(max(id), 0) + 1 FROM imports").fetchone()[0]
        con.execute(f"DELETE {overlap}")
        con.execute(
            f"INSERT INTO {table} ({quoted}, import_id) SELECT {quoted}, ? FROM incoming",
            [import_id],
        )
        _require_unique_keys(con, table)
        record = [import_id, sha, str(path.resolve()), table, len(df)]
        record += [df["month"].min().date(), df["month"].max().date(), len(replaced)]
        con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?)", record)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("incoming")
    return tuple(pd.Timestamp(m) for (m,) in replaced)


def _require_unique_keys(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Guard the table's key (the readers refuse duplicates; this catches a logic slip)."""
    key = ", ".join(f'"{c}"' for c in _key(table))
    dup = con.execute(
        f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1)"
    ).fetchone()[0]
    if dup:
        raise RuntimeError(f"{table}: {dup} duplicated keys after import; nothing was written")


def _summarise(con: duckdb.DuckDBPyConnection, table: str) -> TableSummary:
    rows, first, last, total = con.execute(
        f'SELECT count(*), min(month), max(month), coalesce(sum("count"), 0) FROM {table}'
    ).fetchone()
    files = con.execute(
        f"SELECT file FROM imports WHERE id IN (SELECT DISTINCT import_id FROM {table}) ORDER BY id"
    ).fetchall()
    return TableSummary(
        table,
        int(rows),
        None if first is None else pd.Timestamp(first),
        None if last is None else pd.Timestamp(last),
        int(total),
        tuple(f for (f,) in files),
    )


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Give store rows the readers' dtypes (months as datetime64[ns], integers as int64)."""
    out = df.copy()
    out["month"] = pd.to_datetime(out["month"]).astype("datetime64[ns]")
    out["fiscal_year"] = out["fiscal_year"].astype("int64")
    out["count"] = out["count"].astype("int64")
    return out
