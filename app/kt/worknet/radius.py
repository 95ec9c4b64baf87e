"""RADIUS accounting from FreeRADIUS ``detail`` files, fed to the access log (:func:`access.ingest`).

FreeRADIUS's ``detail`` module writes each accounting request it receives as one record: a first line with
the server's local date, then one tab-indented ``Attribute = value`` line per attribute, then a blank line
(``tests/kt/worknet/fixtures/radius/`` holds a file written by FreeRADIUS 3.2 and how it was made). Each
Start / Interim-Update / Stop becomes one access event of kind ``start`` / ``interim`` / ``stop``:

=====================  ==========================================================================
RADIUS attribute       access event
=====================  ==========================================================================
User-Name              ``imsi``: the SIM (the operator's gateway sends the IMSI; 3GPP-IMSI is read
                       when User-Name is something else); the router holding that IMSI, and its
                       assignee as the user (the IMSI itself when no router has it)
Framed-IP-Address      ``ip``: checked against the router's fixed lease at that time
Acct-Session-Id        ``session_id``
Acct-Status-Type       ``kind``; Accounting-On/Off (a gateway restarting) are skipped
Event-Timestamp        ``occurred_at`` (else the record's ``Timestamp`` less ``Acct-Delay-Time``)
Acct-Terminate-Cause   ``reason`` of a stop
=====================  ==========================================================================

An event's ``client_id`` is the Acct-Session-Id, the status and the event's epoch second, so a file read
twice, or a retransmitted request written twice, is stored once. A bad record rejects the whole file,
named by its number and line; nothing is saved. The worker follows the files named by
``DXHUB_WORKNET_RADIUS_DETAIL`` (a path or a glob such as ``/var/log/freeradius/radacct/*/detail-*``) for
the municipality ``DXHUB_WORKNET_RADIUS_MUNICIPALITY``, reading complete records past the position it
stored in ``worknet_radius_feed``.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import InvalidInput, field_error
from app.kt.worknet import access
from app.kt.worknet.models import RadiusFeed
from app.kt.worknet.schemas import AccessEventIn, ipv4_text
from app.platform.models import Municipality

log = logging.getLogger(__name__)

STATUS_KINDS = {"Start": "start", "Interim-Update": "interim", "Alive": "interim", "Stop": "stop",
                "1": "start", "3": "interim", "2": "stop"}
SKIPPED_STATUSES = {"Accounting-On", "Accounting-Off", "7", "8"}
ZONES = {"UTC": UTC, "GMT": UTC, "KST": timezone(timedelta(hours=9))}
_ATTRIBUTE = re.compile(r"^[ \t]+([A-Za-z0-9][A-Za-z0-9._:-]*)\s*(?:=|:=|==|\+=)\s*(.*?)\s*$")
_ESCAPE = re.compile(r"\\([0-7]{3}|.)")
_IMSI = re.compile(r"450\d{12}")
_PLAIN_SESSION = re.compile(r"[A-Za-z0-9._-]{1,40}")
# "Sat Dec  5 10:56:58 2026": the detail writer's first line (ctime format, the server's local time).
_RECORD_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +"
                          r"([1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d \d{4}")
# "Dec  2 2026 00:00:00 UTC": how FreeRADIUS prints a date attribute such as Event-Timestamp.
_DATE_VALUE = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d{4}) "
                         r"(\d\d):(\d\d):(\d\d) ([A-Z]+)")
MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                      "Dec"), start=1)}
MAX_ERRORS = 50
MAX_READ = 32 * 1024 * 1024  # bytes of one file per round: a backlog is worked off over several rounds


@dataclass
class DetailRecord:
    number: int  # 1-based, in the file
    line: int  # the line of its date
    written_at: str
    attributes: dict[str, str] = field(default_factory=dict)

    def where(self) -> str:
        return f"record {self.number} (line {self.line})"


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        if "\\" not in value:
            return value[1:-1]

        def one(m: re.Match[str]) -> str:
            code = m.group(1)
            if len(code) == 3:
                return chr(int(code, 8))
            return {"n": "\n", "r": "\r", "t": "\t"}.get(code, code)

        return _ESCAPE.sub(one, value[1:-1])
    return value


def parse_detail(text: str) -> tuple[list[DetailRecord], list[dict[str, Any]]]:
    """The records of a detail file, and the errors of the malformed ones (each naming record and line)."""
    records: list[DetailRecord] = []
    errors: list[dict[str, Any]] = []
    current: DetailRecord | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            current = None
            continue
        if current is None:
            current = DetailRecord(number=len(records) + 1, line=n, written_at=line.strip())
            records.append(current)
            if not _RECORD_DATE.fullmatch(line.strip()):
                errors.append(field_error(["records", current.number], "{where}: the first line is not the date "
                                          "of a detail record: {text}", where=current.where(), text=line[:60]))
            continue
        m = _ATTRIBUTE.match(line)
        if not m:
            errors.append(field_error(["records", current.number], "{where}: line {line} is not "
                                      "'Attribute = value'", where=current.where(), line=n))
            continue
        current.attributes.setdefault(m.group(1), _unquote(m.group(2)))
    return records, errors


def _event_time(record: DetailRecord) -> datetime:
    """When the event happened: Event-Timestamp (the gateway's clock), else the server's Timestamp less the
    delay the gateway reported."""
    attrs = record.attributes
    stamp = attrs.get("Event-Timestamp")
    if stamp:
        if stamp.isdigit():
            return datetime.fromtimestamp(int(stamp), UTC)
        m = _DATE_VALUE.fullmatch(stamp)
        if m and m.group(7) in ZONES:
            month, day, year, hour, minute, second = (MONTHS[m.group(1)], *map(int, m.group(2, 3, 4, 5, 6)))
            return datetime(year, month, day, hour, minute, second, tzinfo=ZONES[m.group(7)]).astimezone(UTC)
        raise ValueError(f"Event-Timestamp {stamp!r} is not a date in UTC, GMT or KST")
    if "Timestamp" not in attrs:
        raise ValueError("neither Event-Timestamp nor Timestamp")
    delay = int(attrs.get("Acct-Delay-Time", "0") or 0)
    return datetime.fromtimestamp(int(attrs["Timestamp"]) - delay, UTC)


def client_id(session_id: str, kind: str, at: datetime) -> str:
    """Acct-Session-Id + status + epoch second: the same accounting request read twice is one event."""
    key = session_id if _PLAIN_SESSION.fullmatch(session_id) else \
        "h-" + hashlib.sha256(session_id.encode()).hexdigest()[:32]
    return f"{key}:{kind[0]}:{int(at.timestamp())}"


def events_of(records: list[DetailRecord], *, now: datetime | None = None) -> list[AccessEventIn]:
    """The access events of the records; InvalidInput naming every bad record (nothing is saved)."""
    now = now or utcnow()
    errors: list[dict[str, Any]] = []
    events: list[AccessEventIn] = []
    by_client: dict[str, tuple[DetailRecord, AccessEventIn]] = {}

    def bad(record: DetailRecord, message: str, **params: Any) -> None:
        errors.append(field_error(["records", record.number], "{where}: " + message, where=record.where(), **params))

    for record in records:
        attrs = record.attributes
        status = attrs.get("Acct-Status-Type", "")
        if status in SKIPPED_STATUSES:
            continue
        kind = STATUS_KINDS.get(status)
        if kind is None:
            bad(record, "Acct-Status-Type {value} is not Start, Interim-Update or Stop", value=status or "-")
            continue
        user = attrs.get("User-Name", "")
        imsi = user if _IMSI.fullmatch(user) else attrs.get("3GPP-IMSI", "")
        if not _IMSI.fullmatch(imsi):
            bad(record, "User-Name {value} is not an IMSI (450 and 12 digits)", value=user[:40] or "-")
            continue
        session_id = attrs.get("Acct-Session-Id", "")
        if not session_id:
            bad(record, "Acct-Session-Id is missing")
            continue
        try:
            at = _event_time(record)
        except ValueError as exc:
            bad(record, "the time cannot be read ({detail})", detail=str(exc)[:120])
            continue
        if at > now + timedelta(minutes=5):
            bad(record, "the time {time} is in the future", time=at.isoformat())
            continue
        ip = attrs.get("Framed-IP-Address")
        if ip is not None:
            try:
                ip = ipv4_text(ip)
            except ValueError:
                bad(record, "Framed-IP-Address {value} is not an IPv4 address", value=ip[:40])
                continue
        reason = f"RADIUS {status}"
        if kind == "stop" and attrs.get("Acct-Terminate-Cause"):
            reason += f": {attrs['Acct-Terminate-Cause']}"
        try:
            event = AccessEventIn(client_id=client_id(session_id, kind, at), occurred_at=at, imsi=imsi, ip=ip,
                                  result="success", reason=reason[:200], kind=kind, session_id=session_id[:64])
        except ValidationError as exc:
            first = exc.errors()[0]
            bad(record, "{field}: {message}", field=".".join(map(str, first["loc"])) or "-", message=first["msg"])
            continue
        seen = by_client.get(event.client_id)
        if seen is not None:
            if seen[1] != event:
                bad(record, "the same session, status and time as {other} with other values",
                    other=seen[0].where())
            continue
        by_client[event.client_id] = (record, event)
        events.append(event)
    if errors:
        raise InvalidInput("{n} bad detail records; nothing was saved", n=len(errors), errors=errors[:MAX_ERRORS])
    return events


def ingest_records(db: Session, *, municipality: Municipality, records: list[DetailRecord]) -> dict[str, int]:
    """Feed the records' events to the access log in batches (one transaction: the caller's)."""
    events = events_of(records)
    total = {"records": len(records), "received": 0, "accepted": 0, "duplicates": 0, "alerts": 0}
    for start in range(0, len(events), access.MAX_BATCH):
        result = access.ingest(db, municipality=municipality, events=events[start:start + access.MAX_BATCH])
        for key in ("received", "accepted", "duplicates", "alerts"):
            total[key] += result[key]
    return total


def import_detail(db: Session, *, municipality: Municipality, text: str) -> dict[str, int]:
    """Import a whole detail file: every record or none (``dxhub worknet import-radius-detail``)."""
    records, errors = parse_detail(text)
    if errors:
        raise InvalidInput("{n} bad detail records; nothing was saved", n=len(errors), errors=errors[:MAX_ERRORS])
    return ingest_records(db, municipality=municipality, records=records)


# --- following the files FreeRADIUS writes ---------------------------------------------------

def _complete_part(data: bytes) -> int:
    """The length of ``data`` up to the end of its last complete record (one followed by a blank line)."""
    end = data.rfind(b"\n\n")
    return end + 2 if end >= 0 else 0


def follow(db: Session, *, municipality: Municipality, pattern: str) -> dict[str, int]:
    """Read what FreeRADIUS appended to each file matching ``pattern`` since the stored position.

    A file shorter than its position was rotated or truncated: it is read again from the start (re-reading
    stores nothing twice). A bad record stops that file where it is, with the error kept on its feed row.
    """
    totals = {"files": 0, "records": 0, "accepted": 0, "alerts": 0}
    for path in sorted(glob.glob(pattern)):
        if not os.path.isfile(path):
            continue
        feed = db.scalar(select(RadiusFeed).where(RadiusFeed.municipality_id == municipality.id,
                                                  RadiusFeed.path == path[:500]))
        if feed is None:
            feed = RadiusFeed(municipality_id=municipality.id, path=path[:500], position=0, records=0, last_error="")
            db.add(feed)
            db.flush()
        size = os.path.getsize(path)
        if size < feed.position:
            feed.position = 0
        if size == feed.position:
            continue
        with open(path, "rb") as fh:
            fh.seek(feed.position)
            data = fh.read(min(size - feed.position, MAX_READ))
        length = _complete_part(data)
        if not length:
            continue
        totals["files"] += 1
        try:
            with db.begin_nested():
                records, errors = parse_detail(data[:length].decode("utf-8"))
                if errors:
                    raise InvalidInput("{n} bad detail records; nothing was saved", n=len(errors), errors=errors)
                result = ingest_records(db, municipality=municipality, records=records)
        except (InvalidInput, UnicodeDecodeError) as exc:
            detail = exc.detail if isinstance(exc, InvalidInput) else f"not UTF-8 text: {exc}"
            first = exc.errors[0]["msg"] if isinstance(exc, InvalidInput) and exc.errors else ""
            feed.last_error = f"{detail} {first}".strip()[:500]
            log.warning("RADIUS detail file %s: %s", path, feed.last_error)
            continue
        feed.position += length
        feed.records += len(records)
        feed.last_error = ""
        totals["records"] += len(records)
        totals["accepted"] += result["accepted"]
        totals["alerts"] += result["alerts"]
    db.flush()
    return totals
