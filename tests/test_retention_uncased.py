"""Retention of mail that never got a case: old processed auto-replies, bounces and ignored mail
lose raw mail, sender, subject and Message-ID; the row (its dedup key) and the audit of the
screening decision stay; quarantined, new and case mail is left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from inbox_bot import config as config_mod
from inbox_bot import retention
from inbox_bot.cli import cli
from inbox_bot.database import IDS_PER_STATEMENT
from inbox_bot.schema import Message, ScreenHit
from test_clocks import make_case, make_settings, open_db
from test_lifecycle import _config

NOW = datetime(2029, 6, 1, 3, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=91)  # past the default 90 days
RECENT = NOW - timedelta(days=89)

_uid = iter(range(1, 1_000_000))


def _mail(session, key: str, *, processed_at=OLD, status="processed", case_id=None) -> int:
    """An auto-reply as the pipeline stores it, with a hit whose reason quotes a header."""
    message = Message(
        mailbox="INBOX", uidvalidity=1, uid=next(_uid), message_key=key, message_id=f"<{key}@example.pl>",
        raw=b"From: anna@example.pl\r\nAuto-Submitted: auto-replied\r\n\r\nJestem na urlopie.", size=60,
        received_at=(processed_at or OLD) - timedelta(minutes=1), sender="anna@example.pl",
        subject="Nieobecnosc: Anna Nowak", status=status, processed_at=processed_at, case_id=case_id,
        last_error="earlier attempt: bad header from anna@example.pl", screen_verdict="auto_reply",
        decision="ignore",
    )
    message.hits.append(ScreenHit(rule="auto_submitted", verdict="auto_reply",
                                  reason="Auto-Submitted: auto-replied (anna@example.pl)"))
    session.add(message)
    session.flush()
    return message.id


def _personal(session, pk: int) -> tuple:
    """What the row still holds about a person: its columns and its hits' reasons."""
    m = session.get(Message, pk)
    return (m.raw, m.sender, m.subject, m.message_id, m.last_error, tuple(h.reason for h in m.hits))


def _run(db, settings) -> tuple[int, ...]:
    with db.transaction() as session:
        ids = retention.plan_uncased(session, settings, NOW)
        assert retention.apply_uncased(session, ids) == len(ids)
    return ids


def test_old_processed_mail_without_a_case_is_cleared_and_its_row_kept(db, db_url):
    # Guards against raw mail, sender, subject or a quoted hit reason surviving past the period,
    # and against the row (the dedup key) or the audit of the rule being deleted with it.
    with db.transaction() as session:
        pk = _mail(session, "k-old")
    assert _run(db, make_settings(db_url)) == (pk,)
    with db.session() as session:
        m = session.get(Message, pk)
        assert (m.raw, m.sender, m.subject, m.message_id, m.last_error) == (None, None, None, None, None)
        assert m.message_key == "k-old" and m.status == "processed" and m.decision == "ignore"
        assert [(h.rule, h.verdict, h.reason) for h in m.hits] == [("auto_submitted", "auto_reply", "")]


def test_recent_mail_without_a_case_is_kept(db, db_url):
    # Guards against the cutoff being ignored or counted the wrong way (clearing fresh mail).
    with db.transaction() as session:
        pk = _mail(session, "k-recent", processed_at=RECENT)
        before = _personal(session, pk)
    assert _run(db, make_settings(db_url)) == ()
    with db.session() as session:
        assert _personal(session, pk) == before and before[0] is not None


def test_quarantined_and_new_mail_is_not_touched(db, db_url):
    # Guards against clearing mail the DPO still has to look at (quarantine) or the pipeline
    # has not processed yet: its raw bytes are all there is to work from.
    with db.transaction() as session:
        quarantined = _mail(session, "k-quarantined", status="quarantined")
        new = _mail(session, "k-new", status="new", processed_at=None)
        before = {pk: _personal(session, pk) for pk in (quarantined, new)}
    assert _run(db, make_settings(db_url)) == ()
    with db.session() as session:
        assert {pk: _personal(session, pk) for pk in before} == before


def test_mail_of_a_case_is_left_to_the_case_rule(db, db_url):
    # Guards against stripping a running case's evidence: case mail follows closed_case_days.
    with db.transaction() as session:
        case = make_case(session, status="in_progress", requester="anna@example.pl")
        in_case = _mail(session, "k-case", case_id=case.id)
        uncased = _mail(session, "k-uncased")
        before = _personal(session, in_case)
    assert _run(db, make_settings(db_url)) == (uncased,)
    with db.session() as session:
        assert _personal(session, in_case) == before


