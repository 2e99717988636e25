"""The ring-season benchmark (bench/ring_season.py): its arithmetic and a small world."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``bench`` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import ring_season  # noqa: E402


def test_a_ring_cooling_by_one_kelvin_over_a_square_km_is_its_excess_in_mw():
    # half the ring loses 4 K per unit of sun at half a sun on the second look: its mean cools
    # by 1 K; over 1 km2 that is 1e6 K m2, 200 MW at 5,000 K m2 per MW; the first look is 0
    loss = np.zeros((2, 2, 2))
    loss[1, 0, :] = 4.0
    ring = np.ones((2, 2), bool)
    assert ring_season.ring_season_mw(loss, np.array([0.5, 0.5]), ring, 1.0e6,
                                      5000.0) == pytest.approx(200.0)
    # pixels off the ring do not count
    ring[0, :] = False
    assert ring_season.ring_season_mw(loss, np.array([0.5, 0.5]), ring, 1.0e6, 5000.0) == 0.0


def test_a_scan_mask_lands_on_the_world_grid_where_its_transform_puts_it():
    m = np.zeros((2, 3), bool)
    m[1, 2] = True
    # the scan's origin is 2 rows down and 2 columns right of the world's
    out = ring_season.on_world_grid(m, Affine(30, 0, 60, 0, -30, 900),
                                    Affine(30, 0, 0, 0, -30, 960), (5, 6))
    assert np.argwhere(out).tolist() == [[3, 4]]
    with pytest.raises(ValueError, match="does not lie inside"):
        ring_season.on_world_grid(m, Affine(30, 0, 150, 0, -30, 900),
                                  Affine(30, 0, 0, 0, -30, 960), (5, 6))


def test_what_a_campus_did_is_read_as_the_accuracy_criteria_read_it():
    from types import SimpleNamespace

    def campus(*on: bool) -> SimpleNamespace:
        return SimpleNamespace(looks=[SimpleNamespace(active=a) for a in on],
                               status_at_end="active" if on[-1] else "inactive")

    kinds = [ring_season.change_kind(campus(*a)) for a in
             ([True] * 3, [False, True, True], [True, True, False], [False] * 2,
              [False, True, False], [True, False, True])]
    # heat that came and went ends off: a shutdown to the criteria (right status `inactive`);
    # a gap inside the series that ends on is no change to them
    assert kinds == ["running all series", "powers on", "shuts down", "off all series",
                     "shuts down", "running all series"]


def test_the_summary_counts_spurious_changes_and_wrong_statuses_by_band():
    recs = [{"ring_season_mw": m, "truth": t, "pattern": p, "right_final_status": r}
            for m, t, p, r in ((10.0, "running all series", "always", None),
                               (90.0, "running all series", "onset", None),
                               (90.0, "running all series", "window", None),
                               (90.0, "shuts down", "always", False),
                               (200.0, "powers on", "onset", True))]
    s = {b["band"]: b for b in ring_season.summarise(recs)}
    assert [s[b]["campuses"] for b in ("0-25 MW", "25-75 MW", "75-150 MW", "150+ MW")] == \
        [1, 0, 3, 1]
    assert (s["75-150 MW"]["running_all_series"], s["75-150 MW"]["fitted_a_change"]) == (2, 2)
    assert (s["75-150 MW"]["changes"], s["75-150 MW"]["wrong_status"]) == (1, 1)
    assert (s["150+ MW"]["changes"], s["150+ MW"]["wrong_status"]) == (1, 0)
    table = ring_season.markdown(ring_season.summarise(recs))
    assert "| 75-150 MW | 3 | 2 of 2 | 1 of 1 |" in table


def test_a_listed_campus_among_crops_has_a_ring_season_and_none_without_them(tmp_path):
    from models.world_spec import LandSpec, random_spec
    from pipeline.core.config import Config

    base = random_spec(3, size_px=128, n_acquisitions=12, n_campuses=1, confusers=False)
    base = base.model_validate(base.model_dump() | {"start": date(2024, 5, 1)})
    crops = base.model_validate(base.model_dump() | {"land": LandSpec(
        crop_share=1.0, crop_depth=0.8, crop_peak_doy=180, crop_season_days=80,
        crop_jitter_days=0.0).model_dump()})
    plain = ring_season.site_records(base, tmp_path / "plain", Config())
    seasonal = ring_season.site_records(crops, tmp_path / "crops", Config())
    assert plain and len(seasonal) == len(plain)
    assert all(r["ring_season_mw"] == 0.0 and r["ring_crop_share"] == 0.0 for r in plain)
    assert any(r["ring_season_mw"] > 0.0 and r["ring_crop_share"] > 0.0 for r in seasonal)
    for r in seasonal:
        assert {"world", "site", "truth", "visible_mw", "status", "pattern",
                "right_final_status"} <= set(r)


def test_the_season_shift_is_the_ring_cooling_after_the_onset_less_before(tmp_path):
    # crops at their peak on the last looks only: a power-on before them sees the ring cool
    # after it (a positive shift, a rise added to its step); without an onset there is no shift
    from bench.accuracy import scan_world
    from models.world_spec import LandSpec, random_spec
    from pipeline.core.config import Config

    spec = random_spec(3, size_px=128, n_acquisitions=12, n_campuses=1, confusers=False)
    spec = spec.model_validate(spec.model_dump() | {
        "start": date(2024, 4, 1), "cloudiness": 0.0,
        "land": LandSpec(crop_share=1.0, crop_depth=0.8, crop_peak_doy=200,
                         crop_season_days=60, crop_jitter_days=0.0).model_dump()})
    truth, result, _ = scan_world(spec, tmp_path, Config())
    sid = truth.campuses[0].site_id
    assert truth.campuses[0].in_catalog and sid in result.masks
    after = ring_season.ring_season(spec, truth, result, sid, date(2024, 6, 1))
    assert after["ring_season_mw"] > 0.0 and after["season_shift_mw"] > 0.0
    assert np.isnan(ring_season.ring_season(spec, truth, result, sid)["season_shift_mw"])
