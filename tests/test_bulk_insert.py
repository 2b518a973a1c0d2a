"""eventlog.insert_rows and update_rows store exactly what SQLAlchemy's own executemany of `insert(table)`
(or of `update(table)` by primary key) stores.

The bulk writer bypasses SQLAlchemy's per-row parameter processing (it compiles the INSERT once
and runs the column types' bind steps itself, with a shortcut for UTC datetimes). What could go
wrong: a datetime written as other text (an offset kept, microseconds dropped), JSON serialised
differently, a boolean stored as other than 0/1, a NULL turned into JSON 'null' or the other way
round, bytes or non-ASCII text altered, a column left out, a refused value accepted. Each test
writes the same rows both ways and compares what the database holds as raw SQL text, on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, text

from inbox_bot import eventlog
from inbox_bot.schema import Case, CaseEvent, Message, OutboxRow, ScreenHit

UTC_NOW = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)
ON_THE_SECOND = datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)  # no microseconds: still ".000000" on SQLite
WARSAW = datetime(2026, 3, 29, 3, 30, 0, 5, tzinfo=ZoneInfo("Europe/Warsaw"))  # a zone other than UTC, on a DST day
PLUS_TWO = datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))


def _raw(session, table: str, columns: list[str], where: str) -> list[tuple]:
    """Every column as the database's own text of it: SQLite's quote() (type and bytes of a value),
    PostgreSQL's ::text (in this session's time zone, the same for both writes)."""
    dialect = session.get_bind().dialect.name
    shown = ", ".join(f"quote({c})" if dialect == "sqlite" else f"{c}::text" for c in columns)
    return [tuple(r) for r in session.execute(text(f"SELECT {shown} FROM {table} WHERE {where} ORDER BY id"))]


def _both_ways(db, model, rows_old: list[dict], rows_new: list[dict]) -> None:
    with db.transaction() as session:
        connection = session.connection()
        connection.execute(insert(model.__table__), rows_old)
        eventlog.insert_rows(connection, model.__table__, rows_new)


def _case_row(id_: int, **changes) -> dict:
    row = dict(id=id_, reference=f"IODO-2026-{id_:05d}", requester="zażółć.gęślą@example.pl", labels=["access", "ł"],
               language="pl", status="new", received_at=UTC_NOW, due_at=WARSAW, original_due_at=PLUS_TWO,
               extended=False, extension_reason="Przedłużenie – złożoność 😀", extension_notified_at=None,
               breach_due_at=ON_THE_SECOND, paused_since=None, identity_verified=True, flags=[],
               thread_message_id=None, thread_references=["<a@b>", {"nested": [1, 2.5, None, True]}],
               outcome=None, anonymised=True, created_at=UTC_NOW, updated_at=UTC_NOW, answered_at=None,
               closed_at=None)
    row.update(changes)
    return row


def test_a_case_row_of_every_column_type_is_stored_the_same_both_ways(db):
    # Datetimes in UTC, in another zone and on the second; JSON with non-ASCII and nesting;
    # booleans; NULLs; non-ASCII text. Ids 1-2 by SQLAlchemy, 11-12 by insert_rows.
    rows = [_case_row(1), _case_row(2, labels=[], flags=["spoofed"], extended=True, due_at=None, language="en")]
    _both_ways(db, Case, rows, [dict(row, id=row["id"] + 10, reference=row["reference"] + "b") for row in rows])
    columns = [c.name for c in Case.__table__.columns if c.name not in ("id", "reference")]
    with db.session() as session:
        old = _raw(session, "cases", columns, "id < 10")
        new = _raw(session, "cases", columns, "id > 10")
    assert len(old) == 2 and new == old


def test_outbox_rows_with_bytes_and_a_none_spec_are_stored_the_same_both_ways(db):
    with db.transaction() as session:
        session.add(Case(**_case_row(1)))
    base = dict(case_id=1, kind="acknowledgement", automatic=True, recipient="jan@example.pl",
                envelope_from="iodo@optingo.eu", raw=b"\x00\xff\xc5\x82 raw bytes\r\n", spec=None, status="queued",
                attempts=0, next_attempt_at=UTC_NOW, deliver_by=WARSAW, copy_to_sent=False, copied_to_sent=True,
                created_at=ON_THE_SECOND)
    old = [dict(base, id=1, message_id="a@x"), dict(base, id=2, message_id="b@x", raw=None, spec='{"ł": 1}', case_id=None)]
    new = [dict(row, id=row["id"] + 10, message_id=row["message_id"] + "n") for row in old]
    _both_ways(db, OutboxRow, old, new)
    columns = [c.name for c in OutboxRow.__table__.columns if c.name not in ("id", "message_id")]
    with db.session() as session:
        assert _raw(session, "outbox", columns, "id > 10") == _raw(session, "outbox", columns, "id < 10")


def test_events_and_hits_without_ids_are_stored_the_same_both_ways(db):
    # Autoincremented ids (not compared) and a JSON detail of an empty dict and of None
    # (SQLAlchemy's JSON writes None as the JSON text 'null', not SQL NULL).
    with db.transaction() as session:
        session.add(Case(**_case_row(1)))
        session.add(Message(id=1, mailbox="INBOX", uidvalidity=1, uid=1, message_key="k", raw=b"x", size=1,
                            received_at=UTC_NOW, status="new", attempts=0))
    events = [dict(kind="opened", actor="inbox-bot", detail={"labels": ["access"], "reason": "prośba"}, at=UTC_NOW,
                   from_status=None, to_status="new", case_id=1),
              dict(kind="note", actor="dpo@optingo.eu", detail={}, at=WARSAW, from_status="new", to_status=None,
                   case_id=1),
              dict(kind="null", actor="inbox-bot", detail=None, at=ON_THE_SECOND, from_status=None, to_status=None,
                   case_id=1)]
    hits = [dict(message_pk=1, rule="auto_submitted", verdict="auto_reply", reason="Auto-Submitted: auto-replied ü")]
    with db.transaction() as session:
        connection = session.connection()
        connection.execute(insert(CaseEvent.__table__), events)
        connection.execute(insert(ScreenHit.__table__), hits)
    with db.transaction() as session:
        connection = session.connection()
        eventlog.insert_rows(connection, CaseEvent.__table__, events)
        eventlog.insert_rows(connection, ScreenHit.__table__, hits)
    with db.session() as session:
        stored = _raw(session, "case_events", ["case_id", "at", "kind", "actor", "from_status", "to_status", "detail"],
                      "1=1")
        assert stored[:3] == stored[3:] and len(stored) == 6
        assert _raw(session, "screen_hits", ["message_pk", "rule", "verdict", "reason"], "1=1") == \
            [("1", "'auto_submitted'", "'auto_reply'", "'Auto-Submitted: auto-replied ü'")] * 2 \
            if session.get_bind().dialect.name == "sqlite" else \
            [("1", "auto_submitted", "auto_reply", "Auto-Submitted: auto-replied ü")] * 2


def test_rows_insert_rows_cannot_write_itself_go_through_sqlalchemy(db):
    # A row without its defaulted columns (SQLAlchemy fills them per row); rows whose keys differ
    # and a naive datetime are refused with SQLAlchemy's own error, not another one.
    from sqlalchemy.exc import StatementError

    with db.transaction() as session:
        session.add(Case(**_case_row(1)))
    with db.transaction() as session:
        eventlog.insert_rows(session.connection(), CaseEvent.__table__, [dict(kind="defaults", case_id=1)])
    with db.session() as session:
        stored = session.execute(text("SELECT kind, actor, CAST(detail AS TEXT), at IS NOT NULL FROM case_events"))
        assert [tuple(r) for r in stored] == [("defaults", "inbox-bot", "{}", True)]
    with pytest.raises(StatementError, match="A value is required for bind parameter 'at'"), \
            db.transaction() as session:
        eventlog.insert_rows(session.connection(), CaseEvent.__table__,
                             [dict(kind="a", case_id=1, at=UTC_NOW), dict(kind="b", case_id=1)])
    with pytest.raises(StatementError, match="naive datetime"), db.transaction() as session:
        eventlog.insert_rows(session.connection(), CaseEvent.__table__,
                             [dict(kind="naive", actor="x", detail={}, at=datetime(2026, 3, 2, 9, 30),
                                   from_status=None, to_status=None, case_id=1)])


def test_the_statement_is_compiled_once_and_sent_as_one_executemany(db):
    # Guards the point of the module: one driver executemany per call, and no compile per call.
    with db.transaction() as session:
        session.add(Case(**_case_row(1)))
    calls: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        calls.append((statement.split("(")[0].strip(), executemany))

    rows = [dict(kind=f"k{i}", actor="inbox-bot", detail={}, at=UTC_NOW, from_status=None, to_status=None, case_id=1)
            for i in range(5)]
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.transaction() as session:
            eventlog.insert_rows(session.connection(), CaseEvent.__table__, rows)
            plans = dict(eventlog._PLANS[session.connection().dialect])
            eventlog.insert_rows(session.connection(), CaseEvent.__table__, rows)
            assert eventlog._PLANS[session.connection().dialect] == plans
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [c for c in calls if c[0] == "INSERT INTO case_events"] == [("INSERT INTO case_events", True)] * 2


def test_repeated_datetimes_and_json_of_every_shape_are_stored_the_same_both_ways(db):
    # The UTC text is remembered per datetime and JSON is encoded by json.dumps's C encoder
    # called directly. What could go wrong: a remembered text given to an equal instant in
    # another zone written otherwise, a datetime rounded or cut, JSON with other separators,
    # escapes or float text, a dict subclass or a scalar taking the shortcut wrongly.
    from collections import OrderedDict

    with db.transaction() as session:
        session.add(Case(**_case_row(1)))
    same_instant_warsaw = UTC_NOW.astimezone(ZoneInfo("Europe/Warsaw"))
    details = [{"labels": ["access", "ł"], "confidence": 0.9812, "big": 1e300, "neg": -0.0},
               [1, "two", None, True, {"3": [4.5]}], {"zw": "\u2028\u00e9😀\"\\\n"}, {7: "int key", "b": False},
               OrderedDict(a=1), "a string", 12, None, {}, []]
    times = [UTC_NOW, same_instant_warsaw, UTC_NOW, ON_THE_SECOND, WARSAW, UTC_NOW + timedelta(microseconds=1),
             ON_THE_SECOND, PLUS_TWO, UTC_NOW, ON_THE_SECOND]
    rows = [dict(kind=f"k{i}", actor="inbox-bot", detail=detail, at=at, from_status=None, to_status=None, case_id=1)
            for i, (detail, at) in enumerate(zip(details, times))]
    with db.transaction() as session:
        session.connection().execute(insert(CaseEvent.__table__), rows)
    for _ in range(2):  # the second time, every datetime's text is a remembered one
        with db.transaction() as session:
            eventlog.insert_rows(session.connection(), CaseEvent.__table__, rows)
    with db.session() as session:
        stored = _raw(session, "case_events", ["at", "kind", "detail"], "1=1")
    assert len(stored) == 30 and stored[:10] == stored[10:20] == stored[20:]


def test_a_json_value_json_dumps_refuses_is_refused_as_before(db):
    # The shortcut keeps no circular-reference check: such a value, and one json cannot encode,
    # must still fail with the error SQLAlchemy's insert raises (and leave the shortcut usable).
    with db.transaction() as session:
        session.add(Case(**_case_row(1)))
    circular: dict = {}
    circular["self"] = circular
    row = dict(kind="x", actor="inbox-bot", at=UTC_NOW, from_status=None, to_status=None, case_id=1)

    def error_of(write) -> tuple[type, str]:
        with pytest.raises(Exception) as raised, db.transaction() as session:
            write(session.connection())
        return type(raised.value), str(raised.value).split("\n")[0]

    for bad, message in ((circular, "Circular reference"), ({"when": UTC_NOW}, "not JSON serializable")):
        rows = [dict(row, detail=bad)]
        expected = error_of(lambda connection: connection.execute(insert(CaseEvent.__table__), rows))
        assert message in expected[1]
        assert error_of(lambda connection: eventlog.insert_rows(connection, CaseEvent.__table__, rows)) == expected
    with db.transaction() as session:
        eventlog.insert_rows(session.connection(), CaseEvent.__table__, [dict(row, detail={"ok": [1]})])
    with db.session() as session:
        assert [tuple(r) for r in session.execute(text("SELECT CAST(detail AS TEXT) FROM case_events"))] == \
            [('{"ok": [1]}',)]


# -- update_rows ---------------------------------------------------------------------------------

def _update_both_ways(db, model, changes: list[dict]) -> None:
    """Apply `changes` (each with "_pk" naming a row < 10) by SQLAlchemy to those rows and by
    update_rows to the rows 10 above them."""
    from sqlalchemy import bindparam, update

    table = model.__table__
    with db.transaction() as session:
        connection = session.connection()
        connection.execute(update(table).where(table.c.id == bindparam("_pk")), changes)
        eventlog.update_rows(connection, table, [dict(row, _pk=row["_pk"] + 10) for row in changes], "_pk")


def _messages(db, pks, **values) -> None:
    """New message records with these ids (each its own uid and key), as recording leaves them."""
    base = dict(mailbox="INBOX", uidvalidity=7, size=3, received_at=UTC_NOW, status="new", attempts=0,
                server_done=False, created_at=UTC_NOW, **values)
    with db.transaction() as session:
        session.connection().execute(insert(Message.__table__),
                                     [dict(base, id=pk, uid=pk, message_key=f"k{pk}") for pk in pks])


def test_a_message_records_changes_of_every_column_type_are_stored_the_same_both_ways(db):
    # What applying writes into a message's record: text, JSON labels, a float, datetimes in UTC
    # and in another zone, NULLs, bytes (minimised raw mail), a boolean.
    _messages(db, (1, 2, 11, 12), raw=b"raw")
    changes = [
        dict(_pk=1, sender="zażółć@example.pl", subject="Żądanie 😀", labels=["access", "ł"], confidence=0.98125,
             status="processed", processed_at=UTC_NOW, raw=b"\x00\xff minimised", server_done=True, case_id=None),
        dict(_pk=2, sender=None, subject="", labels=[], confidence=None, status="quarantined", processed_at=WARSAW,
             raw=None, server_done=False, case_id=None),
    ]
    _update_both_ways(db, Message, changes)
    columns = [c.name for c in Message.__table__.columns if c.name not in ("id", "uid", "message_key")]
    with db.session() as session:
        old = _raw(session, "messages", columns, "id < 10")
        new = _raw(session, "messages", columns, "id > 10")
    assert len(old) == 2 and new == old
    assert old[0] != old[1]


def test_an_update_is_one_executemany_of_a_plan_compiled_once(db):
    _messages(db, range(1, 6))
    calls: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        calls.append((statement.split(" SET")[0].strip(), executemany))

    rows = [dict(_pk=pk, status="processed", processed_at=UTC_NOW) for pk in range(1, 6)]
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.transaction() as session:
            eventlog.update_rows(session.connection(), Message.__table__, rows, "_pk")
            plans = dict(eventlog._PLANS[session.connection().dialect])
            eventlog.update_rows(session.connection(), Message.__table__, rows, "_pk")
            assert eventlog._PLANS[session.connection().dialect] == plans
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [c for c in calls if c[0] == "UPDATE messages"] == [("UPDATE messages", True)] * 2
    with db.session() as session:
        assert [tuple(r) for r in session.execute(text("SELECT DISTINCT status FROM messages"))] == [("processed",)]


def test_updates_update_rows_cannot_write_itself_go_through_sqlalchemy(db):
    # A key parameter named like a column, rows whose keys differ and a naive datetime: the same
    # outcome as SQLAlchemy's own update, its error included.
    from sqlalchemy.exc import CompileError, StatementError

    _messages(db, (1, 2))
    with pytest.raises(CompileError, match="bindparam\\(\\) name 'id' is reserved"), db.transaction() as session:
        # Named like a column: SQLAlchemy's update is used, and refuses it.
        eventlog.update_rows(session.connection(), Message.__table__, [dict(id=1, status="processed")], "id")
    with db.transaction() as session:
        eventlog.update_rows(session.connection(), Message.__table__, [dict(_pk=1, status="processed")], "_pk")
    with pytest.raises(StatementError, match="A value is required for bind parameter 'status'"), \
            db.transaction() as session:
        eventlog.update_rows(session.connection(), Message.__table__,
                             [dict(_pk=1, status="quarantined", attempts=3), dict(_pk=2, attempts=3)], "_pk")
    with pytest.raises(StatementError, match="naive datetime"), db.transaction() as session:
        eventlog.update_rows(session.connection(), Message.__table__,
                             [dict(_pk=2, processed_at=datetime(2026, 3, 2, 9, 30))], "_pk")
    with db.session() as session:
        stored = [tuple(r) for r in session.execute(text("SELECT id, status, attempts, processed_at FROM messages ORDER BY id"))]
    assert stored == [(1, "processed", 0, None), (2, "new", 0, None)]
