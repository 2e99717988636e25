"""Specifications of a synthetic world, its recorded truth, and the demo and random worlds.

A :class:`WorldSpec` is the one validated, frozen description of a world: where it is, which
dates are acquired, how cloudy it is, the truth coefficient linking heat to integrated thermal
excess, and what stands on the ground (datacenter campuses, warehouses, a construction site,
fires, power plants). Object positions are offsets in km from the scene centre (x east,
y north). :func:`models.world.generate_world` turns a spec into Landsat Collection 2 files and a
:class:`WorldTruth`, which is also written as ``truth.json`` and read back with
:meth:`WorldTruth.read`.

Every size and rate here is taken from ``shared/data/energy_facts.yaml`` and
``shared/SCIENCE.md``; see :mod:`models.world` for the physics and its sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import Polygon

from pipeline.science.solar import landsat_overpass_utc

Cooling = Literal["dry", "hybrid", "evaporative"]
HeatLayout = Literal["yard", "roof"]

#: Share of the dry-cooling coefficient seen for each cooling type (evaporative towers reject
#: 77-95 % of the heat as latent heat: energy_facts ``heat_rejection``; config ``power``).
COOLING_FACTOR: dict[str, float] = {"dry": 1.0, "hybrid": 0.55, "evaporative": 0.2}
#: Campus buffer (m) kept free of other objects; the integration buffer of the tests.
CAMPUS_BUFFER_M = 300.0
#: Distance (m) every object keeps from the scene edge, on top of its own buffer.
EDGE_MARGIN_M = 150.0
#: Landsat 9 data exist from its operational start (USGS, 2021-10-31); before, only Landsat 8.
LANDSAT9_START = date(2021, 10, 31)

Extent = tuple[float, float, float, float]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CampusSpec(_Frozen):
    """A datacenter campus: building roofs, cooling yards and the compute heat they reject.

    The footprint is a rectangle of ``power_mw / power_density_w_m2`` (site power density
    300-450 W/m2, energy_facts ``site_power_density``), ``aspect`` long over short side, long
    side east-west (``orientation="ew"``) or north-south. Buildings stand from the start of the
    series; heat flows while ``onset <= date < shutdown`` (None: open-ended).
    """

    site_id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    operator: str = "unknown"
    x_km: float
    y_km: float
    power_mw: float = Field(gt=0, le=5000)
    cooling: Cooling = "dry"
    onset: date | None = None
    shutdown: date | None = None
    in_catalog: bool = True
    reported_power_mw: float | None = Field(default=None, gt=0)
    power_density_w_m2: float = Field(default=375.0, ge=300, le=450)
    aspect: float = Field(default=1.5, ge=1.0, le=3.0)
    orientation: Literal["ew", "ns"] = "ew"
    #: Where the compute heat sits: ``"yard"`` concentrates it on the cooling-yard strips
    #: (~8-12 K, SCIENCE.md condenser exhaust), ``"roof"`` spreads it over the halls
    #: (rooftop dry coolers, ~1-2 K over the whole footprint).
    heat_layout: HeatLayout = "yard"
    #: Date the halls were roofed (bare ground before); None: standing from the start. Halls
    #: stand months to years before power-on, so ``built`` must not be after ``onset``.
    built: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> CampusSpec:
        if self.onset and self.shutdown and self.shutdown <= self.onset:
            raise ValueError(f"campus {self.site_id}: shutdown {self.shutdown} is not after "
                             f"onset {self.onset}")
        if self.built and (self.onset is None or self.built > self.onset):
            raise ValueError(f"campus {self.site_id}: halls built on {self.built} need an onset "
                             "on or after that date (a campus runs only once its halls stand)")
        return self

    def size_m(self) -> tuple[float, float]:
        """Return the footprint's (east-west, north-south) size in metres."""
        area = self.power_mw * 1e6 / self.power_density_w_m2
        long = float(np.sqrt(area * self.aspect))
        short = area / long
        return (long, short) if self.orientation == "ew" else (short, long)

    def extent_m(self) -> Extent:
        """Return (xmin, ymin, xmax, ymax) in metres from the scene centre."""
        return _box(self.x_km, self.y_km, *self.size_m())

    def active(self, day: date) -> bool:
        """Return True when the campus rejects compute heat on ``day``."""
        return (self.onset is None or self.onset <= day) and (
            self.shutdown is None or day < self.shutdown)


