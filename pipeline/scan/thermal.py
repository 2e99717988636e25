"""The ``thermal`` job: each scene of a folder to temperature and anomaly COGs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.config import Config
from pipeline.core.errors import HeatwatchError, OutputError, QAMissingWarning
from pipeline.core.outputs import write_cog
from pipeline.io.reader import Problem, ProductFiles, discover_products, read_scene
from pipeline.science.anomaly import anomaly
from pipeline.science.masking import Flag


@dataclass(frozen=True)
class SceneSummary:
    """One line of the thermal job's summary."""

    product_id: str
    acquired: str
    clear_fraction: float
    t_median_k: float
    anomaly_p99_k: float
    files: tuple[Path, ...]
    #: pixels at band 10's ceiling, kept and flagged saturated (a lower bound of their heat)
    saturated_pixels: int = 0

    def line(self) -> str:
        """Human-readable one-line summary."""
        line = (f"{self.product_id}  {self.acquired[:10]}  clear {self.clear_fraction:5.1%}  "
                f"median {self.t_median_k:6.1f} K  anomaly p99 {self.anomaly_p99_k:+5.1f} K")
        if self.saturated_pixels:
            line += f"  {self.saturated_pixels} px saturated (temperature a lower bound)"
        return line


def thermal_scene(product: ProductFiles, out_dir: Path, config: Config) -> SceneSummary:
    """Calibrate, mask and normalise one product; write its COGs into ``out_dir``."""
    ds = read_scene(product, config=config.reader)
    an = anomaly(ds["temperature"], config.anomaly)
    t = ds["temperature"]
    temp_path = write_cog(out_dir / f"{product.product_id}_temperature.tif", t)
    an_da = an["anomaly"].rio.write_crs(ds.rio.crs).rio.write_transform(ds.rio.transform())
    an_da.rio.write_nodata(np.nan, encoded=False, inplace=True)
    an_path = write_cog(out_dir / f"{product.product_id}_anomaly.tif", an_da)
    flags_path = write_cog(out_dir / f"{product.product_id}_flags.tif", ds["flags"])
    vals = t.values[np.isfinite(t.values)]
    a = an["anomaly"].values
    a = a[np.isfinite(a)]
    return SceneSummary(
        product_id=product.product_id,
        acquired=str(ds.attrs["acquisition_time"]),
        clear_fraction=float(vals.size / t.size),
        t_median_k=float(np.median(vals)) if vals.size else float("nan"),
        anomaly_p99_k=float(np.percentile(a, 99)) if a.size else float("nan"),
        files=(temp_path, an_path, flags_path),
        saturated_pixels=int(((ds["flags"].values & Flag.SATURATED) != 0).sum()),
    )


def run_thermal(
    imagery_dir: Path, out_dir: Path, config: Config,
    on_result: Callable[[ProductFiles, SceneSummary | Problem], None] | None = None,
) -> tuple[list[SceneSummary], list[Problem]]:
    """Run :func:`thermal_scene` over every product in ``imagery_dir``; bad ones are skipped."""
    products, problems = discover_products(imagery_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}; "
                          "choose another --out") from exc
    done: list[SceneSummary] = []
    for product in products:
        result: SceneSummary | Problem
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QAMissingWarning)
                result = thermal_scene(product, out_dir, config)
            done.append(result)
        except HeatwatchError as exc:
            result = Problem(product.band, str(exc))
            problems.append(result)
        if on_result is not None:
            on_result(product, result)
    return done, problems
