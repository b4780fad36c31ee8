"""gert: run incident-response runbooks as governed, traceable programs.

The package is a library with a thin CLI on top (``gert.cli``). Modules, lowest first:
``template`` and ``expr`` (the two small languages), ``model`` (the formats), ``load``
and ``validate``, then the engine and its surfaces.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
