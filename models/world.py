"""Synthetic world generator: a forward model of daytime Landsat thermal imagery.

The worlds are written as real Landsat Collection 2 Level-2 products.

Given a :class:`~models.world_spec.WorldSpec`, :func:`generate_world` writes one L2SP product
(``ST_B10`` + ``QA_PIXEL`` + ``SR_B4`` + ``SR_B5`` + MTL in json/txt/xml in turn) per
acquisition through
:func:`pipeline.io.c2write.write_l2_product`, plus ``sites.geojson`` (the catalogued campuses),
``exclusions.geojson`` (power plants) and ``truth.json`` (:class:`WorldTruth`).

Physics (numbers from ``shared/SCIENCE.md`` and ``shared/data/energy_facts.yaml``)
---------------------------------------------------------------------------------------
* **Time and sun.** Acquisitions every ``revisit_days`` at 10:30 local mean solar time,
  Landsat 8 and 9 alternating; sun elevation/azimuth from
  :func:`pipeline.science.solar.sun_position`
  (NOAA equations). No Level-2 product exists for solar zenith > 76 deg (SCIENCE.md), so such
  slots are skipped and listed in ``truth.skipped``.
* **Solar loading.** ``s_t = clear_sky_irradiance(elev) / 1000`` (Meinel clear-sky model, 1 at
  ~1000 W/m2), times a per-date weather factor ``1 + N(0, solar_jitter)`` (soil moisture, wind,
  haze) that the MTL does not tell. All land contrasts are multiplied by it.
* **Air temperature.** A stylised 10:30 climatology: annual mean ``299 - 0.6 (|lat| - 25)`` K,
  annual amplitude ``5 + 0.25 (|lat| - 25)`` K peaking on day 200 (north) or 18 (south), plus
  day-to-day weather ``N(0, weather_k)`` and a smooth +-0.3 K field across the scene.
* **Land cover** from seeded fields: vegetation and bare/crop parcels (a rectangular field
  mosaic), an urban patch, lakes. Surface temperature = ``T_air + s_t * response`` with
  responses (K per unit ``s_t``) vegetation 3.5-4.5, bare/crop 12-14, urban 10, water -3 (flat,
  QA water bit 7). Texture is mostly solar-driven (sd 1 K per unit ``s_t``), with a static part
  of 0.2 K, because land contrasts are daytime solar effects ("dark roofs and bare ground reach
  10-20 K above vegetation in summer", SCIENCE.md).
* **Campus.** A rectangle of ``power / density`` (site power density 300-450 W/m2:
  energy_facts ``site_power_density``, Abilene 339, New Carlisle 453) holding halls (~30 % of the
  footprint, dark roofs 15-20 K per unit ``s_t``, standing from the start, also before onset)
  and cooling yards (~15 %) beside them, on paved ground (urban response). While
  ``onset <= date < shutdown`` the yards carry the compute heat: integrated excess (K m2) =
  ``k_m2_per_mw(cooling) * power_mw * (1 + N(0, heat_jitter))``, spread evenly over the yard
  pixels. ``k(dry) = k_m2_per_mw_dry`` (truth coefficient), hybrid 0.55x, evaporative 0.2x
  (evaporative towers reject 77-95 % as latent heat, energy_facts ``heat_rejection``), times a
  per-campus jitter ``1 + N(0, coefficient_jitter)``. With k ~ 4000 and 375 W/m2 this is ~10 K
  over the yards, within the 8-14 K condenser exhaust excess of SCIENCE.md.
* **Confusers.** Warehouses: roof only. Construction: bare ground, then a bare roof, never
  powered. Fire: +30-60 K over a few pixels on its dates. Power plant: persistent +20-30 K over
  ~0.05 km2, not solar-driven (energy_facts ``confusers``).
* **Red and near-infrared** (``SR_B4``, ``SR_B5``, USGS scale). A linear mix of soil or paving
  (0.18, 0.26) and canopy (0.04, 0.40) by canopy cover: vegetation 0.85, bare ground 0.05,
  towns 0.15 (+-0.05 texture), roofs and paving 0; a crop's cover follows its season's leaf
  area, ``1 - exp(-0.5 * 4 * greenness)``, so its NDVI saturates at the peak while its thermal
  loss stays linear in greenness. Water (0.03, 0.015), clouds bright (0.6), shadows dark, noise
  0.004. Drawn on a stream of its own after every thermal draw: band 10 and QA are those of a
  world written without them.
* **Sensor.** TIRS is 100 m native, delivered at 30 m: Gaussian PSF of sigma 42 m (1.4 px)
  over the whole temperature field (it preserves integrals); white noise ``noise_k``; Landsat 9
  scenes get ``+l9_offset_k`` over the whole scene (L8/L9 cross-calibration, ~0.6 K).
* **Clouds.** With probability ``cloudiness`` a scene is cloudy: blobs from a thresholded smooth
  field covering 5-100 %. Values follow the real product (``shared/data/landsat`` Colombia
  scene): cloud tops mostly 235-290 K, ~2 % at ST DN 293 (150.0 K), ~1.5 % at DN 0 while QA is
  not fill. QA bits via :func:`pipeline.science.qa.encode`: cloud (3), a 3-pixel dilated ring (1)
  with partly cooled values, cloud shadow (4) cast away from the sun azimuth from a cloud height of
  0.6-2 km (the shadowed surface loses half its solar heating before the blur), and sometimes
  cirrus (2), 1-3 K cool. Scene-edge fill (QA 1, ST DN 0) is a wedge with probability
  ``edge_fill_probability``.

Determinism: every random draw comes from ``numpy.random.default_rng([seed, stream, ...])``
(land, each campus, each acquisition and its metadata have their own stream), so a spec gives
byte-identical files, and changing one campus's dates leaves every other pixel unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.crs import CRS
from scipy.ndimage import binary_dilation, gaussian_filter, zoom

from models.world_spec import (
    COOLING_FACTOR,
    AcquisitionTruth,
    CampusLook,
    CampusSpec,
    CampusTruth,
    FeatureTruth,
    FireSpec,
    GridTruth,
    PlantSpec,
    RoofSpec,
    SkippedAcquisition,
    WorldSpec,
    WorldTruth,
    demo_spec,
    random_spec,
)
from pipeline.core.errors import OutputError
from pipeline.core.grid import WGS84_UTM_NORTH_BASE, Grid, utm_zone
from pipeline.core.outputs import write_text
from pipeline.core.product_id import ProductId
from pipeline.io.c2write import ST_ADD, ST_MULT, product_id, write_l1_product, write_l2_product
from pipeline.science.qa import any_bits, encode
from pipeline.science.solar import clear_sky_irradiance, sun_position

__all__ = ["WorldSpec", "WorldTruth", "crop_loss", "demo_spec", "generate_world",
           "random_spec"]

F32 = NDArray[np.float32]
Mask = NDArray[np.bool_]

#: Solar response of land covers, K per unit solar loading (vegetation, bare, urban, water).
VEGETATION_K, BARE_K, URBAN_K, WATER_K = 4.0, 13.0, 10.0, -3.0
SOLAR_TEXTURE_K = 1.0
STATIC_TEXTURE_K = 0.2
CAMPUS_ROOF_K = (15.0, 20.0)
ROOF_FRACTION, YARD_FRACTION = 0.30, 0.15
#: TIRS point spread, metres (100 m native delivered at 30 m -> sigma 1.4 px).
TIRS_PSF_SIGMA_M = 42.0
#: Level-2 surface temperature exists only for solar zenith < 76 degrees.
MIN_SUN_ELEVATION_DEG = 14.0
#: ST DN that real products hold under some clouds (149 + 293 * 0.00341802 = 150.0 K).
CLOUD_QUIRK_DN = 293
SHADOW_SOLAR_LOSS = 0.5
MtlFormat = Literal["json", "txt", "xml"]
MTL_FORMATS: tuple[MtlFormat, ...] = ("json", "txt", "xml")

#: Solar response of the bare ground under halls not yet roofed (K per unit solar loading).
GROUND_K = 13.0

# Random streams: default_rng([seed, STREAM, ...]). Streams 4+ are drawn only by the widened
# land physics (:class:`models.world_spec.LandSpec`), so classic worlds stay byte-identical.
_LAND, _SCENE, _CAMPUS, _META, _STRUCTURE = 0, 1, 2, 3, 4
#: Stream of the optional night scenes (``generate_world(night_looks=...)``), drawn only then.
_NIGHT = 9
#: Stream of the crop seasons' year-to-year shifts (``LandSpec.crop_year_days``), one draw per
#: season year, drawn only when that is above 0.
_CROP_YEARS = 10
#: Stream of the red and near-infrared reflectance (SR_B4, SR_B5): its static texture and each
#: scene's noise. Drawn after every thermal draw, so the thermal bands are those of a world
#: written without them.
_OPTICS = 11

#: Surface reflectance (red, near-infrared) of bare soil or paving and of a full green canopy,
#: typical of the USGS Spectral Library v7 (Kokaly et al. 2017, doi:10.3133/ds1035): soils
#: 0.15-0.25 red, 0.2-0.3 NIR; green leaves 0.03-0.06 red, 0.35-0.5 NIR. Water absorbs both.
SOIL_RED_NIR, CANOPY_RED_NIR, WATER_RED_NIR = (0.18, 0.26), (0.04, 0.40), (0.03, 0.015)
#: Static canopy cover of the land covers (vegetation, bare ground and crops off season, towns);
#: roofs and paving have none.
VEGETATION_COVER, BARE_COVER, URBAN_COVER = 0.85, 0.05, 0.15
#: A crop's canopy cover follows its leaf area, ``1 - exp(-K * LAI)`` (Beer-Lambert extinction,
#: K = 0.5 for a spherical leaf distribution; Monsi & Saeki 1953), with LAI = ``CROP_LAI``
#: times its greenness: NDVI saturates at the season's peak while the thermal loss keeps its
#: linear shape, so a measured greenness is a proxy of the crops' cooling, not a copy of it.
CANOPY_EXTINCTION, CROP_LAI = 0.5, 4.0
#: Reflectance noise per band and pixel, and the cloud tops' reflectance.
REFLECTANCE_NOISE, CLOUD_REFLECTANCE = 0.004, 0.6

#: Band 10 Level-1 constants (RADIANCE_MULT, RADIANCE_ADD, K1, K2): Landsat 8 Data Users
#: Handbook table 5-7 and the Landsat 9 MTL constants (shared Lahaina sample, L9 handbook).
L1_B10 = {8: (3.342e-4, 0.1, 774.8853, 1321.0789), 9: (3.8e-4, 0.1, 799.0284, 1329.2405)}
#: Simulator assumptions of a night scene: air this much colder than at the morning overpass,
#: top-of-atmosphere brightness temperature this much below the surface's (a uniform offset:
#: no atmospheric correction at Level-1; the ring background removes it), and night clouds
#: this much colder than the air.
NIGHT_COOLING_K, NIGHT_L1_OFFSET_K, NIGHT_CLOUD_K = 8.0, 2.0, 25.0


# Grid -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """The world's :class:`pipeline.core.grid.Grid` and its centre (extents are from the centre).

    The grid is north-up in the UTM north zone of the centre, ``size_px`` square, pixel centres
    on multiples of the cell (the USGS lattice) and the nearest such origin to the centred one.
    """

    grid: Grid
    cx: float
    cy: float

    @classmethod
    def from_spec(cls, spec: WorldSpec) -> _Grid:
        epsg = WGS84_UTM_NORTH_BASE + utm_zone(spec.center_lon)
        cx, cy = Transformer.from_crs(4326, epsg, always_xy=True).transform(
            spec.center_lon, spec.center_lat)
        p, half = spec.pixel_m, spec.size_px * spec.pixel_m / 2.0
        ox = round((cx - half + p / 2) / p) * p - p / 2
        oy = round((cy + half - p / 2) / p) * p + p / 2
        grid = Grid(CRS.from_epsg(epsg), Affine(p, 0.0, ox, 0.0, -p, oy),
                    (spec.size_px, spec.size_px))
        return cls(grid, cx, cy)

    @property
    def epsg(self) -> int:
        return int(self.grid.crs.to_epsg())

    @property
    def zone(self) -> int:
        return self.epsg - WGS84_UTM_NORTH_BASE

    @property
    def pixel(self) -> float:
        return self.grid.resolution

    @property
    def ox(self) -> float:
        return float(self.grid.transform.c)

    @property
    def oy(self) -> float:
        return float(self.grid.transform.f)

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    def window(self, extent: tuple[float, float, float, float]) -> tuple[slice, slice]:
        """Pixel-snapped (rows, cols) of an extent given in metres from the world centre."""
        c0 = round((self.cx + extent[0] - self.ox) / self.pixel)
        c1 = max(c0 + 1, round((self.cx + extent[2] - self.ox) / self.pixel))
        r0 = round((self.oy - self.cy - extent[3]) / self.pixel)
        r1 = max(r0 + 1, round((self.oy - self.cy - extent[1]) / self.pixel))
        return slice(r0, r1), slice(c0, c1)

    def bounds(self, win: tuple[slice, slice]) -> tuple[float, float, float, float]:
        """UTM (xmin, ymin, xmax, ymax) of a pixel window."""
        rows, cols = win
        return (self.ox + cols.start * self.pixel, self.oy - rows.stop * self.pixel,
                self.ox + cols.stop * self.pixel, self.oy - rows.start * self.pixel)

    def ring(self, win: tuple[slice, slice]) -> list[tuple[float, float]]:
        """Counter-clockwise lon/lat ring of a pixel window."""
        x0, y0, x1, y1 = self.bounds(win)
        to_ll = Transformer.from_crs(self.epsg, 4326, always_xy=True)
        lon, lat = to_ll.transform([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])
        return [(round(a, 7), round(b, 7)) for a, b in zip(lon, lat, strict=True)]

    def area(self, win: tuple[slice, slice]) -> float:
        rows, cols = win
        return (rows.stop - rows.start) * (cols.stop - cols.start) * self.pixel**2


# Random fields --------------------------------------------------------------------------------


def _smooth(rng: np.random.Generator, n: int, scale_px: float) -> F32:
    """Zero-mean, unit-variance Gaussian random field of correlation length ~``scale_px``."""
    f = max(1, int(scale_px // 3))
    m = -(-n // f) + 2
    z = gaussian_filter(rng.standard_normal((m, m), dtype=np.float32), scale_px / f, mode="wrap")
    if f > 1:
        z = zoom(z, f, order=1, grid_mode=False)
    z = z[:n, :n]
    return ((z - z.mean()) / (z.std() + 1e-12)).astype(np.float32)


def _parcels(rng: np.random.Generator, n: int, lo: int = 8, hi: int = 22) -> F32:
    """Return a rectangular field mosaic: a uniform(0, 1) value per parcel."""
    rows = np.cumsum(rng.integers(lo, hi, size=n // lo + 2)) - int(rng.integers(0, hi))
    cols = np.cumsum(rng.integers(lo, hi, size=n // lo + 2)) - int(rng.integers(0, hi))
    ri = np.searchsorted(rows, np.arange(n), side="right")
    ci = np.searchsorted(cols, np.arange(n), side="right")
    values = rng.random((len(rows) + 1, len(cols) + 1)).astype(np.float32)
    return values[np.ix_(ri, ci)]


# Static world ---------------------------------------------------------------------------------


@dataclass
class _Campus:
    spec: CampusSpec
    win: tuple[slice, slice]
    yard: Mask
    k: float
    roof_area: float
    yard_area: float
    #: Pixels carrying the heat (the yards, or the roofs for ``heat_layout="roof"``).
    heat: Mask
    heat_area: float
    #: Roof pixels and their solar response lost before the halls were built (K per unit sun).
    halls: Mask
    unbuilt_k: F32


@dataclass
class _Crops:
    """Seasonal crop pixels: their contrast lost at the season's peak and their peak day.

    With ``year_days`` above 0 each season comes early or late by a shift drawn per season
    year (uniform within +-``year_days``, all parcels alike: a wet spring delays the planting of
    a whole region), the season's year being the one of the world's peak day nearest ``day``.
    """

    mask: Mask
    loss_k: F32
    peak_doy: F32
    world_peak_doy: float = 0.0
    year_days: float = 0.0
    seed: int = 0

    def year_shift(self, day: date) -> float:
        """Days the season nearest ``day`` comes late (negative: early) in its year."""
        if self.year_days <= 0:
            return 0.0
        off = day.timetuple().tm_yday - self.world_peak_doy
        year = day.year + (1 if off > 182.625 else -1 if off < -182.625 else 0)
        rng = np.random.default_rng([self.seed, _CROP_YEARS, year])
        return float(rng.uniform(-1.0, 1.0)) * self.year_days

    def green(self, day: date, season_days: float) -> F32:
        """Greenness 0-1 of each crop pixel on ``day`` (raised-cosine season)."""
        peak = self.peak_doy + np.float32(self.year_shift(day))
        d = np.abs((day.timetuple().tm_yday - peak + 182.625) % 365.25 - 182.625)
        return np.where(d < season_days / 2, np.cos(np.pi * d / season_days) ** 2,
                        0.0).astype(np.float32)


@dataclass
class _Static:
    response: F32
    static: F32
    water: Mask
    campuses: list[_Campus]
    construction: list[tuple[RoofSpec, tuple[slice, slice]]]
    plants: list[tuple[PlantSpec, tuple[slice, slice]]]
    fires: list[tuple[FireSpec, tuple[slice, slice], Mask]]
    crops: _Crops | None = None
    #: Static canopy cover 0-1 (crops off season; :func:`_reflectance` adds their season).
    cover: F32 | None = None


def _structure(spec: WorldSpec, response: F32, parcel: F32, bare: Mask,
               water: Mask) -> tuple[F32, _Crops | None]:
    """Return the static non-solar structure (K) and the seasonal crops of the widened land."""
    land = spec.land
    n = spec.size_px
    rng = np.random.default_rng([spec.seed, _STRUCTURE])
    static = np.zeros((n, n), np.float32)
    if land.static_k > 0:
        static = (land.static_k * _smooth(rng, n, land.static_scale_m / spec.pixel_m))
        static[water] = 0.0
    crops = None
    if land.crop_share > 0:
        # one draw per parcel (the parcel values are unique per parcel): which are crops, and
        # how far each one's season is from the world's
        levels, inverse = np.unique(parcel, return_inverse=True)
        is_crop = rng.random(levels.size) < land.crop_share
        shift = rng.uniform(-1, 1, levels.size) * land.crop_jitter_days
        mask = bare & is_crop[inverse.reshape(n, n)]
        loss = np.where(mask, land.crop_depth * np.maximum(response - VEGETATION_K, 0.0), 0.0)
        peak = (land.crop_peak_doy + shift[inverse.reshape(n, n)]).astype(np.float32)
        crops = _Crops(mask, loss.astype(np.float32), peak, float(land.crop_peak_doy),
                       land.crop_year_days, spec.seed)
    return static.astype(np.float32), crops


def _land(spec: WorldSpec) -> tuple[F32, F32, Mask, _Crops | None, F32]:
    rng = np.random.default_rng([spec.seed, _LAND])
    n = spec.size_px
    lake = _smooth(rng, n, 25.0)
    town = _smooth(rng, n, 20.0)
    parcel = _parcels(rng, n)
    water = lake > np.quantile(lake, 0.96)
    urban = (town > np.quantile(town, 0.93)) & ~water
    bare = (parcel < 0.4) & ~water & ~urban
    response = np.where(bare, BARE_K - 1.0 + 5.0 * parcel, VEGETATION_K - 0.5 + parcel)
    response = np.where(urban, URBAN_K, response)
    response += SOLAR_TEXTURE_K * _smooth(rng, n, 2.0)
    static = STATIC_TEXTURE_K * _smooth(rng, n, 3.0)
    response[water] = WATER_K
    static[water] = 0.0
    extra, crops = _structure(spec, response, parcel, bare, water)
    cover = np.where(bare, BARE_COVER, np.where(urban, URBAN_COVER, VEGETATION_COVER))
    texture = 0.05 * _smooth(np.random.default_rng([spec.seed, _OPTICS]), n, 3.0)
    cover = np.clip(cover + texture, 0.0, 1.0).astype(np.float32)
    return (response.astype(np.float32), (static + extra).astype(np.float32), water, crops,
            cover)


def _campus_layout(h: int, w: int, rng: np.random.Generator) -> tuple[NDArray[np.int16], Mask]:
    """Hall index per pixel (-1 none) and the yard mask of an ``h`` x ``w`` footprint.

    Halls of ~9 x ~16 pixels (270 x 480 m at 30 m) in a grid separated by 1-pixel alleys; each
    row of halls has a cooling-yard strip along one side. Roofs cover ~30 % and yards ~15 %.
    """
    flip = h > w
    if flip:
        h, w = w, h
    n_cols, n_rows = max(1, round(w / 9)), max(1, round(h / 16))
    hall_of_col = np.full(w, -1, dtype=np.int16)
    edges = np.linspace(0, w, n_cols + 1).round().astype(int)
    for k in range(n_cols):
        a, b = edges[k], edges[k + 1]
        hall_of_col[a:b - 1 if b - a >= 4 else b] = k
    wc = int((hall_of_col >= 0).sum())
    halls = np.full((h, w), -1, dtype=np.int16)
    yard = np.zeros((h, w), dtype=bool)
    row_edges = np.linspace(0, h, n_rows + 1).round().astype(int)
    for j in range(n_rows):
        hb = row_edges[j + 1] - row_edges[j]
        hy = max(1, round(YARD_FRACTION * hb * w / wc))
        hr = max(1, min(hb - hy, round(ROOF_FRACTION * hb * w / wc)))
        r0 = row_edges[j] + int(rng.integers(0, hb - hr - hy + 1))
        roof_at, yard_at = (r0 + hy, r0) if rng.random() < 0.5 else (r0, r0 + hr)
        halls[roof_at:roof_at + hr] = np.where(hall_of_col >= 0, hall_of_col + j * n_cols, -1)
        yard[yard_at:yard_at + hy] = hall_of_col >= 0
    return (halls.T, yard.T) if flip else (halls, yard)


def _static_world(spec: WorldSpec, grid: _Grid) -> _Static:
    response, static, water, crops, cover = _land(spec)
    campuses = []
    for i, c in enumerate(spec.campuses):
        rng = np.random.default_rng([spec.seed, _CAMPUS, i])
        k = spec.k_m2_per_mw_dry * COOLING_FACTOR[c.cooling] * float(
            np.clip(1 + rng.normal(0, spec.coefficient_jitter), 0.7, 1.3))
        win = grid.window(c.extent_m())
        h, w = win[0].stop - win[0].start, win[1].stop - win[1].start
        halls, yard = _campus_layout(h, w, rng)
        roof_k = rng.uniform(*CAMPUS_ROOF_K, size=int(halls.max()) + 1).astype(np.float32)
        response[win] = np.where(halls >= 0, roof_k[np.maximum(halls, 0)], URBAN_K)
        water[win], cover[win] = False, 0.0
        if crops is not None:
            crops.mask[win] = False
            crops.loss_k[win] = 0.0
        roofs = halls >= 0
        # rooftop coolers spread the heat over the whole footprint (~1-2 K at 300-450 W/m2)
        heat = np.ones_like(yard) if c.heat_layout == "roof" else yard
        unbuilt = np.where(roofs, response[win] - GROUND_K, 0.0).astype(np.float32)
        campuses.append(_Campus(c, win, yard, k, float(roofs.sum()) * grid.pixel**2,
                                float(yard.sum()) * grid.pixel**2, heat,
                                float(heat.sum()) * grid.pixel**2, roofs, unbuilt))
    objects = ([grid.window(r.extent_m()) for r in (*spec.warehouses, *spec.construction)]
               + [grid.window(p.extent_m()) for p in spec.power_plants])
    for win in objects:
        cover[win] = 0.0
        if crops is not None:
            crops.mask[win], crops.loss_k[win] = False, 0.0
    for r in spec.warehouses:
        win = grid.window(r.extent_m())
        response[win], water[win] = r.roof_response_k, False
    construction = []
    for r in spec.construction:
        win = grid.window(r.extent_m())
        bare = r.built is not None
        response[win] = r.ground_response_k if bare else r.roof_response_k
        water[win] = False
        construction.append((r, win))
    plants = []
    for p in spec.power_plants:
        win = grid.window(p.extent_m())
        response[win], water[win] = URBAN_K, False
        plants.append((p, win))
    fires = []
    for f in spec.fires:
        win = grid.window(f.extent_m())
        rr, cc = np.mgrid[win[0], win[1]]
        r_c, c_c = (win[0].start + win[0].stop - 1) / 2, (win[1].start + win[1].stop - 1) / 2
        disk = (rr - r_c) ** 2 + (cc - c_c) ** 2 <= (f.radius_m / grid.pixel) ** 2 + 0.25
        fires.append((f, win, disk))
    return _Static(response, static, water, campuses, construction, plants, fires, crops, cover)


# One acquisition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    index: int
    acquired: datetime
    spacecraft: int
    pid: str
    elevation: float
    azimuth: float
    fmt: MtlFormat

    @property
    def written(self) -> bool:
        return self.elevation >= MIN_SUN_ELEVATION_DEG


def _wrs(lat: float, lon: float) -> tuple[int, int]:
    """Approximate WRS-2 path/row of a place (descending daytime rows; fits USGS samples)."""
    path = int(round(191.0 + (-lon + 0.357 * lat) / (360.0 / 233.0)) - 1) % 233 + 1
    row = int(np.clip(round(60.0 - lat / 1.44), 1, 248))
    return path, row


def _plan(spec: WorldSpec) -> list[_Slot]:
    path, row = _wrs(spec.center_lat, spec.center_lon)
    slots = []
    for i, when in enumerate(spec.acquisition_times):
        rng = np.random.default_rng([spec.seed, _META, i])
        processed = when + timedelta(days=int(rng.integers(6, 18)))
        craft = spec.spacecraft(i)
        elev, az = sun_position(spec.center_lat, spec.center_lon, when)
        pid = product_id(spacecraft=craft, level="L2SP", wrs_path=path, wrs_row=row,
                         acquired=when, processed=processed)
        slots.append(_Slot(i, when, craft, pid, float(elev), float(az), MTL_FORMATS[i % 3]))
    return slots


def _air_temperature(spec: WorldSpec, when: datetime, weather: float) -> float:
    alat = abs(spec.center_lat)
    mean = 299.0 - 0.6 * (alat - 25.0)
    amplitude = 5.0 + 0.25 * (alat - 25.0)
    peak = 200 if spec.center_lat >= 0 else 18
    doy = when.timetuple().tm_yday
    return float(mean + amplitude * np.cos(2 * np.pi * (doy - peak) / 365.25) + weather)


def _shift(mask: Mask, dr: int, dc: int) -> Mask:
    out = np.zeros_like(mask)
    n0, n1 = mask.shape
    if abs(dr) >= n0 or abs(dc) >= n1:
        return out  # the shadow falls entirely outside the tile
    src = mask[max(0, -dr):n0 - max(0, dr), max(0, -dc):n1 - max(0, dc)]
    out[max(0, dr):max(0, dr) + src.shape[0], max(0, dc):max(0, dc) + src.shape[1]] = src
    return out


@dataclass
class _Sky:
    cloud: Mask
    dilated: Mask
    shadow: Mask
    cirrus: Mask
    fill: Mask
    top_k: F32
    ring_w: F32
    quirk: F32
    cirrus_k: float


def _sky(spec: WorldSpec, slot: _Slot, rng: np.random.Generator, t_air: float) -> _Sky:
    n = spec.size_px
    none = np.zeros((n, n), bool)
    cloud, top = none, np.zeros((n, n), np.float32)
    if rng.random() < spec.cloudiness:
        coverage = rng.uniform(0.05, 1.0)
        field = _smooth(rng, n, 1500.0 / spec.pixel_m) + 0.35 * _smooth(rng, n, 4.0)
        thr = np.quantile(field, 1.0 - coverage)
        cloud = field > thr
        thick = np.clip((field - thr) / (field.max() - thr + 1e-6), 0, 1)
        top = np.clip(t_air - 8.0 - 40.0 * np.sqrt(thick), 228.0, t_air - 3.0).astype(np.float32)
    dilated = binary_dilation(cloud, iterations=3) & ~cloud if cloud.any() else none
    shadow = none
    if cloud.any():
        dist = rng.uniform(600.0, 2000.0) / np.tan(np.radians(slot.elevation)) / spec.pixel_m
        az = np.radians(slot.azimuth)
        shadow = _shift(cloud, round(dist * np.cos(az)), round(-dist * np.sin(az))) & ~cloud
    cirrus, cirrus_k = none, 0.0
    if rng.random() < (0.4 if cloud.any() else 0.05):
        field = _smooth(rng, n, 15.0)
        cirrus = field > np.quantile(field, 1.0 - rng.uniform(0.01, 0.08))
        cirrus_k = float(rng.uniform(1.0, 3.0))
    fill = none
    if rng.random() < spec.edge_fill_probability:
        theta = rng.uniform(0, 2 * np.pi)
        rr, cc = np.mgrid[0:n, 0:n]
        proj = np.cos(theta) * cc + np.sin(theta) * rr
        fill = proj > np.quantile(proj, 1.0 - rng.uniform(0.03, 0.3))
    ring_w = (0.3 * rng.random((n, n), dtype=np.float32)) if dilated.any() else none
    quirk = rng.random((n, n), dtype=np.float32) if cloud.any() else none
    return _Sky(cloud, dilated, shadow, cirrus, fill, top, ring_w, quirk, cirrus_k)


def _surface(world: _Static, day: date, t_air: float, sun: float, weather: F32,
             shadow: Mask, excess: list[float], season_days: float = 0.0) -> F32:
    """Surface temperature before the sensor, with the campuses' compute ``excess`` (K m2)."""
    surf = (t_air + sun * world.response + world.static + weather).astype(np.float32)
    if world.crops is not None:
        m = world.crops.mask
        green = world.crops.green(day, season_days)
        surf[m] -= sun * green[m] * world.crops.loss_k[m]
    for r, win in world.construction:
        if r.built is not None and day >= r.built:
            surf[win] += sun * (r.roof_response_k - r.ground_response_k)
    for c in world.campuses:
        if c.spec.built is not None and day < c.spec.built:
            surf[c.win][c.halls] -= sun * c.unbuilt_k[c.halls]
    if shadow.any():
        surf[shadow] -= SHADOW_SOLAR_LOSS * sun * np.maximum(world.response[shadow], 0.0)
    for c, integral in zip(world.campuses, excess, strict=True):
        if integral:
            surf[c.win][c.heat] += integral / c.heat_area
    for p, win in world.plants:
        surf[win] += p.delta_k
    for f, win, disk in world.fires:
        if f.burning(day):
            surf[win][disk] += f.delta_k
    return surf


