"""Alerts: what changed at a site along its statuses, with the evidence for it, and where alerts go.

A site's status *as of* an acquisition date is the activity model fitted to the scenes up to
that date (:func:`pipeline.monitor.run.statuses_as_of`). Such a replayed status can flip for one
look, so alerts are not raised from two consecutive statuses but from a walk along all of them
(:func:`alert_sequence`, rules in ``docs/statuses.md``, *Alerts*): a change of what the
statuses claim (:meth:`AlertRule.claim`: running, stopped, or nothing) must hold at the next
claiming status resting on a new clear look, and the heat intervals must be apart. The walk
replays the stored statuses first, so alerts are a function of the imagery alone, not of how
the monitoring runs were batched. Each alert is dated with the status that confirmed it and
its id is a hash of kind, site and that date, so replaying a run adds nothing twice.

Kinds:

``turned_active``
    The statuses came to claim running (from stopped, or from no claim yet).
``turned_inactive``
    From running to stopped, the stopped interval below the running one.
``heat_step``
    Running, and the heat interval no longer overlaps that of the confirmed heat level.
``declared_mismatch``
    The energy model's verdict became ``refuted: under-reported`` or
    ``refuted: over-declared``.
``possible_shutdown``
    Still running, but the clear looks since a date all show less than a third of its heat,
    too few to call a shutdown (:func:`pipeline.science.activity.unconfirmed_stop`), and so again at
    the next clear look (or the site is then ``inactive``, or fitted as stopped from a heat
    whose interval stands above the threshold). Raised once per first look.

Sinks: a JSON-lines file (one alert a line, appended and fsynced, alerts already in the file are
not written again), the console, and an optional webhook (JSON ``POST``; failures are reported,
not raised).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from pipeline.core.errors import OutputError
from pipeline.core.site_row import REFUTED, SiteRow, StatusRow

KINDS = ("turned_active", "turned_inactive", "heat_step", "declared_mismatch",
         "possible_shutdown")


#: Verdict words of stores written before the rename, in today's words.
_OLD_VERDICTS = {"consistent": "not refuted", "over-declared": "refuted: over-declared",
                 "under-reported": "refuted: under-reported"}


def _verdict(v: Any) -> Any:
    """Return a verdict in today's words (a store written before the rename says "consistent").

    Examples
    --------
    >>> _verdict("over-declared"), _verdict("refuted: over-declared"), _verdict(None)
    ('refuted: over-declared', 'refuted: over-declared', None)
    """
    return _OLD_VERDICTS.get(v, v) if isinstance(v, str) else v


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


def _num(value: Any) -> float | None:
    """Return a finite number as a float (numpy scalars included), else None."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(float(value)) else None


def _fmt_heat(s: StatusRow) -> str:
    if not _finite(s.get("heat_mw"), s.get("heat_mw_low"), s.get("heat_mw_high")):
        return "heat unknown"
    return f"{s['heat_mw']:.0f} MW [{s['heat_mw_low']:.0f}-{s['heat_mw_high']:.0f}]"


def heat_step(prev: StatusRow, new: StatusRow) -> float | None:
    """Return the heat change (MW) when the two 90% intervals do not overlap, else ``None``.

    Examples
    --------
    >>> a = {"heat_mw": 100.0, "heat_mw_low": 80.0, "heat_mw_high": 120.0}
    >>> b = {"heat_mw": 200.0, "heat_mw_low": 170.0, "heat_mw_high": 240.0}
    >>> heat_step(a, b)
    100.0
    >>> heat_step(a, {**b, "heat_mw": 130.0, "heat_mw_low": 110.0}) is None
    True
    """
    values = (prev.get("heat_mw"), new.get("heat_mw"), prev.get("heat_mw_low"),
              prev.get("heat_mw_high"), new.get("heat_mw_low"), new.get("heat_mw_high"))
    if not _finite(*values):
        return None
    mw_prev, mw_new, low_prev, high_prev, low_new, high_new = cast(tuple[float, ...], values)
    apart = low_new > high_prev or high_new < low_prev
    return float(mw_new - mw_prev) if apart else None


