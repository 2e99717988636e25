"""Scenes in time order on one grid: ordering, same-day duplicates, skipped scenes."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from pipeline.core.errors import NoDataError
from pipeline.core.grid import Grid
from pipeline.io.reader import discover_products
from pipeline.io.stack import SceneLog, iter_scenes, order_products, stack_scenes
from tests.conftest import CRS_UTM18N, ORIGIN, RES, SIZE, c2write_qa

GRID = Grid.from_bounds(CRS_UTM18N, (ORIGIN[0], ORIGIN[1] - SIZE * RES, ORIGIN[0] + SIZE * RES,
                                     ORIGIN[1]), RES)


def _products(root):
    products, problems = discover_products(root)
    assert problems == []
    return products


def test_scenes_come_in_time_order_whatever_the_file_order(make_product) -> None:
    days = [datetime(2024, 3, 1, 15), datetime(2023, 12, 24, 15), datetime(2024, 1, 15, 15),
            datetime(2024, 2, 10, 15)]
    for i, day in enumerate(days):
        make_product.l2(acquired=day, wrs=(12 + i, 31), seed=i)  # ids do not sort by time
    products = _products(make_product.root)
    for order in (products, products[::-1], [products[i] for i in (2, 0, 3, 1)]):
        log = SceneLog()
        scenes = list(iter_scenes(order, GRID, log=log))
        times = [s.attrs["acquisition_time"][:10] for s in scenes]
        assert times == ["2023-12-24", "2024-01-15", "2024-02-10", "2024-03-01"]
        assert log.skipped == [] and len(log.used) == 4
    stacked = stack_scenes(scenes)
    assert stacked["temperature"].dims == ("time", "y", "x")
    assert stacked["temperature"].shape == (4, SIZE, SIZE)
    assert (np.diff(stacked["time"].values) > np.timedelta64(0)).all()
    assert list(stacked["product_id"].values) == [s.attrs["product_id"] for s in scenes]
    assert stacked.rio.crs == CRS_UTM18N


@pytest.mark.parametrize("cloudy", [8, 9])
def test_same_day_keeps_the_clearer_scene(make_product, cloudy: int) -> None:
    half = np.zeros((SIZE, SIZE), bool)
    half[: SIZE // 2] = True
    made = {}
    for sc, minute in ((8, 30), (9, 38)):
        qa = c2write_qa((SIZE, SIZE), cloud=half) if sc == cloudy else True
        made[sc] = make_product.l2(spacecraft=sc, acquired=datetime(2024, 6, 1, 15, minute),
                                   qa=qa)
    make_product.l2(spacecraft=8, acquired=datetime(2024, 6, 17, 15, 30))
    log = SceneLog()
    scenes = list(iter_scenes(_products(make_product.root), GRID, log=log))
    kept = made[17 - cloudy]
    assert scenes[0].attrs["product_id"] == kept.pid
    assert len(scenes) == 2
    assert scenes[0].attrs["clear_fraction"] == 1.0
    assert len(log.skipped) == 1
    assert made[cloudy].pid in str(log.skipped[0].path)
    assert "same day" in log.skipped[0].message and kept.pid in log.skipped[0].message
    assert [u["product_id"] for u in log.used] == [kept.pid, scenes[1].attrs["product_id"]]


def test_all_cloud_scene_is_skipped_with_a_message(make_product) -> None:
    everywhere = np.ones((SIZE, SIZE), bool)
    cloudy = make_product.l2(acquired=datetime(2024, 6, 1, 15), qa=c2write_qa(
        (SIZE, SIZE), cloud=everywhere))
    clear = make_product.l2(acquired=datetime(2024, 6, 20, 15))
    log = SceneLog()
    scenes = list(iter_scenes(_products(make_product.root), GRID, log=log))
    assert [s.attrs["product_id"] for s in scenes] == [clear.pid]
    assert [p.path for p in log.skipped] == [cloudy.band]
    assert "no clear pixel" in log.skipped[0].message


def test_corrupt_and_unreadable_products_are_skipped_and_the_run_goes_on(make_product) -> None:
    good = [make_product.l2(acquired=datetime(2024, 6, d, 15), wrs=(12, 30 + d)) for d in (1, 9)]
    broken = make_product.l2(acquired=datetime(2024, 6, 5, 15), wrs=(12, 40))
    data = broken.band.read_bytes()
    broken.band.write_bytes(data[:300])
    bad_mtl = make_product.l2(acquired=datetime(2024, 6, 7, 15), wrs=(12, 41))
    bad_mtl.mtl.write_text("{ not json")
    seen = []
    log = SceneLog()
    scenes = list(iter_scenes(_products(make_product.root), GRID, log=log,
                              on_scene=lambda p: seen.append(p.product_id)))
    assert [s.attrs["product_id"] for s in scenes] == [g.pid for g in good]
    skipped = {p.path: p.message for p in log.skipped}
    assert set(skipped) == {broken.band, bad_mtl.band}
    assert "corrupt" in skipped[broken.band]
    assert "not a valid Landsat MTL" in skipped[bad_mtl.band]
    assert bad_mtl.pid not in seen  # dropped while ordering, before reading


def test_scene_outside_the_grid_is_skipped(make_product) -> None:
    inside = make_product.l2(acquired=datetime(2024, 6, 1, 15))
    outside = make_product.l2(acquired=datetime(2024, 6, 2, 15), origin=(700_020.0, 4_500_000.0))
    log = SceneLog()
    scenes = list(iter_scenes(_products(make_product.root), GRID, log=log))
    assert [s.attrs["product_id"] for s in scenes] == [inside.pid]
    assert log.skipped[0].path == outside.band and "overlap" in log.skipped[0].message


def test_order_products_drops_unreadable_mtl(make_product) -> None:
    a = make_product.l2()
    a.mtl.write_text("")
    log = SceneLog()
    assert order_products(_products(make_product.root), log) == []
    assert log.skipped[0].path == a.band


def test_stack_of_nothing_is_a_no_data_error() -> None:
    with pytest.raises(NoDataError, match="no usable scene"):
        stack_scenes([])


def test_a_night_and_a_day_look_of_one_date_are_both_kept(make_product) -> None:
    from pipeline.io.mtl import read_mtl_groups, write_mtl

    night = make_product.l1(acquired=datetime(2024, 6, 1, 3, 10), qa=None)
    groups = read_mtl_groups(night.mtl)
    groups["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"] = "-30.0"  # no flag: the sun decides
    write_mtl(groups, night.mtl)
    day = make_product.l2(acquired=datetime(2024, 6, 1, 15, 30))
    log = SceneLog()
    scenes = list(iter_scenes(_products(make_product.root), GRID, log=log))
    assert [(s.attrs["product_id"], s.attrs["day_night"]) for s in scenes] == [
        (night.pid, "NIGHT"), (day.pid, "DAY")]
    assert log.skipped == [] and [u["day_night"] for u in log.used] == ["NIGHT", "DAY"]
    assert list(stack_scenes(scenes)["day_night"].values) == ["NIGHT", "DAY"]