def test_dry_run_changes_nothing_and_names_exactly_what_the_run_clears(db, db_url):
    # Guards against the plan and the real run drifting apart, or the plan writing anything.
    settings = make_settings(db_url)
    with db.transaction() as session:
        old = [_mail(session, f"k-old-{i}") for i in range(3)]
        _mail(session, "k-recent", processed_at=RECENT)
        _mail(session, "k-quarantined", status="quarantined")

    def snapshot():
        with db.session() as session:
            pks = session.execute(select(Message.id).order_by(Message.id)).scalars().all()
            return {pk: _personal(session, pk) for pk in pks}

    before = snapshot()
    with db.session() as session:
        planned = retention.plan_uncased(session, settings, NOW)
    assert planned == tuple(old)
    assert snapshot() == before
    assert _run(db, settings) == planned
    after = snapshot()
    assert {pk for pk in before if after[pk] != before[pk]} == set(planned)


def test_a_second_run_clears_nothing(db, db_url):
    # Guards against cleared rows being listed again forever (a count that never reaches 0).
    settings = make_settings(db_url)
    with db.transaction() as session:
        pk = _mail(session, "k-old")
    assert _run(db, settings) == (pk,)
    assert _run(db, settings) == ()


@pytest.mark.parametrize("days", [0, -5])
def test_a_period_of_zero_or_less_clears_nothing(db, db_url, days):
    # Guards against 0 meaning "clear everything at once" instead of "never".
    with db.transaction() as session:
        pk = _mail(session, "k-ancient", processed_at=NOW - timedelta(days=5000))
        before = _personal(session, pk)
    assert _run(db, make_settings(db_url, retention={"uncased_mail_days": days})) == ()
    with db.session() as session:
        assert _personal(session, pk) == before


def test_more_messages_than_one_chunk_are_all_cleared(db, db_url):
    # Guards against the chunked UPDATE dropping the ids after the first chunk (or the last one).
    n = IDS_PER_STATEMENT * 2 + 7
    rows = [dict(mailbox="INBOX", uidvalidity=2, uid=i, message_key=f"bulk-{i}", raw=b"x", size=1,
                 received_at=OLD, sender="bulk@example.pl", subject="News", status="processed",
                 processed_at=OLD, attempts=0, server_done=True, created_at=OLD) for i in range(n)]
    with db.transaction() as session:
        session.execute(insert(Message), rows)
    assert len(_run(db, make_settings(db_url))) == n
    with db.session() as session:
        left = session.execute(select(Message.id).where(Message.sender.is_not(None) | Message.raw.is_not(None)))
        assert left.all() == []


def test_uncased_mail_days_defaults_to_90_and_must_be_a_whole_number():
    # Guards against a missing default and against a quoted "90" being silently accepted.
    org = {"organisation": {"name": "Optingo", "address": "iodo@optingo.eu"}}
    assert config_mod.from_dict(org).retention.uncased_mail_days == 90
    with pytest.raises(config_mod.ConfigError, match=r"\[retention\] uncased_mail_days must be int"):
        config_mod.from_dict({**org, "retention": {"uncased_mail_days": "90"}}, "x.toml")
    with pytest.raises(config_mod.ConfigError, match=r"\[retention\] uncased_mail_days must be a whole number"):
        config_mod.from_dict({**org, "retention": {"uncased_mail_days": True}}, "x.toml")


def test_retention_command_prints_and_clears_mail_without_a_case(tmp_path, db_url):
    # Guards against the command leaving uncased mail alone, the dry run writing, or purge
    # mode deleting the row (its message_key must stay to stop the mail being processed twice).
    db = open_db(db_url)
    with db.transaction() as session:
        # Processed long before today, whatever today is: the CLI uses the real clock.
        old = _mail(session, "k-cli", processed_at=datetime(2000, 1, 3, tzinfo=timezone.utc))
        fresh = _mail(session, "k-fresh", processed_at=datetime.now(timezone.utc))
    config = _config(tmp_path, db_url)
    config.write_text(config.read_text() + '\n[retention]\nmode = "purge"\n')
    runner = CliRunner()
    dry = runner.invoke(cli, ["--config", str(config), "retention", "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0
    assert dry.output.splitlines() == ["0 cases would be purged", "1 messages without a case would be cleared"]
    with db.session() as session:
        assert _personal(session, old)[0] is not None  # the dry run changed nothing
    real = runner.invoke(cli, ["--config", str(config), "retention"], catch_exceptions=False)
    assert real.exit_code == 0
    # The log lines (on stderr, mixed in here) come first and, like all logs, name no address.
    assert real.output.splitlines()[-2:] == ["0 cases were purged", "1 messages without a case were cleared"]
    assert "@" not in real.output
    with db.session() as session:
        assert _personal(session, old) == (None, None, None, None, None, ("",))
        assert session.get(Message, old).message_key == "k-cli"
        assert _personal(session, fresh)[0] is not None
    db.dispose()