@dataclass(frozen=True)
class AlertRule:
    """What a status row claims, by the status rules' threshold (``docs/statuses.md``).

    A status claims *running* when it is ``active`` and its heat interval's low end is above 0
    (an ``active`` fit whose interval reaches 0 MW supports no running heat), and *stopped*
    when it is ``inactive`` with a heat upper limit below ``inactive_fraction`` of its expected
    power (declared, else ``min_candidate_mw``). Other statuses claim nothing.
    """

    inactive_fraction: float = 0.5
    min_candidate_mw: float = 50.0

    def threshold_mw(self, status: StatusRow | SiteRow) -> float:
        """Return the heat (MW) that separates running from stopped for this status row."""
        declared = _num(status.get("reported_power_mw"))
        expected = declared if declared is not None and declared > 0 else self.min_candidate_mw
        return float(self.inactive_fraction * expected)

    def claim(self, status: StatusRow | SiteRow) -> str | None:
        """Return ``"on"``, ``"off"`` or ``None`` (the evidence supports neither).

        Examples
        --------
        >>> rule = AlertRule()
        >>> row = {"status": "inactive", "heat_mw_low": 0.0, "heat_mw_high": 20.0,
        ...        "reported_power_mw": 100.0}
        >>> rule.claim(row), rule.claim({**row, "heat_mw_high": 80.0})
        ('off', None)
        >>> rule.claim({**row, "status": "active"}), rule.claim({**row, "status": "undetermined"})
        (None, None)
        >>> rule.claim({**row, "status": "active", "heat_mw_low": 12.0})
        'on'
        """
        low, high = _num(status.get("heat_mw_low")), _num(status.get("heat_mw_high"))
        if status.get("status") == "active" and low is not None and low > 0:
            return "on"
        if (status.get("status") == "inactive" and high is not None
                and high < self.threshold_mw(status)):
            return "off"
        return None


def _new_evidence(status: StatusRow, since: StatusRow) -> bool:
    """Whether ``status`` rests on more clear looks than ``since`` (unknown counts: yes)."""
    a, b = _num(status.get("n_clear")), _num(since.get("n_clear"))
    return a is None or b is None or a > b


def _heat(s: StatusRow) -> dict[str, Any]:
    return {k: s.get(k) for k in ("heat_mw", "heat_mw_low", "heat_mw_high")}


@dataclass
class _Walk:
    """The confirmed state of one site along its statuses, and the change waiting on it."""

    settled: str | None = None            # "on" / "off": the last confirmed claim
    settled_row: StatusRow | None = None
    pending: tuple[str, StatusRow] | None = None   # (claim, first row showing it)
    level: StatusRow | None = None  # the last status at the confirmed heat level
    step: StatusRow | None = None  # the first status of a heat step, to be confirmed
    verdict: Any = None                   # the last confirmed verdict
    verdict_pending: tuple[Any, StatusRow] | None = None
    shutdown: tuple[str, StatusRow] | None = None  # (since, first row flagging it)
    shutdowns_raised: set[str] = field(default_factory=set)


