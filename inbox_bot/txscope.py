"""State kept on a session for the length of its outermost transaction, then forgotten.

Several steps keep working state in `session.info` that is true only inside one transaction:
ids reserved under SQLite's write lock (inbox_bot.ids), case events not yet written
(inbox_bot.eventlog), a group's lookups (inbox_bot.grouplookups), the reference counter read
with its row lock (inbox_bot.cases). Carried into a later transaction of the same session, any
of them would be stale: an id another writer has taken since, a counter another process has
moved on. A savepoint's end changes nothing here.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEYS: set[str] = set()


def key(name: str) -> str:
    """Register `name` as a session.info key forgotten at the end of the outermost transaction."""
    _KEYS.add(name)
    return name


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        for name in _KEYS:
            session.info.pop(name, None)
