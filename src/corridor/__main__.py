"""``python -m corridor`` runs the command line."""

from corridor.cli.main import app

app(prog_name="corridor")
