"""The version of molvae (one place; ``molvae.__version__`` re-exports it)."""

__version__ = "0.1.0"
