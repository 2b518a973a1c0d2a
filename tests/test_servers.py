"""The test servers themselves: each really starts, serves and can be broken on purpose."""

from __future__ import annotations

import smtplib
import socket
from datetime import datetime, timezone

import pytest
import sqlalchemy

import servers
from servers import need_server

RAW = b"From: a@example.org\r\nTo: iodo@optingo.eu\r\nSubject: t\r\n\r\nbody\r\n"


def test_need_server_skips_by_default(monkeypatch):
    # Guards against a missing Dovecot failing a developer's run that never asked for servers.
    monkeypatch.delenv(servers.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="Dovecot unavailable: no binary"):
        need_server("Dovecot", "no binary")


def test_need_server_fails_when_servers_are_required(monkeypatch):
    # Guards against CI going green by skipping every server test on a machine without Dovecot.
    monkeypatch.setenv(servers.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL unavailable: no initdb"):
        need_server("PostgreSQL", "no initdb")


def test_require_env_zero_means_not_required(monkeypatch):
    monkeypatch.setenv(servers.REQUIRE_ENV, "0")
    with pytest.raises(pytest.skip.Exception):
        need_server("x", "y")


def test_dovecot_append_keeps_internaldate_and_restart_keeps_mail(dovecot):
    # Guards against a fixture that loses mail on restart (the reconnect tests rely on it).
    when = datetime(2026, 1, 30, 23, 30, tzinfo=timezone.utc)
    uid = dovecot.append(RAW, date=when)
    assert dovecot.folder_uids() == [uid]
    port = dovecot.port
    dovecot.restart()
    assert dovecot.port == port
    assert dovecot.folder_uids() == [uid]
    client = dovecot.imap_client()
    try:
        client.select_folder("INBOX")
        assert client.fetch([uid], ["INTERNALDATE"])[uid][b"INTERNALDATE"].astimezone(timezone.utc) == when
    finally:
        client.logout()


def test_dovecot_kill_refuses_connections(dovecot):
    dovecot.kill()
    with pytest.raises(OSError):
        socket.create_connection((dovecot.host, dovecot.port), timeout=1).close()


def test_dovecot_variant_without_move(dovecot_factory):
    # Guards the no-MOVE fallback tests: they are only meaningful when MOVE is really not advertised.
    server = dovecot_factory(without=("MOVE",))
    client = server.imap_client()
    try:
        caps = client.capabilities()
        assert b"MOVE" not in caps and b"UIDPLUS" in caps and b"IDLE" in caps
    finally:
        client.logout()


def test_smtp_sink_collects_and_fails_on_demand(smtp_sink):
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as smtp:
        smtp.sendmail("bot@optingo.eu", ["a@example.org", "b@example.org"], RAW)
        smtp_sink.fail_next(451)
        with pytest.raises(smtplib.SMTPDataError) as caught:
            smtp.sendmail("bot@optingo.eu", ["a@example.org"], RAW)
        assert caught.value.smtp_code == 451
    (message,) = smtp_sink.wait_for(1)
    assert message.rcpt_tos == ("a@example.org", "b@example.org")
    assert message.raw.endswith(b"body\r\n")


def test_smtp_sink_stop_and_start_same_port(smtp_sink):
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(OSError):
        smtplib.SMTP(smtp_sink.host, port, timeout=2)
    smtp_sink.start()
    with smtplib.SMTP(smtp_sink.host, port, timeout=5) as smtp:
        smtp.sendmail("bot@optingo.eu", ["a@example.org"], RAW)
    assert len(smtp_sink.wait_for(1)) == 1


def test_postgres_url_answers_select_1(postgres_url):
    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_db_url_gives_an_empty_database(db_url):
    # Guards against tests on one backend seeing tables another test left behind.
    engine = sqlalchemy.create_engine(db_url)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE t (x integer)"))
    finally:
        engine.dispose()
