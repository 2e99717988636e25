"""Verdicts under false declarations: uniform 3x, and one campus 3x (issue 19, point 2).

A tiny cloud-free world of five dry campuses, all catalogued with honest declared powers and
running from March on; its truth coefficient (3,000 K m2/MW) lies inside the physics interval
(about 1,650-5,660 K m2/MW, from the facts alone). Only the declarations change between scans.
"""

from __future__ import annotations

from datetime import date

import pytest

from aoi.sites import read_sites
from models.world import generate_world
from models.world_spec import CampusSpec, WorldSpec
from pipeline.core.config import load_config
from pipeline.scan.run import run_scan

POWER = {"A": 300, "B": 150, "C": 200, "D": 120, "E": 250}
PLACE = {"A": (-2.2, -2.2), "B": (2.2, -2.2), "C": (-2.2, 2.2), "D": (2.2, 2.2), "E": (0.0, 0.0)}
OVER = "refuted: over-declared"


@pytest.fixture(scope="module")
def scans(tmp_path_factory):  # type: ignore[no-untyped-def]
    campuses = tuple(CampusSpec(site_id=s, name=s, x_km=PLACE[s][0], y_km=PLACE[s][1],
                                power_mw=p, reported_power_mw=p, power_density_w_m2=450,
                                onset=date(2024, 3, 1)) for s, p in POWER.items())
    spec = WorldSpec(seed=11, name="calibration", center_lat=38.0, center_lon=-99.0,
                     size_px=260, start=date(2024, 1, 4), n_acquisitions=30, cloudiness=0.0,
                     edge_fill_probability=0.0, k_m2_per_mw_dry=3000.0, campuses=campuses)
    out = tmp_path_factory.mktemp("calib-world")
    generate_world(spec, out)
    sites = read_sites(out / "sites.geojson")
    cfg = load_config(environ={})

    def scan(liars: tuple[str, ...]):  # type: ignore[no-untyped-def]
        s = sites.copy()
        lie = s["site_id"].isin(liars)
        s.loc[lie, "reported_power_mw"] = 3 * s.loc[lie, "reported_power_mw"]
        return run_scan(out, cfg, sites=s)

    honest = scan(())
    return {"honest": honest.sites.set_index("site_id"),
            "all": scan(tuple(POWER)).sites.set_index("site_id"),
            "A": scan(("A",)).sites.set_index("site_id"), "result": honest, "config": cfg}


def test_honest_declarations_are_not_refuted_by_either_coefficient(scans) -> None:  # type: ignore[no-untyped-def]
    rows = scans["honest"]
    assert set(rows["verdict"]) == {"not refuted"}
    assert set(rows["verdict_physics"]) == {"not refuted"}
    assert set(rows["calibration_agreement"]) == {"agree"}
    # each verdict names the other sites' declarations, never its own
    for sid, row in rows.iterrows():
        assert sid not in row["verdict_calibration"].split("declarations of ")[1].split(", ")


def test_uniform_3x_is_absorbed_by_the_fitted_coefficient_and_refuted_by_physics(scans) -> None:  # type: ignore[no-untyped-def]
    rows = scans["all"]
    # the fitted coefficient sees only 3x declarations: every heat 3x, nothing refuted
    assert set(rows["verdict"]) == {"not refuted"}
    # the physics coefficient saw none: it refutes wherever its heat interval lies wholly
    # below the 3x declaration's training draw (0.75 x declared, energy.yaml utilization)
    allows = rows["heat_mw_physics_high"] < 0.75 * rows["reported_power_mw"]
    assert ((rows["verdict_physics"] == OVER) == allows).all()
    assert allows.sum() >= 3
    # and every row says the two coefficients disagree (fitted ~1,000 K m2/MW: outside)
    assert set(rows["calibration_agreement"]) == {"disagree"}
    assert rows["calibration_note"].str.contains("outside the physics interval").all()
    # the heat behind the physics verdict does not depend on any declaration
    honest = scans["honest"]
    assert rows["heat_mw_physics"].to_dict() == honest["heat_mw_physics"].to_dict()


def test_a_lone_3x_claim_is_refuted_and_leaves_honest_sites_alone(scans) -> None:  # type: ignore[no-untyped-def]
    rows, honest = scans["A"], scans["honest"]
    assert rows.loc["A", "verdict"] == OVER
    assert rows.loc["A", "verdict_margin"] > 1  # intervals apart by that factor
    # A's heat is made without A's declaration: the same as when A was honest
    cols = ["heat_mw", "heat_mw_low", "heat_mw_high"]
    assert rows.loc["A", cols].tolist() == honest.loc["A", cols].tolist()
    others = [s for s in POWER if s != "A"]
    assert rows.loc[others, "verdict"].tolist() == honest.loc[others, "verdict"].tolist()


def test_the_benchmark_experiment_redoes_the_scans_verdicts(scans) -> None:  # type: ignore[no-untyped-def]
    # bench/misclaim.py redoes the verdicts from one honest scan (no rescan): the same
    # figures as the three scans above
    from bench.misclaim import misclaim_world, summarise

    result = scans["result"]
    w = misclaim_world(result.sites, result.run, scans["config"])
    assert w is not None and w["n_declaring"] == 5
    assert w["honest"]["fitted"] == scans["honest"]["verdict"].tolist()
    assert w["uniform"]["physics"] == scans["all"]["verdict_physics"].tolist()
    assert w["lone"]["site_id"] == "A" and w["lone"]["fitted"] == OVER
    s = summarise([w, None])
    assert s["uniform_refuted_fitted"] == [0, 5]
    assert s["uniform_refuted_physics"][0] >= 3
    assert s["lone_refuted_fitted"] == [1, 1] and s["lone_honest_changed"] == [0, 4]
    # the guard: under uniform 3x every fitted coefficient (~1,000 K m2/MW) is flagged
    assert s["uniform_coefficient_flagged"] == [5, 5] and s["honest_coefficient_flagged"] == [0, 5]
