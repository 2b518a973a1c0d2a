"""Primary keys handed out before the INSERT, so that a new row's id is known without a flush.

A case, an outbox row and a draft are referred to by id in the same transaction that creates
them (the case's events, the approval token, the history's "outbox" entries). Asking the
database for each id meant a flush per row, about a third of the time spent on a message.
Here the id is taken first and the rows are written together at the end of the message:

- PostgreSQL: from the table's own sequence, a block at a time (unused numbers are gaps, as
  after any rolled-back insert);
- SQLite: max(id) + 1, counted on in memory. Safe because a unit of work holds the write lock
  from its BEGIN IMMEDIATE (inbox_bot.database), so nobody else inserts until it commits; it is
  the id SQLite itself would have given.

What was handed out is forgotten when the outermost transaction ends. Every INSERT into these
tables must take its id here: on SQLite, a row left to the database's own numbering within the
same transaction could be given an id already handed out.
"""

from __future__ import annotations

from collections import deque

from sqlalchemy import text
from sqlalchemy.orm import Session

from inbox_bot import txscope

# Outside its transaction a handed-out SQLite id is no longer reserved: another writer may take
# it. A savepoint's end changes nothing: a rolled-back id only leaves a gap.
_KEY = txscope.key("inbox_bot.ids")
POSTGRES_BLOCK = 16


def next_id(session: Session, model) -> int:
    """The id for a new row of `model` (a mapped class with an integer `id`)."""
    table = model.__table__.name
    pools: dict | None = session.info.get(_KEY)
    if pools is None:
        pools = session.info[_KEY] = {}
    # What the transaction holds already needs no connection: asking the session for it (to tell
    # the dialect) cost more than the rest of handing out an id. Only the first id of a table in
    # a transaction, or a PostgreSQL block used up, goes to the database.
    held = pools.get(table)
    if type(held) is int:  # SQLite: the last id handed out
        pools[table] = held + 1
        return held + 1
    if held:  # PostgreSQL: what is left of the block
        return held.popleft()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        pool = pools[table] = deque(conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table, "n": POSTGRES_BLOCK},
        ).scalars())
        return pool.popleft()
    last = sqlite_last_id(conn, table)
    pools[table] = last + 1
    return last + 1


def sqlite_last_id(connection, table: str) -> int:
    """The largest id in `table`, 0 when empty. On SQLite the next new row's id is this plus
    one (its own numbering), for as long as the caller's unit of work holds the write lock
    (from its BEGIN IMMEDIATE) and takes the ids of everything it inserts there from here on."""
    return connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()  # noqa: S608 - a mapped table's name
