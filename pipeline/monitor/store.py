"""The history store: every monitoring run appends what it saw to one embedded SQLite file.

The store is a plain SQLite database opened with the standard library's :mod:`sqlite3`; no
server is involved. It is *not* a GeoPackage (no ``gpkg_*`` tables), even when its file name
ends in ``.gpkg``: the few geometries it keeps (hotspot outlines) are WKT text in EPSG:4326.

Tables and the keys that make a re-run idempotent:

``scenes``
    ``product_id`` (primary key), acquisition ``date``, ``spacecraft``, scene
    ``clear_fraction``, ``used`` (0 for a product that was discovered but skipped or dropped as a
    same-day duplicate; it is not retried) and ``first_run_id``.
``observations``
    One row per catalogued site and scene, key ``(site_id, product_id)``: ``date``, the site's
    ``clear_fraction``, ``clear``, ``excess_k_m2``, ``residual_heat_k_m2``, ``heat_mw`` (the
    residual heat converted with the site's coefficient) and ``active``. Rows are *upserted*:
    the activity model sees the whole series, so a later run may revise ``active`` and the
    residual heat of earlier looks.
``detections``
    Per-scene hotspots, key ``(product_id, hotspot_index)``, outline as WKT.
``site_status``
    The site's status *as of* each acquisition date (the model fitted to the scenes up to that
    date), key ``(site_id, as_of_date)``: ``status``, ``pattern``, ``heat_mw`` with its 90%
    interval (the heat as of the date: after a seen stop, that of the looks after it),
    ``first_seen``, ``last_seen``, ``verdict``, ``possible_shutdown_since`` (see
    :func:`pipeline.science.activity.unconfirmed_stop`), ``status_note`` (why a fitted stop is
    stored ``undetermined``, :func:`pipeline.monitor.run.stored_status`), the evidence behind
    ``verdict``: ``verdict_margin`` (the factor by which its deciding check passed or failed)
    and ``verdict_physics`` (the verdict with the physics coefficient), as in ``sites.geojson``
    (both NULL in rows stored before schema version 4), ``run_id`` (the run that last wrote
    it).
``alerts``
    Key ``alert_id``, a hash of kind, site and as-of date
    (:func:`pipeline.monitor.alerts.alert_id`);
    ``notified`` turns 1 once the alert reached the JSON-lines file.
``runs``
    ``run_id``, ``started``, ``finished``, ``n_new_scenes``.

A run writes everything in one transaction (:meth:`HistoryStore.commit_run`), so a killed run
leaves the store exactly as it was before the run. A store written by an older Heatwatch is
brought to the current schema when opened (:data:`MIGRATIONS`, one transaction); one written
by a newer Heatwatch is refused.

Examples
--------
>>> import tempfile, pathlib
>>> with HistoryStore(pathlib.Path(tempfile.mkdtemp()) / "h.sqlite") as store:
...     sorted(store.known_products())
[]
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from pipeline.core.errors import StoreError
from pipeline.core.site_row import STATUS_KEYS, StoredStatus

SCHEMA_VERSION = 4

#: Statements that bring a store from the schema version of the key to the next one (an
#: ``ADD COLUMN`` runs only when the table lacks the column; old rows get NULL in it).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE site_status ADD COLUMN possible_shutdown_since TEXT",),
    2: ("ALTER TABLE site_status ADD COLUMN status_note TEXT",),
    3: ("ALTER TABLE site_status ADD COLUMN verdict_margin REAL",
        "ALTER TABLE site_status ADD COLUMN verdict_physics TEXT"),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started TEXT NOT NULL, finished TEXT,
    n_new_scenes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scenes (
    product_id TEXT PRIMARY KEY, date TEXT NOT NULL, spacecraft TEXT, clear_fraction REAL,
    used INTEGER NOT NULL, first_run_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS observations (
    site_id TEXT NOT NULL, product_id TEXT NOT NULL, date TEXT NOT NULL, clear_fraction REAL,
    clear INTEGER NOT NULL, excess_k_m2 REAL, residual_heat_k_m2 REAL, heat_mw REAL,
    active INTEGER NOT NULL, PRIMARY KEY (site_id, product_id));
CREATE TABLE IF NOT EXISTS detections (
    product_id TEXT NOT NULL, hotspot_index INTEGER NOT NULL, date TEXT NOT NULL,
    area_m2 REAL, mean_anomaly_k REAL, max_anomaly_k REAL, excess_k_m2 REAL, wkt TEXT,
    PRIMARY KEY (product_id, hotspot_index));
CREATE TABLE IF NOT EXISTS site_status (
    site_id TEXT NOT NULL, as_of_date TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL,
    pattern TEXT, heat_mw REAL, heat_mw_low REAL, heat_mw_high REAL, first_seen TEXT,
    last_seen TEXT, verdict TEXT, reported_power_mw REAL, n_clear INTEGER,
    possible_shutdown_since TEXT, status_note TEXT, verdict_margin REAL, verdict_physics TEXT,
    PRIMARY KEY (site_id, as_of_date));
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY, site_id TEXT NOT NULL, kind TEXT NOT NULL,
    as_of_date TEXT NOT NULL, message TEXT NOT NULL, payload_json TEXT NOT NULL,
    run_id TEXT NOT NULL, notified INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS observations_date ON observations (site_id, date);
"""

