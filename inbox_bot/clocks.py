"""The statutory clocks on a stored case: identity pauses, their resumption, and the extension.

inbox_bot.deadlines computes dates; this module applies them to a Case inside the caller's
transaction and writes every change into the case's history, so that the DPO (or a supervisory
authority) can retrace why a deadline is what it is. Every function takes `now` explicitly:
the clock of the law is the clock of the test.

Column meanings kept here: `due_at` is the deadline now in force; `original_due_at` is the end
of the first month (moved by pauses, never by the extension): the day by which the requester
must have been told of an extension.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from inbox_bot import cases, deadlines
from inbox_bot.config import Settings
from inbox_bot.errors import LifecycleError
from inbox_bot.schema import Case, Draft


def pause(session: Session, case: Case, now: datetime, *, why: str, actor: str = "inbox-bot") -> None:
    """Stop the case's clock from `now` (idempotent: a running pause keeps its start)."""
    if case.paused_since is not None:
        return
    case.paused_since = now
    cases.record_event(session, case, "clock_paused", actor=actor, at=now,
                       detail={"why": why, "due_at": _iso(case.due_at)})


def resume(session: Session, settings: Settings, case: Case, now: datetime, *, why: str,
           actor: str = "inbox-bot") -> int:
    """End a running pause: move the deadlines by the days paused; return those days (0 if none).

    Both the deadline in force and the end of the first month move, because the first month is
    paused too; the event keeps the pause's bounds so that an extension can replay it.
    """
    if case.paused_since is None:
        return 0
    org = settings.organisation
    started = case.paused_since
    days = deadlines.paused_days(started, now, org.timezone)
    before = case.due_at
    if case.due_at is not None:
        case.due_at = deadlines.add_pause(case.due_at, started, now, org.timezone, org.holidays)
    if case.original_due_at is not None:
        case.original_due_at = deadlines.add_pause(case.original_due_at, started, now, org.timezone, org.holidays)
    case.paused_since = None
    cases.record_event(session, case, "clock_resumed", actor=actor, at=now, detail={
        "why": why, "paused_from": started.isoformat(), "paused_until": now.isoformat(), "days": days,
        "due_before": _iso(before), "due_after": _iso(case.due_at),
    })
    return days


def completed_pauses(case: Case) -> list[tuple[datetime, datetime]]:
    """Every finished pause of the case, in order, from its history."""
    out = []
    for event in case.events:
        if event.kind == "clock_resumed" and "paused_from" in event.detail:
            out.append((datetime.fromisoformat(event.detail["paused_from"]),
                        datetime.fromisoformat(event.detail["paused_until"])))
    return out


def extended_due(settings: Settings, case: Case) -> datetime:
    """Three months from receipt, moved by every completed pause in order."""
    org = settings.organisation
    due = deadlines.extended_due_at(case.received_at, org.timezone, org.holidays)
    for started, ended in completed_pauses(case):
        due = deadlines.add_pause(due, started, ended, org.timezone, org.holidays)
    return due


def extend(session: Session, settings: Settings, case: Case, reason: str, now: datetime,
           *, actor: str = "dpo") -> Draft:
    """Extend the deadline by two further months (art. 12(3)) and draft the notice to the requester.

    The reason is required because the notice must give it; an extension the law does not allow
    (a case already extended, closed, or with no clock) is a LifecycleError.
    """
    reason = (reason or "").strip()
    if not reason:
        raise LifecycleError(f"{case.reference}: an extension needs a reason; the requester must be told it")
    if case.extended:
        raise LifecycleError(f"{case.reference}: already extended; the law allows one extension of two months")
    if case.status not in cases.OPEN_STATUSES:
        raise LifecycleError(f"{case.reference}: a {case.status} case cannot be extended")
    if case.due_at is None:
        raise LifecycleError(f"{case.reference}: the case has no deadline to extend")
    before = case.due_at
    first_month_end = case.original_due_at or case.due_at
    case.extended = True
    case.extension_reason = reason
    case.due_at = extended_due(settings, case)
    cases.record_event(session, case, "extended", actor=actor, at=now, detail={
        "why": reason, "due_before": _iso(before), "due_after": _iso(case.due_at),
        "notice_by": _iso(first_month_end),
    })
    context = letter_context(settings, case)
    context.update(reason=reason, original_due_at=before, new_due_at=case.due_at)
    return create_draft(session, settings, case, "extension_notice", context, now)


def extension_notice_owed(case: Case) -> bool:
    """The case was extended and the requester has not yet been told (the digest warns)."""
    return bool(case.extended) and case.extension_notified_at is None and case.status in cases.OPEN_STATUSES


def mark_extension_notified(session: Session, case: Case, at: datetime) -> None:
    """For whoever sends the approved extension notice: the requester has now been told."""
    if case.extension_notified_at is None:
        case.extension_notified_at = at
        cases.record_event(session, case, "extension_notified", at=at)


def letter_context(settings: Settings, case: Case) -> dict:
    """What every letter to the requester needs (see templates/*/_intro.j2 and _signature.j2)."""
    org = settings.organisation
    return {
        "organisation": org.name,
        "contact": org.contact or org.address,
        "reference": case.reference,
        "received_at": case.received_at,
        "labels": list(case.labels or []),
        "timezone": org.timezone,
    }


def create_draft(session: Session, settings: Settings, case: Case, kind: str, context: dict,
                 now: datetime) -> Draft:
    """Render a letter as a pending draft and mail it to the DPO; nothing leaves until approved."""
    from inbox_bot import drafts

    return drafts.create_draft(session, settings, case, kind, context, now=now)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
