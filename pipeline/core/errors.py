"""The one exception root of Heatwatch and its subclasses.

Every error raised on purpose by Heatwatch derives from :class:`HeatwatchError` and also from
the matching built-in exception, so callers can catch either. Messages say what went wrong,
which file or value was involved, and what to do about it.
"""

from __future__ import annotations


class HeatwatchError(Exception):
    """Root of all errors raised by Heatwatch."""


class HeatwatchWarning(UserWarning):
    """Root of all warnings issued by Heatwatch."""


class ConfigError(HeatwatchError, ValueError):
    """A configuration value is missing, malformed or out of range."""


class SceneReadError(HeatwatchError, OSError):
    """A raster or metadata file cannot be read as a Landsat Collection 2 product."""


class MetadataError(SceneReadError):
    """An MTL file is missing, unreadable or inconsistent with its raster."""


class NoDataError(HeatwatchError, ValueError):
    """The input holds no usable data for the requested operation."""


class SiteError(HeatwatchError, ValueError):
    """A site definition (geometry or attributes) is invalid."""


class EnergyModelError(HeatwatchError, ValueError):
    """An energy-model input is unknown or physically impossible."""


class FetchError(HeatwatchError, OSError):
    """A remote imagery request failed after retries."""


class AuthenticationError(FetchError):
    """The imagery service rejected the credentials."""


class StacRequestError(FetchError):
    """A STAC API or asset host kept failing after the retries (``stac.max_retries``)."""


class StacTimeoutError(StacRequestError, TimeoutError):
    """A STAC API or asset host did not answer within ``stac.timeout_s``."""


class StoreError(HeatwatchError, OSError):
    """The history store cannot be read or written."""


class OutputError(HeatwatchError, OSError):
    """An output file cannot be written safely."""


class QAMissingWarning(HeatwatchWarning):
    """A scene has no QA_PIXEL band; only fill and implausible temperatures are masked."""


class SceneSkippedWarning(HeatwatchWarning):
    """A scene was skipped; the run goes on without it."""
