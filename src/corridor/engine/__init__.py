"""The engine: people arrays, counter-based draws, kernels."""

from corridor.engine import jit_cache  # noqa: F401  (before any kernel is decorated)
