"""Local imagery source: a folder of Landsat Collection 2 products, as USGS delivers them.

A product is band 10 (Level-2 ``*_ST_B10.TIF`` or Level-1 ``*_B10.TIF``), its ``*_MTL.json``,
``*_MTL.txt`` or ``*_MTL.xml``, and ``*_QA_PIXEL.TIF`` when present; a Level-2 product's red and
near-infrared reflectance (``*_SR_B4.TIF``, ``*_SR_B5.TIF``) when both are there.
:func:`read_scene` turns one product into an :class:`xarray.Dataset` with a ``temperature``
variable (K, NaN where masked), a ``flags`` variable (see :mod:`pipeline.science.masking`) and,
from the reflectance, an ``ndvi`` variable, with CRS and transform written by rioxarray,
optionally resampled onto a target :class:`~pipeline.core.grid.Grid`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import Resampling, reproject
from rasterio.windows import Window, from_bounds

from pipeline.core.config import ReaderConfig
from pipeline.core.errors import MetadataError, NoDataError, QAMissingWarning, SceneReadError
from pipeline.core.grid import Bounds, Grid
from pipeline.core.product_id import LENGTH as PID_LENGTH
from pipeline.core.product_id import ProductId
from pipeline.io.mtl import MTL_SUFFIXES, SceneMetadata, read_mtl
from pipeline.science.calibrate import ndvi_from_sr, to_kelvin
from pipeline.science.masking import FLAG_ATTRS, MASKING, Flag, build_flags, night_clouds

_BAND = re.compile(rf"^(?P<pid>.{{{PID_LENGTH}}})_(?P<kind>ST_B10|B10)\.tiff?$", re.IGNORECASE)


@dataclass(frozen=True)
class ProductFiles:
    """The files of one product found in a folder."""

    product_id: str
    band: Path
    mtl: Path
    qa: Path | None
    level: str
    #: The red and near-infrared surface reflectance (SR_B4, SR_B5), when both are there.
    red_nir: tuple[Path, Path] | None = None

    @property
    def files(self) -> list[Path]:
        """All files of the product found (to link or copy it whole)."""
        return self.files_read(greenness=True)

    def files_read(self, *, greenness: bool) -> list[Path]:
        """Return the files a read takes (provenance): the reflectance only with ``greenness``."""
        return [p for p in (self.band, self.qa, *((self.red_nir or ()) if greenness else ()),
                            self.mtl) if p is not None]


@dataclass(frozen=True)
class Problem:
    """A file that could not be used, and why."""

    path: Path
    message: str


def _find_mtl(band: Path, pid: str) -> Path | None:
    for suffix in MTL_SUFFIXES:
        for cand in (band.parent / f"{pid}{suffix}", band.parent / f"{pid}{suffix.lower()}"):
            if cand.is_file():
                return cand
    return None


def discover_products(folder: str | Path) -> tuple[list[ProductFiles], list[Problem]]:
    """Find Landsat C2 thermal products below ``folder``.

    Returns the products found (sorted by product id) and the problems met: TIFFs that are not
    Landsat band 10 files are ignored silently only when they are other Landsat bands; band 10
    files without an MTL are reported.

    Raises
    ------
    SceneReadError
        If ``folder`` does not exist or is not a directory.
    """
    root = Path(folder)
    if not root.exists():
        raise SceneReadError(f"imagery folder {root} does not exist; check the path")
    if not root.is_dir():
        raise SceneReadError(f"{root} is a file; pass the folder that holds the Landsat products")
    products: dict[str, ProductFiles] = {}
    problems: list[Problem] = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in (".tif", ".tiff") or not path.is_file():
            continue
        m = _BAND.match(path.name)
        if not m or ProductId.match(m["pid"].upper()) is None:
            if ProductId.of_file(path.name.upper()) is None:
                problems.append(Problem(path, "not a Landsat Collection 2 file name (expected "
                                              "<product id>_ST_B10.TIF or _B10.TIF as USGS names "
                                              "them); skipped: move it out of the imagery folder"))
            continue
        pid, kind = m.group("pid"), m.group("kind").upper()
        if kind == "B10" and "_L2S" in pid:
            continue
        mtl = _find_mtl(path, pid)
        if mtl is None:
            problems.append(Problem(path, f"no {pid}_MTL.json/.txt/.xml beside it; download the "
                                          "product's MTL file too"))
            continue
        qa, red, nir = (_beside(path, pid, name) for name in ("QA_PIXEL", "SR_B4", "SR_B5"))
        if pid in products:
            problems.append(Problem(path, f"product {pid} found twice; using "
                                          f"{products[pid].band}: delete the other copy"))
            continue
        level = "L2" if kind == "ST_B10" else "L1"
        products[pid] = ProductFiles(pid, path, mtl, qa, level,
                                     (red, nir) if red and nir and level == "L2" else None)
    return [products[k] for k in sorted(products)], problems


def _beside(band: Path, pid: str, name: str) -> Path | None:
    """Return the product's ``name`` band file beside its band 10, or None."""
    return next((q for q in (band.parent / f"{pid}_{name}.TIF", band.parent / f"{pid}_{name}.tif")
                 if q.is_file()), None)


