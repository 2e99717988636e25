"""The one validated configuration object of Heatwatch.

Layers, lowest to highest precedence (later wins):

1. defaults: ``configs/default.yaml`` shipped with the package;
2. a user file: ``--config FILE`` (YAML, any subset of the sections);
3. environment: ``HEATWATCH__SECTION__KEY=value`` (value parsed as YAML, so numbers and lists work);
4. arguments: options given on the command line or passed as ``overrides``.

Secrets (Sentinel Hub credentials) are never part of this object: they stay in the
``sentinelhub`` client's own configuration (``SHConfig``), named here only by profile.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.core.errors import ConfigError

ENV_PREFIX = "HEATWATCH__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReaderConfig(_Section):
    """How Landsat products are read and masked.

    ``plausible_min_k`` masks colder pixels (real products hold 150 K under some clouds).
    ``plausible_max_k`` is off (``null``) by default: hot sources (fires, lava, furnaces) are
    data, kept up to the product's ceiling (Level-2 ST 373.0 K, Level-1 count 65535) and
    flagged ``saturated`` there. A number masks every hotter pixel as implausible; below the
    ceiling it hides the core of real hot sources.

    Night scenes (Level-1 only) keep only the QA fill bit: the cloud bits come from the
    reflective bands, dark at night. Their clouds are masked by temperature instead: the
    ``no_qa_plausible_min_k`` floor, and every pixel more than ``night_cloud_k`` colder than the
    scene's median (clouds at night are cold; the night land surface varies by a few K).

    ``greenness`` reads a Level-2 product's red and near-infrared surface reflectance
    (``SR_B4``, ``SR_B5``) where both lie beside band 10, as an ``ndvi`` variable, and the
    scan then takes each footprint's crop season out of its excess
    (:mod:`pipeline.science.greenness`), and reads a listed site's solar loading on the land
    whose cover stays put. Off by default: on the development worlds it finds more power-ons
    and right statuses and calls no campus that ran all series inactive, but it is not yet
    judged on the held-out worlds, the other placebo draw or larger scenes (docs/benchmarks.md,
    twenty-ninth and thirtieth sessions).
    """

    plausible_min_k: float = Field(220.0, gt=0, le=300)
    plausible_max_k: float | None = Field(None, gt=0, lt=1000)
    no_qa_plausible_min_k: float = Field(250.0, gt=0, lt=400)
    qa_mask_bits: tuple[int, ...] = (0, 1, 2, 3, 4)
    night_cloud_k: float = Field(6.0, gt=0, le=100)
    greenness: bool = False

    @model_validator(mode="after")
    def _check_range(self) -> ReaderConfig:
        if self.plausible_max_k is not None and self.plausible_min_k >= self.plausible_max_k:
            raise ValueError("plausible_min_k must be below plausible_max_k")
        if any(not 0 <= b <= 15 for b in self.qa_mask_bits):
            raise ValueError("qa_mask_bits must be QA_PIXEL bit numbers between 0 and 15")
        return self


class GridConfig(_Section):
    """The grid a site's time series is stacked on."""

    resolution_m: float = Field(30.0, gt=0, le=1000)
    margin_m: float = Field(3000.0, ge=0, le=50000)
    max_site_area_km2: float = Field(100.0, gt=0)


class AnomalyConfig(_Section):
    """Background and anomaly: block-annulus median of clear pixels."""

    block_m: float = Field(600.0, gt=0)
    inner_blocks: int = Field(1, ge=0, le=10)
    outer_blocks: int = Field(3, ge=1, le=20)
    min_valid_fraction: float = Field(0.3, gt=0, le=1)

    @model_validator(mode="after")
    def _check_ring(self) -> AnomalyConfig:
        if self.outer_blocks <= self.inner_blocks:
            raise ValueError("outer_blocks must be larger than inner_blocks")
        return self


