"""One pass of the daemon: fetch new mail, record it, process it, settle it on the server, deliver.

The scheduler calls `Runner.run_pass`; `inbox-bot run --once` calls it once. Between batches
and messages it checks the stop flag, so SIGTERM stops it after the message in hand.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace

from sqlalchemy import select, update

from inbox_bot import deliver
from inbox_bot.config import Settings, require
from inbox_bot.database import Database, in_chunks
from inbox_bot.errors import MailboxUnavailable
from inbox_bot.pipeline import Outcome, PassReport, Processor, record_batch
from inbox_bot.schema import Message

log = logging.getLogger(__name__)

SENT_GROUP = 50  # Sent-folder copies per MULTIAPPEND (a few hundred KB of ordinary mail)
# Processed mail is moved out of the inbox this many messages at a time. Each MOVE is an
# expunge, whose cost on the server grows with the folder (Dovecot's maildir rewrites its uid
# list): with a MOVE per batch of 100, a backlog of 30,000 went at 477 messages/s, in groups of
# 500 at 560/s; 10,000 in groups of 2,000 at 758/s against 727/s in groups of 500. Committed
# mail left in the inbox meanwhile is safe: if the pass ends early, the next one finds its
# record done and only moves it.
SETTLE_GROUP = 2000
# Batches handed to the worker process ahead of the one being applied. With one, the two
# processes waited for each other whenever a batch took one of them longer than usual (py-spy
# put the processing thread in the wait for the worker a fifth of the time); with two, the
# worker always has the next batch: (b) 1,527-1,592 -> 1,713-1,799 messages/s. Three gave no
# more (1,641 and 1,674/s). The cost is one more batch of raw mail in memory.
AHEAD = 2


@dataclass
class RunReport:
    passes: PassReport = field(default_factory=PassReport)
    delivery: deliver.DeliveryReport = field(default_factory=deliver.DeliveryReport)


class Runner:
    def __init__(self, settings: Settings, db: Database, stop: threading.Event | None = None):
        require(settings, "mailbox")
        self.settings = settings
        self.db = db
        # The daemon writes a backlog's raw mail: SQLite's checkpoints then held up its commits.
        db.checkpoint_in_background()
        self.stop = stop or threading.Event()
        self.processor = Processor(settings, db, self.stop)
        self._mailbox = None
        self._lock = threading.Lock()  # one pass at a time: IMAP connections are not shareable

    # -- the mailbox connection, kept across passes -----------------------------------------
    def mailbox(self):
        from inbox_bot.mailbox import Mailbox

        if self._mailbox is None:
            mb = Mailbox(self.settings.mailbox, self.settings.mailbox.secret())
            mb.connect()
            folders = [self.settings.mailbox.processed_folder, self.settings.mailbox.quarantine_folder]
            if self.settings.mailbox.sent_folder:
                folders.append(self.settings.mailbox.sent_folder)
            if self.settings.mailbox.other_folder:
                folders.append(self.settings.mailbox.other_folder)
            mb.ensure_folders(*folders)
            self._mailbox = mb
        return self._mailbox

    def close(self) -> None:
        self.processor.close()
        if self._mailbox is not None:
            try:
                self._mailbox.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to save
                pass
            self._mailbox = None

    # -- one pass -----------------------------------------------------------------------------
    def run_pass(self) -> RunReport:
        with self._lock:
            report = RunReport()
            try:
                self._fetch_and_process(report.passes)
            except MailboxUnavailable:
                self.close()
                raise
            report.delivery = deliver.deliver_outbox(self.settings, self.db)
            self._copy_sent()
            return report

    def _fetch_and_process(self, report: PassReport) -> None:
        mb = self.mailbox()
        folder = self.settings.mailbox.folder
        uidvalidity = mb.select()
        self._finish_leftovers(mb, folder, uidvalidity)
        self._process_retries(report)
        uids = mb.pending_uids()
        if not uids:
            return
        batch_size = max(1, self.settings.mailbox.batch_size)
        # Batches in hand: while the oldest is applied here, the next ones are fetched, recorded
        # and handed to the worker process to be prepared and classified (Processor.begin).
        in_hand: deque = deque()
        unsettled: list[Outcome] = []
        for start in range(0, len(uids), batch_size):
            if self.stop.is_set():
                break
            chunk = uids[start : start + batch_size]
            fetched = list(mb.fetch(chunk, batch_size))
            report.fetched += len(fetched)
            recording = record_batch(self.db, fetched)
            pks, new = recording.pks, len(recording.fresh)
            report.recorded += new
            report.duplicates += len(fetched) - new
            in_hand.append((fetched, pks, self.processor.begin(pks, recording.fresh)))
            if len(in_hand) > AHEAD:
                unsettled += self._finish_batch(report, *in_hand.popleft())
                if len(unsettled) >= SETTLE_GROUP:
                    self._settle(mb, folder, uidvalidity, unsettled)
                    unsettled = []
        while in_hand:
            unsettled += self._finish_batch(report, *in_hand.popleft())
        self._settle(mb, folder, uidvalidity, unsettled)

    def _finish_batch(self, report: PassReport, fetched, pks, begun) -> list[Outcome]:
        """Apply a batch; its outcomes, one per fetched UID, for the server to be settled."""
        outcomes = self.processor.finish(begun)
        report.outcomes.extend(outcomes)
        # Settle every fetched UID, not only the one its record remembers: a second copy of
        # the same mail (same Message-ID) in the inbox would otherwise stay there forever.
        by_pk = {o.message_pk: o for o in outcomes}
        return [
            replace(by_pk[pk], uid=item.uid, uidvalidity=item.uidvalidity)
            for item, pk in zip(fetched, pks) if pk in by_pk
        ]

    def _finish_leftovers(self, mb, folder: str, uidvalidity: int) -> None:
        """Move on mail a crash left flagged (handled) but not yet moved out of the folder."""
        leftovers = mb.handled_uids()
        if not leftovers:
            return
        with self.db.session() as session:
            rows = list(
                session.execute(
                    select(Message).where(
                        Message.mailbox == folder, Message.uidvalidity == uidvalidity, Message.uid.in_(leftovers)
                    )
                ).scalars()
            )
        from inbox_bot.pipeline import _destination_of

        s = self.settings.mailbox
        targets = {"processed": s.processed_folder, "other": s.other_folder, "quarantine": s.quarantine_folder}
        # Mail meant to stay (other mail with no other_folder) is flagged already: nothing to finish.
        outcomes = [
            Outcome(r.id, r.uid, r.uidvalidity, r.status, r.decision, destination=_destination_of(r))
            for r in rows
            if targets.get(_destination_of(r))
        ]
        self._settle(mb, folder, uidvalidity, outcomes)

    def _process_retries(self, report: PassReport) -> None:
        """Process records set back to new after the mail left the inbox (`quarantine retry`).

        Such mail will never be fetched again, so the pass takes it from the database. Its place
        on the server is settled already; a repeated failure only updates the record.
        """
        with self.db.session() as session:
            pks = list(
                session.execute(
                    select(Message.id).where(Message.status == "new", Message.server_done.is_(True)).order_by(Message.id)
                ).scalars()
            )
        if pks:
            report.outcomes.extend(self.processor.process(pks))

    def _settle(self, mb, folder: str, uidvalidity: int, outcomes: list[Outcome]) -> None:
        """Move or flag handled mail on the server, only now that the database has committed."""
        s = self.settings.mailbox
        targets = {
            "processed": s.processed_folder,
            "other": s.other_folder,
            "quarantine": s.quarantine_folder,
        }
        groups: dict[str | None, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.destination == "stay" or outcome.uid is None or outcome.uidvalidity != uidvalidity:
                continue
            groups[targets.get(outcome.destination)].append(outcome)
        for target, items in groups.items():
            mb.mark_handled([o.uid for o in items], target)
            # Plain statements: loading the records (raw mail and all) to set a flag cost as much
            # as recording them. In chunks: a settle group has more ids than old SQLite takes.
            with self.db.core_transaction() as conn:
                for chunk in in_chunks(o.message_pk for o in items):
                    conn.execute(update(Message).where(Message.id.in_(chunk)).values(server_done=True))

    def _copy_sent(self) -> None:
        folder = self.settings.mailbox.sent_folder
        if not folder:
            return
        rows = deliver.rows_to_copy(self.db)
        if not rows:
            return
        mb = self.mailbox()
        # In groups, each marked as soon as it is stored: a failure repeats at most one group.
        for start in range(0, len(rows), SENT_GROUP):
            group = rows[start:start + SENT_GROUP]
            mb.append_many(folder, [raw for _, raw in group])
            deliver.mark_copied(self.db, [row_id for row_id, _ in group])
