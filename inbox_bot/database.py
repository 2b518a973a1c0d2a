"""Open the database, apply migrations, and refuse to run on an outdated schema.

SQLite by default (WAL mode, owner-only file), PostgreSQL for production. Migrations are Alembic
scripts shipped in inbox_bot/migrations and applied by `inbox-bot db upgrade`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from inbox_bot.errors import SystemFault

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Execution option that marks the connections of `Database.transaction()`: units of work that write.
WRITE_OPTION = "inbox_bot_write"


class SchemaOutdated(SystemFault):
    """The database is not at the newest migration; `inbox-bot db upgrade` fixes it."""


_Row = TypeVar("_Row")

# Ids per statement in an IN list: well under SQLite's bound-parameter limit (999 before 3.32,
# still the system SQLite of some distributions), and few round trips for long lists.
IDS_PER_STATEMENT = 500


def in_chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """`ids` in lists of at most IDS_PER_STATEMENT, one statement's worth each."""
    ids = list(ids)
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        yield ids[start:start + IDS_PER_STATEMENT]


def unwritten(session: Session, model: type[_Row]) -> list[_Row]:
    """Rows of `model` added in this transaction and not yet written to the database.

    The pipeline writes a group's rows together at its commit, without a flush in between, so
    a lookup that must see what earlier messages of the group added (a case, a queued reply, a
    suppression, a draft) looks here as well as in the database.
    """
    # The session's own mapping of new objects, in the order `session.new` gives them: that
    # property copies them into a new identity set first, and a group's lookups ask this for
    # every message while the group's new cases, drafts and suppressions pile up.
    return [row for row in session._new.values() if isinstance(row, model)]


def _prepare_sqlite_file(url: str) -> None:
    # The database holds personal data: create it readable by its owner only, before SQLite
    # creates it with the process umask (often world-readable).
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # We say BEGIN ourselves (below). The driver's own habit, BEGIN only before the first
            # INSERT/UPDATE, let a SAVEPOINT that came first open the transaction and its RELEASE
            # commit it: a group of messages with a savepoint each was committed one by one.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # WAL lets the CLI read while the daemon writes; foreign keys are off by default in SQLite.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A unit of work takes the write lock at once (waiting up to busy_timeout for it):
            # a transaction that read first and wrote later would fail at once with "database is
            # locked" had another process written in between, instead of waiting its turn.
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> str:
    """Apply every pending migration; return the revision now current."""
    if url.startswith("sqlite"):
        # Switch to WAL here, while nobody else holds the file: switching later, on the
        # daemon's first connection, fails at once if a CLI reader happens to hold a lock.
        engine = make_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    command.upgrade(_alembic_config(url), "head")
    return head_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutdated unless the database is at the newest migration."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the database schema is at {current or 'nothing'}, this version needs {head}: "
            "run `inbox-bot db upgrade` first"
        )


class Database:
    """An engine and a session factory; `transaction()` is one unit of work."""

    def __init__(self, url: str, *, check: bool = True):
        self.url = url
        self.engine = make_engine(url)
        if check:
            check_schema(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self._writers = sessionmaker(self._write_engine, expire_on_commit=False)
        self._checkpointer = None

    def checkpoint_in_background(self) -> None:
        """SQLite file: leave WAL checkpoints to a thread of their own (inbox_bot.walcheckpoint),
        for a process that writes much, the daemon. Nothing elsewhere; once is enough."""
        from inbox_bot import walcheckpoint

        if self._checkpointer is not None or not walcheckpoint.applies_to(self.engine):
            return
        self._checkpointer = walcheckpoint.Checkpointer(self.engine)
        self._checkpointer.start()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on any exception."""
        with self._writers() as session:
            with session.begin():
                yield session

    @contextmanager
    def core_transaction(self) -> Iterator[Connection]:
        """A unit of work of plain statements, without an ORM session (cheaper per commit)."""
        with self._write_engine.begin() as connection:
            yield connection

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
