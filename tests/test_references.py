"""cases.next_reference: one number per case, in order, per year, whatever the transaction does.

The counter is read once per transaction under its row lock and written back before the commit.
What could go wrong: a number handed out twice (the new value never written, or written after a
savepoint's rollback undid it), a number skipped by a rolled-back transaction, a year's first
counter created twice, a savepoint's rollback not taking the numbers back as the ORM's
rollback of the counter did, the row not locked on PostgreSQL while a transaction numbers.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from inbox_bot import cases


def _stored(db) -> dict[int, int]:
    with db.session() as session:
        return dict(session.execute(text("SELECT year, last FROM reference_counters")).all())


def test_numbers_follow_on_across_transactions_and_years(db):
    with db.transaction() as session:
        assert [cases.next_reference(session, "IODO", 2026) for _ in range(3)] == \
            ["IODO-2026-00001", "IODO-2026-00002", "IODO-2026-00003"]
        assert cases.next_reference(session, "IODO", 2027) == "IODO-2027-00001"
    assert _stored(db) == {2026: 3, 2027: 1}
    with db.transaction() as session:
        assert cases.next_reference(session, "X", 2026) == "X-2026-00004"
    with db.transaction() as session:
        session.execute(text("SELECT 1"))  # a transaction that numbers nothing writes nothing
    assert _stored(db) == {2026: 4, 2027: 1}


def test_a_rolled_back_transaction_gives_its_numbers_again(db):
    with db.transaction() as session:
        cases.next_reference(session, "IODO", 2026)
    with pytest.raises(RuntimeError), db.transaction() as session:
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00002"
        assert cases.next_reference(session, "IODO", 2028) == "IODO-2028-00001"
        raise RuntimeError("the group failed")
    with db.transaction() as session:
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00002"
        assert cases.next_reference(session, "IODO", 2028) == "IODO-2028-00001"
    assert _stored(db) == {2026: 2, 2028: 1}


def test_a_rolled_back_savepoint_takes_its_numbers_back(db):
    with db.transaction() as session:
        cases.next_reference(session, "IODO", 2026)
    with db.transaction() as session:
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00002"
        savepoint = session.begin_nested()
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00003"
        assert cases.next_reference(session, "IODO", 2029) == "IODO-2029-00001"  # the year's row made inside
        savepoint.rollback()
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00003"
        assert cases.next_reference(session, "IODO", 2029) == "IODO-2029-00001"
        inner = session.begin_nested()
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00004"
        inner.commit()  # released: its numbers stay handed out
        again = session.begin_nested()
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00005"
        again.rollback()
        assert cases.next_reference(session, "IODO", 2026) == "IODO-2026-00005"
    assert _stored(db) == {2026: 5, 2029: 1}


# PostgreSQL only: row locks are its own; on SQLite one writer at a time does the same.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_counter_row_stays_locked_while_a_transaction_numbers(db):
    # Two processes (a daemon and a `run --once`) must not hand out the same number: on
    # PostgreSQL the second waits for the first's row lock.
    assert db.engine.dialect.name == "postgresql"
    from sqlalchemy.exc import OperationalError

    with db.transaction() as session:
        cases.next_reference(session, "IODO", 2026)
    with db.transaction() as session:
        cases.next_reference(session, "IODO", 2026)
        with db.engine.connect() as other, pytest.raises(OperationalError, match="could not obtain lock"):
            other.execute(text("SELECT last FROM reference_counters WHERE year = 2026 FOR UPDATE NOWAIT"))
    assert _stored(db) == {2026: 2}
