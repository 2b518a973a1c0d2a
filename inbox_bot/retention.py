"""Retention: closed cases older than the configured period lose their personal data.

`plan_retention` lists what is due, with nothing changed (this is `inbox-bot retention
--dry-run`); `apply_retention` carries out exactly a plan it is given, so what the dry run
showed is what goes. Two modes (`retention.mode`):

- anonymise: the case stays as a register entry (reference, types, dates, outcome, history of
  statuses) with the requester removed; its messages lose their raw mail, sender and subject;
  event details and actors are scrubbed; drafts and outgoing copies, which quote the
  requester, are deleted.
- purge: the case, its history, drafts, messages and outgoing copies are deleted.

The suppression list is untouched in both modes: it exists so that marketing stays stopped.

Processed mail that never got a case (auto-replies, bounces, newsletters, mail ignored as
"other", the DPO's approval answers) has its own period, `retention.uncased_mail_days`:
`plan_uncased` lists it, `apply_uncased` clears its raw mail, sender, subject, Message-ID and
last error and the reasons of its screening hits, in both modes. The row stays, with rule and
verdict of each hit (the audit of what was decided): its `message_key`, a hash, is what stops
the same mail being processed twice. Quarantined and new mail is left for the DPO and the
pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from inbox_bot.config import Settings
from inbox_bot.database import in_chunks
from inbox_bot.schema import Case, Draft, Message, OutboxRow, ScreenHit

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class RetentionItem:
    case_id: int
    reference: str
    closed_at: datetime
    messages: tuple[int, ...]  # ids of the case's stored inbound messages
    outgoing: tuple[int, ...]  # ids of the case's outbox rows
    drafts: tuple[int, ...]
    action: str  # anonymise | purge


def plan_retention(session: Session, settings: Settings, now: datetime) -> list[RetentionItem]:
    """Closed cases whose retention period has run out at `now`, with what each would lose."""
    cutoff = now - timedelta(days=settings.retention.closed_case_days)
    mode = settings.retention.mode
    query = select(Case).where(Case.status == "closed", Case.closed_at.is_not(None), Case.closed_at <= cutoff)
    if mode == "anonymise":
        query = query.where(Case.anonymised.is_(False))  # already reduced: nothing left to take
    items = []
    for case in session.execute(query.order_by(Case.id)).scalars():
        items.append(RetentionItem(
            case_id=case.id,
            reference=case.reference,
            closed_at=case.closed_at,
            messages=_ids(session, Message.id, Message.case_id == case.id),
            outgoing=_ids(session, OutboxRow.id, OutboxRow.case_id == case.id),
            drafts=_ids(session, Draft.id, Draft.case_id == case.id),
            action=mode,
        ))
    return items


def _ids(session: Session, column, where) -> tuple[int, ...]:
    return tuple(session.execute(select(column).where(where).order_by(column)).scalars())


def apply_retention(session: Session, items: list[RetentionItem]) -> int:
    """Carry out a plan from `plan_retention` in the caller's transaction; return cases handled."""
    for item in items:
        case = session.get(Case, item.case_id)
        if case is None:
            continue
        if item.messages:
            if item.action == "purge":
                session.execute(delete(Message).where(Message.id.in_(item.messages)))
            else:
                for message in session.execute(select(Message).where(Message.id.in_(item.messages))).scalars():
                    message.raw = None
                    message.sender = None
                    message.subject = None
                    message.last_error = None
        if item.outgoing:
            session.execute(delete(OutboxRow).where(OutboxRow.id.in_(item.outgoing)))
        if item.drafts:
            session.execute(delete(Draft).where(Draft.id.in_(item.drafts)))
        if item.action == "purge":
            session.delete(case)  # its events go with it (cascade)
        else:
            _anonymise(case)
        session.flush()
    log.info("retention: %d cases %s", len(items), items[0].action if items else "handled")
    return len(items)


def _anonymise(case: Case) -> None:
    case.requester = None
    case.thread_message_id = None
    case.thread_references = []
    case.extension_reason = None  # written by the DPO about this requester's request
    case.anonymised = True
    for event in case.events:
        # Keep what happened and when; drop anything said about or by the person.
        kept = {k: v for k, v in (event.detail or {}).items() if k in ("labels", "kind")}
        event.detail = kept
        if "@" in (event.actor or ""):
            event.actor = "requester"


def plan_uncased(session: Session, settings: Settings, now: datetime) -> tuple[int, ...]:
    """Ids of processed messages without a case, processed at least `uncased_mail_days` before
    `now`, that still hold personal data; nothing is changed. Empty when the period is 0 or less."""
    days = settings.retention.uncased_mail_days
    if days <= 0:
        return ()
    cutoff = now - timedelta(days=days)
    return _ids(session, Message.id, (
        Message.case_id.is_(None)
        & (Message.status == "processed")  # not quarantined (waits for the DPO), not new
        & Message.processed_at.is_not(None)
        & (Message.processed_at <= cutoff)
        # Already cleared rows are not listed again, so a second run reports 0.
        & or_(*(column.is_not(None) for column in (
            Message.raw, Message.sender, Message.subject, Message.message_id, Message.last_error)))
    ))


def apply_uncased(session: Session, ids: tuple[int, ...] | list[int]) -> int:
    """Clear the messages a `plan_uncased` listed, in the caller's transaction; return how many.

    Plain UPDATEs over chunks of ids, not ORM objects: a mailbox may hold hundreds of thousands.
    """
    cleared = 0
    for chunk in in_chunks(ids):
        cleared += session.execute(
            update(Message).where(Message.id.in_(chunk))
            .values(raw=None, sender=None, subject=None, message_id=None, last_error=None)
        ).rowcount
        # A hit's reason may quote a header value (a sender, a subject); rule and verdict stay.
        session.execute(update(ScreenHit).where(ScreenHit.message_pk.in_(chunk)).values(reason=""))
    log.info("retention: %d messages without a case cleared", cleared)
    return cleared


# The daemon applies the policy every night, in the organisation's time zone: after the night's
# mail, before the working day, and a retention period counted in days needs nothing finer.
# `inbox-bot retention` does the same on demand (and --dry-run shows what it would take).
DAILY_AT = (3, 30)


def run(settings: Settings, db, now: datetime | None = None, *, dry_run: bool = False
        ) -> tuple[list[RetentionItem], tuple[int, ...]]:
    """Plan both policies and, unless `dry_run`, apply them, in one transaction: the closed
    cases' plan and the ids of the messages without a case (`inbox-bot retention` and the
    nightly job)."""
    from inbox_bot.schema import utcnow

    now = now or utcnow()
    with db.transaction() as session:
        plan = plan_retention(session, settings, now)
        uncased = plan_uncased(session, settings, now)
        if not dry_run:
            apply_retention(session, plan)
            apply_uncased(session, uncased)
    return plan, uncased


def schedule_retention(scheduler, settings: Settings, db, *, at: tuple[int, int, int] | None = None):
    """Add the nightly retention job to an APScheduler scheduler; `at` (hour, minute, second) for tests."""
    hour, minute, second = at or (*DAILY_AT, 0)
    return scheduler.add_job(
        _job, "cron", args=(settings, db), id="retention", replace_existing=True,
        hour=hour, minute=minute, second=second, timezone=settings.organisation.timezone,
        max_instances=1, coalesce=True, misfire_grace_time=6 * 3600,
    )


def _job(settings: Settings, db) -> None:
    # What was done is logged by apply_retention and apply_uncased.
    try:
        run(settings, db)
    except Exception:  # noqa: BLE001 - tried again the next night; the daemon goes on
        log.exception("retention failed; it runs again tomorrow")
