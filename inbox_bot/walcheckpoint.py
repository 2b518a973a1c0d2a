"""Checkpoint SQLite's write-ahead log in a thread of its own, beside the daemon's work.

By default SQLite checkpoints the WAL itself, inside the COMMIT that grows it past 1,000 pages:
that commit copies the pages into the database file and syncs it while the processing thread
waits. A backlog's raw mail makes this frequent: over 10,000 messages (49 MB) it was 1.3 s of
a 15 s pass. With a Checkpointer running, the engine's connections leave checkpoints alone
(`wal_autocheckpoint=0`) and a thread runs a PASSIVE checkpoint every `interval` seconds on a
connection of its own. PASSIVE never waits for readers or writers, and the sqlite3 module
releases the GIL while SQLite copies and syncs, so processing goes on meanwhile.

If a checkpoint fails the thread logs it and tries again at the next tick: the WAL only grows
meanwhile, nothing is lost (a WAL's frames are committed data). `stop` runs a last checkpoint.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0  # seconds: at ~700 messages a second the WAL then stays within a few MB


def applies_to(engine: Engine) -> bool:
    """True for an engine on an SQLite database file, the only kind with a WAL to checkpoint."""
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


class Checkpointer:
    """A thread that checkpoints the WAL of `engine`'s SQLite file every `interval` seconds."""

    def __init__(self, engine: Engine, interval: float = DEFAULT_INTERVAL):
        if not applies_to(engine):
            raise ValueError("a WAL checkpointer needs an SQLite database file")
        self.engine = engine
        self.path = engine.url.database
        self.interval = interval
        self.runs = 0  # checkpoints done, for tests and the curious
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Every connection the engine hands out from now on leaves checkpoints to the thread.
        event.listen(self.engine, "checkout", self._on_checkout)
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint; connections checked out later checkpoint
        for themselves again."""
        if self._thread is None:
            return
        event.remove(self.engine, "checkout", self._on_checkout)
        self._stop.set()
        self._thread.join()
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _on_checkout(self, dbapi_connection, record, _proxy) -> None:
        if record.info.get("wal_autocheckpoint") != 0:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()
            record.info["wal_autocheckpoint"] = 0

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                self._checkpoint(connection)
            self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.runs += 1
        except Exception as exc:  # noqa: BLE001 - the next tick tries again; the WAL keeps the data
            log.warning("WAL checkpoint failed (%s); trying again in %.0f s", type(exc).__name__, self.interval)