def _claim_alerts(w: _Walk, s: StatusRow, rule: AlertRule) -> list[tuple[str, str, dict]]:
    site, when = str(s["site_id"]), str(s["as_of_date"])
    claim = rule.claim(s)
    out: list[tuple[str, str, dict]] = []
    # a status that claims nothing (undetermined, ...) neither confirms nor refutes a change
    if w.pending is not None and claim is not None and _new_evidence(s, w.pending[1]):
        want, first = w.pending
        w.pending = None
        # a change of state needs the intervals apart: the stopped one below the running one
        unseen = (w.settled is not None and w.settled_row is not None
                  and heat_step(w.settled_row, s) is None)
        if claim == want and unseen:
            w.pending = (want, first)  # held, but not clear of the old state: wait
        elif claim == want:  # held at the next claiming look, and supported: confirmed
            before, before_row = w.settled, w.settled_row
            w.settled, w.settled_row = want, s
            since = str(first["as_of_date"])
            if want == "on":
                seen = f"first seen {s.get('first_seen')}, " if s.get("first_seen") else ""
                out.append(("turned_active", f"{site} turned active ({seen}{_fmt_heat(s)}) "
                            f"since {since}, confirmed as of {when}",
                            {"previous_state": before, "since": since,
                             "first_seen": s.get("first_seen"), **_heat(s)}))
            elif before == "on" and before_row is not None:
                seen = f" (last seen {s['last_seen']})" if s.get("last_seen") else ""
                out.append(("turned_inactive", f"{site} turned inactive{seen}: heat now "
                            f"{_fmt_heat(s)}, was {_fmt_heat(before_row)}, since {since}, "
                            f"confirmed as of {when}",
                            {"since": since, "last_seen": s.get("last_seen"),
                             "threshold_mw": rule.threshold_mw(s),
                             "previous": _heat(before_row), **_heat(s)}))
    if claim is not None and claim != w.settled and w.pending is None and not out:
        w.pending = (claim, s)
    elif claim == w.settled and claim is not None:
        w.settled_row = s
    return out


def _step_alerts(w: _Walk, s: StatusRow) -> list[tuple[str, str, dict]]:
    """Return a step from the confirmed heat level (``w.level``) once the next look holds it."""
    site, when = str(s["site_id"]), str(s["as_of_date"])
    if w.settled != "on" or s.get("status") != "active":
        return []
    if w.level is None:
        w.level = s
        return []
    out: list[tuple[str, str, dict]] = []
    if w.step is not None:
        if not _new_evidence(s, w.step):
            return []
        first, w.step = w.step, None
        d1, d2 = heat_step(w.level, first), heat_step(w.level, s)
        if d1 is not None and d2 is not None and (d1 > 0) == (d2 > 0):
            out.append(("heat_step", f"{site} heat stepped {'up' if d2 > 0 else 'down'} "
                        f"{abs(d2):.0f} MW: {_fmt_heat(w.level)} -> {_fmt_heat(s)} since "
                        f"{first['as_of_date']}, confirmed as of {when}",
                        {"delta_mw": round(d2, 1), "previous_as_of": w.level.get("as_of_date"),
                         "since": first["as_of_date"], "previous": _heat(w.level), **_heat(s)}))
            w.level = s
            return out
    if heat_step(w.level, s) is None:
        w.level = s
    else:
        w.step = s
    return out


def _verdict_alerts(w: _Walk, s: StatusRow) -> list[tuple[str, str, dict]]:
    site, when, verdict = str(s["site_id"]), str(s["as_of_date"]), _verdict(s.get("verdict"))
    out: list[tuple[str, str, dict]] = []
    if w.verdict_pending is not None and _new_evidence(s, w.verdict_pending[1]):
        want, first = w.verdict_pending
        w.verdict_pending = None
        if verdict == want:
            w.verdict = want
            if want in REFUTED:
                out.append(("declared_mismatch", f"{site} heat {_fmt_heat(s)} is {want} against "
                            f"the declared {s.get('reported_power_mw')} MW since "
                            f"{first['as_of_date']}, confirmed as of {when}",
                            {"verdict": want, "since": first["as_of_date"],
                             "reported_power_mw": s.get("reported_power_mw"), **_heat(s)}))
            return out
    if verdict != w.verdict and w.verdict_pending is None:
        w.verdict_pending = (verdict, s)
    return out


