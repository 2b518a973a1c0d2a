"""The DPO's digest: its content on a fixture of cases at a frozen moment, and its delivery
through a real aiosmtpd sink by the APScheduler job firing at its hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from helpers import body_text, parsed
from inbox_bot import deadlines, digest
from inbox_bot.schema import Draft, Meta, OutboxRow
from test_clocks import WARSAW, local, make_case, make_settings, open_db

NOW = local(2026, 3, 20, 8, 0)  # a Friday morning
LAST_DIGEST = local(2026, 3, 19, 8, 0)


def _fixture_of_cases(session) -> dict[str, str]:
    """One case per situation the digest must show (or hide); returns name -> reference."""
    refs = {}
    refs["overdue"] = make_case(session, status="in_progress", received=local(2026, 2, 10, 10, 0)).reference
    soon = make_case(session, status="acknowledged", received=local(2026, 2, 25, 10, 0))  # due 25 March
    refs["soon"] = soon.reference
    session.add(Draft(case_id=soon.id, kind="access_reply", language="pl", subject="s", body="b", nonce="n" * 32))
    extended = make_case(session, status="in_progress", received=local(2026, 2, 12, 10, 0), extended=True,
                         extension_reason="complex")
    extended.due_at = deadlines.extended_due_at(extended.received_at)  # 12 May; notice was owed by 12 March
    refs["extended"] = extended.reference
    refs["paused"] = make_case(session, status="awaiting_identity", received=local(2026, 2, 1, 10, 0),
                               paused_since=local(2026, 2, 2, 10, 0)).reference  # due 2 March, but paused
    refs["breach"] = make_case(session, labels=("breach_report",), status="acknowledged",
                               received=local(2026, 3, 19, 9, 0)).reference
    refs["triage"] = make_case(session, labels=("other",), status="triage", received=local(2026, 3, 19, 13, 0)).reference
    refs["later"] = make_case(session, status="in_progress", received=local(2026, 3, 18, 10, 0)).reference
    refs["closed"] = make_case(session, status="closed", received=local(2026, 1, 5, 10, 0)).reference
    session.add(Meta(key=digest.LAST_DIGEST_KEY, value=LAST_DIGEST.isoformat()))
    return refs


def test_the_digest_shows_every_running_clock_in_its_section(db, db_url):
    settings = make_settings(db_url)
    with db.transaction() as session:
        refs = _fixture_of_cases(session)
    with db.session() as session:
        built = digest.build_digest(session, settings, NOW)
    r = refs
    assert built.references("overdue") == [r["overdue"]]
    assert built.references("due_soon") == [r["soon"]]
    assert built.references("extension_notices_owed") == [r["extended"]]
    assert built.references("drafts_awaiting") == [r["soon"]]
    # A paused clock is not overdue: the case waits for the requester.
    assert built.references("waiting_for_requester") == [r["paused"]]
    assert built.references("breach_clocks") == [r["breach"]]
    assert built.references("triage") == [r["triage"]]
    assert built.references("new_since_last") == [r["breach"], r["triage"]]
    shown = {ref for items in built.sections.values() for ref in (i.reference for i in items)}
    assert r["closed"] not in shown and r["later"] not in shown
    # The notice was owed by the end of the first month (12 March): the digest says it is late.
    (owed,) = built.sections["extension_notices_owed"]
    assert owed.note.startswith("PO TERMINIE") and "2026-03-12" in owed.note
    (breach,) = built.sections["breach_clocks"]
    assert breach.due_at == local(2026, 3, 22, 9, 0) and breach.note == "pozostało 49 h"

    rendered = digest.render_digest(settings, built)
    for name in ("overdue", "soon", "extended", "paused", "breach", "triage"):
        assert r[name] in rendered.text and r[name] in rendered.html
    assert r["closed"] not in rendered.text
    assert "Po terminie (1)" in rendered.text
    assert "22 marca 2026 r., godz. 09:00" in rendered.text  # the breach deadline to the hour, local time


def test_an_extension_notice_once_sent_is_no_longer_owed(db, db_url):
    from inbox_bot import clocks

    settings = make_settings(db_url)
    with db.transaction() as session:
        case = make_case(session, status="in_progress", received=local(2026, 3, 2, 10, 0))
        clocks.extend(session, settings, case, "complex", local(2026, 3, 5, 9, 0))
    with db.transaction() as session:
        owed = digest.build_digest(session, settings, NOW)
        clocks.mark_extension_notified(session, session.merge(case), local(2026, 3, 20, 9, 0))
    with db.session() as session:
        after = digest.build_digest(session, settings, local(2026, 3, 20, 10, 0))
    assert owed.references("extension_notices_owed") == [case.reference]
    assert not owed.sections["extension_notices_owed"][0].note.startswith("PO TERMINIE")  # 2 April not reached
    assert after.references("extension_notices_owed") == []


def _smtp(sink) -> dict:
    return {"host": sink.host, "port": sink.port, "security": "none", "timeout": 10}


def test_an_empty_digest_is_not_sent_unless_configured(db_url, smtp_sink):
    db = open_db(db_url)
    try:
        assert digest.send_digest(make_settings(db_url, smtp=_smtp(smtp_sink)), db, NOW) == 0
        assert smtp_sink.messages() == []
        settings = make_settings(db_url, smtp=_smtp(smtp_sink), digest={"send_when_empty": True})
        assert digest.send_digest(settings, db, NOW) == 1
        (sent,) = smtp_sink.wait_for(1)
        assert "brak" in body_text(sent.raw)
    finally:
        db.dispose()


def test_the_job_skips_a_public_holiday(tmp_path):
    # 1 May 2026 is a Friday and a Polish public holiday: a cron "mon-fri" alone would send.
    url = f"sqlite:///{tmp_path}/t.db"
    db = open_db(url)
    settings = make_settings(url, digest={"send_when_empty": True})
    try:
        assert digest.digest_job(settings, db, now=local(2026, 5, 1, 8, 0)) == 0
        with db.session() as session:
            assert session.execute(select(OutboxRow)).first() is None
    finally:
        db.dispose()


def test_the_default_schedule_is_eight_on_working_days_warsaw_time(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path}/t.db")
    scheduler = BackgroundScheduler(timezone="UTC")
    job = digest.schedule_digest(scheduler, settings, db=None)
    friday_after = datetime(2026, 3, 20, 9, 0, tzinfo=WARSAW)
    fire = job.trigger.get_next_fire_time(None, friday_after)
    assert fire == datetime(2026, 3, 23, 8, 0, tzinfo=WARSAW)  # Monday 08:00 local
    # Across the change to summer time (29 March 2026) it stays 08:00 local, 06:00 UTC.
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 3, 29, 12, 0, tzinfo=WARSAW))
    assert fire.astimezone(timezone.utc) == datetime(2026, 3, 30, 6, 0, tzinfo=timezone.utc)


def test_the_scheduler_sends_the_digest_at_its_hour(tmp_path, smtp_sink):
    url = f"sqlite:///{tmp_path}/t.db"
    db = open_db(url)
    settings = make_settings(url, smtp=_smtp(smtp_sink), digest={"working_days_only": False},
                             organisation={"dpo": ["dpo@optingo.eu", "zastepca@optingo.eu"]})
    with db.transaction() as session:
        overdue = make_case(session, status="in_progress", received=local(2026, 1, 7, 10, 0)).reference
    at = (datetime.now(WARSAW) + timedelta(seconds=3)).strftime("%H:%M:%S")
    scheduler = BackgroundScheduler(timezone=settings.organisation.timezone)
    digest.schedule_digest(scheduler, settings, db, at=at)
    scheduler.start()
    try:
        assert smtp_sink.messages() == []  # nothing before its hour
        sent = smtp_sink.wait_for(2, timeout=20)
    finally:
        scheduler.shutdown(wait=True)
    try:
        assert sorted(m.rcpt_tos[0] for m in sent) == ["dpo@optingo.eu", "zastepca@optingo.eu"]
        msg = parsed(sent[0].raw)
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["Subject"].startswith("Zestawienie spraw IOD")
        assert overdue in body_text(sent[0].raw)
        assert msg.get_body(preferencelist=("html",)) is not None  # plain text and HTML
        with db.session() as session:
            rows = list(session.execute(select(OutboxRow)).scalars())
            assert session.get(Meta, digest.LAST_DIGEST_KEY) is not None
        assert {(r.kind, r.status, r.automatic, r.copy_to_sent) for r in rows} == {("digest", "sent", False, False)}
    finally:
        db.dispose()


def test_a_case_received_before_the_last_digest_but_opened_after_it_is_new(db, db_url):
    # The daemon was down over the 08:00 digest: mail received at 07:50 was processed at 09:10.
    # Counted by receipt it would never be "new since the last digest" in any digest.
    settings = make_settings(db_url)
    with db.transaction() as session:
        late = make_case(session, status="acknowledged", received=LAST_DIGEST - timedelta(minutes=10),
                         created_at=LAST_DIGEST + timedelta(minutes=70)).reference
        shown_before = make_case(session, status="acknowledged", received=LAST_DIGEST - timedelta(hours=3),
                                 created_at=LAST_DIGEST - timedelta(hours=3)).reference
        session.add(Meta(key=digest.LAST_DIGEST_KEY, value=LAST_DIGEST.isoformat()))
    with db.session() as session:
        built = digest.build_digest(session, settings, NOW)
    assert built.references("new_since_last") == [late]
    assert shown_before not in built.references("new_since_last")
