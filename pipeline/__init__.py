"""Heatwatch pipeline: thermal imagery in, persistent compute heat out.

The package is organised by stage (see ``DESIGN.md``): reading and calibrating Landsat
Collection 2 thermal bands, masking, anomaly, detection, persistence and power, and the
wiring that runs them over a folder of scenes.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("heatwatch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