class RoofSpec(_Frozen):
    """A roofed building with no heat source: a warehouse, or a construction site.

    Before ``built`` the footprint is bare graded ground (``ground_response_k``); from ``built``
    on (or all series long when None) it is a roof whose daytime excess follows the sun
    (``roof_response_k`` K per unit solar loading; dark roofs 15-20 K).
    """

    name: str
    x_km: float
    y_km: float
    length_m: float = Field(default=300.0, gt=30, le=3000)
    width_m: float = Field(default=150.0, gt=30, le=3000)
    roof_response_k: float = Field(default=18.0, ge=5, le=30)
    ground_response_k: float = Field(default=13.0, ge=0, le=30)
    built: date | None = None

    def extent_m(self) -> Extent:
        """Return (xmin, ymin, xmax, ymax) in metres from the scene centre."""
        return _box(self.x_km, self.y_km, self.length_m, self.width_m)


class FireSpec(_Frozen):
    """A fire: ``delta_k`` (30-60 K) over a disk of ``radius_m``, for ``days`` from ``on``."""

    name: str
    x_km: float
    y_km: float
    on: date
    days: int = Field(default=1, ge=1, le=30)
    radius_m: float = Field(default=45.0, ge=15, le=300)
    delta_k: float = Field(default=45.0, ge=30, le=60)

    def extent_m(self) -> Extent:
        """Return (xmin, ymin, xmax, ymax) in metres from the scene centre."""
        return _box(self.x_km, self.y_km, 2 * self.radius_m, 2 * self.radius_m)

    def burning(self, day: date) -> bool:
        """Return True when the fire burns on ``day``."""
        return self.on <= day < self.on + timedelta(days=self.days)


class PlantSpec(_Frozen):
    """A thermal power plant: a persistent, not solar-driven ``delta_k`` (20-30 K) hot spot."""

    name: str
    kind: str = "gas_power_plant"
    x_km: float
    y_km: float
    area_km2: float = Field(default=0.05, gt=0.001, le=2.0)
    delta_k: float = Field(default=25.0, ge=20, le=30)

    def extent_m(self) -> Extent:
        """Return (xmin, ymin, xmax, ymax) in metres from the scene centre."""
        side = float(np.sqrt(self.area_km2 * 1e6))
        return _box(self.x_km, self.y_km, side, side)


def _box(x_km: float, y_km: float, ew_m: float, ns_m: float) -> Extent:
    x, y = x_km * 1000.0, y_km * 1000.0
    return (x - ew_m / 2, y - ns_m / 2, x + ew_m / 2, y + ns_m / 2)


def _grow(e: Extent, d: float) -> Extent:
    return (e[0] - d, e[1] - d, e[2] + d, e[3] + d)


def _overlap(a: Extent, b: Extent) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class LandSpec(_Frozen):
    """Land physics beyond the solar-driven land cover: static structure and crop phenology.

    The defaults (all zero) give the classic world. :func:`widen` draws them from broad ranges.

    * ``static_k``: standard deviation (K) of a static, non-solar temperature field of
      correlation length ``static_scale_m`` (0.5-3 km): emissivity error of the Level-2 product
      (its emissivity comes from a static ASTER-based climatology), terrain (lapse rate ~6.5
      K/km: 100 m of relief is 0.65 K), soil type. Real land shows 0.3-1.0 K at these scales.
    * ``crop_share``: share of the bare/crop parcels that are seasonal crops. A crop is bare
      (hot by day) outside its growing season and green (cool) inside it: at the season's peak
      (day of year ``crop_peak_doy``, each parcel +-``crop_jitter_days``) it loses
      ``crop_depth`` of its solar response above vegetation, over a green season of
      ``crop_season_days``. Its contrast then follows a season of its own, not the sun's.
    * ``crop_year_days``: each year's season comes early or late by up to this many days, all
      parcels alike (0: every year the same). Planting follows the weather of the spring:
      USDA NASS Crop Progress puts US corn 55 % planted on 3 May 2015 against a five-year
      average of 38 % for that date (about a week early; weekly report of 4 May 2015). No
      :func:`widen` world draws it: the one-year suites stay as they were; the two-year
      experiment sets it (``bench/accuracy.py --crop-year-days``).
    """

    static_k: float = Field(default=0.0, ge=0, le=3)
    static_scale_m: float = Field(default=1500.0, ge=100, le=10000)
    crop_share: float = Field(default=0.0, ge=0, le=1)
    crop_depth: float = Field(default=0.7, ge=0, le=1)
    crop_peak_doy: int = Field(default=190, ge=1, le=366)
    crop_season_days: float = Field(default=110.0, ge=20, le=300)
    crop_jitter_days: float = Field(default=20.0, ge=0, le=90)
    crop_year_days: float = Field(default=0.0, ge=0, le=60)