def _reflectance(spec: WorldSpec, world: _Static, slot: _Slot, sky: _Sky) -> dict[int, F32]:
    """Surface reflectance of bands 4 (red) and 5 (near-infrared); NaN where the scene is fill.

    A linear mix of soil and canopy by canopy cover (crops' cover from their season's leaf area,
    :data:`CROP_LAI`), water its own; clouds bright, their shadows dark. Native 30 m (no PSF).
    """
    assert world.cover is not None
    cover = world.cover
    if world.crops is not None:
        m = world.crops.mask
        green = world.crops.green(slot.acquired.date(), spec.land.crop_season_days)
        cover = cover.copy()
        cover[m] = np.maximum(cover[m], 1.0 - np.exp(-CANOPY_EXTINCTION * CROP_LAI * green[m]))
    rng = np.random.default_rng([spec.seed, _OPTICS, slot.index])
    out = {}
    for band, soil, leaf, water in zip((4, 5), SOIL_RED_NIR, CANOPY_RED_NIR, WATER_RED_NIR,
                                       strict=True):
        r = (soil + (leaf - soil) * cover).astype(np.float32)
        r[world.water] = water
        r += REFLECTANCE_NOISE * rng.standard_normal(r.shape, dtype=np.float32)
        r[sky.shadow] *= 0.35
        r[sky.cirrus] += 0.05  # thin: it brightens, the ground shows through
        r[sky.cloud] = CLOUD_REFLECTANCE
        r[sky.fill] = np.nan
        out[band] = r
    return out


