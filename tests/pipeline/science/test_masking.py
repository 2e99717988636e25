"""Pixel masks: QA_PIXEL bits on the real cloudy Colombia scene, plausible range, snow/water."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from pipeline.io.reader import discover_products, read_scene
from pipeline.science.calibrate import st_to_kelvin
from pipeline.science.masking import FLAG_ATTRS, MASKING, Flag, build_flags, usable
from pipeline.science.qa import QABit, any_bits, bit_set, encode
from tests.conftest import COLOMBIA, shared_sample

PID = "LC08_L2SP_008059_20191201_20200825_02_T1"


@pytest.fixture(scope="module")
def colombia_arrays() -> tuple[np.ndarray, np.ndarray]:
    folder = shared_sample(COLOMBIA)
    with rasterio.open(folder / f"{PID}_ST_B10.TIF") as st, \
            rasterio.open(folder / f"{PID}_QA_PIXEL.TIF") as qa:
        return st.read(1), qa.read(1)


# QA_PIXEL bit fractions written in SOURCE.txt of the sample.
SOURCE_FRACTIONS = {
    QABit.FILL: 0.31, QABit.DILATED_CLOUD: 0.02, QABit.CIRRUS: 0.04, QABit.CLOUD: 0.56,
    QABit.CLOUD_SHADOW: 0.04, QABit.CLEAR: 0.11,
}


@pytest.mark.parametrize("bit", list(SOURCE_FRACTIONS))
def test_qa_bit_fractions_match_source_notes(colombia_arrays, bit: QABit) -> None:
    _, qa = colombia_arrays
    assert float(bit_set(qa, bit).mean()) == pytest.approx(SOURCE_FRACTIONS[bit], abs=0.01)


def _flags(st: np.ndarray, qa: np.ndarray) -> np.ndarray:
    return build_flags(st_to_kelvin(st, mult=0.00341802, add=149.0), qa)


def test_the_150_kelvin_pixels_are_all_masked(colombia_arrays) -> None:
    st, qa = colombia_arrays
    at_150k = st == 293
    assert int(at_150k.sum()) == 2297  # SOURCE.txt
    flags = _flags(st, qa)
    assert not usable(flags)[at_150k].any()
    # masked by the plausible range even where QA says nothing (a few are only "fill")
    assert ((flags[at_150k] & Flag.IMPLAUSIBLE) != 0).all()


def test_zero_dn_where_qa_is_not_fill_is_masked(colombia_arrays) -> None:
    st, qa = colombia_arrays
    quirk = (st == 0) & ~bit_set(qa, QABit.FILL)
    assert int(quirk.sum()) == 2995  # SOURCE.txt
    flags = _flags(st, qa)
    assert not usable(flags)[quirk].any()
    assert ((flags[quirk] & Flag.FILL) != 0).all()


def test_clear_pixel_temperatures_match_source_notes(colombia_arrays) -> None:
    st, qa = colombia_arrays
    kelvin = st_to_kelvin(st, mult=0.00341802, add=149.0)
    clear = bit_set(qa, QABit.CLEAR) & np.isfinite(kelvin)
    p1, p99 = np.percentile(kelvin[clear], [1, 99])
    assert p1 == pytest.approx(291.0, abs=0.5)  # SOURCE.txt: 291-314 K (p1-p99)
    assert p99 == pytest.approx(314.0, abs=0.5)


def test_every_qa_masking_bit_is_masked(colombia_arrays) -> None:
    st, qa = colombia_arrays
    flags = _flags(st, qa)
    qa_bad = any_bits(qa, (QABit.FILL, QABit.DILATED_CLOUD, QABit.CIRRUS, QABit.CLOUD,
                           QABit.CLOUD_SHADOW))
    assert not usable(flags)[qa_bad].any()
    # what is left is at most the QA clear + water pixels
    assert usable(flags).mean() <= bit_set(qa, QABit.CLEAR).mean() + bit_set(qa, QABit.WATER).mean()


def test_water_is_a_flag_not_a_mask_on_the_real_scene(colombia_arrays) -> None:
    st, qa = colombia_arrays
    flags = _flags(st, qa)
    only_water = bit_set(qa, QABit.WATER) & ~any_bits(qa, (0, 1, 2, 3, 4))
    assert only_water.sum() > 0
    assert ((flags[only_water] & Flag.WATER) != 0).all()
    kelvin = st_to_kelvin(st, mult=0.00341802, add=149.0)
    plausible = (kelvin >= 220) & (kelvin <= 350)
    assert usable(flags)[only_water & plausible].all()


def test_read_scene_masks_the_colombia_quirks(colombia_arrays) -> None:
    st, _ = colombia_arrays
    products, _ = discover_products(shared_sample(COLOMBIA))
    ds = read_scene(products[0])
    t = ds["temperature"].values
    assert np.isnan(t[st == 293]).all()
    assert np.isnan(t[st == 0]).all()
    good = t[np.isfinite(t)]
    assert good.min() >= 220.0 and good.max() <= 350.0
    p1, p99 = np.percentile(good, [1, 99])
    assert 290.0 < p1 and p99 < 315.0
    assert (np.isfinite(t) == usable(ds["flags"].values)).all()


def test_snow_and_water_are_kept_synthetic() -> None:
    shape = (4, 4)
    snow = np.zeros(shape, bool)
    snow[0, :] = True
    water = np.zeros(shape, bool)
    water[1, :] = True
    cloud = np.zeros(shape, bool)
    cloud[2, :2] = True
    shadow = np.zeros(shape, bool)
    shadow[2, 2:] = True
    qa = encode(snow=snow, water=water, cloud=cloud, shadow=shadow)
    flags = build_flags(np.full(shape, 280.0), qa)
    assert (flags[0] == Flag.SNOW).all() and usable(flags)[0].all()
    assert (flags[1] == Flag.WATER).all() and usable(flags)[1].all()
    assert (flags[2, :2] == Flag.CLOUD).all() and (flags[2, 2:] == Flag.SHADOW).all()
    assert (flags[3] == 0).all()
    # USGS sets "clear" on water too, never on snow, cloud or shadow
    assert bit_set(qa[[1, 3]], QABit.CLEAR).all()
    assert not bit_set(qa[[0, 2]], QABit.CLEAR).any()


def test_fill_and_implausible_without_qa() -> None:
    kelvin = np.array([300.0, 150.0, np.nan, 219.9, 350.1, 220.0, 372.5])
    # no upper bound by default: hot pixels up to the 373 K ceiling are data
    assert build_flags(kelvin, None).tolist() == [0, Flag.IMPLAUSIBLE, Flag.FILL,
                                                  Flag.IMPLAUSIBLE, 0, 0, 0]
    bounded = build_flags(kelvin, None, plausible=(220.0, 350.0))
    assert bounded.tolist() == [0, Flag.IMPLAUSIBLE, Flag.FILL, Flag.IMPLAUSIBLE,
                                Flag.IMPLAUSIBLE, 0, Flag.IMPLAUSIBLE]


def test_saturated_is_a_flag_not_a_mask_and_fill_wins() -> None:
    kelvin = np.array([373.0, np.nan, 373.0])
    sat = np.array([True, True, False])
    flags = build_flags(kelvin, None, saturated=sat)
    assert flags.tolist() == [Flag.SATURATED, Flag.FILL, 0]
    assert usable(flags).tolist() == [True, False, True]
    assert not MASKING & Flag.SATURATED


def test_qa_mask_bits_choose_what_masks() -> None:
    cirrus = encode(cirrus=np.array([True]))
    assert not usable(build_flags(np.array([300.0]), cirrus)).any()
    assert usable(build_flags(np.array([300.0]), cirrus, qa_mask_bits=(0, 1, 3, 4))).all()
    fill = encode(fill=np.array([True]))
    assert build_flags(np.array([300.0]), fill)[0] == Flag.FILL


def test_flag_attributes_are_cf() -> None:
    masks = FLAG_ATTRS["flag_masks"]
    assert len(masks) == len(FLAG_ATTRS["flag_meanings"].split())
    assert int(np.bitwise_or.reduce(masks)) == 127
    assert MASKING == Flag.FILL | Flag.CLOUD | Flag.SHADOW | Flag.IMPLAUSIBLE
