"""The clocks on stored cases, with frozen time: identity pauses, resumption, extension, identity rules.

Every function under test takes `now`; nothing patches the system clock. Runs on SQLite and
PostgreSQL (fixture db_url).
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from inbox_bot import cases, clocks, deadlines, identity
from inbox_bot import config as config_mod
from inbox_bot.database import Database, upgrade
from inbox_bot.errors import LifecycleError
from inbox_bot.schema import Case, Draft

from helpers import history

WARSAW = ZoneInfo("Europe/Warsaw")
ORGANISATION = {
    "name": "Optingo Digital Sp. z o.o.",
    "address": "iodo@optingo.eu",
    "dpo": ["dpo@optingo.eu"],
    "timezone": "Europe/Warsaw",
    "holidays": "PL",
    "default_language": "pl",
}


def local(*args) -> datetime:
    """A Warsaw wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=WARSAW).astimezone(timezone.utc)


def make_settings(db_url: str, **sections) -> config_mod.Settings:
    data = {"organisation": dict(ORGANISATION), "database": {"url": db_url}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_mod.from_dict(data, "<test>")


def open_db(db_url: str) -> Database:
    upgrade(db_url)
    return Database(db_url)


_counter = iter(range(1, 10_000))


def make_case(session, *, labels=("access",), status="acknowledged", received=None, requester="anna@example.pl",
              language="pl", **columns) -> Case:
    """A case as the pipeline opens it: deadline from receipt, an "opened" event."""
    received = received or local(2026, 3, 9, 10, 0)
    due = deadlines.due_at(received)
    values = dict(
        reference=f"IODO-2026-{next(_counter):05d}", requester=requester, labels=list(labels), language=language,
        status=status, received_at=received, due_at=due, original_due_at=due, flags=[],
        breach_due_at=deadlines.breach_due_at(received) if "breach_report" in labels else None,
        created_at=received,  # opened as it arrived, as the daemon does with live mail
    )
    values.update(columns)
    case = Case(**values)
    session.add(case)
    session.flush()
    cases.record_event(session, case, "opened", at=received, to_status="new")
    return case


def test_a_pause_of_three_days_moves_the_deadline_by_three_days(db, db_url):
    # Guards against a pause that is recorded but forgotten when the deadline is computed.
    settings = make_settings(db_url)
    with db.transaction() as session:
        case = make_case(session, received=local(2026, 3, 9, 10, 0))  # due Thu 9 April 2026
        assert deadlines.local_date(case.due_at) == datetime(2026, 4, 9).date()
        clocks.pause(session, case, local(2026, 3, 10, 16, 0), why="identity")
        days = clocks.resume(session, settings, case, local(2026, 3, 13, 9, 0), why="answered")
    assert days == 3
    assert deadlines.local_date(case.due_at).isoformat() == "2026-04-13"  # 12 April is a Sunday
    assert case.original_due_at == case.due_at  # the first month is paused too
    assert case.paused_since is None
    events = history(db, case)
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["clock_paused", "clock_resumed"]
    resumed = events[-1].detail
    assert resumed["days"] == 3 and resumed["due_after"] == case.due_at.isoformat()


def test_resume_without_a_pause_changes_nothing(db, db_url):
    # Guards against a follow-up moving a deadline that was never paused.
    settings = make_settings(db_url)
    with db.transaction() as session:
        case = make_case(session)
        due = case.due_at
        assert clocks.resume(session, settings, case, local(2026, 3, 20, 9, 0), why="x") == 0
    assert case.due_at == due
    assert [e.kind for e in history(db, case)] == ["opened"]


def test_extension_needs_a_reason_and_drafts_the_notice(db, db_url):
    settings = make_settings(db_url)
    with db.transaction() as session:
        case = make_case(session, received=local(2026, 3, 9, 10, 0))
        with pytest.raises(LifecycleError):
            clocks.extend(session, settings, case, "  ", local(2026, 3, 20, 9, 0))
        assert not case.extended
        draft = clocks.extend(session, settings, case, "liczba żądań w marcu", local(2026, 3, 20, 9, 0))
        reference = case.reference
    # Three months from receipt: 9 June 2026 (a Tuesday).
    assert deadlines.local_date(case.due_at).isoformat() == "2026-06-09"
    assert case.extended and case.extension_reason == "liczba żądań w marcu"
    assert case.extension_notified_at is None
    assert draft.kind == "extension_notice" and draft.status == "pending"
    assert len(draft.nonce) >= 32
    assert reference in draft.subject
    assert "liczba żądań w marcu" in draft.body and "9 czerwca 2026" in draft.body
    # The notice is drafted and mailed to the DPO for approval; nothing goes to the requester.
    assert [e.kind for e in case.events][-3:] == ["extended", "draft_created", "draft_mailed"]
    assert case.events[-3].detail["why"] == "liczba żądań w marcu"


def test_a_second_extension_is_refused(db, db_url):
    # The law allows one extension of two months; a second would silently stretch the deadline.
    settings = make_settings(db_url)
    with db.transaction() as session:
        case = make_case(session)
        clocks.extend(session, settings, case, "complex", local(2026, 3, 20, 9, 0))
        due = case.due_at
        with pytest.raises(LifecycleError):
            clocks.extend(session, settings, case, "again", local(2026, 3, 21, 9, 0))
    assert case.due_at == due


def test_extension_after_a_pause_keeps_the_pause(db, db_url):
    # Guards against the extension recomputing from receipt and losing the days paused.
    settings = make_settings(db_url)
    with db.transaction() as session:
        case = make_case(session, received=local(2026, 3, 9, 10, 0))
        clocks.pause(session, case, local(2026, 3, 10, 9, 0), why="identity")
        clocks.resume(session, settings, case, local(2026, 3, 15, 9, 0), why="answered")
        clocks.extend(session, settings, case, "complex", local(2026, 3, 20, 9, 0))
    # 9 June + 5 days = 14 June 2026, a Sunday: the next working day is 15 June.
    assert deadlines.local_date(case.due_at).isoformat() == "2026-06-15"


def test_identity_is_required_per_configured_request_type(db, db_url):
    # Guards against the setting being ignored: here only erasure needs identity.
    settings = make_settings(db_url, cases={"identity_required": ["erasure"]})
    with db.transaction() as session:
        access = make_case(session, labels=("access",))
        erasure = make_case(session, labels=("erasure",), requester="jan@example.pl")
        assert not identity.needs_identity(session, settings, access)
        assert identity.needs_identity(session, settings, erasure)


def test_an_address_verified_on_another_case_is_known(db, db_url):
    settings = make_settings(db_url)
    with db.transaction() as session:
        make_case(session, labels=("access",), status="closed", identity_verified=True)
        second = make_case(session, labels=("access",))
        stranger = make_case(session, labels=("access",), requester="obcy@example.pl")
        assert not identity.needs_identity(session, settings, second)
        assert identity.needs_identity(session, settings, stranger)


@pytest.mark.parametrize("pause_setting", [True, False])
def test_request_identity_pauses_only_when_configured(db, db_url, pause_setting):
    settings = make_settings(db_url, cases={"pause_for_identity": pause_setting})
    now = local(2026, 3, 9, 11, 0)
    with db.transaction() as session:
        case = make_case(session)
        identity.request_identity(session, settings, case, now)
        drafts = list(session.execute(select(Draft).where(Draft.case_id == case.id)).scalars())
    assert case.status == "awaiting_identity"
    assert (case.paused_since == now) is pause_setting
    assert [d.kind for d in drafts] == ["identity_request"]
    assert drafts[0].status == "pending"
    # The letter tells the requester the clock is paused only when it is.
    assert ("wstrzymany" in drafts[0].body) is pause_setting
