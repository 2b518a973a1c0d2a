"""Queue outgoing mail in the outbox table, inside the caller's transaction.

A row holds the Message-ID chosen when it was queued and what the message is made of
(inbox_bot.mailspec); delivery builds and stores the bytes before its first attempt, so that a
resend after a crash mid-send is the very same message.
Automatic replies are capped per recipient over two windows, whatever screening said, because
robot detection is never complete and a loop with another robot must die out by itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import case as sql_case, func, select
from sqlalchemy.orm import Session

from inbox_bot import compose, eventlog, grouplookups, ids, mailspec
from inbox_bot.config import Settings
from inbox_bot.logs import fingerprint
from inbox_bot.schema import Case, OutboxRow, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Queued:
    """An outbox row as queued: what callers and the reply cap read of it.

    The row itself is written with the transaction's other buffered rows (inbox_bot.eventlog),
    one INSERT for a group's mail instead of a flushed ORM object per message.
    """

    id: int
    case_id: int | None
    kind: str
    automatic: bool
    recipient: str
    message_id: str
    created_at: datetime


@dataclass(frozen=True)
class Outgoing:
    """A message to queue: who it goes to, what it is, and what it answers."""

    kind: str  # template kind: acknowledgement, optout_confirmation, draft_for_approval, ...
    recipient: str
    language: str
    context: dict
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automatic: bool = True  # an automatic reply to a requester: counts against the cap
    auto_submitted: str = "auto-replied"
    copy_to_sent: bool = True
    subject: str | None = None  # a fixed subject/text instead of rendering the template
    text: str | None = None


def automatic_replies_since(session: Session, recipient: str, since: datetime) -> int:
    return session.execute(
        select(func.count(OutboxRow.id)).where(
            OutboxRow.recipient == recipient, OutboxRow.automatic.is_(True), OutboxRow.created_at >= since
        )
    ).scalar_one()


def over_cap(session: Session, settings: Settings, recipient: str, now: datetime | None = None) -> str | None:
    """The reason an automatic reply to `recipient` must not be sent now, or None."""
    now = now or utcnow()
    r = settings.replies
    windows = ((r.cap_per_recipient, r.cap_window_hours), (r.cap_per_recipient_long, r.cap_window_long_hours))
    starts = [now - timedelta(hours=hours) for _, hours in windows]
    lookups = grouplookups.of(session)
    known = [lookups.replies_to(recipient, start) for start in starts] if lookups is not None else [None]
    if None not in known:  # read with the group's other senders (inbox_bot.grouplookups)
        for (cap, hours), sent in zip(windows, known):
            if sent >= cap:
                return f"{cap} automatic replies within {hours} h"
        return None
    # Both windows in one query: this runs for every acknowledgement, inside its transaction.
    counts = session.connection().execute(
        select(*(func.count(sql_case((OutboxRow.created_at >= start, 1))) for start in starts)).where(
            OutboxRow.recipient == recipient, OutboxRow.automatic.is_(True), OutboxRow.created_at >= min(starts)
        )
    ).one()
    # Rows queued earlier in this transaction and not yet written count too.
    queued = [row["created_at"] for row in eventlog.pending(session, OutboxRow)
              if row["automatic"] and row["recipient"] == recipient]
    for (cap, hours), sent, start in zip(windows, counts, starts):
        sent += sum(1 for at in queued if at >= start)
        if sent >= cap:
            return f"{cap} automatic replies within {hours} h"
    return None


def queue(session: Session, settings: Settings, outgoing: Outgoing, case: Case | None = None) -> Queued | None:
    """Queue one message (built at delivery, see inbox_bot.mailspec); None when the per-recipient
    cap holds it back. ValueError when it could never be built: an address SMTP cannot carry."""
    now = utcnow()
    if outgoing.automatic:
        reason = over_cap(session, settings, outgoing.recipient, now)
        if reason:
            log.warning("automatic %s to %s not queued: %s", outgoing.kind, fingerprint(outgoing.recipient), reason)
            return None
    org = settings.organisation
    recipient = ascii_address(outgoing.recipient)
    spec = mailspec.MailSpec(
        kind=outgoing.kind,
        language=outgoing.language,
        context=outgoing.context if outgoing.text is None else None,
        subject=outgoing.subject,
        text=outgoing.text,
        from_addr=org.address,
        from_name=org.name,
        to=recipient,
        message_id=compose.make_message_id(org.domain),
        in_reply_to=outgoing.in_reply_to,
        references=tuple(outgoing.references),
        auto_submitted=outgoing.auto_submitted,
        loop_header=(settings.replies.loop_header, org.domain),
        case_reference=case.reference if case is not None else None,
        date=now,
    )
    raw, stored = _fixed(spec)
    message_id = spec.message_id
    row = Queued(ids.next_id(session, OutboxRow), case.id if case is not None else None, outgoing.kind,
                 outgoing.automatic, recipient, message_id, now)
    values = dict(
        id=row.id,
        case_id=row.case_id,
        kind=row.kind,
        automatic=row.automatic,
        recipient=recipient,
        envelope_from=org.address,
        message_id=message_id,
        raw=raw,
        spec=stored,
        status="queued",
        attempts=0,
        next_attempt_at=now,
        deliver_by=now + timedelta(hours=settings.replies.retry_deadline_hours),
        copy_to_sent=outgoing.copy_to_sent,
        copied_to_sent=False,
        created_at=now,
    )
    # A new case is written at the flush: its mail waits for it (the row points at the case).
    eventlog.buffer_row(session, OutboxRow, values, parent=case, parent_key="case_id")
    lookups = grouplookups.of(session)
    if lookups is not None and row.automatic:
        lookups.queued.append(row)
    return row


def _fixed(spec: mailspec.MailSpec) -> tuple[bytes | None, str | None]:
    """What the row keeps: the spec for delivery to build from, or the bytes when it cannot."""
    # What the sender can get wrong (an address our SMTP cannot carry) is refused here, inside
    # the caller's transaction, as building at once refused it: found at delivery, it would
    # park mail for a case whose record says it was queued.
    compose.check_address(spec.to, "to")
    if spec.text is None and not compose.has_template(spec.kind, spec.language):
        raise ValueError(f"no template {spec.language}/{spec.kind}")
    try:
        return None, mailspec.dumps(spec)
    except mailspec.NotStorable:
        return mailspec.build(spec), None


def message_bytes(raw: bytes | None, spec: str | None) -> bytes:
    """A row's bytes: those stored, else built from its spec."""
    if raw is not None:
        return raw
    if spec is None:
        raise ValueError("an outbox row with neither bytes nor a spec")
    return mailspec.build(mailspec.loads(spec))


def ascii_address(address: str) -> str:
    """The address with an internationalised domain in its ASCII (IDNA) form, e.g. jan@xn--bk-vja.pl.

    A non-ASCII local part cannot be written without SMTPUTF8: ValueError, for the caller to record.
    """
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise ValueError("the address's local part is not ASCII (needs SMTPUTF8)")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def reply_references(in_reply_to: str | None, references: Sequence[str]) -> tuple[str, ...]:
    """The References of a reply: the original's References followed by its Message-ID."""
    refs = list(references)
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    return tuple(refs)