class DetectionConfig(_Section):
    """Per-scene hotspot detection."""

    min_anomaly_k: float = Field(2.5, gt=0)
    min_z: float = Field(3.0, gt=0)
    min_area_m2: float = Field(27000.0, ge=0)
    nonsolar_min_k: float = Field(1.0, gt=0)
    candidate_buffer_m: float = Field(150.0, ge=0)
    #: False candidates per 1,000 km2 that land alone may produce: a new site's heat statistic
    #: must stand this far outside its placebo null (pipeline.science.placebo.z_threshold).
    false_alarm_per_1000km2: float = Field(0.5, gt=0, le=1000)
    #: A new site must also stand this many robust deviations above the bulk of the regions
    #: the search found in the same scan (their empirical null), when there are at least
    #: ``min_search_regions`` of them.
    region_null_z: float = Field(3.5, gt=0)
    min_search_regions: int = Field(8, ge=3)
    #: Whether a new site always on through the series (no onset, no stop) may become a
    #: candidate. False (default): it is turned down with its null figures and the advice to
    #: scan from before it stood: a static land offset (emissivity, terrain, soil) is always
    #: on too, and on widened land no null statistic told the two apart (docs/statuses.md).
    #: True: judged by its placebo null alone, like a new site's onset.
    always_on_candidates: bool = False
    #: A new site's change that many other searched regions make at its look is a land event
    #: (fields harvested or greening across a district), no candidate, when independent timing
    #: would put as many at one look in at most this share of scenes and no other look of the
    #: series holds as many (pipeline.science.scene_events.Shared.land_event).
    land_event_p: float = Field(0.001, gt=0, lt=0.5)
    #: Fewest days a new site's heat that came and went (a ``window``) must be able to have
    #: lasted, from the clear look before it to the one after it: a campus runs 24/7 for
    #: months to years once powered on (its servers are written off over 5-6 years, e.g.
    #: Microsoft's FY2023 10-K: six years), while a season of crops, snow or a flood comes and
    #: goes within one. A quarter of a year: "months", not fitted to any benchmark. A listed
    #: site's fall seen only by its shape must end heat seen for as long
    #: (pipeline.scan.sites.fall_shape_seen): the end of such a bump is a step-shaped fall too.
    min_window_days: float = Field(90.0, gt=0)
    #: One-sided level at which a catalogued site's heat statistic must stand outside its
    #: placebo null (one hypothesis per site, not a search over the area).
    site_alpha: float = Field(0.001, gt=0, lt=0.5)
    #: Placebo footprints per site (the same shape moved over background land).
    n_placebos: int = Field(200, ge=10, le=5000)
    #: Seed of the placebo placements (a scan is reproducible). Another seed can turn a
    #: verdict near its bar (docs/statuses.md, "The placebo null").
    placebo_seed: int = Field(0, ge=0)


class PersistenceConfig(_Section):
    """Site time series: clear looks, persistence and activity."""

    min_clear_fraction: float = Field(0.8, gt=0, le=1)
    min_looks: int = Field(4, ge=1)
    candidate_min_looks: int = Field(2, ge=1)
    integration_buffer_m: float = Field(90.0, ge=0)
    background_inner_m: float = Field(150.0, ge=0)
    background_outer_m: float = Field(800.0, gt=0)
    #: ``matched``: ring mean matched to the land cover of the whole ring and region
    #: (footprint.matched_levels); ``median``: median of the clear ring pixels.
    background_model: Literal["matched", "median"] = "matched"
    significance: float = Field(3.0, gt=0)
    min_active_k_m2: float = Field(5.0e4, ge=0)
    baseline_offset_k: float = Field(0.2, ge=0)
    change_bic_margin: float = Field(10.0, ge=0)
    #: Common temporal modes of the land (pipeline.science.placebo.land_modes: crop phenology,
    #: seasonal moisture) fitted as no-heat terms with every activity pattern; 0: none.
    land_modes: int = Field(2, ge=0, le=6)
    solar_index: Literal["scene_contrast", "pattern", "clear_sky"] = "pattern"
    min_contrast_pixels: int = Field(2000, ge=10)
    #: A site without detected heat is ``inactive`` only when its heat upper limit is below this
    #: share of its declared power (else of ``power.min_candidate_mw``); otherwise the evidence
    #: cannot tell it from idle and it is ``undetermined``.
    inactive_fraction: float = Field(0.5, gt=0, le=1)
    #: Every site's looks up to this date are a declared baseline (known inactive, e.g. before
    #: construction; ``scan --baseline-end``); null: the imagery folder's ``fetch.json``
    #: ``"baseline"`` per site where present (pipeline.scan.baseline).
    baseline_end: date | None = None