def product_extent(product: ProductFiles) -> tuple[CRS, Bounds]:
    """Return the CRS and ``(left, bottom, right, top)`` of a product, from its MTL alone.

    No raster is read; the extent is :attr:`pipeline.io.mtl.SceneMetadata.bounds`.
    """
    meta = read_mtl(product.mtl)
    return CRS.from_epsg(meta.epsg), meta.bounds


def _georef(src: rasterio.io.DatasetReader, meta: SceneMetadata) -> tuple[CRS, Affine]:
    """Return the raster's CRS and transform, rebuilt from the MTL if the TIFF has no geotags."""
    if src.crs is not None and not src.transform.is_identity:
        if not src.crs.is_projected:
            raise MetadataError(f"{src.name} has a CRS that is not a map projection "
                                f"({src.crs.to_string()[:80]}); Landsat products are in UTM")
        return src.crs, src.transform
    if meta.utm_zone <= 0:
        raise MetadataError(f"{src.name} has no georeferencing and its MTL no UTM zone")
    # MTL corners are pixel centres; the MTL grid may be coarser/finer than the raster.
    cell_x = meta.cell_size * meta.samples / src.width
    cell_y = meta.cell_size * meta.lines / src.height
    if not 0.5 < cell_x / cell_y < 2.0:
        raise MetadataError(
            f"{src.name} has no georeferencing and its MTL grid ({meta.samples} x {meta.lines}) "
            f"does not fit its {src.width} x {src.height} pixels; use the MTL delivered with it"
        )
    left, _, _, top = meta.bounds
    return CRS.from_epsg(meta.epsg), Affine(cell_x, 0, left, 0, -cell_y, top)


def _check_extent(path: Path, meta: SceneMetadata, width: int, height: int, tr: Affine) -> None:
    """Check that the raster covers the product extent the MTL describes (within one pixel)."""
    mtl_left, mtl_bottom, mtl_right, mtl_top = meta.bounds
    mtl_w, mtl_h = mtl_right - mtl_left, mtl_top - mtl_bottom
    tol = 1.01 * max(abs(tr.a), abs(tr.e), meta.cell_size)
    got = (tr.c, tr.f, width * abs(tr.a), height * abs(tr.e))
    want = (mtl_left, mtl_top, mtl_w, mtl_h)
    if any(abs(g - w) > tol for g, w in zip(got, want, strict=True)):
        raise MetadataError(
            f"{path.name} does not match its MTL {meta.path.name if meta.path else ''}: raster "
            f"origin/size {got[0]:.0f},{got[1]:.0f} {got[2]:.0f}x{got[3]:.0f} m, MTL "
            f"{want[0]:.0f},{want[1]:.0f} {want[2]:.0f}x{want[3]:.0f} m; the MTL belongs to "
            "another product or the raster was cropped: use the MTL delivered with this file"
        )


