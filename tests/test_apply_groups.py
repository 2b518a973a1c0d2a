"""Messages applied in groups (a savepoint each): a failing message costs only itself.

Real SQLite and PostgreSQL, the real classifier; the failure is injected into the lifecycle
hook of one sender's case, a dependency of the grouping under test.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from helpers import ORGANISATION, request_mail
from inbox_bot import config as config_mod, lifecycle
from inbox_bot.database import Database, upgrade
from inbox_bot.pipeline import COMMIT_GROUP, Processor, record_batch
from inbox_bot.schema import Case, CaseEvent, Message, OutboxRow
from inbox_bot.values import FetchedMessage

BODY = "Dzień dobry, proszę o usunięcie moich danych osobowych (art. 17 RODO). Pozdrawiam"


@pytest.fixture
def setup(db_url, classifier_ready):
    upgrade(db_url)
    db = Database(db_url)
    settings = config_mod.from_dict({"organisation": dict(ORGANISATION), "database": {"url": db_url}}, "<test>")
    yield settings, db
    db.dispose()


def test_a_failing_message_rolls_back_alone_and_its_group_commits(setup, monkeypatch):
    settings, db = setup
    senders = [f"osoba{i}@example.pl" for i in range(5)]
    bad = senders[2]
    original = lifecycle.on_opened

    def failing(session, settings, case, mail, now=None):
        if case.requester == bad:
            raise RuntimeError("injected fault")  # after the case, its events and its acknowledgement were added
        return original(session, settings, case, mail, now=now)

    monkeypatch.setattr(lifecycle, "on_opened", failing)
    now = datetime(2026, 3, 9, 10, tzinfo=timezone.utc)
    fetched = [FetchedMessage("INBOX", 7, i + 1, request_mail(s, "Usunięcie danych", BODY), now)
               for i, s in enumerate(senders)]
    recording = record_batch(db, fetched)
    pks, new = recording.pks, len(recording.fresh)
    assert new == 5 and len(pks) <= COMMIT_GROUP  # one group

    outcomes = Processor(settings, db).process(pks)

    by_status = sorted((o.status, o.message_pk) for o in outcomes)
    assert [s for s, _ in by_status] == ["processed"] * 4 + ["retry"]
    with db.session() as session:
        requesters = sorted(session.execute(select(Case.requester)).scalars())
        assert requesters == sorted(set(senders) - {bad})
        assert bad not in set(session.execute(select(OutboxRow.recipient)).scalars())
        assert len(set(session.execute(select(OutboxRow.recipient).where(OutboxRow.kind == "acknowledgement")).scalars())) == 4
        # Every event belongs to a surviving case: nothing of the rolled-back one was kept.
        case_ids = set(session.execute(select(Case.id)).scalars())
        assert set(session.execute(select(CaseEvent.case_id)).scalars()) == case_ids
        assert len(session.execute(select(CaseEvent).where(CaseEvent.kind == "opened")).scalars().all()) == 4
        failed = session.execute(select(Message).where(Message.sender.is_(None), Message.status == "new")).scalars().all()
        assert len(failed) == 1 and failed[0].attempts == 1 and "injected fault" in failed[0].last_error

    # The next attempt (fault gone) opens its case, with a reference of its own.
    monkeypatch.setattr(lifecycle, "on_opened", original)
    again = Processor(settings, db).process([failed[0].id])
    assert [o.status for o in again] == ["processed"]
    with db.session() as session:
        references = list(session.execute(select(Case.reference)).scalars())
        assert len(references) == 5 == len(set(references))


@pytest.mark.parametrize("worker_process", [True, False])
def test_a_backlog_batch_is_processed_alike_with_or_without_the_worker_process(db_url, classifier_ready, worker_process):
    # `limits.worker_process = false` (a small host) must change where parsing runs, nothing else.
    upgrade(db_url)
    db = Database(db_url)
    settings = config_mod.from_dict({"organisation": dict(ORGANISATION), "database": {"url": db_url},
                                     "limits": {"worker_process": worker_process}}, "<test>")
    processor = Processor(settings, db)
    try:
        started = processor.start_workers(wait=True)
        assert (started is not None) == (worker_process and (os.cpu_count() or 1) > 1)
        now = datetime(2026, 3, 9, 10, tzinfo=timezone.utc)
        fetched = [FetchedMessage("INBOX", 8, i + 1, request_mail(f"p{i}@example.pl", "Usunięcie danych", BODY), now)
                   for i in range(25)]  # above the size that goes to the worker
        pks = record_batch(db, fetched).pks
        outcomes = processor.process(pks)
    finally:
        processor.close()
        db.dispose()
    assert sorted(o.status for o in outcomes) == ["processed"] * 25
    assert len({o.case_reference for o in outcomes}) == 25


ACCESS = "Dzień dobry, proszę o kopię moich danych osobowych oraz informację, jak je przetwarzacie (art. 15 RODO)."
COMPLAINT = "Składam skargę: mimo dwóch próśb nadal dzwonicie do mnie z ofertami i nikt mi nie odpowiada. To skandal."


def _batch(db, uidvalidity: int, letters: list[tuple[str, str, str]]):
    now = datetime(2026, 3, 9, 10, tzinfo=timezone.utc)
    fetched = [FetchedMessage("INBOX", uidvalidity, i + 1, request_mail(s, subject, body), now)
               for i, (s, subject, body) in enumerate(letters)]
    pks = record_batch(db, fetched).pks
    return pks


def test_lookups_read_once_per_group_see_what_earlier_groups_stored_and_the_group_added(setup, db_url, caplog):
    # Guards the per-group lookups (inbox_bot.grouplookups): the reply cap and duplicate requests
    # must count both what is stored and what earlier messages of the same group added.
    settings, db = setup
    settings = config_mod.from_dict({"organisation": dict(ORGANISATION), "database": {"url": db_url},
                                     "replies": {"cap_per_recipient": 2}}, "<test>")
    ola, jan = "ola@example.pl", "jan@example.pl"
    processor = Processor(settings, db)
    # Group 1: Ola's access request (an acknowledgement is stored).
    processor.process(_batch(db, 11, [(ola, "Dostęp do danych", ACCESS)]))
    # Group 2: Ola's erasure request and complaint (one more acknowledgement reaches the cap of 2;
    # the third is held back), Jan's erasure request twice (the second is a duplicate).
    outcomes = processor.process(_batch(db, 12, [
        (ola, "Usunięcie danych", BODY), (ola, "Skarga", COMPLAINT),
        (jan, "Usunięcie danych", BODY), (jan, "Usunięcie danych - ponownie", BODY),
    ]))
    assert [o.status for o in outcomes] == ["processed"] * 4
    # Done as a group, not by the one-at-a-time redo that a failure in the group falls back on.
    assert "one by one" not in caplog.text
    with db.session() as session:
        acks = session.execute(select(OutboxRow.recipient).where(OutboxRow.automatic.is_(True))).scalars().all()
        assert acks.count(ola) == 2  # one stored before the group, one queued in it; the third capped
        assert acks.count(jan) == 1  # the duplicate attached to the case opened earlier in the group
        capped = session.execute(select(CaseEvent).where(CaseEvent.kind == "reply_capped")).scalars().all()
        assert len(capped) == 1
        jan_cases = session.execute(select(Case).where(Case.requester == jan)).scalars().all()
        assert len(jan_cases) == 1 and "duplicate" in jan_cases[0].flags
        assert len(session.execute(select(Case).where(Case.requester == ola)).scalars().all()) == 3


def test_opt_outs_in_one_group_put_each_address_on_the_list_once_without_a_redo(setup, caplog):
    # The group reads its senders' suppression entries once and notes what it adds: two opt-outs
    # of one sender in a group, and one of a sender listed before, must neither add a second
    # entry (a unique address: the group would fail and be redone message by message) nor
    # record "suppressed" twice.
    from inbox_bot import suppression
    from inbox_bot.schema import Suppression

    settings, db = setup
    with db.transaction() as session:
        suppression.add(session, "listed@example.pl", source="earlier")
    now = datetime(2026, 3, 9, 10, tzinfo=timezone.utc)
    optout = "Proszę wypisać mnie z newslettera i nie wysyłać mi więcej wiadomości marketingowych."
    senders = ["twice@example.pl", "twice@example.pl", "listed@example.pl", "once@example.pl"]
    fetched = [FetchedMessage("INBOX", 8, i + 1, request_mail(s, f"Rezygnacja {i}", optout), now)
               for i, s in enumerate(senders)]
    pks = record_batch(db, fetched).pks
    with caplog.at_level("WARNING", logger="inbox_bot.pipeline"):
        outcomes = Processor(settings, db).process(pks)
    assert [o.status for o in outcomes] == ["processed"] * 4
    assert not [r for r in caplog.records if "applying them one by one" in r.getMessage()]
    with db.session() as session:
        listed = sorted(session.execute(select(Suppression.address)).scalars())
        assert listed == ["listed@example.pl", "once@example.pl", "twice@example.pl"]
        suppressed_events = session.execute(select(CaseEvent).where(CaseEvent.kind == "suppressed")).scalars().all()
        assert len(suppressed_events) == 2  # twice@ once, once@ once; listed@ was on the list
