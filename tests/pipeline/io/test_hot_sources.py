"""Hot sources are data (issue 18): a volcano-like sample in the real Collection 2 format.

The sample is written with :mod:`pipeline.io.c2write` (ST_B10 DN with the USGS scale
``K = DN * 0.00341802 + 149``, QA_PIXEL, MTL), with a seeded core of 355-372.5 K, a few pixels
at the DN ceiling 65535 (149 + 65535 * 0.00341802 = 372.99994 K, the product's
``TEMPERATURE_MAXIMUM_BAND_ST_B10``), a cloud over part of the core and a fill pixel in it.
Before the fix ``reader.plausible_max_k = 350`` masked every pixel of the core.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.core.config import Config, DetectionConfig, ReaderConfig
from pipeline.core.grid import Grid
from pipeline.io.reader import read_scene
from pipeline.scan.thermal import thermal_scene
from pipeline.science.anomaly import anomaly
from pipeline.science.detect import hotspot_mask, hotspot_table
from pipeline.science.masking import FLAG_ATTRS, Flag, usable
from tests.conftest import L9_B10, c2write_qa, smooth_field

#: The Level-2 ST ceiling, by hand from the USGS scale (LSDS-1619): 65535 x 0.00341802 + 149.
ST_CEILING_K = 372.9999407
#: Half a Level-2 quantisation step plus float32 rounding.
QUANT = 0.0018
SIZE = 96


def _volcano(seed: int = 7) -> dict[str, np.ndarray]:
    """Background near 300 K, a 355-372.5 K core, ceiling pixels, cloud and fill masks."""
    rng = np.random.default_rng(seed)
    kelvin = smooth_field((SIZE, SIZE), seed=seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    core = (yy - 48) ** 2 + (xx - 48) ** 2 <= 5 ** 2  # 81 px
    kelvin[core] = rng.uniform(355.0, 372.5, int(core.sum()))
    kelvin[core & (xx == 48) & (yy == 48)] = 372.5
    ceiling = np.zeros_like(core)
    ceiling[47:50, 46] = True  # three pixels hotter than the product can hold
    kelvin[ceiling] = 400.0  # quantised to DN 65535 by the writer, as USGS clips
    cloud = np.zeros_like(core)
    cloud[52:54, 44:53] = True  # the southern rim of the core under a cloud
    fill = np.zeros_like(core)
    fill[44, 48] = True
    kelvin[fill] = np.nan
    cold = np.zeros_like(core)
    cold[5, 5:8] = True
    kelvin[cold] = 150.0015  # DN 293, the 150 K some real products hold under clouds
    return {"kelvin": kelvin, "core": core & ~cloud & ~fill & ~ceiling, "ceiling": ceiling,
            "cloud": cloud, "fill": fill, "cold": cold}


@pytest.fixture
def volcano(make_product, only_product):
    v = _volcano()
    made = make_product.l2(kelvin=v["kelvin"], qa=c2write_qa((SIZE, SIZE), cloud=v["cloud"]))
    return v, only_product(made.folder)


def test_hot_pixels_are_kept_with_their_temperature(volcano) -> None:
    v, product = volcano
    ds = read_scene(product)  # default configuration
    t, flags = ds["temperature"].values, ds["flags"].values
    core = v["core"]
    assert core.sum() >= 60
    assert np.isfinite(t[core]).all(), "the core of the hot source vanished"
    np.testing.assert_allclose(t[core], v["kelvin"][core], atol=QUANT)
    assert float(np.nanmax(t[core])) == pytest.approx(372.5, abs=QUANT)
    assert (t[core] > 350.0).sum() == core.sum()
    assert usable(flags)[core].all()
    assert not (flags[core] & (Flag.IMPLAUSIBLE | Flag.SATURATED)).any()


def test_pixels_at_the_product_ceiling_are_kept_and_flagged_saturated(volcano) -> None:
    v, product = volcano
    ds = read_scene(product)
    t, flags = ds["temperature"].values, ds["flags"].values
    sat = v["ceiling"]
    np.testing.assert_allclose(t[sat], ST_CEILING_K, atol=QUANT)
    assert ds["temperature"].attrs["valid_max"] == pytest.approx(ST_CEILING_K, abs=QUANT)
    assert ((flags[sat] & Flag.SATURATED) != 0).all() and usable(flags)[sat].all()
    assert int(((flags & Flag.SATURATED) != 0).sum()) == 3  # nothing else is saturated
    meanings = FLAG_ATTRS["flag_meanings"].split()
    assert meanings[list(FLAG_ATTRS["flag_masks"]).index(Flag.SATURATED)] == "saturated"
    assert ds["flags"].attrs["flag_meanings"].endswith("saturated")


def test_fill_and_qa_cloud_still_mask_inside_the_hot_source(volcano) -> None:
    v, product = volcano
    ds = read_scene(product)
    t, flags = ds["temperature"].values, ds["flags"].values
    assert np.isnan(t[v["cloud"]]).all() and ((flags[v["cloud"]] & Flag.CLOUD) != 0).all()
    assert np.isnan(t[v["fill"]]).all() and ((flags[v["fill"]] & Flag.FILL) != 0).all()
    # the low plausible floor stays: 150 K pixels (DN 293, the cloud-top quirk) are masked
    assert np.isnan(t[v["cold"]]).all()
    assert ((flags[v["cold"]] & Flag.IMPLAUSIBLE) != 0).all()


def test_an_explicit_upper_bound_still_masks(volcano) -> None:
    v, product = volcano
    ds = read_scene(product, config=ReaderConfig(plausible_max_k=360.0))
    t, flags = ds["temperature"].values, ds["flags"].values
    above = v["core"] & (v["kelvin"] > 360.0 + QUANT)
    assert above.any() and np.isnan(t[above]).all()
    assert ((flags[above] & Flag.IMPLAUSIBLE) != 0).all()


def test_hot_source_anomaly_and_hotspot(volcano) -> None:
    v, product = volcano
    ds = read_scene(product)
    an = anomaly(ds["temperature"])
    a, z = an["anomaly"].values, an["zscore"].values
    hot_px = v["core"] | v["ceiling"]
    assert np.isfinite(a[hot_px]).all() and np.isfinite(z[hot_px]).all()
    # background about 300-302 K: the core stands 53-73 K above it, the ceiling ~71 K
    assert a[hot_px].min() > 50.0 and a[v["ceiling"]].min() > 69.0
    assert float(np.nanmax(a)) < ST_CEILING_K - 290.0
    grid = Grid(ds.rio.crs, ds.rio.transform(), ds["temperature"].shape)
    hot = hotspot_mask(a, z, DetectionConfig(), grid.pixel_area)
    assert hot[hot_px].all()
    table = hotspot_table(hot, a, grid)
    assert len(table) == 1  # the core is one hotspot, the cloud and fill do not split it
    assert table.iloc[0]["area_m2"] >= hot_px.sum() * 900


def test_thermal_summary_counts_saturated_pixels(volcano, tmp_path) -> None:
    _, product = volcano
    summary = thermal_scene(product, tmp_path / "out", Config())
    assert summary.saturated_pixels == 3
    assert "3 px saturated" in summary.line()


def test_level1_count_ceiling_is_saturation(make_product, only_product) -> None:
    counts = np.full((SIZE, SIZE), 26_500, dtype=np.uint16)
    counts[10, 10] = 60_000  # hot but below the ceiling
    counts[20, 20:23] = 65_535  # the Level-1 count ceiling
    product = only_product(make_product.l1(counts=counts).folder)
    ds = read_scene(product)
    t, flags = ds["temperature"].values, ds["flags"].values
    # by hand, Landsat 9 band 10: L = Q * 3.8e-4 + 0.1, T = K2 / ln(K1 / L + 1)
    def bt(q: int) -> float:
        rad = q * L9_B10["radiance_mult"] + L9_B10["radiance_add"]
        return L9_B10["k2"] / math.log(L9_B10["k1"] / rad + 1)

    assert bt(60_000) > 360.0 and bt(65_535) == pytest.approx(380.30, abs=0.01)
    assert t[10, 10] == pytest.approx(bt(60_000), abs=1e-3) and flags[10, 10] == 0
    np.testing.assert_allclose(t[20, 20:23], bt(65_535), atol=1e-3)
    assert (flags[20, 20:23] == Flag.SATURATED).all()
    assert int(((flags & Flag.SATURATED) != 0).sum()) == 3


def test_fetched_hot_pixels_beyond_the_ceiling_are_written_at_it() -> None:
    # Sentinel Hub returns kelvin; hotter than a product can hold is written at the ceiling,
    # so the reader flags it saturated (L2: DN 65535; L1: count 65535)
    from pipeline.io.c2write import kelvin_to_st_dn
    from pipeline.io.sentinelhub import brightness_temperature_to_counts

    assert kelvin_to_st_dn(np.array([372.5, 400.0, 1200.0])).tolist()[1:] == [65535, 65535]
    counts = brightness_temperature_to_counts(np.array([300.0, 400.0, 1200.0]), **L9_B10)
    assert counts[0] < 65535 and counts[1:].tolist() == [65535, 65535]
