"""Internal alerts to the DPO: the bot's own health and delivery problems, queued in the outbox.

Alerts go to the configured DPO addresses only, are never counted as automatic replies to a
requester, and never get a copy in the Sent folder.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from inbox_bot import outbox
from inbox_bot.config import Settings
from inbox_bot.database import Database
from inbox_bot.schema import Case


def tell_dpo(session: Session, settings: Settings, kind: str, subject: str, text: str, case: Case | None = None) -> int:
    """Queue one plain-text alert to every DPO address inside the caller's transaction."""
    org = settings.organisation
    queued = 0
    for dpo in org.dpo:
        row = outbox.queue(
            session,
            settings,
            outbox.Outgoing(
                kind=kind,
                recipient=dpo,
                language=org.default_language,
                context={},
                automatic=False,
                auto_submitted="auto-generated",
                copy_to_sent=False,
                subject=subject,
                text=text,
            ),
            case,
        )
        queued += row is not None
    return queued


def mailbox_unreachable(settings: Settings, db: Database, since: datetime) -> None:
    org = settings.organisation
    text = (
        f"inbox-bot has not been able to reach the mailbox since {since.astimezone(org.tz):%Y-%m-%d %H:%M %Z}.\n"
        "New requests are not being read, and their legal deadlines are running.\n"
        "Please check the mail server and the inbox-bot configuration.\n"
    )
    with db.transaction() as session:
        tell_dpo(session, settings, "mailbox_alert", "inbox-bot: the mailbox is unreachable", text)
