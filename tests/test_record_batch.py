"""Recording a fetched batch: the ids, the duplicates, and the new records handed on as they are.

On SQLite the records' ids are taken before the INSERT (max + 1 under the write lock) and the
rows written by one executemany; `Recording.fresh` hands the new records to `Processor.begin`
instead of reading them back. What could go wrong: ids other than the database's own numbering,
a duplicate recorded twice or counted as new, a fresh record unlike the stored one (another
time, other bytes, the place of the other copy), an order of preparation other than by id.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, event, func, select, update

from helpers import ORGANISATION, request_mail
from inbox_bot import config as config_mod
from inbox_bot.pipeline import Processor, record_batch
from inbox_bot.schema import Message
from inbox_bot.values import FetchedMessage

RECEIVED = datetime(2026, 3, 29, 0, 59, 59, tzinfo=timezone.utc)  # the night Warsaw moves its clocks


def _mail(n: int, message_id: str | None = None) -> bytes:
    return request_mail(f"osoba{n}@example.pl", f"Wniosek {n}", f"Proszę o kopię moich danych {n}. Żółć ✓",
                        message_id=message_id or f"<m{n}@example.pl>")


def _fetched(uid: int, raw: bytes, uidvalidity: int = 7) -> FetchedMessage:
    return FetchedMessage("INBOX", uidvalidity, uid, raw, RECEIVED + timedelta(seconds=uid))


def _settings(db) -> config_mod.Settings:
    return config_mod.from_dict({"organisation": dict(ORGANISATION), "database": {"url": str(db.engine.url)}}, "<test>")


def test_ids_duplicates_and_fresh_records_are_what_the_database_holds(db):
    first = record_batch(db, [_fetched(1, _mail(1)), _fetched(2, _mail(2)), _fetched(3, _mail(3))])
    assert first.pks == sorted(first.fresh) and len(set(first.pks)) == 3
    with db.transaction() as session:  # the newest record purged: its number is free again
        session.execute(delete(Message).where(Message.id == first.pks[-1]))
        session.execute(update(Message).where(Message.id == first.pks[0]).values(status="processed"))
    second = record_batch(db, [
        _fetched(11, _mail(1)),  # the same mail as uid 1, under another uid: no new record
        _fetched(12, _mail(4)),
        _fetched(13, _mail(5)),
        _fetched(14, _mail(5)),  # twice in this batch: one record, in the place of the last copy
        _fetched(15, _mail(6, message_id="")),  # no Message-ID: keyed by its bytes
    ])
    assert second.pks[0] == first.pks[0] and second.pks[2] == second.pks[3]
    new_ids = [second.pks[1], second.pks[2], second.pks[4]]
    assert sorted(second.fresh) == new_ids and len(set(new_ids)) == 3
    if db.engine.dialect.name == "sqlite":
        # SQLite's own numbering without AUTOINCREMENT: the largest id in the table, plus one.
        assert new_ids == [first.pks[1] + 1, first.pks[1] + 2, first.pks[1] + 3]
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 2 + 3
        columns = (Message.id, Message.uid, Message.uidvalidity, Message.received_at, Message.raw, Message.status,
                   Message.attempts, Message.size)
        stored = {row.id: row for row in session.execute(select(*columns))}
    for pk, item in second.fresh.items():
        row = stored[pk]
        assert (item.pk, item.uid, item.uidvalidity, item.received_at, item.raw) == \
            (row.id, row.uid, row.uidvalidity, row.received_at, row.raw)
        assert row.status == "new" and row.attempts == 0 and row.size == len(row.raw)
    assert second.fresh[second.pks[2]].uid == 14 == stored[second.pks[2]].uid
    assert second.fresh[second.pks[4]].received_at == RECEIVED + timedelta(seconds=15)
    assert stored[second.pks[0]].uid == 11  # the duplicate's record now points at where the mail is


def test_begin_hands_over_fresh_records_as_reading_them_back_would(db):
    done = record_batch(db, [_fetched(1, _mail(1))])
    left = record_batch(db, [_fetched(2, _mail(9))])  # recorded earlier and not yet processed
    with db.transaction() as session:
        session.execute(update(Message).where(Message.id == done.pks[0]).values(status="processed", decision="open_case"))
    # Fetched in an order unlike their ids (a copy of processed mail first, a copy of the
    # unprocessed one last): prepared by id, the older record read back from the database.
    recording = record_batch(db, [_fetched(21, _mail(1)), _fetched(22, _mail(2)), _fetched(23, _mail(3)),
                                  _fetched(24, _mail(9))])
    assert set(recording.fresh) == set(recording.pks[1:3])
    processor = Processor(_settings(db), db)
    try:
        handed = processor.begin(list(reversed(recording.pks)), recording.fresh)
        read_back = processor.begin(list(reversed(recording.pks)))
    finally:
        processor.close()
    assert handed.items == read_back.items
    assert [item.pk for item in handed.items] == [left.pks[0], *sorted(recording.fresh)]
    assert handed.items[0].uid == 24
    assert [(o.message_pk, o.status, o.uid) for o in handed.settled] == \
        [(o.message_pk, o.status, o.uid) for o in read_back.settled] == [(done.pks[0], "processed", 21)]


def test_a_batch_is_written_by_one_insert(db):
    statements: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO messages"):
            statements.append((statement.split(" VALUES")[0], executemany))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        recording = record_batch(db, [_fetched(uid, _mail(uid)) for uid in range(1, 31)])
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(recording.fresh) == 30
    if db.engine.dialect.name == "sqlite":
        assert len(statements) == 1 and statements[0][1] is True
    else:  # PostgreSQL numbers them from its sequence: one multi-row INSERT ... RETURNING
        assert len(statements) == 1
