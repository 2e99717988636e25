"""The scan takes a ring's crop season out of a catalogued campus's excess, from the products'
own red and near-infrared bands (issue 18, crop phenology)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from aoi.sites import read_sites
from models.world import crop_loss, generate_world
from models.world_spec import LandSpec
from pipeline.core.config import load_config
from pipeline.core.grid import Grid
from pipeline.scan.run import ScanState, SceneRecord, _greenness, choose_solar_index, run_scan
from tests.support.worlds import CAMPUS, make_spec

LAND = LandSpec(crop_share=0.9, crop_depth=0.8, crop_peak_doy=196, crop_season_days=90,
                crop_jitter_days=0.0)


@pytest.fixture(scope="module")
def crops_world(tmp_path_factory):
    spec = make_spec(land=LAND, size_px=160, campuses=(CAMPUS,), start=date(2024, 4, 1),
                     n_acquisitions=24, revisit_days=8, noise_k=0.3)
    out = tmp_path_factory.mktemp("crops")
    truth = generate_world(spec, out)
    return spec, truth, out


def test_the_ring_s_crop_season_is_taken_out_of_the_excess(crops_world):
    spec, truth, out = crops_world
    green = load_config(overrides={"reader": {"greenness": True}}, environ={})
    result = run_scan(out, green, sites=read_sites(out / "sites.geojson"))
    series = result.series["S1"]
    clear = series["clear"].astype(bool).to_numpy()
    removed = series["greenness_k_m2"].to_numpy()[clear]
    # the truth: how much the crops cool the ring (less the region) on each look, times the
    # region's area; the scan saw it only through NDVI and each scene's slope
    days = [a.date for a in truth.acquisitions]
    loss, _ = crop_loss(spec, days)
    masks, grid = result.masks["S1"], result.state.grid
    assert grid.shape == (spec.size_px, spec.size_px)  # the scan's grid is the world's here
    sun = np.array([a.solar_loading * a.solar_factor for a in truth.acquisitions])
    cooling = (loss[:, masks.ring].mean(axis=1) - loss[:, masks.integration].mean(axis=1)) \
        * sun * masks.integration_area_px * grid.pixel_area
    truth_swing = cooling[clear] - np.median(cooling[clear])
    assert np.ptp(truth_swing) > 1.0e6  # a season worth a few hundred MW
    # what was taken out follows the truth's season: its shape, and most of its size (the
    # crops' own slope, read on a cover blurred as the thermal band is, comes out about 10% low;
    # on the sharp cover it came out 20% low)
    assert np.corrcoef(removed, truth_swing)[0, 1] > 0.98
    assert 0.8 < np.ptp(removed) / np.ptp(truth_swing) < 1.1
    # the series says what it took out and what it saw
    assert {"ring_cover_less_footprint", "greenness_k_m2"} <= set(series.columns)
    # paving has no cover; the ring's crops add half a cover at their peak
    assert series["ring_cover_less_footprint"].max() > 0.45


def test_without_greenness_the_scan_reads_band_10_only(crops_world):
    # reader.greenness is off by default: no NDVI, no greenness column, the raw excess
    _, _, out = crops_world
    result = run_scan(out, load_config(environ={}), sites=read_sites(out / "sites.geojson"))
    assert result.state.ndvi is None
    assert "greenness_k_m2" not in result.series["S1"]


def _state(ndvi: np.ndarray) -> ScanState:
    """A scan's state after the stream: three scenes of land with the NDVI given."""
    n, h, w = ndvi.shape
    state = ScanState(grid=Grid(CRS.from_epsg(32614), Affine(30, 0, 0, 0, -30, 0), (h, w)))
    state.scenes = [SceneRecord(f"p{i}", f"2024-06-0{i + 1}", "LANDSAT_8", 60.0, 0.9, 5.0, 5.0,
                                1.0) for i in range(n)]
    state.ndvi = ndvi.astype(np.float16)
    state.temps = (300.0 - 10.0 * ndvi).astype(np.float32)
    state.present = np.zeros((h, w), np.int32)
    state.water = np.zeros((h, w), bool)
    return state


def test_the_ndvi_stack_becomes_cover_with_a_slope_per_scene():
    # bare fields (NDVI 0.1) and full canopy (0.9) side by side, the edge moving between scenes
    rng = np.random.default_rng(0)
    ndvi = np.full((3, 60, 60), 0.1)
    for i in range(3):
        ndvi[i, :, 25 + 5 * i:] = 0.9
    ndvi += rng.normal(0.0, 0.005, ndvi.shape)
    state = _state(ndvi)
    _greenness(state, np.zeros((60, 60), bool))
    assert state.cover_slopes is not None and (state.cover_slopes < 0).all()
    cover = np.asarray(state.ndvi, np.float32)
    # bare ground and full cover away from the edge; next to it the thermal band's blur
    assert cover[:, :, :15].max() < 0.05 and cover[:, :, 45:].min() > 0.95
    assert 0.2 < cover[0, 30, 25] < 0.8


def test_land_of_one_greenness_leaves_the_excess_alone():
    state = _state(np.full((3, 60, 60), 0.5))
    _greenness(state, np.zeros((60, 60), bool))
    assert state.cover_slopes is None  # no range to scale: no greenness term, no columns


def test_listed_sites_read_the_sun_on_land_whose_cover_stays_put():
    # half the land static, half crops that green mid-series and then cool by day: over all
    # land the scene's loading along its land-cover pattern falls in their season though the
    # sun does not, on the static half it follows the sun
    n, h, w = 12, 80, 80
    sun = np.linspace(0.5, 0.9, n)
    green = np.exp(-(((np.arange(n) - 6) / 2.0) ** 2))
    crops = np.zeros((h, w), bool)
    crops[:, w // 2:] = True
    response = np.random.default_rng(5).uniform(-3.0, 3.0, (h, w)) + 4.0 * crops  # bare: hot
    state = ScanState(grid=Grid(CRS.from_epsg(32614), Affine(30, 0, 0, 0, -30, 0), (h, w)))
    state.scenes = [SceneRecord(f"p{i}", f"2024-{i + 1:02d}-01", "LANDSAT_8", 50.0,
                                float(sun[i]), 5.0, float(sun[i]), 1.0) for i in range(n)]
    state.anomalies = np.stack([s * (response - 8.0 * g * crops)
                                for s, g in zip(sun, green, strict=True)]).astype(np.float32)
    state.water = np.zeros((h, w), bool)
    state.ndvi = np.stack([np.where(crops, g, 0.5) for g in green]).astype(np.float16)
    state.cover_slopes = -8.0 * sun
    config = load_config(overrides={"persistence": {"min_contrast_pixels": 100}}, environ={})
    assert choose_solar_index(state, np.zeros((h, w), bool), config) == "pattern"
    listed = np.array([s.solar for s in state.scenes]) / sun
    search = np.array([s.search_loading for s in state.scenes]) / sun
    assert np.ptp(listed) < 0.01 * listed.mean()
    assert search[6] < 0.85 * search[0]
    # without a cover (reader.greenness off) there is one index
    state.ndvi = state.cover_slopes = None
    choose_solar_index(state, np.zeros((h, w), bool), config)
    assert all(s.search_solar is None for s in state.scenes)
    np.testing.assert_allclose([s.search_loading for s in state.scenes] / sun, search,
                               rtol=1e-6)
