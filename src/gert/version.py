"""gert's version (a leaf module, so any layer may record it)."""

__version__ = "0.1.0"
