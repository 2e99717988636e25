"""Report rasters of a scan: composite anomaly, grey basemap, a few per-date anomaly overlays.

The evidence maps, the interactive page and the site reports are rebuilt from files only
(``heatwatch report OUT/``), so the scan writes the rasters they draw into ``OUT/rasters/``:

- ``anomaly_mean.tif``: the mean clear-sky anomaly over all looks (K), the composite the scan
  accumulated while streaming;
- ``temperature_median.tif``: the median temperature (K) of the overlay looks, a grey basemap;
- ``anomaly_<date>.tif``: the anomaly (K) of a bounded number of looks: the clearest look of
  each site's active period and the last look of the series.

The per-date looks are re-read from the imagery folder recorded in ``run.json`` with the same
reader, grid and anomaly settings as the scan. All rasters are float32 COGs on the scan grid.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.core.grid import Grid
from pipeline.core.outputs import write_cog
from pipeline.scan.run import ScanResult

log = logging.getLogger(__name__)

RASTER_DIR = "rasters"


def grid_array(values: np.ndarray, grid: Grid, *, name: str, units: str,
               long_name: str) -> xr.DataArray:
    """Wrap a (y, x) array on ``grid`` as a DataArray with CF attributes and CRS.

    Examples
    --------
    >>> from affine import Affine
    >>> g = Grid(__import__("rasterio").crs.CRS.from_epsg(32615), Affine(30, 0, 0, 0, -30, 60),
    ...          (2, 2))
    >>> grid_array(np.zeros((2, 2)), g, name="a", units="K", long_name="x").attrs["units"]
    'K'
    """
    y, x = grid.coords()
    da = xr.DataArray(values.astype(np.float32), dims=("y", "x"), coords={"y": y, "x": x},
                      name=name, attrs={"units": units, "long_name": long_name})
    da = da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    return da.rio.write_nodata(np.nan, encoded=False)


def composite_anomaly(anomaly_sum: np.ndarray, clear_count: np.ndarray) -> np.ndarray:
    """Mean anomaly over clear looks; NaN where a pixel was never clear.

    Examples
    --------
    >>> composite_anomaly(np.array([[4.0, 0.0]]), np.array([[2, 0]])).tolist()
    [[2.0, nan]]
    """
    out = (anomaly_sum / np.maximum(clear_count, 1)).astype(np.float32)
    out[clear_count == 0] = np.nan
    return out


def write_rasters(result: ScanResult, out_dir: Path) -> dict[str, Any]:
    """Write the report rasters of a scan into ``out_dir/rasters`` (COGs, atomically).

    Parameters
    ----------
    result
        The scan's result: its state holds the anomaly sums, clear counts and the overlay
        looks (temperature and anomaly) kept while the scan had them, so nothing is re-read.
    out_dir
        The scan's output folder.

    Returns
    -------
    dict
        Relative paths: ``anomaly_mean``, ``temperature_median`` (None without an overlay
        look) and ``anomaly_dates`` (list of ``{date, product_id, path}``).
    """
    state = result.state
    assert state.anomaly_sum is not None and state.clear_count is not None
    grid = state.grid
    rdir = out_dir / RASTER_DIR
    comp = composite_anomaly(state.anomaly_sum, state.clear_count)
    write_cog(rdir / "anomaly_mean.tif", grid_array(
        comp, grid, name="anomaly", units="K",
        long_name=f"mean clear-sky anomaly over {len(state.scenes)} looks"))
    out: dict[str, Any] = {"anomaly_mean": f"{RASTER_DIR}/anomaly_mean.tif",
                           "temperature_median": None, "anomaly_dates": []}
    temps = []
    for date, pid, temperature, an in state.overlays:
        temps.append(temperature)
        rel = f"{RASTER_DIR}/anomaly_{date}.tif"
        write_cog(out_dir / rel, grid_array(an, grid, name="anomaly", units="K",
                                            long_name=f"anomaly of {pid}"))
        out["anomaly_dates"].append({"date": date, "product_id": pid, "path": rel})
    if temps:
        with warnings.catch_warnings():  # a pixel cloudy in every overlay look
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(np.stack(temps), axis=0)
        da = grid_array(med, grid, name="temperature", units="K",
                        long_name=f"median surface temperature of {len(temps)} looks")
        da.attrs["standard_name"] = "surface_temperature"
        write_cog(rdir / "temperature_median.tif", da)
        out["temperature_median"] = f"{RASTER_DIR}/temperature_median.tif"
    return out

