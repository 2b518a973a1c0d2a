"""Processed mail leaves the inbox in groups of SETTLE_GROUP (inbox_bot.runner), after the commits.

Real Dovecot and SQLite; robot mail (bounces), which needs no classifier, goes through the same
record -> apply -> settle path as a request.
"""

from __future__ import annotations

import pytest

from helpers import messages_of, run_once, settings_for
from inbox_bot import runner as runner_mod
from inbox_bot.database import Database, upgrade
from inbox_bot.pipeline import Processor
from inbox_bot.runner import Runner
from test_faults import bounce


def test_a_pass_moves_every_message_whatever_the_group_size(dovecot, smtp_sink, tmp_path, monkeypatch):
    # Guards against the last, partial group (7 messages in groups of 3, batches of 2) being
    # left in the inbox, or a record not marked as settled on the server.
    monkeypatch.setattr(runner_mod, "SETTLE_GROUP", 3)
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/s.db", mailbox={"batch_size": 2})
    for i in range(7):
        dovecot.append(bounce(i))
    run_once(settings)
    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.folder_uids(settings.mailbox.processed_folder)) == 7
    rows = messages_of(settings)
    assert len(rows) == 7 and all(r.status == "processed" and r.server_done for r in rows)


def test_a_pass_cut_short_leaves_committed_mail_in_the_inbox_for_the_next_one(dovecot, smtp_sink, tmp_path, monkeypatch):
    # Guards the reason settling may wait: mail applied and committed but not yet moved when
    # the pass fails must be moved by the next pass, without being applied a second time.
    monkeypatch.setattr(runner_mod, "SETTLE_GROUP", 100)
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/s.db", mailbox={"batch_size": 2})
    for i in range(8):
        dovecot.append(bounce(i))
    finish = Processor.finish
    calls = []

    def failing_third(self, begun):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("a fault of ours in the third batch")
        return finish(self, begun)

    monkeypatch.setattr(Processor, "finish", failing_third)
    upgrade(settings.database.url)
    db = Database(settings.database.url)
    runner = Runner(settings, db)
    with pytest.raises(RuntimeError):
        runner.run_pass()
    runner.close()
    db.dispose()
    done = [r for r in messages_of(settings) if r.status == "processed"]
    assert len(done) == 4 and not any(r.server_done for r in done)
    assert len(dovecot.folder_uids("INBOX")) == 8  # nothing moved yet: the group was not full
    processed_at = {r.id: r.processed_at for r in done}

    monkeypatch.setattr(Processor, "finish", finish)
    run_once(settings)
    assert dovecot.folder_uids("INBOX") == []
    rows = messages_of(settings)
    assert len(rows) == 8 and all(r.status == "processed" and r.server_done for r in rows)
    # The four applied before the fault were only moved, not applied again.
    assert {r.id: r.processed_at for r in rows if r.id in processed_at} == processed_at