class PowerConfig(_Section):
    """Conversion of solar-decoupled excess (K m2) to heat (MW).

    ``default_k_m2_per_mw``: only its ratios to ``dry`` are used (the cooling factors of the
    fitted coefficient); the dry value itself is unsourced and replaced by the physics
    coefficient (:func:`pipeline.science.power.physics_calibration`) wherever no fit is possible.
    ``calibration``: the coefficient that makes the verdicts, ``fitted`` on the other sites'
    declarations (leave-one-out) or ``physics`` (no declaration used); both are always reported.
    """

    default_k_m2_per_mw: dict[str, float] = Field(
        default_factory=lambda: {"dry": 4000.0, "hybrid": 2200.0, "evaporative": 800.0}
    )
    calibration: Literal["fitted", "physics"] = "fitted"
    default_cooling: Literal["dry", "hybrid", "evaporative"] = "dry"
    min_candidate_mw: float = Field(50.0, ge=0)
    min_calibration_sites: int = Field(2, ge=1)
    #: Weight of the physics coefficient, in sites, when it is combined with the declaring
    #: sites' fit (:func:`pipeline.science.power.calibrate`).
    physics_prior_sites: float = Field(2.0, gt=0)
    assumed_accelerator: str = "h100"


class SentinelHubConfig(_Section):
    """Where and how imagery is fetched from Sentinel Hub (no secrets here)."""

    profile: str | None = None
    base_url: str = "https://services-uswest2.sentinel-hub.com"
    token_url: str = "https://services.sentinel-hub.com/auth/realms/main/protocol/openid-connect/token"
    max_cloud_cover: float = Field(60.0, ge=0, le=100)
    collection: Literal["LANDSAT_OT_L2", "LANDSAT_OT_L1"] = "LANDSAT_OT_L2"
    cache_dir: Path = Path("~/.cache/heatwatch/sentinelhub")
    max_retries: int = Field(5, ge=0, le=20)
    backoff_s: float = Field(1.0, ge=0)
    timeout_s: float = Field(120.0, gt=0)
    #: A cached catalog search whose end date was less than this many days old when it was
    #: made is searched again on the next fetch (new and reprocessed products still appear);
    #: older searches are settled and answered from the cache.
    catalog_refresh_days: int = Field(30, ge=0, le=3650)


class StacConfig(_Section):
    """Where and how imagery is fetched from a STAC API (USGS, Planetary Computer, AWS)."""

    #: STAC API root (the USGS LandsatLook server; Planetary Computer:
    #: https://planetarycomputer.microsoft.com/api/stac/v1 with collection_l2 landsat-c2-l2).
    endpoint: str = "https://landsatlook.usgs.gov/stac-server"
    collection_l2: str = "landsat-c2l2-st"
    collection_l1: str = "landsat-c2l1"
    #: ``l2``: surface temperature; ``l1``: Level-1 counts; ``both``: Level-2 where it exists,
    #: Level-1 for the other acquisitions (night scenes have no Level-2 product).
    level: Literal["l2", "l1", "both"] = "both"
    #: ``planetary_computer``: sign asset URLs with SAS tokens (``token_url`` overrides the
    #: token endpoint); signed URLs are never written anywhere.
    sign: Literal["none", "planetary_computer"] = "none"
    token_url: str | None = None
    max_cloud_cover: float = Field(60.0, ge=0, le=100)
    #: Search page size and the most items one search may return.
    page_size: int = Field(100, ge=1, le=1000)
    max_items: int = Field(2000, ge=1)
    #: Years of imagery fetched as the before-state of a site: ending the day before its first
    #: Epoch timeline date where the catalog has one, else the day before --start.
    baseline_years: int = Field(1, ge=1, le=10)
    cache_dir: Path = Path("~/.cache/heatwatch/stac")
    max_retries: int = Field(4, ge=0, le=20)
    backoff_s: float = Field(1.0, ge=0)
    #: Longest ``Retry-After`` honoured, in seconds (a longer one is waited this long).
    max_retry_after_s: float = Field(60.0, ge=0)
    timeout_s: float = Field(60.0, gt=0)
    #: Bytes GDAL reads per HTTP range (and at open, for the COG header).
    range_chunk_bytes: int = Field(16384, ge=1024)
    catalog_refresh_days: int = Field(30, ge=0, le=3650)


