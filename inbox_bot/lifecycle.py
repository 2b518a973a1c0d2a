"""Case lifecycle hooks the pipeline calls when a case opens or a follow-up arrives.

Kept apart from the pipeline so that the rules of the lifecycle (identity pauses, reminders,
duplicates, reopening) live in one place and can be tested without a mailbox. The hooks run in
the message's transaction; `now` defaults to the present and is a parameter for tests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from inbox_bot import cases, clocks, identity
from inbox_bot.config import Settings
from inbox_bot.errors import LifecycleError
from inbox_bot.schema import Case, utcnow
from inbox_bot.values import Decision, InboundMail

# A case that has been answered or ended comes back to work when the requester writes again.
REOPENING_STATUSES = frozenset({"closed", "answered", "rejected"})


def on_opened(session: Session, settings: Settings, case: Case, mail: InboundMail,
              now: datetime | None = None) -> None:
    """Called in the opening transaction, after the case and its replies are queued.

    Starts identity verification where the request types need it (the acknowledgement has
    already gone out: receipt is confirmed whatever the identity).
    """
    from inbox_bot import drafts

    now = now or utcnow()
    if identity.needs_identity(session, settings, case):
        identity.request_identity(session, settings, case, now)
    else:
        # The substantive replies are drafted at once, for the DPO to complete and approve.
        drafts.drafts_for_new_case(session, settings, case, now)


def on_follow_up(session: Session, settings: Settings, case: Case, mail: InboundMail, decision: Decision,
                 now: datetime | None = None) -> None:
    """Called in the message's transaction when a message attaches to an existing case."""
    now = now or utcnow()
    flags = set(decision.flags)
    if case.status in REOPENING_STATUSES and "after_close" not in flags:
        cases.transition(session, case, "in_progress", at=now, why="the requester wrote again")
        cases.add_flag(session, case, "reopened", at=now)
    elif case.status == "awaiting_identity" and "duplicate" not in flags:
        # The requester answered the request for identification: the clock runs again by
        # itself; whether the answer suffices is for the DPO to judge on the case. A duplicate
        # (a new letter asking the same, not a reply) answers nothing and leaves the pause on.
        cases.transition(session, case, "in_progress", at=now, why="the requester answered")
        clocks.resume(session, settings, case, now, why="the requester answered")
    elif "reminder" in flags:
        cases.add_flag(session, case, "raised", at=now, detail={"why": "the requester asked again"})
    if "duplicate" in flags:
        # Same requester, same rights, case still open: one case, and the DPO sees the repeat.
        cases.add_flag(session, case, "duplicate", at=now, detail={"labels": list(decision.labels)})


def relabel(session: Session, settings: Settings, case: Case, labels: list[str], now: datetime,
            *, actor: str = "dpo") -> None:
    """The DPO corrects the request types; a triage case leaves triage for the normal path.

    The "relabelled" event is what `inbox-bot train` learns from (inbox_bot.training). A breach
    report found by relabelling starts its 72-hour clock from receipt, as the law counts it.
    """
    from inbox_bot import deadlines
    from inbox_bot.values import LABELS

    unknown = sorted(set(labels) - set(LABELS))
    if not labels or unknown:
        raise LifecycleError(f"{case.reference}: unknown request type {unknown[0] if unknown else '(none)'}")
    previous = list(case.labels or [])
    case.labels = list(dict.fromkeys(labels))
    cases.record_event(session, case, "relabelled", actor=actor, at=now,
                       detail={"labels": list(case.labels), "previous": previous})
    if "breach_report" in case.labels and case.breach_due_at is None:
        case.breach_due_at = deadlines.breach_due_at(case.received_at)
    if "marketing_optout" in case.labels and "marketing_optout" not in previous and case.requester:
        # The objection to marketing takes effect now, as it would have on arrival.
        from inbox_bot import suppression

        if suppression.add(session, case.requester, source=case.reference):
            cases.record_event(session, case, "suppressed", actor=actor, at=now, detail={"list": "marketing"})
    if case.status == "triage":
        acknowledged = any(e.kind == "reply_queued" for e in case.events)
        cases.transition(session, case, "acknowledged" if acknowledged else "new", actor=actor, at=now,
                         why="relabelled by the DPO")
        if identity.needs_identity(session, settings, case):
            identity.request_identity(session, settings, case, now)
