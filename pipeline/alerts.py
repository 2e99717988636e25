"""Alerts: what changed at a site between two consecutive statuses, and where alerts go.

A site's status *as of* an acquisition date is the activity model fitted to the scenes up to
that date (:func:`pipeline.monitor.statuses_as_of`). Alerts compare consecutive statuses, so
they are a function of the imagery alone, not of how the monitoring runs were batched: a run
on all the scenes and two runs on its halves see the same status sequence and raise the same
alerts. Each alert is dated with the acquisition that revealed it and its id is a hash of kind,
site and that date, so replaying a run adds nothing twice.

Kinds:

``turned_active``
    The status became ``active`` (from ``inactive``, ``insufficient_data`` or no status).
``turned_inactive``
    The status went from ``active`` to ``inactive``.
``heat_step``
    Active at both dates and the heat changed by more than the combined 90% uncertainty of the
    two estimates: ``|h2 - h1| > sqrt(u1**2 + u2**2)`` with ``u`` the half-width of each
    interval on the side facing the other estimate.
``declared_mismatch``
    The energy model's verdict became ``refuted: under-reported`` or
    ``refuted: over-declared``.
``possible_shutdown``
    Still ``active``, but the clear looks since a date all show less than a third of its heat,
    too few to call a shutdown (:func:`pipeline.activity.unconfirmed_stop`). Dated with the
    first of those looks, so the statuses that follow with the same date raise it once.

Sinks: a JSON-lines file (one alert a line, appended and fsynced, alerts already in the file are
not written again), the console, and an optional webhook (JSON ``POST``; failures are reported,
not raised).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import OutputError

KINDS = ("turned_active", "turned_inactive", "heat_step", "declared_mismatch",
         "possible_shutdown")
MISMATCH_VERDICTS = ("refuted: under-reported", "refuted: over-declared")


def _same_verdict(a: Any, b: Any) -> bool:
    """Compare verdicts across the rename (a store written before it says "over-declared")."""
    def bare(v: Any) -> Any:
        return v.removeprefix("refuted: ") if isinstance(v, str) else v
    return bool(bare(a) == bare(b))


@dataclass(frozen=True)
class Alert:
    """One alert; ``payload`` holds the numbers behind ``message``."""

    alert_id: str
    site_id: str
    kind: str
    as_of_date: str
    message: str
    payload: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the alert as JSON-compatible data."""
        return asdict(self)

    def row(self, run_id: str) -> dict[str, Any]:
        """Return the store row of this alert."""
        return {**{k: v for k, v in self.as_dict().items() if k != "payload"},
                "payload_json": json.dumps(self.payload, sort_keys=True), "run_id": run_id}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Alert:
        """Build an alert from a store row."""
        return cls(row["alert_id"], row["site_id"], row["kind"], row["as_of_date"],
                   row["message"], json.loads(row["payload_json"]))


def alert_id(kind: str, site_id: str, as_of_date: str) -> str:
    """Return the deterministic id of an alert.

    Examples
    --------
    >>> alert_id("turned_active", "campus", "2024-05-28")
    'turned_active:campus:2024-05-28:93d01a28fa01'
    """
    digest = hashlib.sha256(f"{kind}|{site_id}|{as_of_date}".encode()).hexdigest()[:12]
    return f"{kind}:{site_id}:{as_of_date}:{digest}"