def _shutdown_alerts(w: _Walk, s: StatusRow,
                     rule: AlertRule) -> list[tuple[str, str, dict]]:
    site, when = str(s["site_id"]), str(s["as_of_date"])
    since = s.get("possible_shutdown_since")
    flagged = s.get("status") == "active" and isinstance(since, str) and bool(since)
    out: list[tuple[str, str, dict]] = []
    if w.shutdown is not None and _new_evidence(s, w.shutdown[1]):
        first_since, _ = w.shutdown
        w.shutdown = None
        # held: still flagged from the same look, or the site is now inactive, or the fit
        # places a stop from a heat whose interval stands above the threshold (a fitted fall
        # from a heat that may be below it is no support: the land alone makes such falls)
        low = _num(s.get("heat_mw_low"))
        held = (flagged and since == first_since) or s.get("status") == "inactive" or (
            s.get("pattern") in ("shutdown", "window") and low is not None
            and low > rule.threshold_mw(s))
        if held and first_since not in w.shutdowns_raised:
            w.shutdowns_raised.add(first_since)
            out.append(("possible_shutdown", f"{site} may have shut down: the clear looks since "
                        f"{first_since} show less than a third of its heat, confirmed by the "
                        f"next clear look ({s.get('status')}, {_fmt_heat(s)} as of {when})",
                        {"possible_shutdown_since": first_since, "as_of": when,
                         "status": s.get("status"), "pattern": s.get("pattern"), **_heat(s)}))
    if (flagged and w.settled == "on" and w.shutdown is None
            and since not in w.shutdowns_raised):
        w.shutdown = (str(since), s)
    return out


def alert_sequence(history: Iterable[StatusRow], statuses: Iterable[StatusRow],
                   *, rule: AlertRule | None = None) -> list[Alert]:
    """Return the alerts that the statuses ``statuses`` of one site raise.

    Alerts need the evidence behind them (``docs/statuses.md``, *Alerts*): a change of
    state (``turned_active``, ``turned_inactive``) only between states the heat intervals
    support (:meth:`AlertRule.claim`; ``undetermined`` and ``insufficient_data`` claim nothing:
    they neither confirm nor refute a change) and whose intervals are apart, a ``heat_step``
    only between non-overlapping intervals of a running site, and every change, verdict and
    ``possible_shutdown`` flag must still hold at the next (claiming) status resting on a new
    clear look: one look flipping back and forth raises nothing. An alert is dated with the
    status that confirmed it (its id hashes kind, site and that date).

    Parameters
    ----------
    history
        The site's statuses already stored, in date order (replayed for the state, not alerted).
    statuses
        The site's new statuses, in date order, after ``history``.
    rule
        The thresholds (default: the status rules' defaults).

    Returns
    -------
    list of Alert
        In date order, each at most once.

    Examples
    --------
    >>> def st(day, status, low, high, n):
    ...     return {"site_id": "s", "as_of_date": day, "status": status, "heat_mw": low + 10,
    ...             "heat_mw_low": low, "heat_mw_high": high, "reported_power_mw": 100.0,
    ...             "n_clear": n}
    >>> seq = [st("05-01", "active", 80, 150, 5), st("05-09", "undetermined", 0, 150, 6),
    ...        st("05-17", "active", 80, 150, 7), st("05-25", "active", 85, 140, 8),
    ...        st("06-02", "undetermined", 0, 150, 9), st("06-10", "active", 85, 140, 10)]
    >>> [(a.kind, a.as_of_date) for a in alert_sequence([], seq)]
    [('turned_active', '05-17')]
    """
    rule = rule or AlertRule()
    w = _Walk()
    alerts: dict[str, Alert] = {}
    for replaying, rows in ((True, history), (False, statuses)):
        for s in rows:
            site, when = str(s["site_id"]), str(s["as_of_date"])
            found = [*_claim_alerts(w, s, rule), *_step_alerts(w, s),
                     *_verdict_alerts(w, s), *_shutdown_alerts(w, s, rule)]
            if replaying:
                continue
            for kind, msg, payload in found:
                a = Alert(alert_id(kind, site, when), site, kind, when, msg, payload)
                alerts.setdefault(a.alert_id, a)
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
