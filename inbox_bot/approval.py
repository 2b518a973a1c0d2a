"""Approval of drafts by email: the DPO answers a draft mail with OK, a rejection or an edit.

The pipeline asks `concerns_draft` for every message before deciding; when it says yes, the
message is handed to `handle` instead of opening or attaching to a case.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from inbox_bot.config import Settings
from inbox_bot.values import InboundMail, ScreenResult, ThreadKeys


def concerns_draft(session: Session, settings: Settings, mail: InboundMail, keys: ThreadKeys) -> bool:
    """True when the message answers one of our draft-for-approval mails."""
    return False


def handle(session: Session, settings: Settings, mail: InboundMail, screen: ScreenResult, keys: ThreadKeys) -> str:
    """Act on a DPO's answer to a draft inside the message's transaction; return what happened."""
    return "ignored"
