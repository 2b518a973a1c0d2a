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
