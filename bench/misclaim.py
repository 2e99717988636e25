"""The 3x-declaration experiment: false declarations against the heat of one scan.

Every declaration in a generated world is honest. On the scan of a world the verdicts are
redone (:func:`pipeline.scan.verdicts.recheck`: no rescan, the declarations only feed the
coefficient and the test) under two lies:

* **uniform 3x**: every declaring campus declares 3x its power. The fitted coefficient sees only
  these declarations, so it shrinks 3x, every heat estimate grows 3x and nothing is refuted;
  the physics coefficient saw no declaration and refutes where the heat interval allows it
  (its upper end below the training draw of the 3x declaration);
* **lone 3x**: the largest declaring campus with heat (most clear looks on a tie) declares 3x,
  the others stay honest. Its own verdict uses a coefficient fitted without it (leave-one-out)
  and should refute it; the honest campuses' verdicts should not change.
"""

from __future__ import annotations

from typing import Any

from models.energy_check import OVER, REFUTED
from pipeline.scan.verdicts import recheck

#: The factor of the false declarations.
FACTOR = 3.0


def _declaring(rows: list[dict[str, Any]], fitted_on: list[str]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("in_catalog") and r["site_id"] in fitted_on
            and (r.get("excess_k_m2") or 0) > 0 and (r.get("reported_power_mw") or 0) > 0]


def misclaim_world(sites: Any, run: dict[str, Any], config: Any) -> dict[str, Any] | None:
    """Run both lies on one scan's site table; ``None`` without two declaring campuses."""
    fitted_on = list(run.get("calibration", {}).get("sites", []))
    rows = _declaring([dict(r) for r in sites.drop(columns="geometry").to_dict("records")],
                      fitted_on)
    if len(rows) < 2:
        return None
    honest = {r["site_id"]: float(r["reported_power_mw"]) for r in rows}
    base = recheck(rows, honest, config, calibration_sites=fitted_on)
    uniform = recheck(rows, {k: FACTOR * v for k, v in honest.items()}, config,
                      calibration_sites=fitted_on)
    liar = max(rows, key=lambda r: (float(r["reported_power_mw"]), r.get("n_clear") or 0))
    lone = recheck(rows, {**honest, liar["site_id"]: FACTOR * honest[liar["site_id"]]}, config,
                   calibration_sites=fitted_on)
    others = [s for s in honest if s != liar["site_id"]]

    def verdicts(res: dict[str, Any], mode: str, ids: list[str]) -> list[str]:
        return [res[s][mode]["verdict"] for s in ids if s in res]

    def flagged(res: dict[str, Any]) -> list[bool]:
        return [bool(res[s]["fitted"]["coefficient_flagged"]) for s in honest if s in res]

    return {
        "n_declaring": len(rows),
        "flagged": {"honest": flagged(base), "uniform": flagged(uniform)},
        "uniform": {m: verdicts(uniform, m, list(honest)) for m in ("fitted", "physics")},
        "honest": {m: verdicts(base, m, list(honest)) for m in ("fitted", "physics")},
        "lone": {"site_id": liar["site_id"],
                 **{m: _verdict_of(lone, liar["site_id"], m) for m in ("fitted", "physics")},
                 "others_before": verdicts(base, "fitted", others),
                 "others_after": verdicts(lone, "fitted", others)},
    }


def _verdict_of(res: dict[str, Any], site_id: str, mode: str) -> str | None:
    """Return a site's verdict under ``mode``, or ``None`` when it was not redone."""
    return res.get(site_id, {}).get(mode, {}).get("verdict")


def summarise(worlds: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Pool the experiment over worlds: how many verdicts refute each lie."""
    done = [w for w in worlds if w]

    def count(key: str, mode: str, hit: Any) -> list[int]:
        got = [v for w in done for v in w[key][mode]]
        return [sum(1 for v in got if hit(v)), len(got)]

    lone = [w["lone"] for w in done]
    before = [v for w in lone for v in w["others_before"]]
    after = [v for w in lone for v in w["others_after"]]
    return {
        "worlds": len(done), "factor": FACTOR,
        "uniform_refuted_fitted": count("uniform", "fitted", lambda v: v == OVER),
        "uniform_refuted_physics": count("uniform", "physics", lambda v: v == OVER),
        "honest_refuted_fitted": count("honest", "fitted", lambda v: v in REFUTED),
        "honest_refuted_physics": count("honest", "physics", lambda v: v in REFUTED),
        "honest_coefficient_flagged": [sum(f for w in done for f in w["flagged"]["honest"]),
                                       sum(len(w["flagged"]["honest"]) for w in done)],
        "uniform_coefficient_flagged": [sum(f for w in done for f in w["flagged"]["uniform"]),
                                        sum(len(w["flagged"]["uniform"]) for w in done)],
        "lone_refuted_fitted": [sum(1 for w in lone if w["fitted"] == OVER), len(lone)],
        "lone_refuted_physics": [sum(1 for w in lone if w["physics"] == OVER), len(lone)],
        "lone_honest_changed": [sum(1 for a, b in zip(before, after, strict=True) if a != b),
                                len(before)],
        "lone_honest_refuted": [sum(1 for v in after if v in REFUTED), len(after)],
    }


def line(s: dict[str, Any] | None) -> str:
    """One sentence of the experiment's figures for the benchmark tables."""
    if not s or not s.get("worlds"):
        return "-"

    def f(pair: list[int]) -> str:
        return f"{pair[0]}/{pair[1]}"

    k = f"{s['factor']:g}x"
    return (f"uniform {k}: refuted {f(s['uniform_refuted_fitted'])} with the fitted "
            f"coefficient, {f(s['uniform_refuted_physics'])} with the physics one, fitted "
            f"coefficient flagged outside the physics interval for "
            f"{f(s['uniform_coefficient_flagged'])} (honest: "
            f"{f(s['honest_coefficient_flagged'])}); lone {k} on the largest campus: refuted "
            f"{f(s['lone_refuted_fitted'])} (fitted, leave-one-out), "
            f"{f(s['lone_refuted_physics'])} (physics), honest verdicts changed "
            f"{f(s['lone_honest_changed'])}, refuted {f(s['lone_honest_refuted'])} "
            f"({s['worlds']} worlds)")