def _finite(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _fmt_heat(s: Mapping[str, Any]) -> str:
    if not _finite(s.get("heat_mw"), s.get("heat_mw_low"), s.get("heat_mw_high")):
        return "heat unknown"
    return f"{s['heat_mw']:.0f} MW [{s['heat_mw_low']:.0f}-{s['heat_mw_high']:.0f}]"


def heat_step(prev: Mapping[str, Any], new: Mapping[str, Any]) -> float | None:
    """Return the heat change (MW) if it exceeds the combined uncertainty, else ``None``.

    Examples
    --------
    >>> a = {"heat_mw": 100.0, "heat_mw_low": 80.0, "heat_mw_high": 120.0}
    >>> b = {"heat_mw": 200.0, "heat_mw_low": 170.0, "heat_mw_high": 240.0}
    >>> heat_step(a, b)
    100.0
    >>> heat_step(a, {**b, "heat_mw": 130.0, "heat_mw_low": 60.0}) is None
    True
    """
    if not _finite(prev.get("heat_mw"), new.get("heat_mw"), prev.get("heat_mw_low"),
                   prev.get("heat_mw_high"), new.get("heat_mw_low"), new.get("heat_mw_high")):
        return None
    h1, h2 = float(prev["heat_mw"]), float(new["heat_mw"])
    up = h2 > h1
    u1 = (prev["heat_mw_high"] - h1) if up else (h1 - prev["heat_mw_low"])
    u2 = (h2 - new["heat_mw_low"]) if up else (new["heat_mw_high"] - h2)
    delta = float(h2 - h1)
    return delta if abs(delta) > math.hypot(u1, u2) else None


def derive_alerts(prev: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[Alert]:
    """Return the alerts raised by going from status ``prev`` to status ``new`` of one site.

    Parameters
    ----------
    prev
        The site's previous status (``None`` when there is none), as stored in ``site_status``.
    new
        The site's status as of a later acquisition date, with ``site_id``, ``as_of_date``,
        ``status``, ``heat_mw``, ``heat_mw_low``, ``heat_mw_high``, ``first_seen``,
        ``last_seen``, ``verdict`` and ``reported_power_mw``.

    Returns
    -------
    list of Alert
        Possibly empty, in the order of :data:`KINDS`.

    Examples
    --------
    >>> new = {"site_id": "s", "as_of_date": "2024-06-01", "status": "active",
    ...        "heat_mw": 300.0, "heat_mw_low": 200.0, "heat_mw_high": 400.0,
    ...        "first_seen": "2024-05-01", "last_seen": "2024-06-01", "verdict": "not refuted"}
    >>> [a.kind for a in derive_alerts({"status": "inactive"}, new)]
    ['turned_active']
    """
    site, when = str(new["site_id"]), str(new["as_of_date"])
    before = None if prev is None else prev.get("status")
    status = new.get("status")
    out: list[tuple[str, str, dict[str, Any]]] = []
    heat = {k: new.get(k) for k in ("heat_mw", "heat_mw_low", "heat_mw_high")}
    if status == "active" and before != "active":
        seen = f"first seen {new['first_seen']}, " if new.get("first_seen") else ""
        out.append(("turned_active", f"{site} turned active ({seen}{_fmt_heat(new)}) as of {when}",
                    {"previous_status": before, "first_seen": new.get("first_seen"), **heat}))
    if status == "inactive" and before == "active":
        seen = f" (last seen {new['last_seen']})" if new.get("last_seen") else ""
        out.append(("turned_inactive", f"{site} turned inactive{seen} as of {when}",
                    {"previous_status": before, "last_seen": new.get("last_seen"), **heat}))
    if status == "active" and before == "active" and prev is not None:
        delta = heat_step(prev, new)
        if delta is not None:
            out.append(("heat_step", f"{site} heat stepped {'up' if delta > 0 else 'down'} "
                        f"{abs(delta):.0f} MW: {_fmt_heat(prev)} -> {_fmt_heat(new)} as of {when}",
                        {"delta_mw": round(delta, 1), "previous_as_of": prev.get("as_of_date"),
                         "previous": {k: prev.get(k) for k in heat}, **heat}))
    verdict = new.get("verdict")
    if verdict in MISMATCH_VERDICTS and (prev is None
                                         or not _same_verdict(prev.get("verdict"), verdict)):
        out.append(("declared_mismatch", f"{site} declared {new.get('reported_power_mw')} MW "
                    f"against heat {_fmt_heat(new)} as of {when}: {verdict}",
                    {"verdict": verdict, "reported_power_mw": new.get("reported_power_mw"),
                     **heat}))
    alerts = [Alert(alert_id(k, site, when), site, k, when, msg, payload)
              for k, msg, payload in out]
    since = new.get("possible_shutdown_since")
    if status == "active" and isinstance(since, str) and since:
        alerts.append(Alert(alert_id("possible_shutdown", site, str(since)), site,
                            "possible_shutdown", str(since),
                            f"{site} may have shut down: the clear looks since {since} show less "
                            f"than a third of its heat {_fmt_heat(new)} (to be confirmed by the "
                            f"next clear looks; as of {when})",
                            {"possible_shutdown_since": since, "as_of": when, **heat}))
    return alerts


def alert_sequence(prev: Mapping[str, Any] | None,
                   statuses: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """Return the alerts along one site's statuses in date order, starting from ``prev``."""
    alerts: dict[str, Alert] = {}
    for status in statuses:
        for alert in derive_alerts(prev, status):
            alerts.setdefault(alert.alert_id, alert)  # a possible shutdown is raised once
        prev = status
    return list(alerts.values())


# Sinks -----------------------------------------------------------------------------------------


def _ids_in(path: Path) -> set[str]:
    ids: set[str] = set()
    if not path.exists():
        return ids
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                ids.add(json.loads(line)["alert_id"])
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash mid-write; its alert is written again
    return ids


def append_jsonl(path: str | Path, alerts: Iterable[Alert]) -> list[Alert]:
    """Append alerts not yet in the JSON-lines file, one fsynced line each.

    A line torn by a crash is left in place (readers skip it) and its alert is written again,
    so the file holds every alert exactly once as a whole line.

    Returns
    -------
    list of Alert
        The alerts written (those already in the file are skipped).

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = []
        with open(path, "ab") as f:
            _lock(f)  # two runs delivering at once must not both write an alert
            seen = _ids_in(path)
            if f.tell() and _last_byte(path) != b"\n":
                f.write(b"\n")
            for a in alerts:
                if a.alert_id in seen:
                    continue
                f.write((json.dumps(a.as_dict(), sort_keys=True) + "\n").encode())
                f.flush()
                os.fsync(f.fileno())
                seen.add(a.alert_id)
                written.append(a)
    except OSError as exc:
        raise OutputError(f"cannot append alerts to {path}: {exc.strerror or exc}; check the "
                          "monitor.alerts path") from exc
    return written


def _lock(f: Any) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file is closed


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def read_jsonl(path: str | Path) -> list[Alert]:
    """Read the alerts of a JSON-lines file (torn lines are skipped)."""
    out: list[Alert] = []
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(Alert(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return out


def post_webhook(url: str, alert: Alert, *, timeout: float = 10.0) -> str | None:
    """POST one alert as JSON to a webhook; return an error message instead of raising.

    Examples
    --------
    >>> a = Alert("x", "s", "turned_active", "2024-01-01", "s turned active")
    >>> post_webhook("http://127.0.0.1:9/hook", a, timeout=0.5) is not None
    True
    """
    if not url.lower().startswith(("http://", "https://")):
        return f"webhook URL {url!r} is not http(s); fix monitor.webhook_url"
    body = json.dumps(alert.as_dict(), sort_keys=True).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "heatwatch-monitor"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if not 200 <= resp.status < 300:
                return f"webhook answered HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"webhook {url} unreachable: {reason}"
    return None


@dataclass
class Delivery:
    """What happened to a batch of alerts: written to the file, posted, problems."""

    written: list[Alert] = field(default_factory=list)
    posted: int = 0
    problems: list[str] = field(default_factory=list)


def deliver(alerts: list[Alert], *, jsonl: str | Path, webhook_url: str | None = None,
            webhook_timeout: float = 10.0,
            echo: Callable[[Alert], None] | None = None) -> Delivery:
    """Send alerts to the JSON-lines file, the console (``echo``) and the webhook.

    The file is the record of delivery: only alerts not yet in it are echoed and posted. A
    delivery interrupted before the file was written is redone by the next run; one
    interrupted between the file and the webhook does not post that alert again (the file holds
    every alert exactly once, the webhook gets each at most once).
    """
    result = Delivery(written=append_jsonl(jsonl, alerts))
    for a in result.written:
        if echo is not None:
            echo(a)
        if webhook_url:
            problem = post_webhook(webhook_url, a, timeout=webhook_timeout)
            if problem is None:
                result.posted += 1
            else:
                result.problems.append(f"{a.alert_id}: {problem}")
    return result