class WorldSpec(_Frozen):
    """A synthetic world: place, dates, atmosphere, truth coefficient and ground objects.

    Parameters are validated once: object footprints (campuses with their 300 m buffer) must fit
    in the scene and must not overlap, dates must make sense, and every fire must burn on at
    least one acquisition date.
    """

    seed: int = Field(ge=0)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    center_lat: float = Field(ge=-70, le=70)
    center_lon: float = Field(ge=-180, le=180)
    size_px: int = Field(default=400, ge=32, le=4000)
    pixel_m: float = Field(default=30.0, ge=10, le=120)
    start: date
    n_acquisitions: int = Field(ge=1, le=1000)
    revisit_days: int = Field(default=8, ge=1, le=64)
    cloudiness: float = Field(default=0.4, ge=0, le=1)
    edge_fill_probability: float = Field(default=0.1, ge=0, le=1)
    k_m2_per_mw_dry: float = Field(default=4000.0, gt=0)
    l9_offset_k: float = 0.6
    noise_k: float = Field(default=0.1, ge=0)
    heat_jitter: float = Field(default=0.08, ge=0, le=0.5)
    coefficient_jitter: float = Field(default=0.1, ge=0, le=0.3)
    solar_jitter: float = Field(default=0.08, ge=0, le=0.3)
    weather_k: float = Field(default=2.5, ge=0)
    campuses: tuple[CampusSpec, ...] = ()
    warehouses: tuple[RoofSpec, ...] = ()
    construction: tuple[RoofSpec, ...] = ()
    fires: tuple[FireSpec, ...] = ()
    power_plants: tuple[PlantSpec, ...] = ()
    land: LandSpec = LandSpec()

    @property
    def half_extent_m(self) -> float:
        """Half the scene width, metres."""
        return self.size_px * self.pixel_m / 2.0

    def acquisition_time(self, index: int) -> datetime:
        """Return the UTC time of slot ``index`` (``start + index * revisit_days``, 10:30 LMST)."""
        return landsat_overpass_utc(self.start + timedelta(days=index * self.revisit_days),
                                    self.center_lon)

    @property
    def acquisition_times(self) -> tuple[datetime, ...]:
        """UTC times of all acquisition slots."""
        return tuple(self.acquisition_time(i) for i in range(self.n_acquisitions))

    def spacecraft(self, index: int) -> int:
        """Return 8 or 9: they alternate (8 on even indices); only Landsat 8 before 2021-10-31."""
        if self.acquisition_time(index).date() < LANDSAT9_START:
            return 8
        return 8 if index % 2 == 0 else 9

    @model_validator(mode="after")
    def _consistent(self) -> WorldSpec:
        ids = [c.site_id for c in self.campuses]
        if len(set(ids)) != len(ids):
            raise ValueError(f"campus site_ids must be unique, got {ids}")
        limit = self.half_extent_m - EDGE_MARGIN_M
        boxes: list[tuple[str, Extent, float]] = []
        for c in self.campuses:
            boxes.append((f"campus {c.site_id}", c.extent_m(), CAMPUS_BUFFER_M))
        for kind, items in (("warehouse", self.warehouses), ("construction", self.construction),
                            ("fire", self.fires), ("power plant", self.power_plants)):
            boxes += [(f"{kind} {o.name}", o.extent_m(), 30.0) for o in items]
        for c in self.campuses:
            if min(c.size_m()) < 3 * self.pixel_m:
                raise ValueError(f"campus {c.site_id} is {min(c.size_m()):.0f} m across, under "
                                 f"3 pixels of {self.pixel_m:.0f} m; raise its power_mw or lower "
                                 "its aspect")
        for label, e, buf in boxes:
            g = _grow(e, buf)
            if min(g[0], g[1]) < -limit or max(g[2], g[3]) > limit:
                raise ValueError(f"{label} (with its {buf:.0f} m buffer) does not fit in the "
                                 f"{2 * self.half_extent_m / 1000:.1f} km scene; move it "
                                 "towards the centre or enlarge size_px")
        for (la, ea, ba), (lb, eb, bb) in combinations(boxes, 2):
            if _overlap(_grow(ea, ba), _grow(eb, bb)):
                raise ValueError(f"{la} and {lb} overlap (buffers {ba:.0f}/{bb:.0f} m); "
                                 "move one of them")
        days = [t.date() for t in self.acquisition_times]
        for f in self.fires:
            if not any(f.burning(d) for d in days):
                raise ValueError(f"fire {f.name} burns on no acquisition date (first "
                                 f"{days[0]}, every {self.revisit_days} days)")
        return self


