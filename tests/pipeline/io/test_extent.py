"""One owner of a product's extent: SceneMetadata.bounds (scan, discover and reader use it)."""

import rasterio
from rasterio.crs import CRS

from models.world import generate_world
from pipeline.discover.run import _footprints
from pipeline.io.mtl import read_mtl
from pipeline.io.reader import discover_products, product_extent
from pipeline.scan.area import imagery_bounds
from tests.support.worlds import make_spec


def test_extent_is_the_rasters_pixel_edges(tmp_path):
    generate_world(make_spec(n_acquisitions=2, center_lat=-33.9, center_lon=151.0), tmp_path)
    products, problems = discover_products(tmp_path)
    assert products and not problems
    for p in products:
        with rasterio.open(p.band) as src:
            want = (src.crs, tuple(src.bounds))
        meta = read_mtl(p.mtl)
        # MTL corners are pixel centres: the extent is half a 30 m cell outside them
        assert meta.bounds[0] == meta.ul_x - 15.0 and meta.bounds[3] == meta.ul_y + 15.0
        assert product_extent(p) == want
        assert want[0] == CRS.from_epsg(32656) and meta.epsg == 32656  # north zone, south site
        (_, crs, shape), = _footprints([p])
        assert (crs, shape.bounds) == want
    assert imagery_bounds(products)[1] == want[1]  # one world: every product on one grid