def _unreadable(path: Path, exc: Exception, verb: str = "read") -> SceneReadError:
    """Return a SceneReadError naming ``path``, with advice that fits the cause."""
    if isinstance(exc, PermissionError) or "permission denied" in str(exc).lower():
        hint = "permission denied; make the file readable (chmod/chown) and run again"
    else:
        hint = f"({exc}); the file is truncated or corrupt, download it again"
    return SceneReadError(f"cannot {verb} {path}: {hint}")


def _read_window(src: rasterio.io.DatasetReader, window: Window | None) -> np.ndarray:
    try:
        return src.read(1, window=window)
    except (RasterioError, ValueError, MemoryError, OSError) as exc:
        raise _unreadable(Path(src.name), exc) from exc


def _read_band(path: Path, window: Window | None) -> np.ndarray:
    try:
        with rasterio.open(path) as src:
            if src.count < 1 or src.dtypes[0] != "uint16":
                raise SceneReadError(f"{path} is not a Landsat uint16 band (dtype "
                                     f"{src.dtypes[0] if src.count else None}, {src.count} "
                                     "bands); check the file")
            return _read_window(src, window)
    except SceneReadError:
        raise
    except (RasterioError, ValueError, MemoryError, OSError) as exc:
        raise _unreadable(path, exc) from exc


def _window(grid: Grid | None, crs: CRS, tr: Affine, width: int, height: int) -> Window:
    full = Window(0, 0, width, height)
    if grid is None:
        return full
    try:
        left, bottom, right, top = grid.bounds_in(crs)
    except (CPLE_BaseError, RasterioError, ValueError) as exc:
        raise SceneReadError(f"the scene's CRS cannot be related to the grid's {grid.crs} "
                             f"({exc}); check the product's georeferencing") from exc
    pad = 2 * max(abs(tr.a), abs(tr.e))
    win = from_bounds(left - pad, bottom - pad, right + pad, top + pad, transform=tr)
    win = win.round_offsets(op="floor").round_lengths(op="ceil")
    try:
        return win.intersection(full)
    except (RasterioError, ValueError) as exc:
        raise NoDataError("scene does not overlap the area of interest") from exc


def read_scene(
    product: ProductFiles, *, config: ReaderConfig | None = None, grid: Grid | None = None
) -> xr.Dataset:
    """Read, calibrate and mask one product, optionally resampled onto ``grid``.

    Parameters
    ----------
    product
        Files of the product (from :func:`discover_products`).
    config
        Reader settings (plausible temperature range, QA bits to mask). Pixels at band 10's
        largest digital number are kept and flagged ``saturated`` (see
        :mod:`pipeline.science.masking`).
    grid
        Target grid. Scenes on the same grid are copied exactly; others are resampled
        (bilinear for temperature, nearest for flags; masked pixels never contribute).

    Returns
    -------
    xarray.Dataset
        ``temperature`` (y, x) float32 in K with NaN where masked, ``flags`` (y, x) uint8,
        CRS and transform through ``.rio``, and the scene metadata as attributes; ``ndvi``
        (y, x) float32, NaN where masked, for a day product with red and near-infrared
        reflectance (``config.greenness``).

    Raises
    ------
    SceneReadError
        If a file is unreadable, not Landsat band 10, or inconsistent with its MTL.
    NoDataError
        If the scene does not overlap ``grid``.
    """
    config = config or ReaderConfig()
    meta = read_mtl(product.mtl)
    if meta.product_id != product.product_id:
        raise MetadataError(f"{product.mtl.name} describes {meta.product_id}, not "
                            f"{product.product_id}; put the matching MTL beside the raster")
    if meta.level != product.level:
        raise MetadataError(f"{product.band.name} is {product.level} but its MTL says "
                            f"{meta.processing_level}")
    try:
        with rasterio.open(product.band) as src:
            if src.count < 1 or src.dtypes[0] != "uint16":
                raise SceneReadError(f"{product.band} is not a Landsat band 10 GeoTIFF (dtype "
                                     f"{src.dtypes[0]}, {src.count} bands); check the file")
            crs, tr = _georef(src, meta)
            _check_extent(product.band, meta, src.width, src.height, tr)
            win = _window(grid, crs, tr, src.width, src.height)
            if win.width < 1 or win.height < 1:
                raise NoDataError(f"{product.product_id} does not overlap the area of interest")
            dn = _read_window(src, win)  # the band read through the handle already open
    except (SceneReadError, NoDataError):
        raise
    except (RasterioError, ValueError, OSError) as exc:
        # ValueError: GDAL hands rasterio garbled tags (e.g. a CRS that is not UTF-8);
        # OSError: the file cannot be opened at all (permission denied).
        raise _unreadable(product.band, exc, "open") from exc
    qa = None
    if product.qa is not None:
        qa = _read_band(product.qa, win)
        if qa.shape != dn.shape:
            raise SceneReadError(f"{product.qa.name} and {product.band.name} differ in size")
    elif not meta.night:
        warnings.warn(f"{product.product_id} has no QA_PIXEL band: clouds are masked only by the "
                      f"plausible temperature range (>= {config.no_qa_plausible_min_k} K)",
                      QAMissingWarning, stacklevel=2)
    kelvin = to_kelvin(dn, meta.calibration)
    flags = _flags(kelvin, dn, qa, meta, config)
    kelvin[(flags & MASKING) != 0] = np.nan
    layers = [kelvin]
    if product.red_nir is not None and config.greenness and not meta.night:
        layers.append(_read_ndvi(product, win, flags))
    win_tr = rasterio.windows.transform(win, tr)
    if grid is not None:
        layers, flags = _resample(layers, flags, crs, win_tr, grid)
        crs, win_tr = grid.crs, grid.transform
    return scene_dataset(layers[0], flags, crs=crs, transform=win_tr, meta=meta,
                         ndvi=layers[1] if len(layers) > 1 else None)


