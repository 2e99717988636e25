"""Write Landsat Collection 2 style products (band 10, QA_PIXEL, MTL) from arrays.

Used by the synthetic world generator and by the Sentinel Hub fetcher, so that everything the
pipeline reads goes through the one local reader, exactly as a USGS download would.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from pipeline.core.outputs import atomic_path
from pipeline.core.product_id import ProductId
from pipeline.io.mtl import write_mtl
from pipeline.science.calibrate import SR_ADD, SR_MULT

#: Level-2 ST_B10 scale and offset published by USGS for Collection 2 (LSDS-1619, section 6).
ST_MULT = 0.00341802
ST_ADD = 149.0


def product_id(
    *, spacecraft: int, level: str, wrs_path: int, wrs_row: int, acquired: datetime,
    processed: datetime | None = None, category: str = "T1",
) -> str:
    """Build a Collection 2 product id such as ``LC08_L2SP_204023_20200927_20201006_02_T1``."""
    processed = processed or acquired
    return str(ProductId("C", spacecraft, level, wrs_path, wrs_row, acquired.date(),
                         processed.date(), 2, category))


def kelvin_to_st_dn(kelvin: np.ndarray) -> np.ndarray:
    """Quantise kelvin to ST_B10 digital numbers; NaN becomes the fill value 0."""
    k = np.asarray(kelvin, dtype=np.float64)
    dn = np.rint((k - ST_ADD) / ST_MULT)
    dn = np.clip(np.nan_to_num(dn, nan=0.0), 0, 65535)
    dn[~np.isfinite(k)] = 0
    return dn.astype(np.uint16)


def reflectance_to_sr_dn(reflectance: np.ndarray) -> np.ndarray:
    """Quantise surface reflectance to SR digital numbers (1-65535); NaN becomes fill DN 0."""
    r = np.asarray(reflectance, dtype=np.float64)
    dn = np.clip(np.rint((np.nan_to_num(r) - SR_ADD) / SR_MULT), 1, 65535)
    dn[~np.isfinite(r)] = 0
    return dn.astype(np.uint16)


def _write_tif(path: Path, array: np.ndarray, transform: Affine, crs: CRS,
               nodata: int | None) -> None:
    profile = {
        "driver": "GTiff", "height": array.shape[0], "width": array.shape[1], "count": 1,
        "dtype": str(array.dtype), "crs": crs, "transform": transform, "nodata": nodata,
        "compress": "deflate", "tiled": array.shape[0] >= 256 and array.shape[1] >= 256,
    }
    if profile["tiled"]:
        profile.update(blockxsize=256, blockysize=256)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array, 1)


def _groups(
    pid: str, *, level: str, shape: tuple[int, int], transform: Affine, crs: CRS,
    acquired: datetime, sun_elevation: float, sun_azimuth: float, cloud_cover: float,
    wrs_path: int, wrs_row: int, files: dict[str, str], calibration: dict[str, dict[str, str]],
    day_night: str | None = None,
) -> dict[str, dict[str, str]]:
    epsg = crs.to_epsg() or 0
    zone = epsg - 32600 if 32601 <= epsg <= 32660 else epsg - 32700 if 32701 <= epsg <= 32760 else 0
    cell = transform.a
    # MTL corners are pixel centres: the raster origin is UL corner - half a cell.
    ul_x, ul_y = transform.c + cell / 2, transform.f - cell / 2
    lines, samples = shape
    product = {"LANDSAT_PRODUCT_ID": pid, "PROCESSING_LEVEL": level, "COLLECTION_NUMBER": "02",
               "COLLECTION_CATEGORY": pid.rsplit("_", 1)[-1], "OUTPUT_FORMAT": "GEOTIFF", **files}
    return {
        "PRODUCT_CONTENTS": product,
        "IMAGE_ATTRIBUTES": {
            "SPACECRAFT_ID": f"LANDSAT_{int(pid[2:4])}", "SENSOR_ID": "OLI_TIRS",
            "WRS_TYPE": "2", "WRS_PATH": str(wrs_path), "WRS_ROW": str(wrs_row),
            "DATE_ACQUIRED": f"{acquired:%Y-%m-%d}",
            "SCENE_CENTER_TIME": f"{acquired:%H:%M:%S}.0000000Z",
            "CLOUD_COVER": f"{cloud_cover:.2f}", "SUN_AZIMUTH": f"{sun_azimuth:.8f}",
            "SUN_ELEVATION": f"{sun_elevation:.8f}",
            **({"DAY_NIGHT_FLAG": day_night} if day_night is not None else {}),
        },
        "PROJECTION_ATTRIBUTES": {
            "MAP_PROJECTION": "UTM", "DATUM": "WGS84", "ELLIPSOID": "WGS84", "UTM_ZONE": str(zone),
            "GRID_CELL_SIZE_THERMAL": f"{cell:.2f}", "THERMAL_LINES": str(lines),
            "THERMAL_SAMPLES": str(samples), "ORIENTATION": "NORTH_UP",
            "CORNER_UL_PROJECTION_X_PRODUCT": f"{ul_x:.3f}",
            "CORNER_UL_PROJECTION_Y_PRODUCT": f"{ul_y:.3f}",
            "CORNER_LR_PROJECTION_X_PRODUCT": f"{ul_x + (samples - 1) * cell:.3f}",
            "CORNER_LR_PROJECTION_Y_PRODUCT": f"{ul_y - (lines - 1) * cell:.3f}",
        },
        **calibration,
    }


def _write_product(
    out_dir: str | Path, *, pid: str, band: tuple[str, str, np.ndarray], level: str,
    extra_files: dict[str, str], calibration: dict[str, dict[str, str]], transform: Affine,
    crs: CRS | str | int, acquired: datetime, sun_elevation: float, sun_azimuth: float,
    cloud_cover: float, qa_pixel: np.ndarray | None, mtl_format: str,
    day_night: str | None = None, more_bands: dict[str, tuple[str, np.ndarray]] | None = None,
) -> list[Path]:
    """Write band 10 (``band`` = MTL key, file suffix, DN array), QA_PIXEL and the MTL.

    ``more_bands``: other bands to write beside it, as MTL key -> (file suffix, DN array).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    crs = CRS.from_user_input(crs)
    key, suffix, dn = band
    files = {key: f"{pid}_{suffix}.TIF"}
    written = [out / files[key]]
    _write_tif(written[0], dn, transform, crs, nodata=0)
    if qa_pixel is not None:
        files["FILE_NAME_QUALITY_L1_PIXEL"] = f"{pid}_QA_PIXEL.TIF"
        written.append(out / files["FILE_NAME_QUALITY_L1_PIXEL"])
        _write_tif(written[-1], np.asarray(qa_pixel, dtype=np.uint16), transform, crs, nodata=1)
    for more_key, (more_suffix, more_dn) in (more_bands or {}).items():
        files[more_key] = f"{pid}_{more_suffix}.TIF"
        written.append(out / files[more_key])
        _write_tif(written[-1], more_dn, transform, crs, nodata=0)
    files.update(extra_files)
    groups = _groups(pid, level=level, shape=dn.shape, transform=transform, crs=crs,
                     acquired=acquired, sun_elevation=sun_elevation, sun_azimuth=sun_azimuth,
                     cloud_cover=cloud_cover, wrs_path=int(pid[10:13]), wrs_row=int(pid[13:16]),
                     files=files, calibration=calibration, day_night=day_night)
    written.append(write_mtl(groups, out / f"{pid}_MTL.{mtl_format}"))
    return written


