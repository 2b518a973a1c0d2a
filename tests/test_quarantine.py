"""Quarantine end to end: a message that cannot be processed is parked with its bytes, the pass
goes on, and the DPO can list, show, retry and release it through the CLI.

Real Dovecot, real aiosmtpd, SQLite; the CLI runs as a subprocess as the DPO would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


from helpers import messages_of, run_once, settings_for, write_config
from inbox_bot.database import Database
from inbox_bot import quarantine

# Nothing usable: no header at all. parse_message raises SenderError: quarantined at once.
UNUSABLE = b"   \r\n\r\n"
HEADERS_ONLY_BROKEN = (
    b"From: Jan <jan@example.pl>\r\nSubject: =?utf-8?q?Wniosek?=\r\nMessage-ID: <q1@example.pl>\r\n\r\n"
    b"secret body text that must not be printed\r\n"
)


def _config(tmp_path, dovecot, sink, db_url):
    return write_config(tmp_path / "config.toml", dovecot, sink, db_url)


def cli(config, *args):
    return subprocess.run([sys.executable, "-m", "inbox_bot", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_unusable_message_is_quarantined_and_the_pass_goes_on(dovecot, smtp_sink, tmp_path):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/q.db")
    dovecot.append(UNUSABLE)
    report = run_once(settings)
    (row,) = messages_of(settings)
    assert row.status == "quarantined"
    assert row.raw == UNUSABLE  # the bytes are kept, never dropped
    assert "SenderError" in row.last_error
    assert report.passes.count(status="quarantined") == 1
    # It left the inbox for the quarantine folder, so the next pass does not trip on it again.
    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.folder_uids(settings.mailbox.quarantine_folder)) == 1
    assert smtp_sink.messages() == []


def test_cli_list_show_retry_release(dovecot, smtp_sink, tmp_path):
    db_url = f"sqlite:///{tmp_path}/q.db"
    settings = settings_for(dovecot, smtp_sink, db_url)
    config = _config(tmp_path, dovecot, smtp_sink, db_url)
    dovecot.append(UNUSABLE)
    run_once(settings)
    (row,) = messages_of(settings)

    listing = cli(config, "quarantine", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    (entry,) = [json.loads(line) for line in listing.stdout.splitlines()]
    assert entry["id"] == row.id and entry["attempts"] == 1 and "SenderError" in entry["error"]

    shown = cli(config, "quarantine", "show", str(row.id), "--save", str(tmp_path / "raw.eml"))
    assert shown.returncode == 0, shown.stderr
    assert "SenderError" in shown.stdout
    assert (tmp_path / "raw.eml").read_bytes() == UNUSABLE
    assert oct((tmp_path / "raw.eml").stat().st_mode & 0o777) == "0o600"

    # Retry: back to new; the next pass processes it again (and, still unusable, parks it again).
    assert cli(config, "quarantine", "retry", str(row.id)).returncode == 0
    assert messages_of(settings)[0].status == "new"
    again = run_once(settings)
    assert [o.message_pk for o in again.passes.outcomes] == [row.id]
    assert messages_of(settings)[0].status == "quarantined"

    released = cli(config, "quarantine", "release", str(row.id), "--note", "forwarded by hand")
    assert released.returncode == 0, released.stderr
    assert messages_of(settings)[0].status == "released"
    assert cli(config, "quarantine", "list").stdout.strip() == "quarantine is empty"
    # A message not in quarantine is refused with one clear line, not a traceback.
    refused = cli(config, "quarantine", "retry", str(row.id))
    assert refused.returncode != 0 and "not in quarantine" in refused.stderr and "Traceback" not in refused.stderr


def test_retry_of_a_message_that_now_processes(dovecot, smtp_sink, tmp_path):
    # A message quarantined for our own fault (three failed attempts) succeeds after a retry.
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/q.db", limits={"max_attempts": 1})
    robot = (b"From: Mail Delivery System <MAILER-DAEMON@mx.example.pl>\r\nTo: iodo@optingo.eu\r\n"
             b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <r1@mx.example.pl>\r\n\r\nfailed\r\n")
    dovecot.append(robot)
    from inbox_bot import database

    database.upgrade(settings.database.url)
    db = Database(settings.database.url)
    # Park it as the pipeline would after its attempts ran out.
    from inbox_bot.pipeline import Processor

    processor = Processor(settings, db)
    processor._failed(_record_only(settings, db), RuntimeError("database went away"))
    (row,) = messages_of(settings)
    assert row.status == "quarantined"
    quarantine.retry(db, row.id)
    db.dispose()
    run_once(settings)
    (row,) = messages_of(settings)
    assert (row.status, row.screen_verdict) == ("processed", "bounce")


def _record_only(settings, db) -> int:
    from inbox_bot.mailbox import Mailbox
    from inbox_bot.pipeline import record_batch

    mb = Mailbox(settings.mailbox, settings.mailbox.secret())
    mb.connect()
    try:
        mb.select()
        fetched = list(mb.fetch(mb.pending_uids(), 10))
    finally:
        mb.close()
    (pk,) = record_batch(db, fetched).pks
    return pk


def test_show_never_prints_the_body_and_logs_nothing_of_the_message(dovecot, smtp_sink, tmp_path, caplog):
    db_url = f"sqlite:///{tmp_path}/q.db"
    settings = settings_for(dovecot, smtp_sink, db_url)
    from inbox_bot import database

    database.upgrade(db_url)
    db = Database(db_url)
    dovecot.append(HEADERS_ONLY_BROKEN)
    pk = _record_only(settings, db)
    from inbox_bot.pipeline import Processor

    Processor(settings, db)._failed(pk, __import__("inbox_bot.errors", fromlist=["SenderError"]).SenderError("x"))
    with caplog.at_level("DEBUG"):
        detail = quarantine.detail(db, pk)
        quarantine.retry(db, pk)
    db.dispose()
    assert ("Subject", "Wniosek") in detail.headers
    assert all("secret body" not in v for _, v in detail.headers)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "jan@example.pl" not in text and "secret body" not in text and "Wniosek" not in text
    config = _config(tmp_path, dovecot, smtp_sink, db_url)
    assert "not in quarantine" in cli(config, "quarantine", "show", str(pk)).stderr  # retried: no longer parked
