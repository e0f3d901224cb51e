"""corridor: an agent-based simulator of the US-Mexico migration corridor."""

__version__ = "0.1.0"

from corridor.analysis.comparison import compare  # noqa: E402
from corridor.analysis.ensemble import ensemble  # noqa: E402
from corridor.api import prepare, run  # noqa: E402
from corridor.model.checkpoint import History  # noqa: E402

__all__ = ["History", "__version__", "compare", "ensemble", "prepare", "run"]
