"""Case lifecycle hooks the pipeline calls when a case opens or a follow-up arrives.

Kept apart from the pipeline so that the rules of the lifecycle (identity pauses, reminders,
duplicates, reopening) live in one place and can be tested without a mailbox.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from inbox_bot import cases
from inbox_bot.config import Settings
from inbox_bot.schema import Case
from inbox_bot.values import Decision, InboundMail


def on_opened(session: Session, settings: Settings, case: Case, mail: InboundMail) -> None:
    """Called in the opening transaction, after the case and its replies are queued."""


def on_follow_up(session: Session, settings: Settings, case: Case, mail: InboundMail, decision: Decision) -> None:
    """Called in the message's transaction when a message attaches to an existing case."""
    if case.status in ("closed", "answered", "rejected"):
        cases.transition(session, case, "in_progress", why="the requester wrote again")
    elif case.status == "awaiting_identity":
        cases.transition(session, case, "in_progress", why="the requester answered")
