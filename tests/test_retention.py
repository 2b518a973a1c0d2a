"""Retention: what the dry run lists is exactly what the real run removes, in both modes.
"""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from inbox_bot import cases, retention
from inbox_bot.cli import cli
from inbox_bot.schema import Case, CaseEvent, Draft, Message, OutboxRow, Suppression
from test_clocks import local, make_case, make_settings, open_db
from test_lifecycle import _config

NOW = local(2029, 6, 1, 3, 0)


def _with_mail(session, case, n: int) -> None:
    """Stored inbound mail, an outgoing copy and a draft, as a handled case has them."""
    for i in range(n):
        session.add(Message(
            mailbox="INBOX", uidvalidity=1, uid=case.id * 100 + i, message_key=f"{case.reference}-{i}",
            raw=b"From: anna@example.pl\r\n\r\nProsze o kopie moich danych.", size=50,
            received_at=case.received_at, sender=case.requester, subject="Wniosek", case_id=case.id,
        ))
    session.add(OutboxRow(
        case_id=case.id, kind="acknowledgement", recipient=case.requester or "x@example.pl",
        envelope_from="iodo@optingo.eu", message_id=f"{case.reference}@optingo.eu", raw=b"...",
        status="sent", deliver_by=case.received_at,
    ))
    session.add(Draft(case_id=case.id, kind="access_reply", language="pl", subject="s", body="Anna", nonce="n" * 32,
                      status="sent"))
    cases.record_event(session, case, "follow_up", actor=case.requester, detail={"message": 1, "why": "Anna Nowak"})


def _fixture(session) -> dict[str, int]:
    ids = {}
    for name, closed in (("old1", local(2026, 4, 1, 9, 0)), ("old2", local(2026, 5, 30, 9, 0)),
                         ("recent", local(2026, 6, 2, 9, 0))):  # 1095 days before NOW is 2026-06-01
        case = make_case(session, status="in_progress", requester=f"{name}@example.pl")
        cases.transition(session, case, "answered", at=closed)
        cases.transition(session, case, "closed", at=closed)
        _with_mail(session, case, 2)
        ids[name] = case.id
    open_case = make_case(session, status="in_progress", received=local(2020, 1, 1, 9, 0), requester="open@example.pl")
    _with_mail(session, open_case, 1)
    ids["open"] = open_case.id
    session.add(Suppression(address="old1@example.pl", source="IODO"))
    return ids


def _count(session, model, *where) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_purge_removes_exactly_what_the_dry_run_listed(db, db_url):
    settings = make_settings(db_url, retention={"mode": "purge"})
    with db.transaction() as session:
        ids = _fixture(session)
    with db.session() as session:
        plan = retention.plan_retention(session, settings, NOW)
        before = {m: set(session.execute(select(m.id)).scalars()) for m in (Case, Message, OutboxRow, Draft)}
    assert [item.case_id for item in plan] == [ids["old1"], ids["old2"]]
    listed = {
        Case: {i.case_id for i in plan},
        Message: {m for i in plan for m in i.messages},
        OutboxRow: {o for i in plan for o in i.outgoing},
        Draft: {d for i in plan for d in i.drafts},
    }
    assert len(listed[Message]) == 4 and len(listed[OutboxRow]) == 2 and len(listed[Draft]) == 2

    with db.transaction() as session:
        assert retention.apply_retention(session, retention.plan_retention(session, settings, NOW)) == 2
    with db.session() as session:
        after = {m: set(session.execute(select(m.id)).scalars()) for m in (Case, Message, OutboxRow, Draft)}
        assert _count(session, CaseEvent, CaseEvent.case_id.in_(listed[Case])) == 0
        # The marketing suppression outlives the case: marketing must stay stopped.
        assert _count(session, Suppression) == 1
    for model in before:
        assert before[model] - after[model] == listed[model], model.__name__


def test_anonymise_keeps_a_register_entry_without_personal_data(db, db_url):
    settings = make_settings(db_url)  # default mode: anonymise
    with db.transaction() as session:
        ids = _fixture(session)
    with db.transaction() as session:
        plan = retention.plan_retention(session, settings, NOW)
        retention.apply_retention(session, plan)
    with db.session() as session:
        old = session.get(Case, ids["old1"])
        recent = session.get(Case, ids["recent"])
        assert old.requester is None and old.anonymised
        assert old.reference and old.labels == ["access"] and old.outcome == "answered" and old.closed_at
        messages = list(session.execute(select(Message).where(Message.case_id == old.id)).scalars())
        assert len(messages) == 2 and all(m.raw is None and m.sender is None for m in messages)
        for event in old.events:
            assert "@" not in event.actor and "why" not in event.detail
        assert [e.to_status for e in old.events if e.kind == "status"] == ["answered", "closed"]
        assert _count(session, Draft, Draft.case_id == old.id) == 0
        assert recent.requester == "recent@example.pl"
        assert all(m.raw for m in session.execute(select(Message).where(Message.case_id == recent.id)).scalars())
        # Anonymised cases are not listed again.
        assert retention.plan_retention(session, settings, NOW) == []


def test_retention_command_dry_run_lists_then_the_run_removes_the_same(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    db = open_db(url)
    with db.transaction() as session:
        # Closed long before today, whatever today is: the CLI uses the real clock.
        old = make_case(session, status="closed", closed_at=local(2000, 1, 3, 9, 0), requester="a@example.pl")
        keep = make_case(session, status="in_progress", requester="b@example.pl")
        old_ref, keep_ref = old.reference, keep.reference
    config = _config(tmp_path, url)
    config.write_text(config.read_text() + '\n[retention]\nmode = "purge"\n')
    runner = CliRunner()
    dry = runner.invoke(cli, ["--config", str(config), "retention", "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0 and old_ref in dry.output and keep_ref not in dry.output
    assert "1 cases would be purged" in dry.output
    with db.session() as session:
        assert _count(session, Case) == 2  # the dry run changed nothing
    real = runner.invoke(cli, ["--config", str(config), "retention"], catch_exceptions=False)
    assert real.exit_code == 0 and old_ref in real.output
    with db.session() as session:
        assert list(session.execute(select(Case.reference)).scalars()) == [keep_ref]
    db.dispose()
