"""New cases and drafts are written by the flush as plain rows, and stay usable ORM objects.

What could go wrong: a column the unit of work would have filled (a default, a timestamp) left
NULL or different; a change made to the case after the flush never written; a draft written
before its case; an object whose id is not known in advance written without one; the session
asking the database again for attributes it was given.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select, text

from inbox_bot import cases, ids
from inbox_bot.schema import Case, CaseEvent, Draft

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def orm_inserts():
    """The objects the unit of work itself inserts (its mapper events do not fire for plain rows)."""
    seen: list = []

    def note(mapper, connection, target):
        seen.append(target)

    for model in (Case, Draft):
        event.listen(model, "before_insert", note)
    yield seen
    for model in (Case, Draft):
        event.remove(model, "before_insert", note)


def _new_case(session, reference: str, with_id: bool = True) -> Case:
    case = Case(reference=reference, requester="jan@example.pl", labels=["access"], language="pl", status="new",
                received_at=RECEIVED, due_at=RECEIVED, original_due_at=RECEIVED, flags=[],
                thread_message_id="req@example.pl", thread_references=[])
    if with_id:
        case.id = ids.next_id(session, Case)
    session.add(case)
    return case


def _draft(session, case: Case) -> Draft:
    draft = Draft(id=ids.next_id(session, Draft), case_id=case.id, kind="access_reply", language="pl",
                  subject="S", body="B", nonce="n" * 32)
    session.add(draft)
    return draft


def test_rows_carry_every_value_and_default_the_unit_of_work_would_have_written(db, orm_inserts):
    with db.transaction() as session:
        case = _new_case(session, "IODO-2026-00001")
        draft = _draft(session, case)
        cases.record_event(session, case, "opened", to_status="new")
        session.flush()
        assert case not in session.new and draft not in session.new and orm_inserts == []
        # The defaults are on the objects too: nothing of them is fetched again.
        assert (case.extended, case.identity_verified, case.anonymised, draft.status) == (False, False, False, "pending")
        assert case.created_at is not None and draft.created_at is not None
    with db.session() as session:
        stored = session.get(Case, case.id)
        assert (stored.reference, stored.labels, stored.flags, stored.extended, stored.anonymised) == (
            "IODO-2026-00001", ["access"], [], False, False)
        assert stored.created_at == case.created_at and stored.updated_at == case.updated_at
        assert session.get(Draft, draft.id).case_id == case.id
        assert [e.kind for e in session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)).scalars()] == ["opened"]


def test_a_change_after_the_flush_is_written_at_the_commit(db):
    with db.transaction() as session:
        case = _new_case(session, "IODO-2026-00002")
        session.flush()
        cases.transition(session, case, "acknowledged", why="acknowledgement queued")
        case.flags = ["spoofed"]
    with db.session() as session:
        stored = session.get(Case, case.id)
        assert (stored.status, stored.flags) == ("acknowledged", ["spoofed"])
        assert [e.to_status for e in session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)).scalars()] \
            == ["acknowledged"]


def test_a_case_without_an_id_in_advance_is_left_to_the_unit_of_work(db, orm_inserts):
    with db.transaction() as session:
        case = _new_case(session, "IODO-2026-00003", with_id=False)
        session.flush()
        assert case.id is not None and orm_inserts == [case]
    with db.session() as session:
        assert session.get(Case, case.id).reference == "IODO-2026-00003"


def test_the_flush_writes_them_in_one_statement_per_table(db):
    statements: list[str] = []
    with db.transaction() as session:
        new_cases = [_new_case(session, f"IODO-2026-{i:05d}") for i in range(10, 15)]
        for case in new_cases:
            _draft(session, case)

        def seen(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement.split("(")[0].strip())

        event.listen(session.connection().engine, "before_cursor_execute", seen)
        try:
            session.flush()
        finally:
            event.remove(session.connection().engine, "before_cursor_execute", seen)
    assert statements.count("INSERT INTO cases") == 1 and statements.count("INSERT INTO drafts") == 1
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM drafts")).scalar_one() == 5


def test_nothing_of_a_rolled_back_transaction_stays(db):
    with pytest.raises(RuntimeError), db.transaction() as session:
        case = _new_case(session, "IODO-2026-00020")
        _draft(session, case)
        session.flush()
        raise RuntimeError("the message failed")
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM cases")).scalar_one() == 0
        assert session.execute(text("SELECT count(*) FROM drafts")).scalar_one() == 0


def test_events_added_through_a_new_cases_loaded_history_are_written_with_it(db):
    # A new case whose history was looked at gets its events as ORM objects (inbox_bot.cases):
    # they must still reach the database, pointing at the case written as a plain row.
    with db.transaction() as session:
        case = _new_case(session, "IODO-2026-00030")
        assert case.events == []
        cases.record_event(session, case, "opened", to_status="new")
        cases.record_event(session, case, "note")
        session.flush()
        assert [e.kind for e in case.events] == ["opened", "note"]
    with db.session() as session:
        kinds = session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
        assert list(kinds.scalars()) == ["opened", "note"]


def test_after_the_flush_they_are_persistent_unchanged_and_found_without_a_query(db):
    # Guards the shortcut that makes them persistent (eventlog._persistent): an object left in
    # session.new would be inserted again, one left modified would be updated for nothing, and
    # one missing from the identity map would be loaded a second time as another object.
    from sqlalchemy import inspect

    with db.transaction() as session:
        case = _new_case(session, "IODO-2026-00040")
        draft = _draft(session, case)
        session.flush()
        statements: list[str] = []

        def seen(conn, cursor, statement, *rest):
            statements.append(statement)

        event.listen(session.connection().engine, "before_cursor_execute", seen)
        try:
            for obj in (case, draft):
                state = inspect(obj)
                assert state.persistent and not state.modified and obj not in session.new and obj not in session.dirty
                assert session.get(type(obj), obj.id) is obj
            assert statements == []
        finally:
            event.remove(session.connection().engine, "before_cursor_execute", seen)


def test_a_case_written_in_a_rolled_back_savepoint_stays_in_the_session_but_its_row_is_gone(db):
    # Guards the behaviour of a failed message whose case was already flushed, as it was when
    # the objects joined the session through expunge/make_transient_to_detached/add: the rows go
    # with the savepoint, the unchanged object stays in the session as it was (a savepoint's
    # rollback expires only changed objects) and is not written again, and the transaction's
    # other work is committed.
    from sqlalchemy import inspect

    with db.transaction() as session:
        kept = _new_case(session, "IODO-2026-00041")
        with pytest.raises(RuntimeError), session.begin_nested():
            lost = _new_case(session, "IODO-2026-00042")
            _draft(session, lost)
            session.flush()
            raise RuntimeError("the message failed")
        assert inspect(lost).persistent and lost in session and lost.status == "new"
        kept.status = "acknowledged"
    with db.session() as session:
        assert session.execute(text("SELECT reference, status FROM cases")).all() == [("IODO-2026-00041", "acknowledged")]
        assert session.execute(text("SELECT count(*) FROM drafts")).scalar_one() == 0


def test_a_listener_for_attribute_changes_still_sees_the_defaults_being_set(db):
    # Defaults go straight into an object's dict only while nothing listens for attribute
    # changes; a validator or audit listener added later must not silently miss them.
    seen: list = []

    def note(target, value, oldvalue, initiator):
        seen.append((target.reference, value))

    event.listen(Case.extended, "set", note)
    try:
        with db.transaction() as session:
            case = _new_case(session, "IODO-2026-00050")
            session.flush()
            assert case.extended is False
    finally:
        event.remove(Case.extended, "set", note)
    assert seen == [("IODO-2026-00050", False)]


def test_suppressions_are_written_as_rows_with_the_ids_the_database_would_give(db, orm_inserts):
    # On SQLite they take max(id) + 1 in the order added, as SQLite numbered the unit of work's
    # inserts; on PostgreSQL the unit of work still inserts them (ids from the sequence). What
    # could go wrong: other ids, a row missing its default, an object left pending, a removal
    # and an addition in one transaction numbered otherwise.
    from inbox_bot import suppression
    from inbox_bot.schema import Suppression

    def note(mapper, connection, target):
        orm_inserts.append(target)

    event.listen(Suppression, "before_insert", note)
    try:
        with db.transaction() as session:
            for address in ("a@example.pl", "b@example.pl", "c@example.pl"):
                assert suppression.add(session, address, source="cli")
            session.flush()
            assert not session.new
        with db.transaction() as session:
            assert suppression.remove(session, "c@example.pl")
            session.add(Suppression(address="d@example.pl", reason="manual", source="cli",
                                    created_at=RECEIVED))
    finally:
        event.remove(Suppression, "before_insert", note)
    sqlite = db.engine.dialect.name == "sqlite"
    assert (len([o for o in orm_inserts if isinstance(o, Suppression)]) == 0) == sqlite
    with db.session() as session:
        rows = session.execute(text("SELECT id, address, reason, source FROM suppressions ORDER BY id")).all()
    assert [tuple(r)[1:] for r in rows] == [("a@example.pl", "marketing_optout", "cli"),
                                            ("b@example.pl", "marketing_optout", "cli"),
                                            ("d@example.pl", "manual", "cli")]
    assert [r[0] for r in rows] == [1, 2, 4]  # d after the removed c's 3: inserted before the delete