#: Columns written per table (in order), for the rows of a :class:`RunRecord`.
COLUMNS: dict[str, tuple[str, ...]] = {
    "scenes": ("product_id", "date", "spacecraft", "clear_fraction", "used", "first_run_id"),
    "observations": ("site_id", "product_id", "date", "clear_fraction", "clear", "excess_k_m2",
                     "residual_heat_k_m2", "heat_mw", "active"),
    "detections": ("product_id", "hotspot_index", "date", "area_m2", "mean_anomaly_k",
                   "max_anomaly_k", "excess_k_m2", "wkt"),
    "site_status": ("site_id", "as_of_date", "run_id", *STATUS_KEYS),  # a StoredStatus
    "alerts": ("alert_id", "site_id", "kind", "as_of_date", "message", "payload_json", "run_id"),
}
_KEYS = {"observations": ("site_id", "product_id"), "site_status": ("site_id", "as_of_date")}
_ORDER = {"scenes": "product_id", "observations": "site_id, date, product_id",
          "detections": "product_id, hotspot_index", "site_status": "site_id, as_of_date",
          "alerts": "as_of_date, site_id, kind", "runs": "started, run_id"}


@dataclass
class RunRecord:
    """Everything one monitoring run adds to the store, written in one transaction.

    Rows are mappings keyed by the column names of :data:`COLUMNS`. ``scenes``, ``detections``
    and ``alerts`` are inserted only if their key is new; ``observations`` and ``site_status``
    are upserted (the newest fit wins).
    """

    run_id: str
    started: str
    finished: str | None = None
    scenes: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    detections: list[dict[str, Any]] = field(default_factory=list)
    site_status: list[StoredStatus] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_new_scenes(self) -> int:
        """Number of scenes in this record (only new ones are recorded)."""
        return len(self.scenes)