def _read_ndvi(product: ProductFiles, win: Window, flags: np.ndarray) -> np.ndarray:
    """NDVI of ``win`` from the product's SR_B4 and SR_B5, NaN where ``flags`` mask."""
    assert product.red_nir is not None
    red_path, nir_path = product.red_nir
    red, nir = _read_band(red_path, win), _read_band(nir_path, win)
    if red.shape != flags.shape or nir.shape != flags.shape:
        raise SceneReadError(f"{red_path.name} or {nir_path.name} differs in size from "
                             f"{product.band.name}; check the files")
    ndvi = ndvi_from_sr(red, nir)
    ndvi[(flags & MASKING) != 0] = np.nan
    return ndvi


def _flags(kelvin: np.ndarray, dn: np.ndarray, qa: np.ndarray | None, meta: SceneMetadata,
           config: ReaderConfig) -> np.ndarray:
    """Flag layer of one scene (see :mod:`pipeline.science.masking`); night scenes masked by cold.

    At night QA's cloud bits (from the dark reflective bands) are not trusted, nor its water
    and snow bits (a night "water" would mark land as water for good): only its fill bit is
    used, and clouds are masked as cold (the raised floor and the scene's own median).
    """
    trusted_qa = qa is not None and not meta.night
    low = config.plausible_min_k if trusted_qa else max(config.plausible_min_k,
                                                        config.no_qa_plausible_min_k)
    if qa is not None and meta.night:
        qa = qa & np.uint16(1 << 0)  # QA_PIXEL bit 0: fill
    # Hot sources are data: a pixel at band 10's largest digital number is kept and flagged
    # saturated (its true temperature is at least the product's ceiling), never masked.
    flags = build_flags(kelvin, qa, qa_mask_bits=config.qa_mask_bits,
                        plausible=(low, config.plausible_max_k),
                        saturated=dn >= meta.calibration.dn_max)
    if meta.night:
        flags[night_clouds(np.where((flags & MASKING) == 0, kelvin, np.nan),
                           cold_k=config.night_cloud_k)] |= Flag.CLOUD
    return flags