def write_l2_product(
    out_dir: str | Path,
    *,
    pid: str,
    kelvin: np.ndarray,
    transform: Affine,
    crs: CRS | str | int,
    acquired: datetime,
    sun_elevation: float,
    sun_azimuth: float = 140.0,
    cloud_cover: float = 0.0,
    qa_pixel: np.ndarray | None = None,
    mtl_format: Literal["json", "txt", "xml"] = "json",
    reflectance: dict[int, np.ndarray] | None = None,
) -> list[Path]:
    """Write ``<pid>_ST_B10.TIF`` (+ ``_QA_PIXEL.TIF``) and ``<pid>_MTL.<fmt>`` into ``out_dir``.

    ``kelvin`` is quantised with the USGS scale (NaN -> fill DN 0). ``reflectance`` (band
    number -> surface reflectance, NaN = fill) adds ``<pid>_SR_B<n>.TIF`` files and their
    scale in the MTL. Rasters are written to a temporary file and renamed, so an interrupted
    write leaves no half file behind.

    Returns
    -------
    list of Path
        The files written, MTL last.
    """
    files = {"FILE_NAME_METADATA_ODL": f"{pid}_MTL.txt"}
    cal = {"LEVEL2_SURFACE_TEMPERATURE_PARAMETERS": {
        "TEMPERATURE_MAXIMUM_BAND_ST_B10": "372.999941",
        "TEMPERATURE_MINIMUM_BAND_ST_B10": "149.003418",
        "QUANTIZE_CAL_MAXIMUM_BAND_ST_B10": "65535", "QUANTIZE_CAL_MINIMUM_BAND_ST_B10": "1",
        "TEMPERATURE_MULT_BAND_ST_B10": f"{ST_MULT}", "TEMPERATURE_ADD_BAND_ST_B10": f"{ST_ADD}",
    }}
    more = {f"FILE_NAME_BAND_{b}": (f"SR_B{b}", reflectance_to_sr_dn(r))
            for b, r in sorted((reflectance or {}).items())}
    if more:
        cal["LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"] = {
            k: v for b in sorted(reflectance or {}) for k, v in (
                (f"REFLECTANCE_MULT_BAND_{b}", f"{SR_MULT}"),
                (f"REFLECTANCE_ADD_BAND_{b}", f"{SR_ADD}"))}
    return _write_product(
        out_dir, pid=pid, band=("FILE_NAME_BAND_ST_B10", "ST_B10", kelvin_to_st_dn(kelvin)),
        level="L2SP", extra_files=files, calibration=cal, transform=transform, crs=crs,
        acquired=acquired, sun_elevation=sun_elevation, sun_azimuth=sun_azimuth,
        cloud_cover=cloud_cover, qa_pixel=qa_pixel, mtl_format=mtl_format, more_bands=more)