def _excess(spec: WorldSpec, world: _Static, slot: _Slot) -> list[float]:
    """Compute heat of each campus on this date as integrated excess, K m2 (0 when idle)."""
    out = []
    for i, c in enumerate(world.campuses):
        eps = np.random.default_rng([spec.seed, _CAMPUS, i, slot.index]).normal()
        integral = c.k * c.spec.power_mw * max(0.0, 1.0 + spec.heat_jitter * float(eps))
        out.append(integral if c.spec.active(slot.acquired.date()) else 0.0)
    return out


def _observe(spec: WorldSpec, slot: _Slot, surf: F32, sky: _Sky,
             noise: F32) -> F32:
    """Apply the sensor (PSF, calibration offset, noise) and the clouds: kelvin, NaN = DN 0."""
    k = gaussian_filter(surf, TIRS_PSF_SIGMA_M / spec.pixel_m, mode="nearest")
    k += spec.noise_k * noise
    if slot.spacecraft == 9:
        k += spec.l9_offset_k
    if sky.cirrus.any():
        k[sky.cirrus] -= sky.cirrus_k
    if sky.dilated.any():
        d = sky.dilated
        k[d] += sky.ring_w[d] * (sky.top_k[d] - k[d])
    if sky.cloud.any():
        k[sky.cloud] = sky.top_k[sky.cloud]
        k[sky.cloud & (sky.quirk < 0.02)] = ST_ADD + CLOUD_QUIRK_DN * ST_MULT
        k[sky.cloud & (sky.quirk >= 0.02) & (sky.quirk < 0.035)] = np.nan
    k[sky.fill] = np.nan
    return k


