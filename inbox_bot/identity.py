"""Identity verification: whether a new case must wait for the requester to identify themselves.

Art. 12(6) lets the controller ask for information needed to confirm identity when it has
reasonable doubts. The request types that need it are a setting (`cases.identity_required`);
an address that has already been verified on another case is taken as known. The request for
identification is a draft for the DPO's approval, never sent by itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox_bot import cases, clocks, grouplookups
from inbox_bot.config import Settings
from inbox_bot.schema import Case, Draft


def required_for(settings: Settings, labels) -> bool:
    """True when any of the request types is configured to need identity verification."""
    return bool(set(labels or ()) & set(settings.cases.identity_required))


def known_address(session: Session, case: Case) -> bool:
    """The requester's address was verified on another case of ours."""
    if not case.requester:
        return False
    lookups = grouplookups.of(session)
    if lookups is not None and not case.identity_verified and case.requester in lookups.open_cases:
        # Read with the group's other senders; this case is not verified, so any verified one is another.
        return case.requester in lookups.verified
    found = session.execute(
        select(Case.id).where(Case.requester == case.requester, Case.identity_verified.is_(True), Case.id != case.id)
    ).first()
    return found is not None


def needs_identity(session: Session, settings: Settings, case: Case) -> bool:
    return (
        case.requester is not None
        and not case.identity_verified
        and case.status in ("new", "acknowledged", "in_progress")
        and required_for(settings, case.labels)
        and not known_address(session, case)
    )


def request_identity(session: Session, settings: Settings, case: Case, now: datetime) -> Draft:
    """Put the case in awaiting_identity (pausing the clock if configured) and draft the request."""
    paused = settings.cases.pause_for_identity
    cases.transition(session, case, "awaiting_identity", at=now,
                     why="identity to be confirmed: " + ", ".join(sorted(required_for_labels(settings, case.labels))))
    if paused:
        clocks.pause(session, case, now, why="waiting for the requester's identification")
    context = clocks.letter_context(settings, case)
    context.update(details=None, clock_paused=paused)
    return clocks.create_draft(session, settings, case, "identity_request", context, now)


def verified(session: Session, case: Case, now: datetime, *, actor: str = "dpo") -> None:
    """The DPO confirmed the requester's identity."""
    case.identity_verified = True
    cases.record_event(session, case, "identity_verified", actor=actor, at=now)


def required_for_labels(settings: Settings, labels) -> set[str]:
    return set(labels or ()) & set(settings.cases.identity_required)

