"""`corridor data`: bring newer CBP files into the local store and see what is loaded.

A refused file exits with code 2 and one message that says where the problem is (file, row,
column) and what was expected, so the user can fix the file and try again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from corridor.data import cbp
from corridor.data.errors import DataFileError
from corridor.store import local

data_app = typer.Typer(
    name="data",
    help="Import newer CBP encounter files into the local store and show what is loaded.",
    no_args_is_help=True,
    add_completion=False,
)


@data_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(help="A CBP Southwest or nationwide encounters CSV.", show_default=False),
    ],
) -> None:
    """Validate FILE and load it into the store (re-importing the same file changes nothing)."""
    try:
        result = local.import_file(file)
    except DataFileError as err:
        _fail(str(err))
    Console().print(result.message, markup=False, highlight=False, soft_wrap=True)


@data_app.command("show")
def show_command() -> None:
    """Show what the store holds next to the shipped copy."""
    console = Console()
    table = Table(title=f"corridor data ({local.store_path()})")
    for name, justify in (
        ("table", "left"),
        ("rows", "right"),
        ("first", "left"),
        ("last", "left"),
        ("encounters", "right"),
        ("files", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    shipped = cbp.read_sw_encounters()
    table.add_row(
        "shipped sw (read-only)",
        f"{len(shipped):,}",
        f"{shipped['month'].min():%Y-%m}",
        f"{shipped['month'].max():%Y-%m}",
        f"{int(shipped['count'].sum()):,}",
        cbp.SHIPPED_SW.name,
    )
    for item in local.summary():
        table.add_row(
            item.table,
            f"{item.rows:,}",
            _month(item.first_month),
            _month(item.last_month),
            f"{item.total:,}",
            "\n".join(Path(f).name for f in item.files) or "-",
        )
    console.print(table)


def _month(value: object) -> str:
    return "-" if value is None else f"{value:%Y-%m}"


def _fail(message: str) -> None:
    """Print a refusal on stderr and exit with code 2."""
    Console(stderr=True).print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)