# Truth ----------------------------------------------------------------------------------------

Ring = list[tuple[float, float]]


class GridTruth(_Frozen):
    """The common grid of all products: UTM north zone, north-up, ``pixel_m`` cells."""

    epsg: int
    utm_zone: int
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int
    pixel_m: float


class AcquisitionTruth(_Frozen):
    """One written product and the conditions it was simulated under."""

    index: int
    product_id: str
    spacecraft: str
    acquired: datetime
    date: date
    mtl_format: str
    sun_elevation: float
    sun_azimuth: float
    solar_loading: float
    solar_factor: float
    air_temperature_k: float
    cloud_cover: float
    edge_fill: bool
    calibration_offset_k: float


class SkippedAcquisition(_Frozen):
    """An acquisition slot without a Level-2 product (solar zenith above 76 degrees)."""

    index: int
    date: date
    sun_elevation: float
    reason: str


class CampusLook(_Frozen):
    """A campus on one product: clouds over its footprint, activity and the true excess."""

    product_id: str
    date: date
    spacecraft: str
    sun_elevation: float
    cloud_fraction: float
    masked_fraction: float
    active: bool
    excess_k_m2: float


class CampusTruth(_Frozen):
    """A campus as generated: footprint, areas, coefficient used and every look."""

    site_id: str
    name: str
    operator: str
    in_catalog: bool
    power_mw: float
    reported_power_mw: float | None
    cooling: str
    k_m2_per_mw: float
    expected_excess_k_m2: float
    onset: date | None
    shutdown: date | None
    footprint_lonlat: Ring
    footprint_utm: tuple[float, float, float, float]
    area_m2: float
    roof_area_m2: float
    yard_area_m2: float
    looks: list[CampusLook]

    @property
    def footprint(self) -> Polygon:
        """The footprint as a shapely polygon in lon/lat (EPSG:4326)."""
        return Polygon(self.footprint_lonlat)

    @property
    def status_at_end(self) -> Literal["active", "inactive"]:
        """Whether the campus rejects compute heat on the last acquisition date."""
        return "active" if self.looks and self.looks[-1].active else "inactive"


class FeatureTruth(_Frozen):
    """A warehouse, construction site, fire or power plant as generated."""

    kind: str
    name: str
    footprint_lonlat: Ring
    footprint_utm: tuple[float, float, float, float]
    area_m2: float
    delta_k: float | None = None
    response_k_per_unit_sun: float | None = None
    built: date | None = None
    dates: list[date] = Field(default_factory=list)


