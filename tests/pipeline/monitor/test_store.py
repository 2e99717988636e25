"""The history store: schema, one transaction per run, idempotent inserts, upserts, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.core.errors import StoreError
from pipeline.monitor.store import SCHEMA_VERSION, HistoryStore, RunRecord, store_exists


def record(run_id: str = "r1", *, active: bool = False, heat: float = 10.0) -> RunRecord:
    rec = RunRecord(run_id=run_id, started="2024-06-01T00:00:00+00:00")
    for i, day in enumerate(("2024-01-05", "2024-01-21")):
        pid = f"LC08_L2SP_023035_{day.replace('-', '')}_{day.replace('-', '')}_02_T1"
        rec.scenes.append({"product_id": pid, "date": day, "spacecraft": "LANDSAT_8",
                           "clear_fraction": 0.9, "used": 1, "first_run_id": run_id})
        rec.observations.append({"site_id": "s", "product_id": pid, "date": day,
                                 "clear_fraction": 1.0, "clear": True, "excess_k_m2": 1e5 * i,
                                 "residual_heat_k_m2": float("nan"), "heat_mw": None,
                                 "active": active})
        rec.site_status.append({"site_id": "s", "as_of_date": day, "run_id": run_id,
                                "status": "active" if active else "inactive",
                                "heat_mw": heat, "heat_mw_low": 0.0, "heat_mw_high": 2 * heat})
        rec.detections.append({"product_id": pid, "hotspot_index": 0, "date": day,
                               "wkt": "POINT (0 0)"})
    rec.alerts.append({"alert_id": "a1", "site_id": "s", "kind": "turned_active",
                       "as_of_date": "2024-01-21", "message": "m", "payload_json": "{}",
                       "run_id": run_id})
    return rec


def counts(store: HistoryStore) -> dict[str, int]:
    return {t: len(store.table(t)) for t in
            ("scenes", "observations", "detections", "site_status", "alerts", "runs")}


def test_new_store_is_empty_and_sound(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "h.sqlite"
    assert not store_exists(path)
    with HistoryStore(path) as store:
        assert store.known_products() == set()
        assert store.latest_status("s") is None
        assert store.pending_alerts() == []
        assert store.integrity_ok()
    assert store_exists(path)


def test_commit_is_idempotent_and_upserts_the_newest_fit(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.commit_run(record())
        first = counts(store)
        assert first == {"scenes": 2, "observations": 2, "detections": 2, "site_status": 2,
                         "alerts": 1, "runs": 1}
        store.commit_run(record())  # the same run again adds nothing
        assert counts(store) == first
        store.commit_run(record("r2", active=True, heat=50.0))  # a later run revises the fit
        assert counts(store) == {**first, "runs": 2}
        obs = store.table("observations")
        assert obs["active"].eq(1).all() and obs["residual_heat_k_m2"].isna().all()
        latest = store.latest_status("s")
        assert latest is not None and latest["heat_mw"] == 50.0 and latest["run_id"] == "r2"
        assert store.latest_status("s", before="2024-01-21")["as_of_date"] == "2024-01-05"
        assert store.table("scenes")["first_run_id"].eq("r1").all()
        assert store.observed_products(["s", "t"])["t"] == set()
        assert len(store.observed_products(["s"])["s"]) == 2


def test_a_failed_commit_leaves_nothing(tmp_path: Path) -> None:
    def boom() -> None:
        raise KeyboardInterrupt

    with HistoryStore(tmp_path / "h.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            store.commit_run(record(), before_commit=boom)
        assert set(counts(store).values()) == {0}
        assert store.integrity_ok()
        store.commit_run(record())
        assert counts(store)["observations"] == 2


def test_alerts_stay_pending_until_marked(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.commit_run(record())
        assert [a["alert_id"] for a in store.pending_alerts()] == ["a1"]
        store.mark_notified(["a1"])
        assert store.pending_alerts() == []
        assert store.alert_ids() == {"a1"}


def test_corrupt_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"\x00garbage, not SQLite" * 200)
    with pytest.raises(StoreError, match="move it aside"):
        HistoryStore(path)


def test_other_schema_version_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match=r"newer Heatwatch .*schema version.*keep the file"):
        HistoryStore(path)


#: The schema of version 1 stores (before ``site_status.possible_shutdown_since``).
V1_SITE_STATUS = """CREATE TABLE site_status (
    site_id TEXT NOT NULL, as_of_date TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL,
    pattern TEXT, heat_mw REAL, heat_mw_low REAL, heat_mw_high REAL, first_seen TEXT,
    last_seen TEXT, verdict TEXT, reported_power_mw REAL, n_clear INTEGER,
    PRIMARY KEY (site_id, as_of_date))"""


def test_a_version_1_store_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        conn.execute(V1_SITE_STATUS)
        conn.execute("INSERT INTO site_status (site_id, as_of_date, run_id, status, heat_mw) "
                     "VALUES ('s', '2024-01-05', 'r0', 'active', 120.0)")
    with HistoryStore(path) as store:
        old = store.latest_status("s")
        assert old is not None and old["heat_mw"] == 120.0
        assert old["possible_shutdown_since"] is None
        rec = RunRecord(run_id="r1", started="2024-06-01T00:00:00+00:00")
        rec.site_status.append({"site_id": "s", "as_of_date": "2024-01-21", "run_id": "r1",
                                "status": "active", "possible_shutdown_since": "2024-01-21"})
        store.commit_run(rec)
        assert store.latest_status("s")["possible_shutdown_since"] == "2024-01-21"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)


def test_unknown_table_is_a_store_error(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store, pytest.raises(StoreError, match="one of"):
        store.table("nope; DROP TABLE scenes")


#: The schema of version 3 stores (before ``verdict_margin`` and ``verdict_physics``).
V3_SITE_STATUS = """CREATE TABLE site_status (
    site_id TEXT NOT NULL, as_of_date TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL,
    pattern TEXT, heat_mw REAL, heat_mw_low REAL, heat_mw_high REAL, first_seen TEXT,
    last_seen TEXT, verdict TEXT, reported_power_mw REAL, n_clear INTEGER,
    possible_shutdown_since TEXT, status_note TEXT, PRIMARY KEY (site_id, as_of_date))"""


def _old_store(path: Path, version: int, *tables: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
        for sql in tables:
            conn.execute(sql)


def test_a_version_3_store_gets_the_verdict_evidence_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    _old_store(path, 3, V3_SITE_STATUS)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO site_status (site_id, as_of_date, run_id, status, heat_mw, "
                     "verdict) VALUES ('s', '2024-01-05', 'r0', 'active', 120.0, "
                     "'refuted: under-reported')")
    with HistoryStore(path) as store:
        old = store.latest_status("s")
        assert old is not None and old["heat_mw"] == 120.0
        assert old["verdict"] == "refuted: under-reported"
        assert old["verdict_margin"] is None and old["verdict_physics"] is None
        rec = RunRecord(run_id="r1", started="2024-06-01T00:00:00+00:00")
        rec.site_status.append({"site_id": "s", "as_of_date": "2024-01-21", "run_id": "r1",
                                "status": "active", "verdict": "not refuted",
                                "verdict_margin": 1.5, "verdict_physics": "inconclusive"})
        store.commit_run(rec)
        rows = store.table("site_status").set_index("as_of_date")
    assert rows.loc["2024-01-05", "run_id"] == "r0"  # the old row is kept as it was
    assert rows.loc["2024-01-21", ["verdict_margin", "verdict_physics"]].tolist() == [
        1.5, "inconclusive"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)


def test_a_migration_adds_only_the_columns_a_store_lacks(tmp_path: Path) -> None:
    # an old store without a site_status table: opening creates it whole, and the steps that
    # would add its newer columns again are skipped instead of failing
    path = tmp_path / "h.sqlite"
    _old_store(path, 1)
    with HistoryStore(path) as store:
        assert "verdict_physics" in store.table("site_status").columns
        assert store.integrity_ok()
