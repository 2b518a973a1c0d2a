"""eventlog.add_new builds the same pending object as the constructor and session.add.

What could go wrong: an attribute missing or with another value, the object's history or
"modified" state other than the constructor's (a later flush through the unit of work would
then write it otherwise), the object not in the session's new objects or in another order, an
attach listener not told, a listener for attribute changes or a relationship value silently
skipped, the row written otherwise than from an object built by the constructor.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from inbox_bot import eventlog, ids
from inbox_bot.database import unwritten
from inbox_bot.schema import Case, Draft

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def _case_values(session, reference: str) -> dict:
    return dict(id=ids.next_id(session, Case), reference=reference, requester="jan@example.pl", labels=["access"],
                language="pl", status="new", received_at=RECEIVED, due_at=RECEIVED, original_due_at=RECEIVED,
                flags=[], thread_message_id="req@example.pl", thread_references=[], created_at=RECEIVED)


def _state_of(obj) -> tuple:
    state = instance_state(obj)
    values = {k: v for k, v in state.dict.items() if k != "_sa_instance_state"}
    return (values, dict(state.committed_state), state.modified, state.pending, state.key,
            state._orphaned_outside_of_session, state.session_id is not None)


def test_the_object_and_its_state_are_the_constructors(db):
    with db.transaction() as session:
        built = Case(**_case_values(session, "IODO-2026-00001"))
        session.add(built)
        fast = eventlog.add_new(session, Case, **dict(_case_values(session, "IODO-2026-00001"), id=built.id))
        assert type(fast) is Case and _state_of(fast) == _state_of(built)
        assert unwritten(session, Case) == [built, fast] == list(session.new)
        session.expunge(built)
        draft = eventlog.add_new(session, Draft, id=ids.next_id(session, Draft), case_id=fast.id, kind="access_reply",
                                 language="pl", subject="S", body="B", status="pending", nonce="n" * 32,
                                 created_at=RECEIVED)
        draft.dpo_message_id = "<m@x>"  # changed later through the instrumentation, as create_draft does
        assert draft in session.new and draft.case is None
    with db.session() as session:
        assert session.execute(text("SELECT id, reference, status, extended FROM cases")).all() == \
            [(fast.id, "IODO-2026-00001", "new", False)]
        assert session.execute(text("SELECT kind, dpo_message_id, case_id FROM drafts")).all() == \
            [("access_reply", "<m@x>", fast.id)]


def test_attach_listeners_are_told_and_attribute_listeners_take_the_constructors_way(db):
    attached: list = []
    set_seen: list = []

    def on_attach(session, instance):
        attached.append(type(instance).__name__)

    def on_set(target, value, oldvalue, initiator):
        set_seen.append(value)

    event.listen(Session, "after_attach", on_attach)
    event.listen(Case.status, "set", on_set)
    try:
        with db.transaction() as session:
            eventlog.add_new(session, Case, **_case_values(session, "IODO-2026-00002"))
            assert attached == ["Case"] and set_seen == ["new"]  # before the flush, which attaches again
    finally:
        event.remove(Session, "after_attach", on_attach)
        event.remove(Case.status, "set", on_set)


def test_a_relationship_value_takes_the_constructors_way_and_cascades(db):
    # A draft given its case object (not only its id) must bring the case into the session,
    # as session.add's cascade does: the plain way would leave the case out.
    with db.transaction() as session:
        case = Case(**_case_values(session, "IODO-2026-00003"))
        draft = eventlog.add_new(session, Draft, id=ids.next_id(session, Draft), case=case, case_id=case.id,
                                 kind="access_reply", language="pl", subject="S", body="B", status="pending",
                                 nonce="n" * 32, created_at=RECEIVED)
        assert case in session.new and draft in session.new
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM drafts")).scalar_one() == 1


def test_the_plain_way_is_taken_for_cases_drafts_and_suppressions(db):
    # The mapper registers an init listener of its own on every mapped class: were that taken
    # for an observer, every object would silently go the constructor's slower way.
    from inbox_bot.schema import Suppression

    with db.transaction() as session:
        for model in (Case, Draft, Suppression):
            assert eventlog._unobserved(session, model, eventlog._PLAIN_NEW[model])