def write_l1_product(
    out_dir: str | Path,
    *,
    pid: str,
    counts: np.ndarray,
    transform: Affine,
    crs: CRS | str | int,
    acquired: datetime,
    sun_elevation: float,
    radiance_mult: float,
    radiance_add: float,
    k1: float,
    k2: float,
    sun_azimuth: float = 140.0,
    cloud_cover: float = 0.0,
    qa_pixel: np.ndarray | None = None,
    mtl_format: Literal["json", "txt", "xml"] = "txt",
    day_night: Literal["DAY", "NIGHT"] | None = None,
) -> list[Path]:
    """Write a Level-1 ``<pid>_B10.TIF`` of counts with its MTL (radiance and K1/K2 constants).

    ``day_night`` writes ``DAY_NIGHT_FLAG`` into ``IMAGE_ATTRIBUTES`` (None: no flag, as in
    the Collection 2 MTL files seen so far; readers then go by the sun elevation).
    """
    cal = {
        "LEVEL1_RADIOMETRIC_RESCALING": {"RADIANCE_MULT_BAND_10": f"{radiance_mult:.4E}",
                                         "RADIANCE_ADD_BAND_10": f"{radiance_add:.5f}"},
        "LEVEL1_THERMAL_CONSTANTS": {"K1_CONSTANT_BAND_10": f"{k1:.4f}",
                                     "K2_CONSTANT_BAND_10": f"{k2:.4f}"},
        # as USGS writes it: band 10 counts run 1..65535; 65535 is saturation
        "LEVEL1_MIN_MAX_PIXEL_VALUE": {"QUANTIZE_CAL_MAX_BAND_10": "65535",
                                       "QUANTIZE_CAL_MIN_BAND_10": "1"},
    }
    return _write_product(
        out_dir, pid=pid, band=("FILE_NAME_BAND_10", "B10", np.asarray(counts, dtype=np.uint16)),
        level=pid.split("_")[1], extra_files={}, calibration=cal, transform=transform, crs=crs,
        acquired=acquired, sun_elevation=sun_elevation, sun_azimuth=sun_azimuth,
        cloud_cover=cloud_cover, qa_pixel=qa_pixel, mtl_format=mtl_format, day_night=day_night)