class WorldTruth(_Frozen):
    """What a generated world holds, for tests and the benchmark (``truth.json``)."""

    spec: WorldSpec
    grid: GridTruth
    acquisitions: list[AcquisitionTruth]
    skipped: list[SkippedAcquisition]
    campuses: list[CampusTruth]
    warehouses: list[FeatureTruth]
    construction: list[FeatureTruth]
    fires: list[FeatureTruth]
    power_plants: list[FeatureTruth]

    def campus(self, site_id: str) -> CampusTruth:
        """Return the campus ``site_id``; KeyError if there is none."""
        for c in self.campuses:
            if c.site_id == site_id:
                return c
        raise KeyError(f"no campus {site_id!r}; known: {[c.site_id for c in self.campuses]}")

    def found(self, rows: Sequence[Mapping[str, Any]]
              ) -> list[tuple[CampusTruth, Mapping[str, Any] | None]]:
        """Pair every campus with the scan row that found it (``None``: not found).

        A campus is found under its own ``site_id``, or else as the first uncatalogued site
        (``in_catalog`` false) whose footprint ``geometry`` meets the campus footprint.
        """
        by_id = {r["site_id"]: r for r in rows}
        out: list[tuple[CampusTruth, Mapping[str, Any] | None]] = []
        for c in self.campuses:
            hit = by_id.get(c.site_id)
            if hit is None:
                hit = next((r for r in by_id.values() if not r["in_catalog"]
                            and r["geometry"] is not None
                            and r["geometry"].intersects(c.footprint)), None)
            out.append((c, hit))
        return out

    @classmethod
    def read(cls, path: str | Path) -> WorldTruth:
        """Read ``truth.json`` (or the folder holding it)."""
        p = Path(path)
        p = p / "truth.json" if p.is_dir() else p
        return cls.model_validate_json(p.read_text(encoding="utf-8"))


# Ready-made worlds ----------------------------------------------------------------------------


def demo_spec() -> WorldSpec:
    """Return the README demo world: one year over 12 x 12 km of mid-latitude plains.

    Seven campuses (40-600 MW; four with reported power, one evaporative, one shut down in
    September, one uncatalogued 200 MW campus starting in June), two sunlit warehouses, a
    construction site roofed in July, a one-day fire and a gas power plant.

    Examples
    --------
    >>> spec = demo_spec()
    >>> spec.n_acquisitions, len(spec.campuses)
    (46, 7)
    """
    c = CampusSpec
    campuses = (
        c(site_id="DC-A", name="Prairie One", operator="Northwind Cloud", x_km=-3.2, y_km=3.0,
          power_mw=600, reported_power_mw=580, power_density_w_m2=400, aspect=1.5),
        c(site_id="DC-B", name="Bluestem", operator="Halcyon Compute", x_km=0.5, y_km=3.0,
          power_mw=250, cooling="hybrid", reported_power_mw=250, power_density_w_m2=350,
          aspect=1.3, orientation="ns"),
        c(site_id="DC-C", name="Wheatland", operator="Northwind Cloud", x_km=3.6, y_km=1.4,
          power_mw=120, reported_power_mw=130, power_density_w_m2=420, aspect=1.2),
        c(site_id="DC-D", name="Cottonwood Edge", operator="Mesa Hosting", x_km=-0.7, y_km=-0.3,
          power_mw=40, reported_power_mw=45, power_density_w_m2=380, aspect=1.0),
        c(site_id="DC-E", name="Old Mill", operator="Mesa Hosting", x_km=3.0, y_km=-1.8,
          power_mw=150, shutdown=date(2024, 9, 15), power_density_w_m2=360, aspect=2.0),
        c(site_id="DC-F", name="Lakeside", operator="Halcyon Compute", x_km=-3.0, y_km=-3.2,
          power_mw=300, cooling="evaporative", power_density_w_m2=330, aspect=1.4),
        c(site_id="NEW-1", name="Unlisted campus", operator="unknown", x_km=0.6, y_km=-3.7,
          power_mw=200, onset=date(2024, 6, 10), in_catalog=False, power_density_w_m2=440,
          aspect=1.6),
    )
    return WorldSpec(
        seed=20240104, name="demo-plains", center_lat=38.6, center_lon=-97.3,
        size_px=400, start=date(2024, 1, 4), n_acquisitions=46, cloudiness=0.45,
        edge_fill_probability=0.08, k_m2_per_mw_dry=4200.0, campuses=campuses,
        warehouses=(RoofSpec(name="Distribution hub", x_km=-4.3, y_km=0.6, length_m=360,
                             width_m=180, roof_response_k=19.0),
                    RoofSpec(name="Cold store", x_km=1.9, y_km=0.9, length_m=300, width_m=140,
                             roof_response_k=17.0)),
        construction=(RoofSpec(name="New logistics park", x_km=-1.6, y_km=1.5, length_m=400,
                               width_m=220, roof_response_k=20.0, ground_response_k=13.5,
                               built=date(2024, 7, 21)),),
        fires=(FireSpec(name="Stubble fire", x_km=4.4, y_km=-4.4, on=date(2024, 10, 10),
                        delta_k=50.0, radius_m=60.0),),
        power_plants=(PlantSpec(name="Cedar Creek Station", x_km=3.4, y_km=4.4),),
    )