class MonitorConfig(_Section):
    """Monitoring of catalogued campuses."""

    store: Path = Path("heatwatch-store.sqlite")
    alerts: Path = Path("alerts.jsonl")
    webhook_url: str | None = None
    imagery_dir: Path | None = None
    source: Literal["local", "sentinelhub", "stac"] = "local"
    #: Seconds to wait for the webhook before reporting it unreachable.
    webhook_timeout_s: float = Field(10.0, gt=0, le=300)
    #: Alert on every past change of a site the store has not seen before (``true``,
    #: ``heatwatch monitor --backfill``), or only on its latest date (``false``, the default),
    #: so a first run does not send a year of history to the webhook. Later runs alert only on
    #: the dates they add either way.
    backfill: bool = False
    #: Sentinel Hub and STAC sources: first day fetched (default: a year before today).
    fetch_start: date | None = None
    #: Sentinel Hub and STAC sources: folder the fetched products are written to (one folder
    #: a site).
    fetch_dir: Path = Path("heatwatch-imagery")


class DiscoverConfig(_Section):
    """Regional discovery of new sites."""

    tile_size_m: float = Field(20000.0, gt=0)
    tile_overlap_m: float = Field(2000.0, ge=0)
    n_workers: int = Field(2, ge=1)
    scheduler_address: str | None = None
    exclusion_radius_m: float = Field(500.0, ge=0)


class Config(_Section):
    """All of Heatwatch's settings; build with :func:`load_config`."""

    reader: ReaderConfig = ReaderConfig()
    grid: GridConfig = GridConfig()
    anomaly: AnomalyConfig = AnomalyConfig()
    detection: DetectionConfig = DetectionConfig()
    persistence: PersistenceConfig = PersistenceConfig()
    power: PowerConfig = PowerConfig()
    sentinelhub: SentinelHubConfig = SentinelHubConfig()
    stac: StacConfig = StacConfig()
    monitor: MonitorConfig = MonitorConfig()
    discover: DiscoverConfig = DiscoverConfig()

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as plain JSON-compatible data (for ``run.json``)."""
        return self.model_dump(mode="json")


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; pass a YAML configuration file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot read configuration file {path}: {reason}") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = layer
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name} sets a key inside {key}, which another "
                                  f"{ENV_PREFIX} variable sets to a value; unset one of them")
        try:
            node[keys[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"environment variable {name} is not a valid YAML value "
                              f"({str(exc).splitlines()[0]}); fix or unset it") from exc
    return layer


def default_config_path() -> Path:
    """Return the path of the shipped ``configs/default.yaml``."""
    return Path(str(resources.files("configs").joinpath("default.yaml")))


def load_config(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the validated configuration from defaults, a file, the environment and overrides.

    Parameters
    ----------
    path
        Optional YAML file with any subset of the sections.
    overrides
        Nested mapping of values that win over everything else (command-line options).
    environ
        Environment to read ``HEATWATCH__SECTION__KEY`` variables from (default ``os.environ``).

    Returns
    -------
    Config
        The frozen, validated configuration.

    Raises
    ------
    ConfigError
        If a file cannot be read or a value is unknown or out of range.

    Examples
    --------
    >>> cfg = load_config(overrides={"power": {"min_candidate_mw": 80}}, environ={})
    >>> cfg.power.min_candidate_mw
    80.0
    """
    data = _read_yaml(default_config_path())
    if path is not None:
        data = _deep_merge(data, _read_yaml(Path(path)))
    data = _deep_merge(data, _env_layer(os.environ if environ is None else environ))
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        where = f" (from {path})" if path else ""
        raise ConfigError(
            f"invalid configuration{where}: {problems}. Fix the value or remove it to use "
            f"the default in {default_config_path()}"
        ) from exc
