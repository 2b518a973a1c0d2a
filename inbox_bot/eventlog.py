"""Case events written in bulk: one INSERT per table write instead of an ORM object each.

A message that opens a case records five or six events (opened, reply queued, status changes,
draft created and mailed). As ORM objects they were a sixth of a message's processing time;
here they wait in a buffer on the session and go to the database in one executemany:

- when the session flushes (after the flush, so a new case has its id),
- before any commit, a savepoint's included,
- before anything reads case events (a query on CaseEvent, or loading `Case.events`),

and those recorded inside a savepoint that is rolled back are dropped with it. A case whose
`events` collection is already loaded in the session gets its event as an ORM object instead,
so that the collection the caller holds stays true (inbox_bot.cases.record_event decides).
"""

from __future__ import annotations

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, SessionTransaction

from inbox_bot import txscope
from inbox_bot.schema import Case, CaseEvent

_KEY = txscope.key("inbox_bot.pending_events")


def buffer(session: Session, case: Case, row: dict) -> None:
    """Queue one event row (without case_id: taken from `case` when written)."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_KEY, []).append((transaction, case, row))


def write(session: Session) -> None:
    """Write every buffered event whose case has an id (all of them after a flush)."""
    pending = session.info.get(_KEY)
    if not pending:
        return
    # A case not yet written (its id handed out in advance, inbox_bot.ids) keeps its events
    # until it is: written before it, they would point at a row that does not exist yet.
    written = {id(case): _written(case) for _, case, _ in pending}  # once per case, not per event
    ready = [(t, case, row) for t, case, row in pending if written[id(case)]]
    if not ready:
        return
    session.info[_KEY] = [item for item in pending if not written[id(item[1])]]
    session.connection().execute(insert(CaseEvent.__table__), [dict(row, case_id=case.id) for _, case, row in ready])


def _written(case: Case) -> bool:
    return case.id is not None and inspect(case).persistent


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, _context) -> None:
    write(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_KEY):
        session.flush()  # a case opened in this transaction gets its id
        write(session)


@event.listens_for(Session, "do_orm_execute")
def _before_read(state) -> None:
    if state.is_select and state.session.info.get(_KEY) and any(m.class_ is CaseEvent for m in state.all_mappers):
        write(state.session)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if pending:
        session.info[_KEY] = [item for item in pending if not _within(item[0], previous)]

