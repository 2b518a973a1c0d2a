"""The quarantine: messages parked after failing to parse or process, kept with raw bytes and error.

The pipeline parks a message (status "quarantined") after `limits.max_attempts` failures, or at
once for a sender's fault. This module is what the DPO does about it afterwards:

- `entries` / `detail`: what is parked, why, and its header block (never its body);
- `retry`: back to status "new", attempts reset, so the next pass processes it again (the
  runner picks up such records even though the mail has already left the inbox);
- `release`: the DPO has dealt with it by hand; it is marked handled and leaves the list.

Nothing here logs a header, an address or a byte of the message: logs carry record ids only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import select

from inbox_bot.database import Database
from inbox_bot.errors import InboxBotError
from inbox_bot.schema import Message, utcnow

log = logging.getLogger(__name__)

QUARANTINED = "quarantined"
RELEASED = "released"
HEADER_BYTES = 65_536  # the header block shown; a message with megabytes of headers is cut


class NotQuarantined(InboxBotError):
    """No quarantined message has this id."""


@dataclass(frozen=True)
class QuarantineEntry:
    id: int
    received_at: datetime
    size: int
    attempts: int
    error: str  # the last error, one line
    sender: str  # the From header as written (decoded), for the DPO's eyes only
    subject: str


@dataclass(frozen=True)
class QuarantineDetail:
    entry: QuarantineEntry
    error: str  # the whole last error
    headers: tuple[tuple[str, str], ...]  # decoded header block, in order
    has_raw: bool


def _headers(raw: bytes | None) -> tuple[tuple[str, str], ...]:
    if not raw:
        return ()
    from inbox_bot.parsing import decode_header_value

    head = raw[:HEADER_BYTES]
    # Only the header block: the body is never parsed or shown here.
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in head:
            head = head.split(sep, 1)[0] + sep
            break
    try:
        msg = BytesHeaderParser(policy=compat32).parsebytes(head, headersonly=True)
        return tuple((name, decode_header_value(value)) for name, value in msg.items())
    except Exception:  # noqa: BLE001 - a header block the parser rejects still has an error to show
        return ()


def _entry(row: Message, headers: tuple[tuple[str, str], ...]) -> QuarantineEntry:
    def first(name: str) -> str:
        return next((v for k, v in headers if k.lower() == name), "")

    return QuarantineEntry(
        id=row.id,
        received_at=row.received_at,
        size=row.size or len(row.raw or b""),
        attempts=row.attempts,
        error=(row.last_error or "").splitlines()[0][:200] if row.last_error else "",
        sender=first("from"),
        subject=first("subject"),
    )


def entries(db: Database) -> list[QuarantineEntry]:
    """Every quarantined message, oldest first."""
    with db.session() as session:
        rows = session.execute(select(Message).where(Message.status == QUARANTINED).order_by(Message.id)).scalars()
        return [_entry(row, _headers(row.raw)) for row in rows]


def _get(session, message_id: int) -> Message:
    row = session.get(Message, message_id)
    if row is None or row.status != QUARANTINED:
        raise NotQuarantined(f"message #{message_id} is not in quarantine")
    return row


def detail(db: Database, message_id: int) -> QuarantineDetail:
    with db.session() as session:
        row = _get(session, message_id)
        headers = _headers(row.raw)
        return QuarantineDetail(_entry(row, headers), row.last_error or "", headers, row.raw is not None)


def raw_bytes(db: Database, message_id: int) -> bytes:
    """The message as it arrived, for saving to a file the DPO chooses."""
    with db.session() as session:
        return _get(session, message_id).raw or b""


def retry(db: Database, message_id: int) -> None:
    """Put a quarantined message back for processing at the next pass."""
    with db.transaction() as session:
        row = _get(session, message_id)
        row.status = "new"
        row.attempts = 0
        row.processed_at = None
        # last_error stays: if the retry fails again the DPO sees the new error in its place.
    log.info("message #%d released from quarantine for another attempt", message_id)


def release(db: Database, message_id: int, note: str | None = None) -> None:
    """The DPO has handled the message by hand: mark it done; it leaves the quarantine list."""
    with db.transaction() as session:
        row = _get(session, message_id)
        row.status = RELEASED
        row.decision = "released"
        row.processed_at = utcnow()
        if note:
            row.last_error = f"{row.last_error or ''}\nreleased: {note}"[:4000]
    log.info("message #%d released by the DPO", message_id)
