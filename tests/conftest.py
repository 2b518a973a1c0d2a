"""Shared fixtures: real Dovecot, aiosmtpd and PostgreSQL servers, database URLs, the shared corpora.

The servers themselves live in tests/servers.py. A fixture whose server binary is missing skips
the test, or fails it when INBOX_BOT_REQUIRE_SERVERS=1 (see servers.need_server).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import DovecotServer, PostgresCluster, SmtpSink, need_server  # noqa: E402

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.fixture
def dovecot():
    """A fresh Dovecot with an empty mailbox for `iodo@optingo.eu` (starts in well under a second).

    Function-scoped: each test gets its own server, port and mail, so a test that restarts or
    kills the server, or leaves messages behind, cannot disturb another.
    """
    server = DovecotServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def dovecot_factory():
    """Start extra Dovecot servers, e.g. `dovecot_factory(without=("MOVE",))`; all stopped at the end."""
    started: list[DovecotServer] = []

    def make(**kwargs) -> DovecotServer:
        server = DovecotServer(**kwargs)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.cleanup()


@pytest.fixture
def smtp_sink():
    """A running aiosmtpd sink on a free loopback port, no AUTH; stopped at the end."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def postgres_cluster():
    """One private PostgreSQL cluster for the whole session."""
    cluster = PostgresCluster()
    try:
        cluster.start()
    except Exception as exc:  # noqa: BLE001 - surfaced through need_server with the reason
        cluster.stop()
        need_server("PostgreSQL", f"the private cluster did not start: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster):
    """A fresh, empty PostgreSQL database for this test: `postgresql+psycopg://postgres@127.0.0.1:PORT/NAME`."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The same test on SQLite and on PostgreSQL: a URL of an empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/t.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(db_url):
    """A migrated database on SQLite and on PostgreSQL (see db_url), disposed after the test."""
    from inbox_bot.database import Database, upgrade

    upgrade(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def shared_corpora() -> Path:
    """../shared/corpora beside the repository: real mail written by others (never copied here)."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED_CORPORA}")
    return SHARED_CORPORA


@pytest.fixture(scope="session")
def classifier_ready():
    """The classifier trained once per session (or loaded from the cache beside the repo).

    The cache's directory is exported as INBOX_BOT_MODEL_DIR so that daemon subprocesses load
    the same model in a second instead of each training its own.
    """
    cache = Path(__file__).resolve().parents[1] / ".cache" / "test-model"
    os.environ["INBOX_BOT_MODEL_DIR"] = str(cache)
    from classifiers.train import load_classifier

    return load_classifier(cache)
