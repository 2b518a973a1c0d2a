"""The runner keeps batches handed to the worker process ahead of the one it applies.

Real Dovecot, SQLite, the worker process and the classifier. What could go wrong with more than
one batch in flight: a batch applied out of its turn (case references no longer in the order
mail arrived), a batch left unapplied at the end of the pass, a batch applied twice.
"""

from __future__ import annotations

from helpers import cases_of, messages_of, request_mail, run_once, settings_for
from inbox_bot.pipeline import POOL_MIN_BATCH, Processor

BODY = "Dzień dobry, proszę o kopię moich danych osobowych (art. 15 RODO). Pozdrawiam"


def test_batches_are_prepared_ahead_and_applied_in_the_order_they_came(dovecot, smtp_sink, tmp_path, monkeypatch,
                                                                       classifier_ready):
    batch, batches = POOL_MIN_BATCH, 5  # large enough for the worker process
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/a.db", mailbox={"batch_size": batch})
    for i in range(batch * batches):
        dovecot.append(request_mail(f"osoba{i:03d}@example.pl", f"Dostęp {i}", BODY, message_id=f"<a{i}@example.pl>"))
    calls: list[str] = []
    begin, finish = Processor.begin, Processor.finish

    def noted_begin(self, pks, fresh=None):
        begun = begin(self, pks, fresh)
        calls.append(f"b{len([c for c in calls if c[0] == 'b']) + 1}")
        return begun

    def noted_finish(self, begun):
        calls.append(f"f{len([c for c in calls if c[0] == 'f']) + 1}")
        return finish(self, begun)

    monkeypatch.setattr(Processor, "begin", noted_begin)
    monkeypatch.setattr(Processor, "finish", noted_finish)
    report = run_once(settings)

    assert calls == ["b1", "b2", "b3", "f1", "b4", "f2", "b5", "f3", "f4", "f5"]
    assert report.passes.count(status="processed") == batch * batches
    rows = messages_of(settings)
    assert len(rows) == batch * batches and all(r.status == "processed" and r.server_done for r in rows)
    # References are numbered as cases open: in the order the mail arrived, batch after batch.
    by_requester = {c.requester: c.reference for c in cases_of(settings)}
    references = [by_requester[f"osoba{i:03d}@example.pl"] for i in range(batch * batches)]
    assert references == sorted(references) and len(set(references)) == batch * batches
    assert dovecot.folder_uids("INBOX") == []
