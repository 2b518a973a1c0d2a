"""Drafts on a real SQLite database: the token, the mail to the DPO, sending at most once, the CLI."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from helpers import ORGANISATION, outbox_bytes, parsed
from inbox_bot import config, drafts
from inbox_bot.database import Database, upgrade
from inbox_bot.schema import Case, CaseEvent, Draft, Meta, OutboxRow

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'drafts.db'}"
    upgrade(url)
    organisation = dict(ORGANISATION, dpo=["dpo@optingo.eu", "Deputy.DPO@optingo.eu"])
    settings = config.from_dict({"organisation": organisation, "database": {"url": url}})
    db = Database(url)
    yield settings, db
    db.dispose()


def _case(session, labels=("erasure",), status="acknowledged") -> Case:
    case = Case(reference="IODO-2026-00007", requester="jan.kowalski@example.pl", labels=list(labels), language="pl",
                status=status, received_at=RECEIVED, due_at=RECEIVED, original_due_at=RECEIVED,
                thread_message_id="req-1@example.pl", thread_references=["root@example.pl"])
    session.add(case)
    session.flush()
    return case


def test_token_is_short_base32_and_depends_on_key_id_and_nonce():
    token = drafts.token_for(b"k", 1, "n")
    assert len(token) == 16 and set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    # Each input must change it: otherwise one draft's token would approve another.
    assert token != drafts.token_for(b"k2", 1, "n")
    assert token != drafts.token_for(b"k", 2, "n")
    assert token != drafts.token_for(b"k", 1, "m")
    assert token == drafts.token_for(b"k", 1, "n")


def test_generated_key_is_kept_and_reused(setup):
    settings, db = setup
    with db.transaction() as session:
        first = drafts.approval_key(session, settings)
    with db.transaction() as session:
        # A key that changed between passes would make every token in the DPO's inbox worthless.
        assert drafts.approval_key(session, settings) == first
        assert session.get(Meta, drafts.META_KEY) is not None


def test_a_key_generated_in_a_rolled_back_transaction_is_never_used(db_url):
    # The key is remembered per database once read back from it; a key that was generated and
    # then rolled back must not be remembered, or drafts would be signed with a key nobody keeps.
    upgrade(db_url)
    settings = config.from_dict({"organisation": dict(ORGANISATION), "database": {"url": db_url}})
    db = Database(db_url)
    try:
        with pytest.raises(RuntimeError):
            with db.transaction() as session:
                lost = drafts.approval_key(session, settings)
                assert drafts.approval_key(session, settings) == lost  # the same within its transaction
                raise RuntimeError("roll back")
        with db.transaction() as session:
            kept = drafts.approval_key(session, settings)
            assert drafts.approval_key(session, settings) == kept
        assert kept != lost
        for _ in range(2):  # read from the database, then remembered: the stored key both times
            with db.transaction() as session:
                assert drafts.approval_key(session, settings) == kept
                assert session.get(Meta, drafts.META_KEY).value.encode() == kept
    finally:
        db.dispose()


def test_the_remembered_key_is_not_another_databases(tmp_path):
    keys = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        settings = config.from_dict({"organisation": dict(ORGANISATION), "database": {"url": url}})
        db = Database(url)
        for _ in range(3):
            with db.transaction() as session:
                keys.append(drafts.approval_key(session, settings))
        db.dispose()
    assert keys[0] == keys[1] == keys[2] and keys[3] == keys[4] == keys[5] and keys[0] != keys[3]


def test_configured_secret_is_used_and_nothing_is_stored(setup):
    settings, db = setup
    settings = config.from_dict({"organisation": dict(ORGANISATION), "database": {"url": settings.database.url},
                                 "approval": {"secret": "s3cret"}})
    with db.transaction() as session:
        assert drafts.approval_key(session, settings) == b"s3cret"
        assert session.get(Meta, drafts.META_KEY) is None


def test_draft_mail_goes_to_every_dpo_with_reference_and_token(setup):
    settings, db = setup
    with db.transaction() as session:
        case = _case(session)
        draft = drafts.create_draft(session, settings, case, "erasure_done")
        token = drafts.draft_token(session, settings, draft)
        rows = list(session.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())
        assert [r.recipient for r in rows] == ["dpo@optingo.eu", "Deputy.DPO@optingo.eu"]
        for row in rows:
            msg = parsed(outbox_bytes(row))
            assert "IODO-2026-00007" in msg["Subject"] and f"token {token}" in msg["Subject"]
            assert msg["Auto-Submitted"] == "auto-generated"
            # Not automatic (never capped) and not copied to Sent: it is internal mail.
            assert (row.kind, row.automatic, row.copy_to_sent) == ("draft_for_approval", False, False)
        assert draft.dpo_message_id == rows[0].message_id
        assert case.status == "awaiting_approval"


def test_approved_draft_is_sent_once_threaded_to_the_request(setup):
    settings, db = setup
    with db.transaction() as session:
        case = _case(session)
        draft = drafts.create_draft(session, settings, case, "erasure_done", context={"recipients": []})
        outbox_id = drafts.approve(session, settings, draft, actor="cli")
        with pytest.raises(drafts.DraftError):
            drafts.approve(session, settings, draft, actor="dpo@optingo.eu")  # the second approval
        sent = [r for r in session.execute(select(OutboxRow)).scalars() if r.recipient == case.requester]
        assert [r.id for r in sent] == [outbox_id]
        msg = parsed(outbox_bytes(sent[0]))
        assert msg["In-Reply-To"] == "<req-1@example.pl>"
        assert msg["References"].split() == ["<root@example.pl>", "<req-1@example.pl>"]
        assert "IODO-2026-00007" in msg["Subject"]
        assert (sent[0].automatic, msg["Auto-Submitted"]) == (False, "auto-replied")
        assert draft.status == "sent" and draft.final_text == draft.body
        assert case.status == "answered"


def test_draft_with_places_to_fill_is_not_sent(setup):
    settings, db = setup
    with db.transaction() as session:
        case = _case(session)
        draft = drafts.create_draft(session, settings, case, "erasure_done")  # recipients unknown: a place to fill
        assert drafts.placeholders(draft.body)
        with pytest.raises(drafts.DraftError, match="fill in"):
            drafts.approve(session, settings, draft, actor="cli")
        assert draft.status == "pending"
        filled = drafts._PLACEHOLDER.sub("Dane nie były ujawniane odbiorcom.", draft.body)
        drafts.approve(session, settings, draft, actor="cli", text=filled)
        assert draft.final_text == filled
        kinds = [e.kind for e in case.events]
        assert "draft_edited" in kinds
        edited = next(e for e in case.events if e.kind == "draft_edited")
        assert edited.detail["final_text"] == filled  # the history keeps the text that was sent


def test_revised_draft_gets_a_new_token(setup):
    settings, db = setup
    with db.transaction() as session:
        case = _case(session)
        draft = drafts.create_draft(session, settings, case, "complaint_reply")
        old = drafts.draft_token(session, settings, draft)
        drafts.revise(session, settings, draft, "Dzień dobry,\n\nnowa treść.\n", actor="cli")
        # An "OK" to the earlier mail must not send a text the approver never saw.
        assert drafts.draft_token(session, settings, draft) != old
        assert session.execute(select(OutboxRow).where(OutboxRow.kind == "draft_for_approval")).scalars().all().__len__() == 4


def test_new_case_gets_the_drafts_its_labels_call_for(setup):
    settings, db = setup
    with db.transaction() as session:
        case = _case(session, labels=("access", "erasure", "marketing_optout"))
        made = drafts.drafts_for_new_case(session, settings, case)
        assert [d.kind for d in made] == ["access_reply", "erasure_done"]
        # Called again (e.g. after identity is confirmed), it adds nothing twice.
        assert drafts.drafts_for_new_case(session, settings, case) == []
        waiting = _case_waiting(session)
        assert drafts.drafts_for_new_case(session, settings, waiting) == []


def _case_waiting(session) -> Case:
    case = Case(reference="IODO-2026-00008", requester="a@example.pl", labels=["access"], language="pl",
                status="awaiting_identity", received_at=RECEIVED)
    session.add(case)
    session.flush()
    return case


def _config_file(tmp_path: Path, settings) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[organisation]\nname = "Optingo"\naddress = "iodo@optingo.eu"\ndpo = ["dpo@optingo.eu"]\n'
        f'[database]\nurl = "{settings.database.url}"\n', encoding="utf-8")
    return path


def test_cli_lists_shows_rejects_and_approves(setup, tmp_path):
    from inbox_bot.cli import cli
    import inbox_bot.cli_extra  # noqa: F401 - registers the drafts commands

    settings, db = setup
    with db.transaction() as session:
        case = _case(session, labels=("erasure", "objection"))
        first = drafts.create_draft(session, settings, case, "erasure_done", context={"recipients": []}).id
        second = drafts.create_draft(session, settings, case, "objection_reply").id
    path = str(_config_file(tmp_path, settings))
    runner = CliRunner()
    listed = runner.invoke(cli, ["--config", path, "drafts", "list"])
    assert listed.exit_code == 0 and "erasure_done" in listed.output and "objection_reply" in listed.output
    shown = runner.invoke(cli, ["--config", path, "drafts", "show", str(first)])
    assert "IODO-2026-00007" in shown.output and "usunię" in shown.output
    rejected = runner.invoke(cli, ["--config", path, "drafts", "reject", str(second), "--reason", "objection withdrawn"])
    assert rejected.exit_code == 0, rejected.output
    approved = runner.invoke(cli, ["--config", path, "drafts", "approve", str(first)])
    assert approved.exit_code == 0, approved.output
    again = runner.invoke(cli, ["--config", path, "drafts", "approve", str(first)])
    assert again.exit_code != 0 and "already sent" in again.output
    with db.session() as session:
        events = list(session.execute(select(CaseEvent).order_by(CaseEvent.id)).scalars())
        rejection = next(e for e in events if e.kind == "draft_rejected")
        approval = next(e for e in events if e.kind == "draft_approved")
        assert (rejection.actor, rejection.detail["reason"]) == ("cli", "objection withdrawn")
        assert approval.actor == "cli" and approval.detail["final_text"]
        assert session.get(Draft, first).status == "sent"
        assert session.execute(select(OutboxRow).where(OutboxRow.recipient == "jan.kowalski@example.pl")).scalars().all().__len__() == 1


def test_cli_edit_with_send_sends_the_edited_text(setup, tmp_path, monkeypatch):
    from inbox_bot.cli import cli
    import inbox_bot.cli_extra  # noqa: F401

    settings, db = setup
    with db.transaction() as session:
        case = _case(session)
        draft_id = drafts.create_draft(session, settings, case, "erasure_done").id
    editor = tmp_path / "editor.sh"
    # A real $EDITOR process: it rewrites the file it is given, as a person would.
    editor.write_text("#!/bin/sh\nprintf 'Dzień dobry,\\n\\nDane usunięto.\\n' > \"$1\"\n", encoding="utf-8")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.setenv("VISUAL", str(editor))
    result = CliRunner().invoke(cli, ["--config", str(_config_file(tmp_path, settings)), "drafts", "edit", str(draft_id), "--send"])
    assert result.exit_code == 0, result.output
    with db.session() as session:
        draft = session.get(Draft, draft_id)
        assert (draft.status, draft.final_text) == ("sent", "Dzień dobry,\n\nDane usunięto.\n")