# Writing --------------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=1, default=str) + "\n")


def _check_out_dir(out: Path, slots: list[_Slot], overwrite: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    mine = {s.pid for s in slots if s.written}
    stale = [p for p in out.iterdir() if ProductId.of_file(p.name) is not None
             and p.name[:40] not in mine]
    if stale and not overwrite:
        raise OutputError(f"{out} holds {len(stale)} Landsat files of another world (e.g. "
                          f"{stale[0].name}); choose an empty folder or pass overwrite=True")
    for p in stale:
        p.unlink()


def _geojson(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _feature(ring: list[tuple[float, float]], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}}


def _features(spec: WorldSpec, grid: _Grid, world: _Static,
              written: list[AcquisitionTruth]) -> dict[str, list[FeatureTruth]]:
    def ft(kind: str, name: str, win: tuple[slice, slice], **kw: Any) -> FeatureTruth:
        return FeatureTruth(kind=kind, name=name, footprint_lonlat=grid.ring(win),
                            footprint_utm=grid.bounds(win), area_m2=grid.area(win), **kw)

    return {
        "warehouses": [ft("warehouse", r.name, grid.window(r.extent_m()),
                          response_k_per_unit_sun=r.roof_response_k) for r in spec.warehouses],
        "construction": [ft("construction", r.name, win, built=r.built,
                            response_k_per_unit_sun=r.roof_response_k)
                         for r, win in world.construction],
        "fires": [ft("fire", f.name, win, delta_k=f.delta_k,
                     dates=[a.date for a in written if f.burning(a.date)])
                  for f, win, _ in world.fires],
        "power_plants": [ft(p.kind, p.name, win, delta_k=p.delta_k) for p, win in world.plants],
    }


def _campus_truth(grid: _Grid, c: _Campus, looks: list[CampusLook]) -> CampusTruth:
    s = c.spec
    return CampusTruth(
        site_id=s.site_id, name=s.name, operator=s.operator, in_catalog=s.in_catalog,
        power_mw=s.power_mw, reported_power_mw=s.reported_power_mw, cooling=s.cooling,
        k_m2_per_mw=c.k, expected_excess_k_m2=c.k * s.power_mw, onset=s.onset,
        shutdown=s.shutdown, footprint_lonlat=grid.ring(c.win), footprint_utm=grid.bounds(c.win),
        area_m2=grid.area(c.win), roof_area_m2=c.roof_area, yard_area_m2=c.yard_area,
        looks=looks)


def _write_vectors(out: Path, truth: WorldTruth) -> None:
    sites = [_feature(c.footprint_lonlat, {
        "site_id": c.site_id, "name": c.name, "operator": c.operator,
        "reported_power_mw": c.reported_power_mw, "cooling": c.cooling})
        for c in truth.campuses if c.in_catalog]
    plants = [_feature(p.footprint_lonlat, {"kind": p.kind, "name": p.name})
              for p in truth.power_plants]
    _write_json(out / "sites.geojson", _geojson(sites))
    _write_json(out / "exclusions.geojson", _geojson(plants))
    write_text(out / "truth.json", truth.model_dump_json(indent=1) + "\n")


# Public ---------------------------------------------------------------------------------------


def generate_world(
    spec: WorldSpec,
    out_dir: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
    night_looks: tuple[int, ...] = (),
) -> WorldTruth:
    """Simulate ``spec`` and write it as Landsat Collection 2 Level-2 products into ``out_dir``.

    Parameters
    ----------
    spec
        The world to simulate (see :func:`demo_spec`, :func:`random_spec`).
    out_dir
        Folder for the products, ``sites.geojson``, ``exclusions.geojson`` and ``truth.json``;
        created if absent. Files of the same world are overwritten.
    progress
        Called as ``progress(done, total)`` after each acquisition slot.
    overwrite
        Delete Landsat products of another world found in ``out_dir`` instead of failing.
    night_looks
        Acquisition indices after which a night Level-1 scene is also written, 12 h after that
        day's overpass (Landsat's ascending night pass, flagged ``DAY_NIGHT_FLAG = NIGHT``, no
        QA band): no sun, the same compute heat, a cold cloud patch. Listed in ``night.json``;
        the Level-2 products and ``truth.json`` are those of the world without them.

    Returns
    -------
    WorldTruth
        What was generated, also written as ``truth.json``.

    Raises
    ------
    OutputError
        If ``out_dir`` holds products of another world and ``overwrite`` is False.

    Examples
    --------
    >>> truth = generate_world(random_spec(1, size_px=64, n_acquisitions=2, n_campuses=1,
    ...                        confusers=False), tmp_path)  # doctest: +SKIP
    >>> len(truth.acquisitions)  # doctest: +SKIP
    2
    """
    out = Path(out_dir)
    slots = _plan(spec)
    _check_out_dir(out, slots, overwrite)
    grid = _Grid.from_spec(spec)
    world = _static_world(spec, grid)
    acquisitions: list[AcquisitionTruth] = []
    skipped: list[SkippedAcquisition] = []
    looks: list[list[CampusLook]] = [[] for _ in world.campuses]
    nights = []
    for slot in slots:
        if slot.index in night_looks:
            nights.append(_acquire_night(spec, grid, world, slot, out))
        if slot.written:
            a, campus_looks = _acquire(spec, grid, world, slot, out)
            acquisitions.append(a)
            for acc, look in zip(looks, campus_looks, strict=True):
                acc.append(look)
        else:
            skipped.append(SkippedAcquisition(
                index=slot.index, date=slot.acquired.date(), sun_elevation=slot.elevation,
                reason="solar zenith above 76 deg: USGS makes no Level-2 product"))
        if progress is not None:
            progress(slot.index + 1, len(slots))
    truth = WorldTruth(
        spec=spec,
        grid=GridTruth(epsg=grid.epsg, utm_zone=grid.zone, transform=tuple(grid.transform)[:6],
                       width=spec.size_px, height=spec.size_px, pixel_m=spec.pixel_m),
        acquisitions=acquisitions, skipped=skipped,
        campuses=[_campus_truth(grid, c, lk) for c, lk in zip(world.campuses, looks, strict=True)],
        **_features(spec, grid, world, acquisitions))
    _write_vectors(out, truth)
    if nights:
        _write_json(out / "night.json", nights)
    return truth


def crop_loss(spec: WorldSpec, days: list[date]) -> tuple[F32, Affine]:
    """Daytime contrast the crops of ``spec``'s land have lost on each of ``days``.

    On a crop pixel the surface is ``sun * (response - loss)`` in its green season
    (:class:`_Crops`, applied in :func:`_surface`); this is that ``loss`` (K per unit of sun,
    the acquisition's ``solar_loading`` times its ``solar_factor``), shape
    ``(len(days), size_px, size_px)``, zero off crops, inside campus windows and on land without
    crop seasons. It is the truth a benchmark needs to tell how much of a site's excess is its
    ring's season (``bench/ring_season.py``); no detector reads it.

    Returns
    -------
    tuple of ndarray and Affine
        The losses and the world grid's transform (the products' own).

    Examples
    --------
    >>> spec = random_spec(1, size_px=32, n_acquisitions=2, n_campuses=0, confusers=False)
    >>> loss, _ = crop_loss(spec, [date(2024, 7, 1)])
    >>> loss.shape, float(loss.max())  # no crops on classic land
    ((1, 32, 32), 0.0)
    """
    grid = _Grid.from_spec(spec)
    crops = _static_world(spec, grid).crops
    out = np.zeros((len(days), spec.size_px, spec.size_px), dtype=np.float32)
    if crops is not None:
        for i, day in enumerate(days):
            out[i] = crops.green(day, spec.land.crop_season_days) * crops.loss_k
    return out, grid.transform


def _acquire_night(spec: WorldSpec, grid: _Grid, world: _Static, slot: _Slot,
                   out: Path) -> dict[str, Any]:
    """Write a night Level-1 scene 12 h after ``slot``: no sun, the campuses' compute heat."""
    rng = np.random.default_rng([spec.seed, _NIGHT, slot.index])
    when = slot.acquired + timedelta(hours=12)
    t_air = _air_temperature(spec, slot.acquired, float(rng.normal(0.0, spec.weather_k)))
    t_air -= NIGHT_COOLING_K
    weather = 0.3 * _smooth(rng, spec.size_px, 1800.0 / spec.pixel_m)
    excess = _excess(spec, world, slot)
    no_shadow = np.zeros((spec.size_px, spec.size_px), dtype=bool)
    surf = _surface(world, when.date(), t_air, 0.0, weather, no_shadow, excess,
                    spec.land.crop_season_days)
    k = gaussian_filter(surf, TIRS_PSF_SIGMA_M / spec.pixel_m, mode="nearest")
    k += spec.noise_k * rng.standard_normal(k.shape, dtype=np.float32)
    k -= NIGHT_L1_OFFSET_K
    field = _smooth(rng, spec.size_px, 600.0 / spec.pixel_m)
    cloud = field > np.quantile(field, 0.92)
    for c in world.campuses:  # the campuses stay clear: the scene must add a look of them
        cloud[c.win] = False
    k[cloud] = t_air - NIGHT_CLOUD_K
    mult, add, k1, k2 = L1_B10[slot.spacecraft]
    radiance = k1 / np.expm1(k2 / k.astype(np.float64))
    counts = np.clip(np.rint((radiance - add) / mult), 1, 65534).astype(np.uint16)
    path, row = _wrs(spec.center_lat, spec.center_lon)
    pid = product_id(spacecraft=slot.spacecraft, level="L1TP", wrs_path=path, wrs_row=row,
                     acquired=when, processed=when + timedelta(days=1))
    elev, az = sun_position(spec.center_lat, spec.center_lon, when)
    write_l1_product(out, pid=pid, counts=counts, transform=grid.transform, crs=grid.epsg,
                     acquired=when, sun_elevation=float(elev), sun_azimuth=float(az),
                     radiance_mult=mult, radiance_add=add, k1=k1, k2=k2, day_night="NIGHT",
                     cloud_cover=round(100.0 * float(cloud.mean()), 2), mtl_format="txt")
    return {"product_id": pid, "acquired": when.isoformat(), "sun_elevation": float(elev),
            "cloud_fraction": float(cloud.mean()),
            "excess_k_m2": {c.spec.site_id: e for c, e in zip(world.campuses, excess,
                                                               strict=True)}}


def _acquire(spec: WorldSpec, grid: _Grid, world: _Static, slot: _Slot,
             out: Path) -> tuple[AcquisitionTruth, list[CampusLook]]:
    rng = np.random.default_rng([spec.seed, _SCENE, slot.index])
    day = slot.acquired.date()
    t_air = _air_temperature(spec, slot.acquired, float(rng.normal(0.0, spec.weather_k)))
    s_t = float(clear_sky_irradiance(slot.elevation)) / 1000.0
    factor = float(np.clip(1.0 + rng.normal(0.0, spec.solar_jitter), 0.6, 1.4))
    noise = rng.standard_normal((spec.size_px, spec.size_px), dtype=np.float32)
    weather = 0.3 * _smooth(rng, spec.size_px, 1800.0 / spec.pixel_m)
    sky = _sky(spec, slot, rng, t_air)
    excess = _excess(spec, world, slot)
    surf = _surface(world, day, t_air, s_t * factor, weather, sky.shadow, excess,
                    spec.land.crop_season_days)
    kelvin = _observe(spec, slot, surf, sky, noise)
    fill = sky.fill
    qa = encode(fill=fill, cloud=sky.cloud & ~fill, dilated=sky.dilated & ~fill,
                cirrus=sky.cirrus & ~fill, shadow=sky.shadow & ~fill,
                water=world.water & ~fill & ~sky.cloud)
    cover = 100.0 * float((sky.cloud & ~fill).sum()) / max(1, int((~fill).sum()))
    write_l2_product(out, pid=slot.pid, kelvin=kelvin, transform=grid.transform, crs=grid.epsg,
                     acquired=slot.acquired, sun_elevation=slot.elevation,
                     sun_azimuth=slot.azimuth, cloud_cover=cover, qa_pixel=qa,
                     mtl_format=slot.fmt, reflectance=_reflectance(spec, world, slot, sky))
    craft = f"LANDSAT_{slot.spacecraft}"
    acq = AcquisitionTruth(
        index=slot.index, product_id=slot.pid, spacecraft=craft, acquired=slot.acquired,
        date=day, mtl_format=slot.fmt, sun_elevation=slot.elevation, sun_azimuth=slot.azimuth,
        solar_loading=s_t, solar_factor=factor, air_temperature_k=t_air,
        cloud_cover=round(cover, 2), edge_fill=bool(fill.any()),
        calibration_offset_k=spec.l9_offset_k if slot.spacecraft == 9 else 0.0)
    looks = []
    for c, e in zip(world.campuses, excess, strict=True):
        masked = any_bits(qa[c.win], (0, 1, 2, 3, 4))
        looks.append(CampusLook(
            product_id=slot.pid, date=day, spacecraft=craft, sun_elevation=slot.elevation,
            cloud_fraction=float(sky.cloud[c.win].mean()), masked_fraction=float(masked.mean()),
            active=c.spec.active(day), excess_k_m2=e))
    return acq, looks
