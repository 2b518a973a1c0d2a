"""What the apply step looks up about a group's senders, read once per group instead of per message.

Four lookups ran for every message of a backlog: the automatic replies already sent to the
sender (the reply cap), the sender's open cases (duplicates), whether the sender's identity
was verified on another case, and whether an opt-out's sender is on the suppression list. The
first three were 0.8 ms of a message's 3 ms. The pipeline now reads them for all senders of a
group in three queries at the group's start (inside its transaction, which
on SQLite holds the write lock, so nobody else changes them meanwhile), and records what the
group itself adds (replies queued, cases opened). Functions outside a group, or for an address
not read here, ask the database as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox_bot import txscope
from inbox_bot.schema import Case, OutboxRow, Suppression

if TYPE_CHECKING:  # outbox imports this module
    from inbox_bot.outbox import Queued

_KEY = txscope.key("inbox_bot.group_lookups")


@dataclass
class GroupLookups:
    since: datetime  # replies prefetched from this time on (the longer cap window before the group began)
    replies: dict[str, list[datetime]]  # sender -> times of automatic replies to it, as stored
    open_cases: dict[str, list[int]]  # sender -> ids of its open cases, as stored
    verified: frozenset[str]  # senders verified on some case
    suppressed: set[str] = field(default_factory=set)  # senders on the suppression list, and those the group put there
    queued: list[Queued] = field(default_factory=list)  # automatic replies queued by the group
    opened: list[Case] = field(default_factory=list)  # cases opened by the group

    @property
    def senders(self):
        return self.replies.keys()  # every sender read here has an entry, empty or not

    def replies_to(self, recipient: str, start: datetime) -> int | None:
        """Automatic replies to `recipient` since `start`, or None when not read here."""
        if recipient not in self.replies or start < self.since:
            return None
        stored = sum(1 for at in self.replies[recipient] if at >= start)
        return stored + sum(1 for row in self.queued if row.recipient == recipient and row.created_at >= start)


def load(session: Session, settings, senders: set[str], now: datetime) -> GroupLookups:
    """Read the lookups for `senders` and keep them on the session until its transaction ends."""
    from inbox_bot.cases import OPEN_STATUSES

    senders = sorted(senders)
    r = settings.replies
    since = now - timedelta(hours=max(r.cap_window_hours, r.cap_window_long_hours))
    conn = session.connection()
    replies: dict[str, list[datetime]] = {s: [] for s in senders}
    open_cases: dict[str, list[int]] = {s: [] for s in senders}
    verified: set[str] = set()
    if senders:
        for recipient, at in conn.execute(select(OutboxRow.recipient, OutboxRow.created_at).where(
                OutboxRow.recipient.in_(senders), OutboxRow.automatic.is_(True), OutboxRow.created_at >= since)):
            replies[recipient].append(at)
        # The open statuses are picked here, not in SQL: given both conditions, SQLite (no
        # statistics) searched the status index, every open case of the mailbox for each group,
        # a cost growing with the register (0.36 ms a group at 8,500 cases, 0.05 by requester).
        # Whether a sender was verified comes with the same rows: every case of a sender is read.
        for requester, case_id, status, identity_verified in conn.execute(
                select(Case.requester, Case.id, Case.status, Case.identity_verified).where(
                    Case.requester.in_(senders)).order_by(Case.id)):
            if status in OPEN_STATUSES:
                open_cases[requester].append(case_id)
            if identity_verified:
                verified.add(requester)
        # Senders are normalised addresses, the list's own form (inbox_bot.suppression).
        suppressed = set(conn.execute(select(Suppression.address).where(Suppression.address.in_(senders))).scalars())
    else:
        suppressed = set()
    lookups = GroupLookups(since, replies, open_cases, frozenset(verified), suppressed)
    session.info[_KEY] = lookups
    return lookups


def of(session: Session) -> GroupLookups | None:
    return session.info.get(_KEY)