def _resample(layers: list[np.ndarray], flags: np.ndarray, crs: CRS, tr: Affine,
              grid: Grid) -> tuple[list[np.ndarray], np.ndarray]:
    """Put ``layers`` (temperature first, NaN = masked) and ``flags`` on ``grid``."""
    outs = [np.full(grid.shape, np.nan, dtype=np.float32) for _ in layers]
    out_f = np.full(grid.shape, Flag.FILL, dtype=np.uint8)
    if grid.aligned_with(crs, tr):
        # same CRS, resolution and whole-pixel offset: nearest resampling is an exact copy of
        # the overlapping block, done here without a warp
        dst, src = grid.overlap(tr, flags.shape)
        for out, layer in zip(outs, layers, strict=True):
            out[dst] = layer[src]
        out_f[dst] = flags[src]
    else:
        for out, layer in zip(outs, layers, strict=True):
            reproject(layer, out, src_transform=tr, src_crs=crs, dst_transform=grid.transform,
                      dst_crs=grid.crs, src_nodata=np.nan, dst_nodata=np.nan,
                      resampling=Resampling.bilinear)
        reproject(flags, out_f, src_transform=tr, src_crs=crs, dst_transform=grid.transform,
                  dst_crs=grid.crs, resampling=Resampling.nearest, init_dest_nodata=False)
    masked = (out_f & MASKING) != 0
    for out in outs:
        out[masked] = np.nan
    out_f[~np.isfinite(outs[0]) & ~masked] |= Flag.FILL
    return outs, out_f


def scene_dataset(kelvin: np.ndarray, flags: np.ndarray, *, crs: CRS, transform: Affine,
                  meta: SceneMetadata, ndvi: np.ndarray | None = None) -> xr.Dataset:
    """Wrap calibrated arrays (and an NDVI, if given) as a CF-attributed Dataset with CRS."""
    h, w = kelvin.shape
    # CF valid_max: the temperature of band 10's largest digital number (the product's ceiling,
    # 373.0 K for Level-2 ST); pixels there are flagged saturated and hold a lower bound
    ceiling = float(to_kelvin(np.array([meta.calibration.dn_max], dtype=np.uint16),
                              meta.calibration)[0])
    x = transform.c + (np.arange(w) + 0.5) * transform.a
    y = transform.f + (np.arange(h) + 0.5) * transform.e
    level2 = meta.level == "L2"
    night = " at night (no solar loading)" if meta.night else ""
    ds = xr.Dataset(
        {
            "temperature": (("y", "x"), kelvin.astype(np.float32), {
                "units": "K",
                "standard_name": "surface_temperature" if level2 else "toa_brightness_temperature",
                "long_name": "Landsat band 10 " + ("surface temperature" if level2 else
                                                   "top-of-atmosphere brightness temperature")
                + night,
                **({"valid_max": ceiling} if np.isfinite(ceiling) else {}),
            }),
            "flags": (("y", "x"), flags.astype(np.uint8), dict(FLAG_ATTRS)),
        },
        coords={
            "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "m"}),
            "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "m"}),
            # what ds.rio.write_crs(crs).rio.write_transform(transform) writes, with the
            # CRS's CF attributes converted once per CRS instead of once per scene
            GRID_MAPPING: ((), 0, {**_grid_mapping_attrs(crs),
                                   "GeoTransform": " ".join(map(str, transform.to_gdal()))}),
        },
        attrs=meta.attrs(),
    )
    if ndvi is not None:
        ds["ndvi"] = (("y", "x"), ndvi.astype(np.float32), {
            "long_name": "normalized difference vegetation index from surface reflectance, "
                         "(SR_B5 - SR_B4) / (SR_B5 + SR_B4)", "units": "1",
            "valid_min": -1.0, "valid_max": 1.0})
    for obj in (ds, *ds.data_vars.values()):
        obj.encoding["grid_mapping"] = GRID_MAPPING
    ds["temperature"].rio.write_nodata(np.nan, encoded=False, inplace=True)
    return ds


#: Name of the CF grid-mapping coordinate (rioxarray's default).
GRID_MAPPING = "spatial_ref"


@lru_cache(maxsize=32)
def _grid_mapping_attrs(crs: CRS) -> dict[str, object]:
    """CF grid-mapping attributes of ``crs``, as rioxarray writes them (cached per CRS)."""
    return dict(xr.Dataset().rio.write_crs(crs)[GRID_MAPPING].attrs)
