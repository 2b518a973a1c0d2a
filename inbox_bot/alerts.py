"""Internal alerts to the DPO about the bot's own health (not about cases)."""

from __future__ import annotations

from datetime import datetime

from inbox_bot import outbox
from inbox_bot.config import Settings
from inbox_bot.database import Database


def mailbox_unreachable(settings: Settings, db: Database, since: datetime) -> None:
    org = settings.organisation
    text = (
        f"inbox-bot has not been able to reach the mailbox since {since.astimezone(org.tz):%Y-%m-%d %H:%M %Z}.\n"
        "New requests are not being read, and their legal deadlines are running.\n"
        "Please check the mail server and the inbox-bot configuration.\n"
    )
    with db.transaction() as session:
        for dpo in org.dpo:
            outbox.queue(
                session,
                settings,
                outbox.Outgoing(
                    kind="mailbox_alert",
                    recipient=dpo,
                    language=org.default_language,
                    context={},
                    automatic=False,
                    auto_submitted="auto-generated",
                    copy_to_sent=False,
                    subject="inbox-bot: the mailbox is unreachable",
                    text=text,
                ),
            )
