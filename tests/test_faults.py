"""Faults of the servers around us: IMAP restarted mid-fetch or reset, SMTP 4xx and 5xx, a locked
SQLite database, a mailbox unreachable for longer than configured. Bounded retries, nothing lost.

Robot mail (bounces) is used where the content does not matter: it needs no classifier, so the
tests stay fast, and it goes through the same record -> process -> settle path as a request.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest

from helpers import messages_of, outbox_rows, parsed, run_once, settings_for
from inbox_bot import deliver, outbox
from inbox_bot.database import Database, upgrade
from inbox_bot.errors import MailboxUnavailable
from inbox_bot.runner import Runner
from inbox_bot.schema import OutboxRow, utcnow


def bounce(i: int) -> bytes:
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx{i}.example.pl>\r\nTo: iodo@optingo.eu\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <fault-{i}@mx.example.pl>\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.pl\r\n\r\nFinal-Recipient: rfc822; x@example.pl\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n--b--\r\n" + ("padding line to make the fetch take a little longer\r\n" * 200)
    ).encode()


def assert_each_recorded_once(settings, n: int) -> None:
    ids = [parsed(r.raw)["Message-ID"] for r in messages_of(settings)]
    assert len(ids) == n and len(set(ids)) == n, (len(ids), len(set(ids)))
    assert all(r.status == "processed" for r in messages_of(settings))


@pytest.mark.parametrize("how", ["restart", "reset"])
def test_imap_server_restarted_or_reset_mid_pass_loses_nothing(dovecot, smtp_sink, tmp_path, how):
    # Guards against a half-done batch: recorded but unmoved mail, or moved but unrecorded mail.
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/f.db", mailbox={"batch_size": 3})
    n = 60
    for i in range(n):
        dovecot.append(bounce(i))
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    runner = Runner(settings, db)
    errors: list[BaseException] = []

    def work():
        try:
            runner.run_pass()
        except BaseException as exc:  # noqa: BLE001 - inspected below
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    # Wait until the pass is under way (some records), then pull the server from under it.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not messages_of(settings):
        time.sleep(0.01)
    if how == "restart":
        dovecot.restart()
    else:
        dovecot.kill()  # every connection reset at once
        dovecot.start()
    worker.join(60)
    assert not worker.is_alive()
    # Either the bounded reconnects carried the pass through, or it gave up cleanly.
    assert all(isinstance(e, MailboxUnavailable) for e in errors), errors
    runner.close()
    db.dispose()
    assert 0 < len(messages_of(settings))
    # A server just killed may still be recovering its indexes when the next pass comes (seen
    # once in CI on a loaded machine: SELECT timed out five times); the daemon simply tries
    # again at its next pass, and so does this test. What must hold is that nothing is lost.
    for _ in range(3):
        try:
            run_once(settings)
            break
        except MailboxUnavailable:
            time.sleep(2)
    run_once(settings)
    assert_each_recorded_once(settings, n)
    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.folder_uids(settings.mailbox.processed_folder)) == n


def _queue(settings, db, recipient: str) -> int:
    with db.transaction() as session:
        row = outbox.queue(session, settings, outbox.Outgoing(
            kind="acknowledgement", recipient=recipient, language="pl", context={},
            subject="Potwierdzenie", text="Otrzymaliśmy Pana/Pani wniosek.",
        ))
        return row.id


def test_smtp_4xx_defers_with_backoff_then_sends_the_same_message(dovecot, smtp_sink, tmp_path):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/f.db")
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    row_id = _queue(settings, db, "osoba@example.pl")
    smtp_sink.fail_next(451)
    report = deliver.deliver_outbox(settings, db)
    assert (report.sent, report.deferred, report.parked) == (0, 1, 0)
    (row,) = outbox_rows(settings)
    assert row.status == "queued" and row.attempts == 1
    # Backoff: not retried at once (a 4xx storm must not become a send storm).
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=30)
    assert deliver.deliver_outbox(settings, db).sent == 0
    with db.transaction() as session:
        session.get(OutboxRow, row_id).next_attempt_at = utcnow()
    assert deliver.deliver_outbox(settings, db).sent == 1
    (sent,) = smtp_sink.messages()
    assert parsed(sent.raw)["Message-ID"].strip("<>") == row.message_id
    db.dispose()


def test_smtp_5xx_parks_the_row_and_tells_the_dpo(dovecot, smtp_sink, tmp_path):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/f.db")
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    _queue(settings, db, "nobody@example.pl")
    smtp_sink.fail_next(550, stage="RCPT")
    report = deliver.deliver_outbox(settings, db)
    assert report.parked == 1
    deliver.deliver_outbox(settings, db)  # the alert to the DPO, queued by the park
    rows = outbox_rows(settings)
    assert [(r.kind, r.status) for r in rows] == [("acknowledgement", "parked"), ("delivery_alert", "sent")]
    (alert,) = smtp_sink.messages()
    assert alert.rcpt_tos == ("dpo@optingo.eu",)
    # Retried no more: a permanent refusal is not hammered.
    assert deliver.deliver_outbox(settings, db).sent == 0
    db.dispose()


def test_retry_deadline_parks_a_row_that_keeps_failing(dovecot, smtp_sink, tmp_path):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/f.db", replies={"retry_deadline_hours": 0})
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    _queue(settings, db, "osoba@example.pl")
    smtp_sink.fail_next(421)
    report = deliver.deliver_outbox(settings, db)
    assert report.parked == 1  # bounded: past its deadline a temporary failure stops being retried
    db.dispose()


def test_locked_sqlite_database_waits_and_loses_nothing(dovecot, smtp_sink, tmp_path):
    # Another process (a CLI command, a backup) holds the write lock for a while.
    path = tmp_path / "f.db"
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{path}")
    upgrade(settings.database.url)
    # The daemon has run before: the database is in WAL mode (a journal-mode switch itself is
    # not retried by SQLite's busy handler; see the report about migrations).
    Database(settings.database.url).dispose()
    for i in range(5):
        dovecot.append(bounce(i))
    holder = sqlite3.connect(path, timeout=1, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release_later():
        time.sleep(1.5)
        holder.execute("COMMIT")
        holder.close()
        released.set()

    threading.Thread(target=release_later).start()
    started = time.monotonic()
    report = run_once(settings)
    assert released.is_set() and time.monotonic() - started >= 1.4  # it really waited for the lock
    assert report.passes.count(status="processed") == 5
    assert_each_recorded_once(settings, 5)
    assert dovecot.folder_uids("INBOX") == []


def test_database_gone_leaves_mail_in_the_inbox(dovecot, smtp_sink, tmp_path):
    # A database that cannot be written: nothing is moved on the server, so nothing is lost.
    path = tmp_path / "f.db"
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{path}")
    upgrade(settings.database.url)
    dovecot.append(bounce(1))
    db = Database(settings.database.url)
    runner = Runner(settings, db)
    holder = sqlite3.connect(path, timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with db.engine.connect() as conn:  # shorten the busy wait for this test only
        conn.exec_driver_sql("PRAGMA busy_timeout=200")
    db.engine.dispose()
    from sqlalchemy import event

    @event.listens_for(db.engine, "connect")
    def _short(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    with pytest.raises(Exception):
        runner.run_pass()
    holder.execute("ROLLBACK")
    holder.close()
    runner.close()
    db.dispose()
    assert dovecot.folder_uids("INBOX") != []
    run_once(settings)
    assert_each_recorded_once(settings, 1)
    assert dovecot.folder_uids("INBOX") == []


def test_dpo_is_told_when_the_mailbox_is_unreachable_too_long(dovecot, smtp_sink, tmp_path):
    from inbox_bot.scheduler import Daemon

    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/f.db", mailbox={"unreachable_alert_minutes": 0})
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    dovecot.kill()
    daemon = Daemon(settings, db)
    daemon._pass()
    daemon._pass()  # still down: one alert, not one per pass
    (alert,) = smtp_sink.wait_for(1)
    assert alert.rcpt_tos == ("dpo@optingo.eu",)
    assert "unreachable" in parsed(alert.raw)["Subject"]
    assert parsed(alert.raw)["Auto-Submitted"] == "auto-generated"
    time.sleep(0.3)
    assert len(smtp_sink.messages()) == 1
    dovecot.start()
    daemon._pass()
    assert daemon.unreachable_since is None  # back: the next outage alerts again
    db.dispose()