class HistoryStore:
    """An open history store; use as a context manager.

    Parameters
    ----------
    path
        SQLite file; created (with its folder) if absent.

    Raises
    ------
    StoreError
        If the file is not a readable SQLite database, or was written by a different schema.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the history store {self.path}: {exc}; check the "
                             "path and that its folder is writable") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
            self._check_version()
        except StoreError:
            self._conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(
                f"{self.path} is not a readable Heatwatch history store ({exc}); it may be "
                "corrupt or another kind of file: move it aside and re-run to rebuild the "
                "history from the imagery") from exc

    def _check_version(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                               (str(SCHEMA_VERSION),))
            return
        version = int(row["value"]) if str(row["value"]).isdigit() else -1
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer Heatwatch (schema version "
                             f"{version}; this one reads 1 to {SCHEMA_VERSION}): upgrade "
                             "Heatwatch to read it, and keep the file")
        if version not in (*MIGRATIONS, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {row['value']}, this Heatwatch "
                                        f"reads versions 1 to {SCHEMA_VERSION}")
        if version < SCHEMA_VERSION:
            with self._conn:  # all steps or none
                self._conn.execute("BEGIN IMMEDIATE")
                for step in range(version, SCHEMA_VERSION):
                    for sql in MIGRATIONS[step]:
                        if not self._has_column_added_by(sql):
                            self._conn.execute(sql)
                self._conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                   (str(SCHEMA_VERSION),))

    def _has_column_added_by(self, sql: str) -> bool:
        """Return whether ``sql`` adds a column its table already has."""
        m = re.match(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", sql)
        return m is not None and m[2] in {
            r[1] for r in self._conn.execute(f"PRAGMA table_info({m[1]})")}

    # context manager ---------------------------------------------------------------------------
    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # reads -------------------------------------------------------------------------------------
    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read the history store {self.path}: {exc}; move the "
                             "file aside and re-run to rebuild it") from exc

    def known_products(self) -> set[str]:
        """Return the product ids already recorded (used or not)."""
        return {r["product_id"] for r in self._query("SELECT product_id FROM scenes")}

    def unused_products(self) -> set[str]:
        """Return the product ids recorded as skipped or dropped (never retried)."""
        return {r[0] for r in self._query("SELECT product_id FROM scenes WHERE used = 0")}

    def observed_products(self, site_ids: list[str]) -> dict[str, set[str]]:
        """Return, for each of ``site_ids``, the product ids observed for that site."""
        out: dict[str, set[str]] = {sid: set() for sid in site_ids}
        if not site_ids:
            return out
        marks = ", ".join("?" for _ in site_ids)
        for sid, pid in self._query(f"SELECT site_id, product_id FROM observations "
                                    f"WHERE site_id IN ({marks})", site_ids):
            out[sid].add(pid)
        return out

    def alert_ids(self) -> set[str]:
        """Return the ids of every stored alert."""
        return {r[0] for r in self._query("SELECT alert_id FROM alerts")}

    def latest_status(self, site_id: str, *, before: str | None = None) -> StoredStatus | None:
        """Return the site's latest stored status, optionally strictly before a date."""
        sql = "SELECT * FROM site_status WHERE site_id = ?"
        params: list[Any] = [site_id]
        if before is not None:
            sql += " AND as_of_date < ?"
            params.append(before)
        rows = self._query(sql + " ORDER BY as_of_date DESC LIMIT 1", params)
        return cast(StoredStatus, dict(rows[0])) if rows else None  # the table's columns

    def statuses(self, site_id: str, *, before: str) -> list[StoredStatus]:
        """Return the site's stored statuses strictly before a date, in date order."""
        rows = self._query("SELECT * FROM site_status WHERE site_id = ? AND as_of_date < ? "
                           "ORDER BY as_of_date", (site_id, before))
        return [cast(StoredStatus, dict(r)) for r in rows]  # the table's columns

    def table(self, name: str, *, site_id: str | None = None) -> pd.DataFrame:
        """Return a whole table (optionally one site's rows) in a stable order."""
        if name not in _ORDER:
            raise StoreError(f"no table {name!r} in the history store; one of {sorted(_ORDER)}")
        where = " WHERE site_id = ?" if site_id is not None else ""
        rows = self._query(f"SELECT * FROM {name}{where} ORDER BY {_ORDER[name]}",
                           () if site_id is None else (site_id,))
        cols = [d[1] for d in self._conn.execute(f"PRAGMA table_info({name})")]
        return pd.DataFrame([tuple(r) for r in rows], columns=cols)

    def site_ids(self) -> list[str]:
        """Return the ids of the sites with a stored status."""
        return [r[0] for r in self._query("SELECT DISTINCT site_id FROM site_status ORDER BY 1")]

    def pending_alerts(self) -> list[dict[str, Any]]:
        """Return the alerts not yet written to the JSON-lines file, oldest first."""
        rows = self._query("SELECT * FROM alerts WHERE notified = 0 "
                           "ORDER BY as_of_date, site_id, kind")
        return [dict(r) for r in rows]

    def integrity_ok(self) -> bool:
        """Return whether SQLite's ``PRAGMA integrity_check`` passes."""
        return [tuple(r) for r in self._query("PRAGMA integrity_check")] == [("ok",)]

    # writes ------------------------------------------------------------------------------------
    def commit_run(self, record: RunRecord, *,
                   before_commit: Callable[[], None] | None = None) -> None:
        """Write a run in one transaction: either all of it is stored or none of it.

        Parameters
        ----------
        record
            The run's rows.
        before_commit
            Called inside the transaction, after every row is written and before the commit
            (the monitor's test hook uses it to be killed at the worst moment).

        Raises
        ------
        StoreError
            If SQLite fails; the transaction is rolled back.
        """
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?)",
                             (record.run_id, record.started, record.finished or _now(),
                              record.n_new_scenes))
                for name in ("scenes", "detections", "alerts"):
                    self._insert(name, getattr(record, name), upsert=False)
                for name in ("observations", "site_status"):
                    self._insert(name, getattr(record, name), upsert=True)
                if before_commit is not None:
                    before_commit()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the history store {self.path}: {exc}; the run "
                             "was rolled back, re-run it") from exc

    def _insert(self, name: str, rows: Sequence[Mapping[str, Any]], *, upsert: bool) -> None:
        if not rows:
            return
        cols = COLUMNS[name]
        marks = ", ".join("?" for _ in cols)
        if upsert:
            keys = _KEYS[name]
            sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
            sql = (f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({marks}) "
                   f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}")
        else:
            sql = f"INSERT OR IGNORE INTO {name} ({', '.join(cols)}) VALUES ({marks})"
        self._conn.executemany(sql, [tuple(_sql_value(r.get(c)) for c in cols) for r in rows])

    def mark_notified(self, alert_ids: Iterable[str]) -> None:
        """Record that alerts reached the JSON-lines file (one short transaction)."""
        ids = [(a,) for a in alert_ids]
        if not ids:
            return
        try:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("UPDATE alerts SET notified = 1 WHERE alert_id = ?", ids)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the history store {self.path}: {exc}") from exc


def _sql_value(value: Any) -> Any:
    """Convert numpy scalars, NaN and containers to what SQLite stores."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def store_exists(path: str | Path) -> bool:
    """Return whether a store file exists (and is non-empty) at ``path``."""
    p = Path(path)
    return p.is_file() and os.path.getsize(p) > 0
