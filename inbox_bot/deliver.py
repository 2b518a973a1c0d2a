"""Deliver the outbox (step 9): send queued rows over SMTP, retry, park, and tell the DPO.

A row is marked sent only after the server accepted it. A crash between acceptance and the
commit resends the same bytes with the same Message-ID next time, which a mail client shows as
one message; it can never produce two different acknowledgements. Temporary failures back off
exponentially until the row's deliver_by deadline; permanent ones park the row at once, and the
DPO gets an alert for either (never for an alert, so a broken DPO address cannot loop).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select, update

from inbox_bot import alerts, cases
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
                               OutboxRow.kind, OutboxRow.case_id)
                        .where(OutboxRow.status == "queued", OutboxRow.next_attempt_at <= now)
                        .order_by(OutboxRow.id)
                        .limit(BATCH if limit is None else min(BATCH, limit - handled))
                    )
                )
            if not rows:
                break
            claimed: set[int] = set()
            for index, (row_id, envelope_from, recipient, raw, kind, case_id) in enumerate(rows):
                handled += 1
                if index % CLAIM_GROUP == 0:
                    claimed = _claim(db, [r[0] for r in rows[index:index + CLAIM_GROUP]])
                if row_id not in claimed:
                    continue  # another delivery run (the other job, another process) has it
                try:
                    await transport.send(envelope_from, [recipient], raw)
                except TemporarySendError as exc:
                    _temporary(settings, db, row_id, exc, report)
                    if _connection_failure(exc):
                        # The server is down: every other row would fail the same way.
                        return report
                    continue
                except PermanentSendError as exc:
                    _permanent(settings, db, row_id, exc, report)
                    continue
                _mark_sent(db, row_id, kind, case_id)
                report.sent += 1
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


def _mark_sent(db: Database, row_id: int, kind: str, case_id: int | None) -> None:
    """Commit one accepted row as sent, with its case event, in two statements.

    The event goes in by case id: loading the case and then its whole history (to append one
    entry through the ORM relationship) cost two more queries per message sent.
    """
    now = utcnow()
    with db.core_transaction() as connection:
        connection.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id)
            .values(status="sent", sent_at=now, attempts=OutboxRow.attempts + 1, last_error=None)
        )
        if case_id is not None:
            # A plain INSERT, not an ORM object: the unit of work's flush cost more than the rest.
            connection.execute(insert(CaseEvent).values(case_id=case_id, kind="sent", actor="inbox-bot", at=now,
                                                     detail={"kind": kind, "outbox": row_id}))


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
    with db.transaction() as session:
        row = session.get(OutboxRow, row_id)
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        _park(settings, session, row, "refused by the mail server")
    report.parked += 1
    log.warning("outbox #%d parked: permanent failure", row_id)


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
