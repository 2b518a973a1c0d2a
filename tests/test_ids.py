"""Ids handed out before the INSERT (inbox_bot.ids): unique under two concurrent writers.

On SQLite they are max(id)+1, safe only because every unit of work holds the write lock from
its BEGIN IMMEDIATE; on PostgreSQL they come from the table's sequence. Two writers on two
connections (a daemon and a `run --once`, or a CLI command) must never be given the same id.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from inbox_bot import ids
from inbox_bot.database import Database, upgrade
from inbox_bot.schema import OutboxRow

NOW = datetime(2026, 3, 9, 10, tzinfo=timezone.utc)


def _queue_rows(url: str, who: str, count: int, errors: list) -> None:
    db = Database(url)
    try:
        for n in range(count):
            with db.transaction() as session:
                for k in range(3):  # several ids in one transaction, written together at the commit
                    session.add(OutboxRow(
                        id=ids.next_id(session, OutboxRow), kind="acknowledgement", automatic=True,
                        recipient=f"{who}{n}-{k}@example.pl", envelope_from="iodo@optingo.eu",
                        message_id=f"<{who}-{n}-{k}@optingo.eu>", raw=b"x", status="queued",
                        next_attempt_at=NOW, deliver_by=NOW + timedelta(hours=1), created_at=NOW,
                    ))
    except Exception as exc:  # noqa: BLE001 - reported to the test's thread
        errors.append(exc)
    finally:
        db.dispose()


def test_two_concurrent_writers_never_get_the_same_id(db_url):
    upgrade(db_url)
    errors: list = []
    threads = [threading.Thread(target=_queue_rows, args=(db_url, who, 15, errors)) for who in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    db = Database(db_url)
    with db.session() as session:
        count, distinct = session.execute(select(func.count(OutboxRow.id), func.count(func.distinct(OutboxRow.id)))).one()
    db.dispose()
    assert count == distinct == 2 * 15 * 3


def test_ids_continue_after_rows_written_without_them(db_url):
    # A row numbered by the database itself (an earlier version, a manual fix) is not reused.
    upgrade(db_url)
    db = Database(db_url)
    with db.transaction() as session:
        session.add(OutboxRow(kind="x", automatic=False, recipient="a@example.pl", envelope_from="iodo@optingo.eu",
                              message_id="<m1@optingo.eu>", raw=b"x", status="queued", next_attempt_at=NOW,
                              deliver_by=NOW, created_at=NOW))
    with db.session() as session:
        first = session.execute(select(func.max(OutboxRow.id))).scalar_one()
    with db.transaction() as session:
        taken = [ids.next_id(session, OutboxRow) for _ in range(3)]
    db.dispose()
    assert min(taken) > first and len(set(taken)) == 3
