"""The daemon's WAL checkpoints run in a thread of their own, and keep the WAL from growing.

With checkpoints taken away from the connections' commits, a checkpointer that silently did
nothing would let the WAL file grow for as long as the daemon runs; these tests write enough to
pass SQLite's own threshold many times over and look at the files.
"""

from __future__ import annotations

import os
import time

from sqlalchemy import insert, text

from inbox_bot.database import Database, upgrade
from inbox_bot.schema import Message, utcnow


def _write(db: Database, transactions: int, start: int) -> None:
    # ~4 MB of raw mail: SQLite's default would checkpoint at about 1,000 pages (4 MB).
    for i in range(transactions):
        with db.core_transaction() as conn:
            conn.execute(insert(Message.__table__), [
                dict(mailbox="INBOX", uidvalidity=1, uid=start + i * 10 + j, message_key=f"k{start}-{i}-{j}",
                     raw=os.urandom(20_000), size=20_000, received_at=utcnow(), status="new", attempts=0,
                     created_at=utcnow())
                for j in range(10)
            ])


def _autocheckpoint(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()


def test_checkpoints_move_to_the_thread_and_keep_the_wal_small(tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    upgrade(url)
    db = Database(url)
    assert _autocheckpoint(db) == 1000  # SQLite's own default, where nobody asked for the thread
    db.checkpoint_in_background()
    checkpointer = db._checkpointer
    assert checkpointer.running
    assert _autocheckpoint(db) == 0  # commits no longer checkpoint...
    _write(db, 40, 0)  # ~8 MB
    deadline = time.monotonic() + 10
    while checkpointer.runs < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    _write(db, 40, 100_000)
    time.sleep(checkpointer.interval * 2.5)
    # ...the thread does: the data reached the database file, and the WAL was reused from its
    # start instead of growing by every write (it would hold ~16 MB otherwise).
    assert os.path.getsize(tmp_path / "w.db") > 12_000_000
    assert os.path.getsize(tmp_path / "w.db-wal") < 12_000_000
    db.dispose()
    assert not checkpointer.running
    again = Database(url)
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar_one() == 800
    again.dispose()


def test_no_thread_for_postgresql_or_a_second_call(tmp_path, postgres_url):
    upgrade(postgres_url)
    db = Database(postgres_url)
    db.checkpoint_in_background()
    assert db._checkpointer is None
    db.dispose()
    url = f"sqlite:///{tmp_path}/w.db"
    upgrade(url)
    db = Database(url)
    db.checkpoint_in_background()
    first = db._checkpointer
    db.checkpoint_in_background()
    assert db._checkpointer is first
    db.dispose()