def write_window_product(
    out_dir: str | Path,
    *,
    groups: dict[str, dict[str, str]],
    bands: dict[str, np.ndarray],
    transform: Affine,
    crs: CRS | str | int,
    mtl_format: Literal["json", "txt", "xml"] = "json",
) -> list[Path]:
    """Write a window of a real product: its band files and its own MTL, re-cornered.

    ``groups`` is the product's MTL as :func:`pipeline.io.mtl.read_mtl_groups` parses it. The
    rasters keep their Collection 2 names (``bands`` maps the MTL ``FILE_NAME_*`` key, e.g.
    ``FILE_NAME_BAND_ST_B10``, to the window's digital numbers) and the MTL keeps every key of
    the original except the product extent, which is set to the window's: upper-left and
    lower-right pixel centres, lines and samples (the reader checks that raster and MTL agree).
    The geographic corners, which would no longer be true, are dropped.

    Returns
    -------
    list of Path
        The files written, MTL last.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    crs = CRS.from_user_input(crs)
    contents = groups["PRODUCT_CONTENTS"]
    pid = contents["LANDSAT_PRODUCT_ID"]
    written = []
    for key, dn in bands.items():
        name = contents.get(key) or f"{pid}_{key.removeprefix('FILE_NAME_')}.TIF"
        written.append(out / name)
        nodata = 1 if "QUALITY" in key else 0
        _write_tif(written[-1], np.asarray(dn, dtype=np.uint16), transform, crs, nodata=nodata)
    lines, samples = next(iter(bands.values())).shape
    cell = transform.a
    ul_x, ul_y = transform.c + cell / 2, transform.f - cell / 2
    lr_x, lr_y = ul_x + (samples - 1) * cell, ul_y - (lines - 1) * cell
    proj = {k: v for k, v in groups.get("PROJECTION_ATTRIBUTES", {}).items()
            if not k.endswith(("_LAT_PRODUCT", "_LON_PRODUCT"))}
    for kind in ("THERMAL", "REFLECTIVE"):
        proj[f"{kind}_LINES"], proj[f"{kind}_SAMPLES"] = str(lines), str(samples)
    for corner, (x, y) in {"UL": (ul_x, ul_y), "UR": (lr_x, ul_y), "LL": (ul_x, lr_y),
                           "LR": (lr_x, lr_y)}.items():
        proj[f"CORNER_{corner}_PROJECTION_X_PRODUCT"] = f"{x:.1f}"
        proj[f"CORNER_{corner}_PROJECTION_Y_PRODUCT"] = f"{y:.1f}"
    new_groups = {**groups, "PROJECTION_ATTRIBUTES": proj}
    with atomic_path(out / f"{pid}_MTL.{mtl_format}") as tmp:
        write_mtl(new_groups, tmp)
    written.append(out / f"{pid}_MTL.{mtl_format}")
    return written
