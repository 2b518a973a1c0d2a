"""The daemon applies the retention policy every night by itself, not only when someone runs
`inbox-bot retention`: a daemon left running for years must not keep personal data past it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from inbox_bot import cases, retention
from inbox_bot.scheduler import Daemon
from inbox_bot.schema import Case, Message
from test_clocks import WARSAW, local, make_case, make_settings, open_db


def test_the_nightly_job_runs_at_half_past_three_warsaw_time_every_day(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path}/t.db")
    job = retention.schedule_retention(BackgroundScheduler(timezone="UTC"), settings, db=None)
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 3, 21, 12, 0, tzinfo=WARSAW))  # a Saturday
    assert fire == datetime(2026, 3, 22, 3, 30, tzinfo=WARSAW)  # Sunday too: the law has no weekend
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 3, 28, 12, 0, tzinfo=WARSAW))  # summer time begins
    assert fire == datetime(2026, 3, 29, 3, 30, tzinfo=WARSAW)


def test_the_daemon_schedules_it(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    db = open_db(url)
    settings = make_settings(url, mailbox={"host": "127.0.0.1", "port": 9, "username": "x", "folder": "INBOX"})
    daemon = Daemon(settings, db)
    try:
        daemon.add_jobs()
        job = daemon.scheduler.get_job("retention")
        assert job is not None and job.func is retention._job
    finally:
        db.dispose()


def test_the_scheduler_applies_the_policy_at_its_hour(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    db = open_db(url)
    settings = make_settings(url, retention={"mode": "anonymise", "closed_case_days": 365, "uncased_mail_days": 30})
    closed_long_ago = local(2023, 1, 10, 9, 0)
    with db.transaction() as session:
        old = make_case(session, status="in_progress", requester="stara@example.pl", received=local(2022, 12, 1, 9, 0))
        cases.transition(session, old, "answered", at=closed_long_ago)
        cases.transition(session, old, "closed", at=closed_long_ago)
        recent = make_case(session, status="in_progress", requester="nowa@example.pl")
        session.add(Message(mailbox="INBOX", uidvalidity=1, uid=1, message_key="bounce-1", raw=b"From: x\r\n\r\nx",
                            size=12, received_at=closed_long_ago, sender="mailer-daemon@example.com",
                            subject="Undelivered", status="processed", processed_at=closed_long_ago))
    old_id, recent_id = old.id, recent.id
    at = datetime.now(WARSAW) + timedelta(seconds=2)
    scheduler = BackgroundScheduler(timezone=settings.organisation.timezone)
    retention.schedule_retention(scheduler, settings, db, at=(at.hour, at.minute, at.second))
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.session() as session:
                if session.get(Case, old_id).requester is None:
                    break
            time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    with db.session() as session:
        assert session.get(Case, old_id).requester is None  # reduced to a register entry
        assert session.get(Case, old_id).anonymised
        assert session.get(Case, recent_id).requester == "nowa@example.pl"  # open: untouched
        bounce = session.execute(select(Message).where(Message.message_key == "bounce-1")).scalar_one()
        assert bounce.raw is None and bounce.sender is None and bounce.subject is None
    db.dispose()
