"""Case events written in bulk (inbox_bot.eventlog): nothing lost, nothing rolled back kept,
readers in the same transaction see what was recorded. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpers import history
from inbox_bot import cases
from inbox_bot.schema import Case, CaseEvent
from test_clocks import local, make_case


def test_a_query_in_the_same_transaction_sees_the_events_just_recorded(db):
    # Guards against a buffered event invisible to the code that recorded it (e.g. a check
    # "was an acknowledgement queued?" right after queueing it).
    with db.transaction() as session:
        case = make_case(session)
        cases.record_event(session, case, "note_a")
        kinds = list(session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)
                                     .order_by(CaseEvent.id)).scalars())
        assert kinds[-1] == "note_a"
        # Loading the history through the relationship sees it too, and later events keep order.
        assert [e.kind for e in session.get(Case, case.id).events][-1] == "note_a"
        cases.record_event(session, case, "note_b")
        assert [e.kind for e in case.events][-2:] == ["note_a", "note_b"]
    assert [e.kind for e in history(db, case)][-2:] == ["note_a", "note_b"]


def test_events_of_a_rolled_back_savepoint_are_dropped_and_the_others_kept(db):
    # Guards against a failed message leaving its history behind (or taking its neighbours').
    with db.transaction() as session:
        case = make_case(session)
        cases.record_event(session, case, "before")
        with pytest.raises(RuntimeError):
            with session.begin_nested():
                cases.record_event(session, case, "inside_failed")
                raise RuntimeError("the message failed")
        with session.begin_nested():
            cases.record_event(session, case, "inside_kept")
        cases.record_event(session, case, "after")
    kinds = [e.kind for e in history(db, case)]
    assert "inside_failed" not in kinds
    assert kinds[-3:] == ["before", "inside_kept", "after"]


def test_events_of_a_rolled_back_transaction_are_not_written_later(db):
    # Guards against a buffer that outlives its transaction and lands in the next one.
    with db.transaction() as session:
        case_id = make_case(session).id
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            cases.record_event(session, session.get(Case, case_id), "lost_with_the_rollback")
            raise RuntimeError("boom")
    with db.transaction() as session:
        case = session.get(Case, case_id)
        cases.record_event(session, case, "next")
    kinds = [e.kind for e in history(db, case)]
    assert "lost_with_the_rollback" not in kinds and kinds[-1] == "next"


def test_an_event_for_a_case_not_yet_written_gets_its_id(db):
    # A case added in the same transaction (no id until the flush) still owns its events.
    with db.transaction() as session:
        case = Case(reference="IODO-2026-09999", requester="a@example.pl", labels=["access"], language="pl",
                    status="new", received_at=local(2026, 3, 9, 10, 0), flags=[], thread_references=[])
        session.add(case)
        cases.record_event(session, case, "opened", detail={"labels": ["access"]}, at=local(2026, 3, 9, 10, 0))
    with db.session() as session:
        rows = session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)).scalars().all()
        assert [(e.kind, e.detail, e.at) for e in rows] == [("opened", {"labels": ["access"]}, local(2026, 3, 9, 10, 0))]
        assert session.execute(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id.is_(None))).scalar_one() == 0


def test_screening_hits_are_written_in_bulk_seen_in_their_transaction_and_dropped_with_a_savepoint(db):
    # Guards the second table written through the buffer: a hit must reach the database with
    # its message, be visible to a query before the commit, and go with a rolled-back savepoint.
    from datetime import datetime, timezone

    from inbox_bot import eventlog
    from inbox_bot.schema import Message, ScreenHit

    with db.transaction() as session:
        message = Message(mailbox="INBOX", uidvalidity=1, uid=1, message_key="k1", raw=b"x", size=1,
                          received_at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc), status="new", attempts=0)
        session.add(message)
        session.flush()
        eventlog.buffer_row(session, ScreenHit, {"message_pk": message.id, "rule": "auto_submitted",
                                                 "verdict": "auto_reply", "reason": "Auto-Submitted: auto-replied"})
        seen = session.execute(select(ScreenHit.rule).where(ScreenHit.message_pk == message.id)).scalars().all()
        assert seen == ["auto_submitted"]
        with pytest.raises(RuntimeError):
            with session.begin_nested():
                eventlog.buffer_row(session, ScreenHit, {"message_pk": message.id, "rule": "dropped",
                                                         "verdict": "auto_reply", "reason": "rolled back"})
                raise RuntimeError("the message failed")
        eventlog.buffer_row(session, ScreenHit, {"message_pk": message.id, "rule": "list_unsubscribe",
                                                 "verdict": "newsletter", "reason": "List-Unsubscribe"})
        pk = message.id
    with db.session() as session:
        rules = session.execute(select(ScreenHit.rule).where(ScreenHit.message_pk == pk).order_by(ScreenHit.id)).scalars().all()
    assert rules == ["auto_submitted", "list_unsubscribe"]


def test_a_query_writes_the_rows_of_the_tables_it_reads_only(db):
    # Guards the group's bulk INSERTs: a lookup of the outbox (a bounce's) wrote every buffered
    # hit and event so far, splitting them into more statements; now only the outbox's go.
    from datetime import datetime, timezone

    from inbox_bot import eventlog
    from inbox_bot.schema import Message, OutboxRow, ScreenHit

    with db.transaction() as session:
        case = make_case(session)
        message = Message(mailbox="INBOX", uidvalidity=1, uid=2, message_key="k2", raw=b"x", size=1,
                          received_at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc), status="new", attempts=0)
        session.add(message)
        session.flush()
        eventlog.buffer_row(session, ScreenHit, {"message_pk": message.id, "rule": "bounce", "verdict": "bounce",
                                                 "reason": "MAILER-DAEMON"})
        cases.record_event(session, case, "note_c")
        now = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        eventlog.buffer_row(session, OutboxRow, {"id": 900, "kind": "delivery_alert", "automatic": False,
                                                 "recipient": "dpo@optingo.eu", "envelope_from": "iodo@optingo.eu",
                                                 "message_id": "a@optingo.eu", "raw": b"x", "spec": None,
                                                 "status": "queued", "attempts": 0, "next_attempt_at": now,
                                                 "deliver_by": now, "copy_to_sent": False, "copied_to_sent": False,
                                                 "created_at": now}, parent=case, parent_key="case_id")
        assert session.execute(select(OutboxRow.id).where(OutboxRow.message_id == "a@optingo.eu")).scalars().all() == [900]
        assert sorted(row_model.__name__ for _, row_model, *_ in session.info[eventlog._KEY]) == ["CaseEvent", "ScreenHit"]
        pk, case_id = message.id, case.id
    with db.session() as session:
        assert session.execute(select(ScreenHit.rule).where(ScreenHit.message_pk == pk)).scalars().all() == ["bounce"]
        assert "note_c" in session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).scalars().all()
