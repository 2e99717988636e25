"""The synthetic world generator: files, determinism, and the physics the scan relies on."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pydantic import ValidationError
from scipy.ndimage import binary_dilation

from models.world import WorldTruth, demo_spec, generate_world, random_spec
from models.world_spec import CampusSpec, FireSpec, PlantSpec, RoofSpec
from pipeline.core.errors import OutputError
from pipeline.io.c2write import ST_ADD, ST_MULT
from pipeline.io.mtl import read_mtl
from pipeline.science.qa import QABit, bit_set
from tests.support.worlds import CAMPUS, content_sha256, make_spec, sha256_tree


def kelvin(folder: Path, pid: str) -> np.ndarray:
    with rasterio.open(folder / f"{pid}_ST_B10.TIF") as src:
        dn = src.read(1)
    k = dn * ST_MULT + ST_ADD
    k[dn == 0] = np.nan
    return k


def qa_pixel(folder: Path, pid: str) -> np.ndarray:
    with rasterio.open(folder / f"{pid}_QA_PIXEL.TIF") as src:
        return src.read(1)


def pixel_window(truth: WorldTruth, bounds, buffer_m: float = 0.0) -> tuple[slice, slice]:
    a, _, ox, _, e, oy = truth.grid.transform
    x0, y0, x1, y1 = bounds
    return (slice(round((oy - y1 - buffer_m) / -e), round((oy - y0 + buffer_m) / -e)),
            slice(round((x0 - buffer_m - ox) / a), round((x1 + buffer_m - ox) / a)))


# Files -----------------------------------------------------------------------------------------


def test_same_spec_gives_byte_identical_files(tmp_path):
    spec = random_spec(11, size_px=80, n_acquisitions=4, cloudiness=1.0,
                       edge_fill_probability=0.5)
    generate_world(spec, tmp_path / "a")
    generate_world(spec, tmp_path / "b")
    a, b = sha256_tree(tmp_path / "a"), sha256_tree(tmp_path / "b")
    assert len(a) == 4 * 5 + 3  # band 10, QA, red, near-infrared and MTL per product
    assert a == b


def test_southern_world_files_read_back_as_usgs_products(tmp_path):
    spec = make_spec(center_lat=-33.9, center_lon=151.0, n_acquisitions=3)
    truth = generate_world(spec, tmp_path)
    assert truth.grid.epsg == 32656  # UTM *north* zone 56, as USGS delivers
    assert [a.mtl_format for a in truth.acquisitions] == ["json", "txt", "xml"]
    for acq in truth.acquisitions:
        for band in ("ST_B10", "QA_PIXEL"):
            with rasterio.open(tmp_path / f"{acq.product_id}_{band}.TIF") as src:
                assert src.dtypes[0] == "uint16"
                assert src.crs.to_epsg() == 32656
                assert (src.width, src.height) == (96, 96)
                tr = src.transform
                assert (tr.a, tr.e) == (30.0, -30.0)
                assert tr.f < 0  # negative northing south of the equator
                assert (tr.c + 15) % 30 == 0 and (tr.f - 15) % 30 == 0  # centres on 30 m
        meta = read_mtl(tmp_path / f"{acq.product_id}_MTL.{acq.mtl_format}")
        assert meta.utm_zone == 56
        assert meta.sun_elevation == pytest.approx(acq.sun_elevation, abs=1e-6)
        assert meta.acquired.date() == acq.date
        assert meta.spacecraft == acq.spacecraft
        assert meta.calibration.st_mult == ST_MULT
    # Landsat 8 and 9 alternate, 8 days apart, at ~10:30 local solar time (UTC+10 here)
    assert [a.spacecraft for a in truth.acquisitions] == ["LANDSAT_8", "LANDSAT_9", "LANDSAT_8"]
    assert (truth.acquisitions[1].date - truth.acquisitions[0].date).days == 8
    assert truth.acquisitions[0].product_id.startswith("LC08_L2SP_")
    assert truth.acquisitions[0].acquired.hour == 0


def test_sites_exclusions_and_truth_files(tmp_path):
    hidden = CampusSpec(site_id="H1", name="Hidden", x_km=-1.1, y_km=1.2, power_mw=60,
                        in_catalog=False)
    spec = make_spec(size_px=140, campuses=(CAMPUS, hidden),
                     power_plants=(PlantSpec(name="Plant", x_km=1.3, y_km=1.3),))
    truth = generate_world(spec, tmp_path)
    sites = json.loads((tmp_path / "sites.geojson").read_text())
    assert sites["type"] == "FeatureCollection"
    assert [f["properties"] for f in sites["features"]] == [
        {"site_id": "S1", "name": "One", "operator": "Op", "reported_power_mw": 140,
         "cooling": "dry"}]
    ring = sites["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    lon, lat = np.array(ring).T
    assert abs(lon.mean() - (-100.0)) < 0.05 and abs(lat.mean() - 40.0) < 0.05
    excl = json.loads((tmp_path / "exclusions.geojson").read_text())
    assert excl["features"][0]["properties"] == {"kind": "gas_power_plant", "name": "Plant"}
    assert WorldTruth.read(tmp_path) == truth
    s1 = truth.campus("S1")
    assert s1.status_at_end == "active" and truth.campus("H1").in_catalog is False
    assert s1.footprint.is_valid and s1.footprint.contains(truth.campus("S1").footprint.centroid)
    assert s1.area_m2 == pytest.approx(150e6 / 375, rel=0.1)
    assert 0.25 < s1.roof_area_m2 / s1.area_m2 < 0.35
    assert 0.12 < s1.yard_area_m2 / s1.area_m2 < 0.19


# Physics ---------------------------------------------------------------------------------------


def test_integrated_excess_of_active_campus_equals_k_times_heat(tmp_path):
    on = generate_world(make_spec(), tmp_path / "on")
    later = date(2030, 1, 1)
    off = generate_world(make_spec(campuses=(CAMPUS.model_copy(update={"onset": later}),)),
                         tmp_path / "off")
    camp = on.campus("S1")
    assert camp.k_m2_per_mw == pytest.approx(off.campus("S1").k_m2_per_mw)
    assert 0.7 * 4000 <= camp.k_m2_per_mw <= 1.3 * 4000
    win = pixel_window(on, camp.footprint_utm, buffer_m=300.0)
    for a_on, a_off, look in zip(on.acquisitions, off.acquisitions, camp.looks, strict=True):
        diff = kelvin(tmp_path / "on", a_on.product_id) - kelvin(tmp_path / "off", a_off.product_id)
        integral = float(diff[win].sum()) * 30.0**2
        assert look.active and look.excess_k_m2 == pytest.approx(camp.expected_excess_k_m2)
        assert integral == pytest.approx(camp.k_m2_per_mw * 150.0, rel=0.05)
        assert abs(float(diff.sum()) * 900.0 - integral) < 0.01 * integral  # nothing leaks out


def test_cooling_type_scales_the_coefficient(tmp_path):
    evap = CAMPUS.model_copy(update={"cooling": "evaporative"})
    truth = generate_world(make_spec(n_acquisitions=1, campuses=(evap,)), tmp_path)
    assert 0.2 * 0.7 * 4000 <= truth.campus("S1").k_m2_per_mw <= 0.2 * 1.3 * 4000


def test_onset_and_shutdown_set_activity(tmp_path):
    camp = CAMPUS.model_copy(update={"onset": date(2024, 6, 5), "shutdown": date(2024, 6, 20)})
    truth = generate_world(make_spec(campuses=(camp,)), tmp_path)
    looks = truth.campus("S1").looks
    assert [lk.active for lk in looks] == [False, True, True, False]
    assert [lk.excess_k_m2 > 0 for lk in looks] == [False, True, True, False]
    assert truth.campus("S1").status_at_end == "inactive"


def test_landsat9_scenes_carry_the_calibration_offset(tmp_path):
    with_off = generate_world(make_spec(l9_offset_k=0.6), tmp_path / "a")
    without = generate_world(make_spec(l9_offset_k=0.0), tmp_path / "b")
    for a, b in zip(with_off.acquisitions, without.acquisitions, strict=True):
        diff = kelvin(tmp_path / "a", a.product_id) - kelvin(tmp_path / "b", b.product_id)
        expected = 0.6 if a.spacecraft == "LANDSAT_9" else 0.0
        assert a.calibration_offset_k == expected
        assert np.allclose(diff, expected, atol=ST_MULT)


def test_fire_only_on_its_date(tmp_path):
    fire = FireSpec(name="F", x_km=-0.9, y_km=0.9, on=date(2024, 6, 9), delta_k=50)
    burning = generate_world(make_spec(fires=(fire,)), tmp_path / "fire")
    calm = generate_world(make_spec(), tmp_path / "calm")
    assert burning.fires[0].dates == [date(2024, 6, 9)]
    for a, b in zip(burning.acquisitions, calm.acquisitions, strict=True):
        diff = kelvin(tmp_path / "fire", a.product_id) - kelvin(tmp_path / "calm", b.product_id)
        if a.date == fire.on:
            assert diff.max() > 10.0
            near = pixel_window(burning, burning.fires[0].footprint_utm, buffer_m=200.0)
            assert float(diff[near].sum()) == pytest.approx(float(diff.sum()), rel=1e-3)
        else:
            assert np.abs(diff).max() < ST_MULT


def test_construction_site_turns_from_ground_to_hotter_roof(tmp_path):
    site = RoofSpec(name="C", x_km=-0.8, y_km=0.9, length_m=240, width_m=150,
                    roof_response_k=20, ground_response_k=13, built=date(2024, 6, 12))
    late = generate_world(make_spec(construction=(site,)), tmp_path / "a")
    always = generate_world(make_spec(construction=(site.model_copy(update={"built": None}),)),
                            tmp_path / "b")
    win = pixel_window(late, late.construction[0].footprint_utm)
    for a, b in zip(late.acquisitions, always.acquisitions, strict=True):
        diff = kelvin(tmp_path / "a", a.product_id) - kelvin(tmp_path / "b", b.product_id)
        if a.date < site.built:
            assert diff[win].mean() < -0.5 * 7 * a.solar_loading * a.solar_factor
        else:
            assert np.abs(diff).max() < ST_MULT


def test_clouds_have_qa_bits_and_real_quirks(tmp_path):
    spec = make_spec(cloudiness=1.0, edge_fill_probability=1.0, n_acquisitions=3, seed=3)
    truth = generate_world(spec, tmp_path)
    for acq in truth.acquisitions:
        qa = qa_pixel(tmp_path, acq.product_id)
        with rasterio.open(tmp_path / f"{acq.product_id}_ST_B10.TIF") as src:
            dn = src.read(1)
        fill, cloud = bit_set(qa, QABit.FILL), bit_set(qa, QABit.CLOUD)
        dilated, shadow = bit_set(qa, QABit.DILATED_CLOUD), bit_set(qa, QABit.CLOUD_SHADOW)
        assert fill.any() and np.all(qa[fill] == 1) and np.all(dn[fill] == 0)
        assert cloud.any() and not (cloud & fill).any()
        assert acq.cloud_cover == pytest.approx(100 * cloud.sum() / (~fill).sum(), abs=0.01)
        k = dn * ST_MULT + ST_ADD
        quirk_150k, quirk_zero = dn == 293, dn == 0
        assert np.all(cloud[quirk_150k])  # 150.0 K only under clouds
        assert 0.005 < quirk_150k[cloud].mean() < 0.05
        assert 0.005 < (quirk_zero & cloud)[cloud].mean() < 0.05
        cold = cloud & ~quirk_150k & ~quirk_zero
        assert np.all(k[cold] < acq.air_temperature_k - 2.0)
        # The dilated ring hugs the clouds; shadows and the clear bit never sit on a cloud.
        assert not (dilated & cloud).any()
        assert np.all(binary_dilation(cloud, iterations=3)[dilated & ~fill])
        assert not (shadow & cloud).any()
        assert not (bit_set(qa, QABit.CLEAR) & (cloud | dilated | shadow | fill)).any()
        for look in truth.campus("S1").looks:
            if look.product_id == acq.product_id:
                win = pixel_window(truth, truth.campus("S1").footprint_utm)
                assert look.cloud_fraction == pytest.approx(cloud[win].mean())


def test_water_is_flagged(tmp_path):
    truth = generate_world(make_spec(size_px=160, n_acquisitions=1, campuses=()), tmp_path)
    qa = qa_pixel(tmp_path, truth.acquisitions[0].product_id)
    water = bit_set(qa, QABit.WATER)
    k = kelvin(tmp_path, truth.acquisitions[0].product_id)
    assert 0.005 < water.mean() < 0.1
    assert np.median(k[water]) < np.median(k[~water]) - 3.0  # summer morning: lakes are cool


def test_low_sun_slots_have_no_product(tmp_path):
    spec = make_spec(center_lat=56.0, start=date(2023, 12, 10), n_acquisitions=3,
                     campuses=(), cloudiness=0.0)
    truth = generate_world(spec, tmp_path)
    assert truth.skipped and not truth.acquisitions
    assert all(s.sun_elevation < 14.0 for s in truth.skipped)
    assert not list(tmp_path.glob("*_ST_B10.TIF"))


def test_progress_and_foreign_folder(tmp_path):
    calls = []
    generate_world(make_spec(n_acquisitions=2), tmp_path,
                   progress=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 2), (2, 2)]
    generate_world(make_spec(n_acquisitions=2), tmp_path)  # same world again: fine
    other = make_spec(n_acquisitions=2, start=date(2024, 7, 1))
    with pytest.raises(OutputError, match="another world"):
        generate_world(other, tmp_path)
    generate_world(other, tmp_path, overwrite=True)
    assert len(list(tmp_path.glob("*_ST_B10.TIF"))) == 2


# Specs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"campuses": (CAMPUS, CAMPUS.model_copy(update={"site_id": "S2", "x_km": 0.5}))},
         "overlap"),
        ({"campuses": (CAMPUS.model_copy(update={"x_km": 1.3}),)}, "does not fit"),
        ({"fires": (FireSpec(name="F", x_km=-1, y_km=1, on=date(2024, 6, 3)),)}, "no acquisition"),
        ({"campuses": (CAMPUS, CAMPUS.model_copy(update={"x_km": -1}))}, "unique"),
    ],
)
def test_invalid_specs_are_refused(change, message):
    with pytest.raises(ValidationError, match=message):
        make_spec(**change)


def test_campus_dates_are_checked():
    with pytest.raises(ValidationError, match="not after"):
        CampusSpec(**{**CAMPUS.model_dump(), "onset": date(2024, 5, 1),
                      "shutdown": date(2024, 5, 1)})


def test_demo_spec_holds_what_the_readme_promises():
    spec = demo_spec()
    assert spec.size_px == 400 and spec.n_acquisitions == 46 and 30 <= spec.center_lat <= 50
    reported = [c for c in spec.campuses if c.in_catalog and c.reported_power_mw]
    assert len(reported) >= 3
    assert all(40 <= c.power_mw <= 600 for c in spec.campuses)
    new = [c for c in spec.campuses if not c.in_catalog]
    times = spec.acquisition_times
    assert any(c.power_mw >= 100 and c.onset and times[10].date() < c.onset < times[-10].date()
               for c in new)
    assert any(c.shutdown for c in spec.campuses)
    assert any(c.cooling == "evaporative" for c in spec.campuses)
    assert len(spec.warehouses) == 2 and len(spec.fires) == 1 and len(spec.power_plants) == 1
    assert len(spec.construction) == 1 and spec.construction[0].built is not None


def test_random_specs_vary_and_are_valid():
    specs = [random_spec(s) for s in range(12)]
    lats = np.array([s.center_lat for s in specs])
    assert (lats > 0).any() and (lats < 0).any()
    assert np.all((np.abs(lats) >= 25) & (np.abs(lats) <= 50))
    assert all(0.2 <= s.cloudiness <= 0.6 and 3000 <= s.k_m2_per_mw_dry <= 5500 for s in specs)
    assert len({s.start.month for s in specs}) >= 4
    assert all(len(s.campuses) == 3 for s in specs)
    assert all(s.campuses[1].onset is not None for s in specs)
    assert random_spec(5) == random_spec(5) and random_spec(5) != random_spec(6)


def test_seasons_follow_the_hemisphere(tmp_path):
    def air(lat: float, start: date) -> float:
        spec = make_spec(center_lat=lat, start=start, n_acquisitions=1, weather_k=0.0)
        return generate_world(spec, tmp_path / f"{lat}{start}").acquisitions[0].air_temperature_k

    assert air(35.0, date(2024, 7, 15)) > air(35.0, date(2024, 1, 15)) + 8
    assert air(-35.0, date(2024, 1, 15)) > air(-35.0, date(2024, 7, 15)) + 8


def test_demo_world_shows_what_the_demo_needs(tmp_path):
    truth = generate_world(demo_spec(), tmp_path)
    assert len(truth.acquisitions) == 46 and not truth.skipped
    assert len(list(tmp_path.glob("*_ST_B10.TIF"))) == 46

    def clear(site_id: str) -> list[bool]:
        return [lk.masked_fraction < 0.2 for lk in truth.campus(site_id).looks]

    new = truth.campus("NEW-1")
    before = [c for c, lk in zip(clear("NEW-1"), new.looks, strict=True) if not lk.active]
    after = [c for c, lk in zip(clear("NEW-1"), new.looks, strict=True) if lk.active]
    assert sum(before) >= 5 and sum(after) >= 5
    gone = truth.campus("DC-E")
    assert sum(c for c, lk in zip(clear("DC-E"), gone.looks, strict=True) if not lk.active) >= 5
    fire_day = truth.fires[0].dates[0]
    acq = next(a for a in truth.acquisitions if a.date == fire_day)
    qa = qa_pixel(tmp_path, acq.product_id)
    assert not bit_set(qa, QABit.CLOUD)[pixel_window(truth, truth.fires[0].footprint_utm)].any()


def test_shift_longer_than_the_tile_leaves_no_shadow() -> None:
    from models.world import _shift

    mask = np.ones((10, 12), dtype=bool)
    assert not _shift(mask, 126, 3).any()
    assert not _shift(mask, -2, -40).any()
    assert _shift(mask, 2, 3)[2:, 3:].all() and not _shift(mask, 2, 3)[:2].any()


# Widened land physics (models.world_spec.LandSpec, widen) ---------------------------------------


def test_static_structure_has_its_size_and_scale_and_no_sun(tmp_path):
    from models.world_spec import LandSpec

    land = LandSpec(static_k=0.8, static_scale_m=1500.0)
    rough = generate_world(make_spec(size_px=200, land=land, campuses=()), tmp_path / "a")
    flat = generate_world(make_spec(size_px=200, campuses=()), tmp_path / "b")
    diffs = [kelvin(tmp_path / "a", a.product_id) - kelvin(tmp_path / "b", b.product_id)
             for a, b in zip(rough.acquisitions, flat.acquisitions, strict=True)]
    # static: the same field on every date, whatever the sun
    for d in diffs[1:]:
        assert np.abs(d - diffs[0]).max() < 2 * ST_MULT
    d = diffs[0]
    assert float(np.nanstd(d)) == pytest.approx(0.8, rel=0.15)
    # correlated over ~1.5 km: neighbours 300 m apart nearly equal, 3 km apart nearly independent
    near = np.corrcoef(d[:, :-10].ravel(), d[:, 10:].ravel())[0, 1]
    far = np.corrcoef(d[:, :-100].ravel(), d[:, 100:].ravel())[0, 1]
    assert near > 0.9 and abs(far) < 0.5


def test_crops_lose_their_contrast_in_their_green_season(tmp_path):
    from models.world_spec import LandSpec

    land = LandSpec(crop_share=1.0, crop_depth=0.8, crop_peak_doy=196, crop_season_days=100,
                    crop_jitter_days=0.0)
    kw = dict(size_px=160, campuses=(), start=date(2024, 5, 1), n_acquisitions=12,
              revisit_days=8)
    crops = generate_world(make_spec(land=land, **kw), tmp_path / "a")
    plain = generate_world(make_spec(**kw), tmp_path / "b")
    peak = []
    for a, b in zip(crops.acquisitions, plain.acquisitions, strict=True):
        diff = kelvin(tmp_path / "a", a.product_id) - kelvin(tmp_path / "b", b.product_id)
        doy = a.date.timetuple().tm_yday
        green = np.cos(np.pi * (doy - 196) / 100) ** 2 if abs(doy - 196) < 50 else 0.0
        cooled = float(np.nanmin(diff))
        # bare parcels respond 12-17 K per unit sun, vegetation 4: up to 0.8 x 13 K lost
        assert cooled <= 0.0
        if green == 0.0:
            assert cooled > -2 * ST_MULT
        peak.append((green * a.solar_loading * a.solar_factor, cooled))
    g, c = np.array(peak).T
    # the cooling follows the season's shape, not the sun's: proportional to greenness x sun
    assert np.corrcoef(g, c)[0, 1] < -0.95
    assert c.min() < -5.0


def test_crop_loss_is_the_cooling_the_crops_put_in_the_imagery(tmp_path):
    # the same world with and without crop seasons: the products differ by sun x loss seen
    # through the sensor's PSF, on every clear pixel of every look, to the product's quantum
    # (models.world.crop_loss); pixels beside clouds blend with the cloud top and are left out
    from scipy.ndimage import gaussian_filter

    from models.world import TIRS_PSF_SIGMA_M, crop_loss
    from models.world_spec import LandSpec

    land = LandSpec(crop_share=0.6, crop_depth=0.8, crop_peak_doy=196, crop_season_days=100,
                    crop_jitter_days=10.0)
    kw = dict(size_px=96, campuses=(CAMPUS,), start=date(2024, 5, 1), n_acquisitions=10,
              revisit_days=8)
    spec = make_spec(land=land, **kw)
    crops = generate_world(spec, tmp_path / "a")
    plain = generate_world(make_spec(**kw), tmp_path / "b")
    loss, transform = crop_loss(spec, [a.date for a in crops.acquisitions])
    assert tuple(transform)[:6] == crops.grid.transform
    assert loss.max() > 5.0  # up to 0.8 x (12-17 - 4) K per unit sun at the season's peak
    for i, (a, b) in enumerate(zip(crops.acquisitions, plain.acquisitions, strict=True)):
        diff = kelvin(tmp_path / "a", a.product_id) - kelvin(tmp_path / "b", b.product_id)
        expected = gaussian_filter(-a.solar_loading * a.solar_factor * loss[i],
                                   TIRS_PSF_SIGMA_M / spec.pixel_m, mode="nearest")
        ok = np.isfinite(diff) & bit_set(qa_pixel(tmp_path / "a", a.product_id), QABit.CLEAR)
        assert ok.sum() > 1000 or a.cloud_cover > 50
        assert np.abs(diff - expected)[ok].max() <= 2 * ST_MULT
    # inside the campus's window and on land without crop seasons nothing is lost
    win = pixel_window(crops, crops.campus("S1").footprint_utm)
    assert not loss[(slice(None), *win)].any()
    assert not crop_loss(make_spec(**kw), [date(2024, 7, 15)])[0].any()


def test_crops_green_up_in_the_red_and_near_infrared_with_their_season(tmp_path):
    # the products carry SR_B4 and SR_B5: a crop parcel's NDVI rises with its season's leaf
    # area and saturates (canopy cover 1 - exp(-0.5 LAI)); a campus is paved all year
    from models.world import crop_loss
    from models.world_spec import LandSpec
    from pipeline.core.config import ReaderConfig
    from pipeline.io.reader import discover_products, read_scene

    land = LandSpec(crop_share=1.0, crop_depth=0.8, crop_peak_doy=196, crop_season_days=100,
                    crop_jitter_days=0.0)
    truth = generate_world(make_spec(land=land, size_px=96, campuses=(CAMPUS,),
                                     start=date(2024, 5, 1), n_acquisitions=12, revisit_days=8,
                                     cloudiness=0.0), tmp_path)
    crop = crop_loss(truth.spec, [date(2024, 7, 14)])[0][0] > 0  # the crops, at their peak
    assert crop.sum() > 500
    win = pixel_window(truth, truth.campus("S1").footprint_utm)
    by_pid = {p.product_id: p for p in discover_products(tmp_path)[0]}
    crop_ndvi, campus_ndvi, green = [], [], []
    for a in truth.acquisitions:
        ndvi = read_scene(by_pid[a.product_id], config=ReaderConfig(greenness=True))["ndvi"].values
        doy = a.date.timetuple().tm_yday
        g = np.cos(np.pi * (doy - 196) / 100) ** 2 if abs(doy - 196) < 50 else 0.0
        crop_ndvi.append(float(np.nanmedian(ndvi[crop])))
        campus_ndvi.append(float(np.nanmedian(ndvi[win])))
        green.append(g)
    crop_ndvi, green = np.array(crop_ndvi), np.array(green)
    # a linear mix of soil (0.18, 0.26) and canopy (0.04, 0.40) has NDVI (0.08 + 0.28 fc) / 0.44:
    # bare parcels have 5 % cover, a crop at its peak 1 - exp(-0.5 x 4) = 86.5 %
    soil, peak = (0.08 + 0.28 * 0.05) / 0.44, (0.08 + 0.28 * (1 - np.exp(-2.0))) / 0.44
    assert crop_ndvi[green == 0].max() == pytest.approx(soil, abs=0.02)
    assert crop_ndvi.max() == pytest.approx(peak, abs=0.03)
    assert np.corrcoef(green, crop_ndvi)[0, 1] > 0.95
    # saturation: at half the season's greenness the NDVI is well over half way
    half = (crop_ndvi - soil) / (peak - soil)
    mid = (green > 0.3) & (green < 0.7)
    assert mid.any() and (half[mid] > green[mid] + 0.1).all()
    assert max(campus_ndvi) < 0.08 / 0.44 + 0.02 and np.ptp(campus_ndvi) < 0.01  # paved


def test_reflectance_leaves_the_thermal_bands_as_they_were(tmp_path):
    # the reflectance draws come after every thermal draw, on a stream of their own: band 10
    # and QA of a world are those written before the products carried SR_B4 and SR_B5
    # (content hash of the world below, MTLs and reflectance left out, on 4f725ba)
    spec = make_spec(n_acquisitions=2, center_lat=-33.9, center_lon=151.0)
    generate_world(spec, tmp_path, night_looks=(1,))
    thermal = content_sha256(tmp_path, skip=lambda name: "_SR_B" in name or "_MTL." in name)
    assert thermal == "e6f326500b1d20b15dbc487163b906b43dd757f5c5c6210550c2398acb23aef5"
    assert len(list(tmp_path.glob("*_SR_B[45].TIF"))) == 4  # two day products, no night one


def test_rooftop_heat_spreads_over_the_footprint_yard_heat_concentrates(tmp_path):
    later = date(2030, 1, 1)
    peaks = {}
    for layout in ("yard", "roof"):
        camp = CAMPUS.model_copy(update={"heat_layout": layout})
        off = camp.model_copy(update={"onset": later})
        on = generate_world(make_spec(campuses=(camp,)), tmp_path / layout)
        idle = generate_world(make_spec(campuses=(off,)), tmp_path / f"{layout}-idle")
        a, b = on.acquisitions[0], idle.acquisitions[0]
        diff = kelvin(tmp_path / layout, a.product_id) - kelvin(tmp_path / f"{layout}-idle",
                                                                b.product_id)
        c = on.campus("S1")
        assert float(diff.sum()) * 900.0 == pytest.approx(c.k_m2_per_mw * 150.0, rel=0.02)
        peaks[layout] = float(diff.max())
    # 150 MW at 375 W/m2 and ~4000 K m2/MW: 1.5 K over the whole footprint, ~10 K on the yards
    assert 1.0 < peaks["roof"] < 2.5
    assert peaks["yard"] > 6.0


def test_halls_roofed_before_power_on(tmp_path):
    camp = CAMPUS.model_copy(update={"built": date(2024, 6, 5), "onset": date(2024, 6, 15)})
    stood = camp.model_copy(update={"built": None})
    late = generate_world(make_spec(campuses=(camp,)), tmp_path / "a")
    always = generate_world(make_spec(campuses=(stood,)), tmp_path / "b")
    win = pixel_window(late, late.campus("S1").footprint_utm)
    for a, b, lk in zip(late.acquisitions, always.acquisitions, late.campus("S1").looks,
                        strict=True):
        diff = kelvin(tmp_path / "a", a.product_id) - kelvin(tmp_path / "b", b.product_id)
        if a.date < camp.built:
            assert diff[win].mean() < -0.5 and not lk.active  # bare ground, cooler than roofs
        else:
            assert np.abs(diff).max() < ST_MULT
    assert [lk.active for lk in late.campus("S1").looks] == [False, False, True, True]
    with pytest.raises(ValidationError, match="need an onset"):
        CampusSpec.model_validate(CAMPUS.model_dump() | {"built": date(2024, 6, 5)})


def test_widen_draws_every_family_from_broad_ranges_and_keeps_the_rest():
    from models.world_spec import widen

    worlds = [widen(random_spec(s)) for s in range(30)]
    land = [w.land for w in worlds]
    assert all(0.3 <= x.static_k <= 1.0 and 500 <= x.static_scale_m <= 3000 for x in land)
    assert all(0.3 <= x.crop_share <= 1.0 and 0.4 <= x.crop_depth <= 0.9 for x in land)
    assert np.ptp([x.static_k for x in land]) > 0.4
    layouts = [c.heat_layout for w in worlds for c in w.campuses]
    assert 0.25 < layouts.count("roof") / len(layouts) < 0.75
    built = [c for w in worlds for c in w.campuses if c.built is not None]
    assert built and all(c.onset is not None and c.built < c.onset for c in built)
    base = random_spec(4)
    wide = widen(base)
    assert [c.power_mw for c in wide.campuses] == [c.power_mw for c in base.campuses]
    assert wide.warehouses == base.warehouses and wide.construction == base.construction
    assert widen(base) == wide  # deterministic


def test_night_looks_are_level1_night_scenes_beside_an_unchanged_world(tmp_path):
    spec = make_spec()
    plain = generate_world(spec, tmp_path / "plain")
    night = generate_world(spec, tmp_path / "night", night_looks=(1,))
    a, b = sha256_tree(tmp_path / "plain"), sha256_tree(tmp_path / "night")
    extra = sorted(set(b) - set(a))
    # the Level-2 products, sites and truth are byte-identical; a night L1 product is added
    assert {k: b[k] for k in a} == a and plain == night
    pid = extra[0].removesuffix("_B10.TIF")
    assert "_L1TP_" in pid and extra == [f"{pid}_B10.TIF", f"{pid}_MTL.txt", "night.json"]
    meta = read_mtl(tmp_path / "night" / f"{pid}_MTL.txt")
    assert (meta.day_night, meta.day_night_source) == ("NIGHT", "DAY_NIGHT_FLAG")
    assert meta.sun_elevation < 0 and meta.level == "L1"
    assert (meta.acquired - plain.acquisitions[1].acquired).total_seconds() == 12 * 3600
    # no sun: the campus excess over its surroundings is its compute heat alone
    from pipeline.io.reader import discover_products, read_scene

    products, _ = discover_products(tmp_path / "night")
    ds = read_scene(next(p for p in products if p.level == "L1"))
    camp = night.campus("S1")
    win = pixel_window(night, camp.footprint_utm, buffer_m=300.0)
    t = ds["temperature"].values
    integral = float(np.nansum(t[win] - np.nanmedian(t))) * 30.0**2  # against the scene
    assert integral == pytest.approx(camp.k_m2_per_mw * 150.0, rel=0.25)
    info = json.loads((tmp_path / "night" / "night.json").read_text())
    assert info[0]["excess_k_m2"]["S1"] == pytest.approx(camp.k_m2_per_mw * 150.0)


#: Content hash (arrays, CRS, transform, MTL/JSON text) of a small southern world with a night
#: look, measured on the code before the world's own grid became a pipeline.core.grid.Grid (#21).
#: Re-pinned when LandSpec gained ``crop_year_days``: truth.json's spec holds the new field
#: (0.0); every other file, every TIFF included, is byte-identical to the world made before.
#: Re-pinned when the day products gained SR_B4 and SR_B5 (and their MTL keys); band 10 and QA
#: are unchanged (test_reflectance_leaves_the_thermal_bands_as_they_were).
WORLD_CONTENT_SHA256 = "3a52e5729a1fc99626fd52fc8dc757a83be844ed9271dca8fbf249f940821969"


def test_world_grid_is_the_pipeline_grid_and_products_are_unchanged(tmp_path):
    from models.world import _Grid
    from pipeline.core.grid import Grid

    spec = make_spec(n_acquisitions=2, center_lat=-33.9, center_lon=151.0)
    truth = generate_world(spec, tmp_path, night_looks=(1,))
    grid = _Grid.from_spec(spec).grid
    assert isinstance(grid, Grid) and grid.shape == (96, 96) and grid.crs.to_epsg() == 32656
    assert tuple(grid.transform)[:6] == tuple(truth.grid.transform)
    x, y = grid.coords()[1][0], grid.coords()[0][0]
    assert x % 30.0 == 0.0 and y % 30.0 == 0.0  # pixel centres on the USGS 30 m lattice
    assert content_sha256(tmp_path) == WORLD_CONTENT_SHA256


def test_truth_finds_a_campus_by_id_or_by_an_uncatalogued_site_over_it():
    from shapely.geometry import box

    from models.world_spec import CampusTruth

    def campus(site_id, x0, y0, side):
        ring = [(x0, y0), (x0, y0 + side), (x0 + side, y0 + side), (x0 + side, y0), (x0, y0)]
        return CampusTruth.model_construct(site_id=site_id, footprint_lonlat=ring)

    truth = WorldTruth.model_construct(campuses=[campus("A", 0, 0, 1), campus("NEW", 5, 5, 1),
                                                 campus("LOST", 9, 9, 0.5)])
    rows = [{"site_id": "A", "in_catalog": True, "geometry": box(0, 0, 1, 1)},
            {"site_id": "B", "in_catalog": True, "geometry": box(5, 5, 6, 6)},  # catalogued
            {"site_id": "candidate-2", "in_catalog": False, "geometry": None},
            {"site_id": "candidate-1", "in_catalog": False, "geometry": box(5.5, 5.5, 7, 7)}]
    found = [(c.site_id, None if r is None else r["site_id"]) for c, r in truth.found(rows)]
    assert found == [("A", "A"), ("NEW", "candidate-1"), ("LOST", None)]


def test_a_crop_season_comes_early_or_late_from_year_to_year_only_when_asked():
    """``LandSpec.crop_year_days``: each year's green season shifts by one draw for the whole
    world, within the bound; at 0 every year's season is the same (the suites' worlds)."""
    from models.world import _Crops

    peak = np.array([[190.0, 200.0]], np.float32)
    mask, loss = np.ones((1, 2), bool), np.ones((1, 2), np.float32)
    same = _Crops(mask, loss, peak, 195.0, 0.0, seed=7)
    moved = _Crops(mask, loss, peak, 195.0, 14.0, seed=7)
    for year in (2023, 2024, 2025):
        # the season of each parcel: a raised cosine of 100 days about its peak day
        days = [date.fromordinal(date(year, 1, 1).toordinal() + k) for k in range(120, 270)]
        g_same = np.array([same.green(d, 100.0)[0] for d in days])
        g_moved = np.array([moved.green(d, 100.0)[0] for d in days])
        doy = np.array([d.timetuple().tm_yday for d in days])
        assert np.allclose(g_same[:, 0], np.where(abs(doy - 190) < 50,
                                                  np.cos(np.pi * (doy - 190) / 100) ** 2, 0),
                           atol=1e-6)
        # moved: the same shape, peaking up to 14 days away, both parcels by the same days
        top = doy[np.argmax(g_moved, axis=0)] - np.array([190, 200])
        assert abs(top[0] - top[1]) <= 1 and abs(top[0]) <= 14
        assert abs(top[0] - moved.year_shift(days[60])) <= 1
    shifts = {moved.year_shift(date(y, 7, 14)) for y in range(2015, 2025)}
    assert len(shifts) == 10 and all(-14 <= s <= 14 for s in shifts)
    # the season's year is the one of the nearest peak: early January belongs to the year
    # before for a peak in December (the world's peak day 350)
    dec = _Crops(mask, loss, peak, 350.0, 14.0, seed=7)
    assert dec.year_shift(date(2024, 1, 5)) == dec.year_shift(date(2023, 12, 1))
    assert same.year_shift(date(2024, 7, 1)) == 0.0