def _place(rng: np.random.Generator, size: tuple[float, float], taken: list[Extent],
           limit_m: float, buffer_m: float) -> tuple[float, float] | None:
    for _ in range(200):
        x, y = (rng.uniform(-limit_m, limit_m) for _ in range(2))
        e = _grow(_box(x / 1000, y / 1000, *size), buffer_m)
        inside = min(e[0], e[1]) >= -limit_m and max(e[2], e[3]) <= limit_m
        if inside and not any(_overlap(e, t) for t in taken):
            taken.append(e)
            return x / 1000, y / 1000
    return None


def random_spec(
    seed: int,
    *,
    size_px: int = 200,
    n_acquisitions: int = 30,
    n_campuses: int = 3,
    cloudiness: float | None = None,
    noise_k: float = 0.1,
    edge_fill_probability: float = 0.1,
    confusers: bool = True,
) -> WorldSpec:
    """Return a random, valid world for tests and the benchmark, all drawn from ``seed``.

    Latitude 25-50 degrees in either hemisphere, start in any season, cloudiness 0.2-0.6, dry
    coefficient 3000-5500 K m2/MW, campuses of 40-400 MW (log-uniform) at non-overlapping
    places; campus 0 runs all series, campus 1 starts between 30 % and 70 % of the series,
    later ones may shut down. With ``confusers`` a warehouse, a one-day fire, and by chance a
    construction site and a power plant are added.

    Examples
    --------
    >>> random_spec(3).name
    'random-3'
    """
    rng = np.random.default_rng([seed, 7919])
    lat = float(rng.uniform(25, 50) * rng.choice([-1, 1]))
    lon = float(rng.uniform(-125, 145))
    start = date(2023, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
    drawn_cloudiness = float(rng.uniform(0.2, 0.6))
    k_dry = float(rng.uniform(3000, 5500))
    span = (n_acquisitions - 1) * 8
    limit = size_px * 30.0 / 2 - EDGE_MARGIN_M - 1.0
    taken: list[Extent] = []
    campuses = []
    for i in range(n_campuses):
        probe = CampusSpec(
            site_id=f"S{i + 1}", name=f"Campus {i + 1}", x_km=0, y_km=0,
            power_mw=float(np.exp(rng.uniform(np.log(40), np.log(400)))),
            power_density_w_m2=float(rng.uniform(300, 450)), aspect=float(rng.uniform(1, 2)),
            orientation="ew" if rng.random() < 0.5 else "ns",
            cooling=_COOLINGS[int(rng.choice(3, p=[0.6, 0.25, 0.15]))])
        pos = _place(rng, probe.size_m(), taken, limit, CAMPUS_BUFFER_M)
        if pos is None:
            continue
        onset = shutdown = None
        if i == 1:
            onset = start + timedelta(days=int(rng.uniform(0.3, 0.7) * span))
        elif i >= 2 and rng.random() < 0.3:
            shutdown = start + timedelta(days=int(rng.uniform(0.5, 0.9) * span))
        in_catalog = not (i == 1 and rng.random() < 0.5)
        reported = None
        if in_catalog and rng.random() < 0.7:
            reported = probe.power_mw * float(1 + rng.normal(0, 0.05))
        campuses.append(probe.model_copy(update={
            "x_km": pos[0], "y_km": pos[1], "onset": onset, "shutdown": shutdown,
            "in_catalog": in_catalog, "reported_power_mw": reported}))
    warehouses, construction, fires, plants = (
        _random_confusers(rng, start, n_acquisitions, span, taken, limit) if confusers
        else ((), (), (), ()))
    return WorldSpec(
        seed=seed, name=f"random-{seed}", center_lat=lat, center_lon=lon, size_px=size_px,
        start=start, n_acquisitions=n_acquisitions,
        cloudiness=drawn_cloudiness if cloudiness is None else cloudiness, noise_k=noise_k,
        edge_fill_probability=edge_fill_probability, k_m2_per_mw_dry=k_dry,
        campuses=tuple(campuses), warehouses=warehouses, construction=construction,
        fires=fires, power_plants=plants)


_COOLINGS: tuple[Cooling, ...] = ("dry", "hybrid", "evaporative")


def _random_confusers(
    rng: np.random.Generator, start: date, n: int, span: int, taken: list[Extent], limit: float
) -> tuple[tuple[RoofSpec, ...], tuple[RoofSpec, ...], tuple[FireSpec, ...],
           tuple[PlantSpec, ...]]:
    warehouses: tuple[RoofSpec, ...] = ()
    construction: tuple[RoofSpec, ...] = ()
    fires: tuple[FireSpec, ...] = ()
    plants: tuple[PlantSpec, ...] = ()
    size = (float(rng.uniform(200, 400)), float(rng.uniform(100, 200)))
    if (pos := _place(rng, size, taken, limit, 60.0)) is not None:
        warehouses = (RoofSpec(name="Warehouse", x_km=pos[0], y_km=pos[1], length_m=size[0],
                               width_m=size[1], roof_response_k=float(rng.uniform(15, 20))),)
    if rng.random() < 0.5 and (pos := _place(rng, (300.0, 200.0), taken, limit, 60.0)):
        built = start + timedelta(days=int(rng.uniform(0.3, 0.8) * span))
        construction = (RoofSpec(name="Construction", x_km=pos[0], y_km=pos[1], length_m=300,
                                 width_m=200, built=built),)
    if (pos := _place(rng, (120.0, 120.0), taken, limit, 60.0)) is not None:
        on = start + timedelta(days=8 * int(rng.integers(0, n)))
        fires = (FireSpec(name="Fire", x_km=pos[0], y_km=pos[1], on=on,
                          delta_k=float(rng.uniform(30, 60))),)
    if rng.random() < 0.5 and (pos := _place(rng, (230.0, 230.0), taken, limit, 60.0)):
        plants = (PlantSpec(name="Power plant", x_km=pos[0], y_km=pos[1],
                            delta_k=float(rng.uniform(20, 30))),)
    return warehouses, construction, fires, plants


def widen(spec: WorldSpec, *, seed: int | None = None) -> WorldSpec:
    """Return ``spec`` on richer land: the physics the classic world leaves out, drawn per world.

    Four families, each from broad ranges (independent of the detector's settings):

    1. static, non-solar structure of 0.3-1.0 K standard deviation at 0.5-3 km scales
       (:class:`LandSpec` ``static_k``, ``static_scale_m``);
    2. crop phenology: 30-100 % of the bare/crop parcels are seasonal crops losing 40-90 % of
       their contrast at the peak of a 60-150 day green season, peaking in the local summer
       +-35 days;
    3. where the heat sits: each campus's heat is on its yards or spread over its roofs (50/50);
    4. halls stand before power-on: a campus that starts during the series had its halls
       roofed 60-400 days before its onset (70 %; standing from the start otherwise, and always
       when that date falls before the series).

    Late roofs without heat (construction sites) stay as ``spec`` has them.

    Examples
    --------
    >>> w = widen(random_spec(3))
    >>> 0.3 <= w.land.static_k <= 1.0 and 500 <= w.land.static_scale_m <= 3000
    True
    """
    rng = np.random.default_rng([spec.seed if seed is None else seed, 60221])
    peak = float(rng.uniform(155, 225)) + (182.0 if spec.center_lat < 0 else 0.0)
    land = LandSpec(
        static_k=float(rng.uniform(0.3, 1.0)), static_scale_m=float(rng.uniform(500, 3000)),
        crop_share=float(rng.uniform(0.3, 1.0)), crop_depth=float(rng.uniform(0.4, 0.9)),
        crop_peak_doy=round(peak) % 365 + 1, crop_season_days=float(rng.uniform(60, 150)),
        crop_jitter_days=float(rng.uniform(5, 35)))
    campuses = []
    for c in spec.campuses:
        layout: HeatLayout = "roof" if rng.random() < 0.5 else "yard"
        built = None
        if c.onset is not None and rng.random() < 0.7:
            when = c.onset - timedelta(days=int(rng.uniform(60, 400)))
            built = when if when > spec.start else None
        campuses.append(CampusSpec.model_validate(
            c.model_dump() | {"heat_layout": layout, "built": built}))
    return WorldSpec.model_validate(spec.model_dump() | {
        "land": land, "campuses": tuple(campuses), "name": f"{spec.name}-wide"})
