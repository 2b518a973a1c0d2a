"""Deliver the outbox (step 9): send queued rows over SMTP, retry, park, and tell the DPO.

A row's bytes are built from what queuing fixed (inbox_bot.mailspec) and stored before its
first attempt. A row is marked sent only after the server accepted it, together with the other
rows of its claimed group. A crash between acceptance and that commit resends the same bytes
with the same Message-ID next time, which a mail client shows as one message; it can never
produce two different acknowledgements. Temporary failures back off
exponentially until the row's deliver_by deadline; permanent ones park the row at once, and the
DPO gets an alert for either (never for an alert, so a broken DPO address cannot loop).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, insert, select, update

from inbox_bot import alerts, cases, outbox
from inbox_bot.config import Settings
from inbox_bot.database import Database
from inbox_bot.errors import PermanentSendError, TemporarySendError
from inbox_bot.schema import Case, CaseEvent, OutboxRow, utcnow

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
BATCH = 200
CLAIM_LEASE = timedelta(minutes=10)
# Rows claimed in one statement and commit. A claim per row was a second commit for every mail
# sent (516 -> about 390 sent/s on SQLite); a run that dies leaves at most this many rows
# waiting out the lease before another run sends them.
CLAIM_GROUP = 20
# Kinds that go to the DPO about delivery itself: never alert about failing to send these.
_NO_ALERT_KINDS = frozenset({"delivery_alert", "mailbox_alert"})


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    parked: int = 0


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1)))


def deliver_outbox(settings: Settings, db: Database, *, limit: int | None = None) -> DeliveryReport:
    """Send every due outbox row; safe to call when nothing is queued or SMTP is down."""
    return asyncio.run(_deliver(settings, db, limit))


async def _deliver(settings: Settings, db: Database, limit: int | None) -> DeliveryReport:
    from inbox_bot.transport import SmtpTransport

    report = DeliveryReport()
    if settings.smtp is None:
        return report
    handled = 0
    transport = SmtpTransport(settings.smtp)
    try:
        while limit is None or handled < limit:
            now = utcnow()
            with db.session() as session:
                rows = list(
                    session.execute(
                        select(OutboxRow.id, OutboxRow.envelope_from, OutboxRow.recipient, OutboxRow.raw,
                               OutboxRow.spec, OutboxRow.kind, OutboxRow.case_id)
                        .where(OutboxRow.status == "queued", OutboxRow.next_attempt_at <= now)
                        .order_by(OutboxRow.id)
                        .limit(BATCH if limit is None else min(BATCH, limit - handled))
                    )
                )
            if not rows:
                break
            for start in range(0, len(rows), CLAIM_GROUP):
                group = rows[start:start + CLAIM_GROUP]
                handled += len(group)
                claimed = _claim(db, [row.id for row in group])
                # Rows not claimed are another delivery run's (the other job, another process).
                ready = _fix_bytes(settings, db, [row for row in group if row.id in claimed], report)
                if not await _send_group(settings, db, transport, ready, report):
                    return report  # the server is down: every other row would fail the same way
            if limit is None and len(rows) < BATCH:
                break
    finally:
        await transport.close()
    if report.sent or report.deferred or report.parked:
        log.info("outbox: %d sent, %d deferred, %d parked", report.sent, report.deferred, report.parked)
    return report


def _claim(db: Database, row_ids: list[int]) -> set[int]:
    """Take queued rows for this run by pushing their next attempt past a lease; the ids taken.

    Two delivery runs (the pass's and the interval job's, or a daemon and `run --once`) select
    the same due rows; only the one whose conditional UPDATE changes the row sends it, so a
    requester never gets the same mail twice from a race. A run that dies mid-send leaves the
    row queued: after the lease it is sent again, the very same bytes and Message-ID.
    """
    now = utcnow()
    with db.core_transaction() as connection:
        return set(connection.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(row_ids), OutboxRow.status == "queued", OutboxRow.next_attempt_at <= now)
            .values(next_attempt_at=now + CLAIM_LEASE)
            .returning(OutboxRow.id)
        ).scalars())


@dataclass(frozen=True)
class _Ready:
    """A claimed row with its bytes, ready to send."""

    id: int
    envelope_from: str
    recipient: str
    raw: bytes
    kind: str
    case_id: int | None


def _fix_bytes(settings: Settings, db: Database, rows: list, report: DeliveryReport) -> list[_Ready]:
    """The claimed rows with their bytes: built from the spec where not yet, and stored.

    Stored before the first attempt and in the same row, so that a resend after a crash is the
    very same bytes. A row whose bytes cannot be built is parked and the DPO told: the fault is
    ours (a template that fails on its values), and retrying would fail the same way.
    """
    ready: list[_Ready] = []
    built: list[dict] = []
    for row in rows:
        raw = row.raw
        if raw is None:
            try:
                raw = outbox.message_bytes(None, row.spec)
            except Exception as exc:  # noqa: BLE001 - whatever the template raised, the row is parked
                log.error("outbox #%d could not be built: %s", row.id, type(exc).__name__)
                _park_row(settings, db, row.id, f"could not build the message: {type(exc).__name__}: {exc}",
                          "the message could not be built", report, attempted=False)
                continue
            built.append({"row_id": row.id, "raw": raw})
        ready.append(_Ready(row.id, row.envelope_from, row.recipient, raw, row.kind, row.case_id))
    if built:
        with db.core_transaction() as connection:
            connection.execute(
                update(OutboxRow).where(OutboxRow.id == bindparam("row_id")).values(raw=bindparam("raw"), spec=None),
                built,
            )
    return ready


async def _send_group(settings: Settings, db: Database, transport, rows: list[_Ready], report: DeliveryReport) -> bool:
    """Send each row; mark those accepted as sent together. False when the server is unreachable."""
    accepted: list[_Ready] = []
    try:
        for row in rows:
            try:
                await transport.send(row.envelope_from, [row.recipient], row.raw)
            except TemporarySendError as exc:
                _temporary(settings, db, row.id, exc, report)
                if _connection_failure(exc):
                    return False
                continue
            except PermanentSendError as exc:
                _permanent(settings, db, row.id, exc, report)
                continue
            accepted.append(row)
    finally:
        # Also when sending stops on an error: what the server accepted is marked, or it would
        # be sent a second time after the lease.
        _mark_sent(db, accepted)
        report.sent += len(accepted)
    return True


def _mark_sent(db: Database, rows: list[_Ready]) -> None:
    """Commit accepted rows as sent, with their case events: one commit for a claimed group.

    A commit per row was most of delivery's time. A crash before this commit resends at most
    a group's rows after the lease, each the same bytes with the same Message-ID, which a mail
    client shows as one message. Events go in by case id as plain rows: loading each case and
    its history to append one entry through the ORM cost two more queries per message sent.
    """
    if not rows:
        return
    now = utcnow()
    with db.core_transaction() as connection:
        connection.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_([row.id for row in rows]))
            .values(status="sent", sent_at=now, attempts=OutboxRow.attempts + 1, last_error=None)
        )
        events = [dict(case_id=row.case_id, kind="sent", actor="inbox-bot", at=now,
                       detail={"kind": row.kind, "outbox": row.id}) for row in rows if row.case_id is not None]
        if events:
            connection.execute(insert(CaseEvent), events)


def _connection_failure(exc: TemporarySendError) -> bool:
    return getattr(exc, "code", None) is None


def _temporary(settings: Settings, db: Database, row_id: int, exc: Exception, report: DeliveryReport) -> None:
    with db.transaction() as session:
        row = session.get(OutboxRow, row_id)
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        now = utcnow()
        if now + backoff(row.attempts) > row.deliver_by:
            _park(settings, session, row, "gave up after the retry deadline")
            report.parked += 1
        else:
            row.next_attempt_at = now + backoff(row.attempts)
            report.deferred += 1
    log.warning("outbox #%d deferred: %s", row_id, type(exc).__name__)


def _permanent(settings: Settings, db: Database, row_id: int, exc: Exception, report: DeliveryReport) -> None:
    _park_row(settings, db, row_id, f"{type(exc).__name__}: {exc}", "refused by the mail server", report)
    log.warning("outbox #%d parked: permanent failure", row_id)


def _park_row(settings: Settings, db: Database, row_id: int, error: str, why: str, report: DeliveryReport,
              *, attempted: bool = True) -> None:
    """Park one row for good, in a transaction of its own, and tell the DPO (see `_park`)."""
    with db.transaction() as session:
        row = session.get(OutboxRow, row_id)
        if attempted:
            row.attempts += 1
        row.last_error = error[:1000]
        _park(settings, session, row, why)
    report.parked += 1


def _park(settings: Settings, session, row: OutboxRow, why: str) -> None:
    row.status = "parked"
    case = session.get(Case, row.case_id) if row.case_id else None
    if case is not None:
        cases.record_event(session, case, "delivery_failed", detail={"kind": row.kind, "outbox": row.id, "why": why})
    if row.kind in _NO_ALERT_KINDS:
        return
    text = (
        f"inbox-bot could not deliver a message ({row.kind}) "
        f"{'for case ' + case.reference if case else ''}: {why}.\n"
        f"Last error: {row.last_error}\n"
        f"Outbox entry #{row.id}. The requester has not received it.\n"
    )
    subject = f"inbox-bot: delivery failed{' - ' + case.reference if case else ''}"
    alerts.tell_dpo(session, settings, "delivery_alert", subject, text, case)


def rows_to_copy(db: Database, limit: int = 500) -> list[tuple[int, bytes]]:
    """Sent rows whose copy is still owed to the mailbox's Sent folder."""
    with db.session() as session:
        return [
            (r.id, r.raw)
            for r in session.execute(
                select(OutboxRow)
                .where(OutboxRow.status == "sent", OutboxRow.copy_to_sent.is_(True), OutboxRow.copied_to_sent.is_(False))
                .order_by(OutboxRow.id)
                .limit(limit)
            ).scalars()
        ]


def mark_copied(db: Database, ids: list[int]) -> None:
    if not ids:
        return
    with db.transaction() as session:
        for row in session.execute(select(OutboxRow).where(OutboxRow.id.in_(ids))).scalars():
            row.copied_to_sent = True
