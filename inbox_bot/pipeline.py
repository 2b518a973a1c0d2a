"""Record, parse, screen, thread, classify, decide and apply: the processing of fetched mail.

The order of commitments is the no-loss guarantee: a fetched message is recorded (raw bytes,
unique keys) and committed first; then messages are applied in groups, a transaction each (a
failure in a group sends its messages through one by one, a transaction each); only after the
commit does the caller move or flag them on the server. A message that fails alone counts an
attempt, and after `limits.max_attempts` is parked in quarantine; the pass goes on.
Parsing, screening and classification of a backlog's batch run in a worker process
(inbox_bot.workers) while the previous batch is applied here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Iterable, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from inbox_bot import approval, cases, classify, deadlines, eventlog, gctune, grouplookups, ids, lifecycle, outbox, suppression
from inbox_bot.config import Settings
from inbox_bot.database import Database
from inbox_bot.decide import Policy, ThreadedCase, decide
from inbox_bot.errors import SenderError
from inbox_bot.logs import fingerprint
from inbox_bot.prepare import Prepared, PrepareSettings, Recorded, prepare
from inbox_bot.schema import Case, Message, OutboxRow, ScreenHit, utcnow
from inbox_bot.timelimit import MessageTimeLimit, run_with_limit
from inbox_bot.values import (
    RIGHTS_LABELS,
    Classification,
    Decision,
    FetchedMessage,
    InboundMail,
)

log = logging.getLogger(__name__)


def message_key(raw: bytes) -> str:
    """The dedup key: a hash of the Message-ID, or of the raw bytes when there is none.

    It absorbs a second fetch of the same mail under a new UID (a changed UIDVALIDITY, a copy
    put back by hand), which the (mailbox, uidvalidity, uid) key alone would take for new mail.
    """
    message_id = _plain_message_id(raw)
    if message_id is None:
        try:
            headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536], headersonly=True)
            message_id = str(headers.get("Message-ID", "") or "").strip()
        except Exception:  # a header block the parser chokes on still has bytes to hash
            message_id = ""
    if message_id and "@" in message_id:
        return hashlib.sha256(b"mid:" + message_id.strip("<> \t").encode("utf-8", "surrogateescape")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


# The first Message-ID field, on one line of its own, and everything before it: header lines
# as the stdlib parser reads them (a name of printable characters and a colon, a folded
# continuation, or a leading "From " envelope line). A blank or any other line ends the parser's
# header block, so a Message-ID after it is not the parser's either.
_HEADER_LINES_THEN_ID = re.compile(
    rb"(?:(?:From |[\041-\071\073-\176]*:|[ \t])[^\r\n]*\r?\n)*?[Mm][Ee][Ss][Ss][Aa][Gg][Ee]-[Ii][Dd]:([^\r\n]*)\r?\n(?![ \t])"
)


def _plain_message_id(raw: bytes) -> str | None:
    """The Message-ID as the stdlib header parser reads it, read straight from the bytes; None
    where that reading is not certain to be the same (folded, 8-bit, a bare CR, past 64 KiB).

    Recording a backlog called the header parser once per message; this costs an eighth.
    """
    head = raw[:65536]
    match = _HEADER_LINES_THEN_ID.match(head)
    if match is None:
        return None
    # The parser also breaks lines at a bare CR; the pattern above knows only LF and CRLF.
    before = head[:match.end()]
    if before.count(b"\r") != before.count(b"\r\n"):
        return None
    value = match.group(1)
    if not value.isascii():
        return None  # the parser makes a Header object of 8-bit bytes: leave that reading to it
    return value.decode("ascii").strip()


@dataclass(frozen=True)
class Outcome:
    """What became of one message, for the mailbox step and the report."""

    message_pk: int
    uid: int | None
    uidvalidity: int | None
    status: str  # processed | quarantined | retry
    decision: str | None = None
    case_reference: str | None = None
    destination: str = "processed"  # processed | other | quarantine | stay


@dataclass
class PassReport:
    fetched: int = 0
    recorded: int = 0
    duplicates: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, **match) -> int:
        return sum(1 for o in self.outcomes if all(getattr(o, k) == v for k, v in match.items()))


@dataclass
class Recording:
    """What `record_batch` did: a record id per fetched message, and the records it created."""

    pks: list[int]
    # The new records (status "new"), as the worker is handed them: what `Processor.begin`
    # would otherwise read back from the database, raw mail and all, a moment after writing it.
    fresh: dict[int, Recorded]


def record_batch(db: Database, fetched: Sequence[FetchedMessage]) -> Recording:
    """Store a batch of fetched messages in one transaction: a record id for each, and the new records."""
    table = Message.__table__
    with db.core_transaction() as conn:
        # Two queries per batch, not two per message, and plain statements, not ORM objects:
        # at a backlog of thousands this step came before any message was parsed.
        places: dict[tuple[str, int], list[int]] = {}
        for item in fetched:
            places.setdefault((item.mailbox, item.uidvalidity), []).append(item.uid)
        by_place: dict[tuple[str, int, int], int] = {}
        for (mailbox, uidvalidity), uids in places.items():
            for row in conn.execute(
                select(table.c.id, table.c.uid).where(
                    table.c.mailbox == mailbox, table.c.uidvalidity == uidvalidity, table.c.uid.in_(uids))
            ):
                by_place[(mailbox, uidvalidity, row.uid)] = row.id
        keys = {
            item.uid: message_key(item.raw)
            for item in fetched
            if (item.mailbox, item.uidvalidity, item.uid) not in by_place
        }
        by_key: dict[str, int | dict] = {}  # an existing record's id, or a new row not yet written
        if keys:
            for row in conn.execute(select(table.c.id, table.c.message_key).where(table.c.message_key.in_(set(keys.values())))):
                by_key[row.message_key] = row.id
        slots: list[int | dict] = []
        new_rows: list[dict] = []
        moved: dict[int, dict] = {}
        for item in fetched:
            slot: int | dict | None = by_place.get((item.mailbox, item.uidvalidity, item.uid))
            if slot is None:
                key = keys[item.uid]
                slot = by_key.get(key)
                place = {"mailbox": item.mailbox, "uidvalidity": item.uidvalidity, "uid": item.uid}
                if slot is not None:
                    # Same mail under another UID (or twice in this batch): keep one record,
                    # remember where it now lives.
                    if isinstance(slot, dict):
                        slot.update(place)
                    else:
                        moved[slot] = dict(place, server_done=False)
                else:
                    slot = dict(
                        place,
                        message_key=key,
                        raw=item.raw,
                        size=len(item.raw),
                        received_at=item.internaldate,
                        status="new",
                        attempts=0,
                        created_at=utcnow(),
                    )
                    new_rows.append(slot)
                    by_key[key] = slot
            slots.append(slot)
        for pk, values in moved.items():
            conn.execute(update(table).where(table.c.id == pk).values(**values))
        if new_rows and conn.dialect.name == "sqlite":
            # The ids SQLite would give, and the rows written by one executemany: with RETURNING,
            # SQLAlchemy sent SQLite one INSERT per message.
            last = ids.sqlite_last_id(conn, table.name)
            for number, row in enumerate(new_rows, start=last + 1):
                row["id"] = number
            eventlog.insert_rows(conn, table, new_rows)
        elif new_rows:
            numbers = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), new_rows).scalars().all()
            for row, pk in zip(new_rows, numbers):
                row["id"] = pk
        pks = [slot["id"] if isinstance(slot, dict) else slot for slot in slots]
    fresh = {row["id"]: Recorded(row["id"], row["uid"], row["uidvalidity"], row["received_at"], row["raw"])
             for row in new_rows}
    return Recording(pks, fresh)


# Messages applied in one transaction and written in one flush. What is needed once per
# transaction (the reference counter, the approval key, ids handed out in advance) is read once
# per group; 50 messages keep SQLite's write lock for about 0.2 s, and a failure in one of them
# costs the redo of at most 49 others.
COMMIT_GROUP = 50


# A batch this large is prepared in the worker process. A message or two (the daemon woken by
# IDLE) is parsed in place: handing it over would add latency and buy nothing.
POOL_MIN_BATCH = 20
_POOL_CPUS = os.cpu_count() or 1


@dataclass(frozen=True)
class Begun:
    """Records loaded by `Processor.begin`, their preparation under way."""

    settled: list[Outcome]  # records already done (a second fetch): nothing more to do
    items: list[Recorded]
    batch: object | None  # the worker pool's batch, or None: prepared in place by `finish`


class Processor:
    """Processes recorded messages; holds nothing but settings and the database."""

    def __init__(self, settings: Settings, db: Database, stop=None):
        self.settings = settings
        self.db = db
        self.stop = stop  # a threading.Event: set by SIGTERM, checked between messages
        self.prepare_settings = PrepareSettings.from_settings(settings)
        self._pool = None  # inbox_bot.workers.PreparePool, started at the first backlog batch

    # -- the worker process for the pure steps (inbox_bot.prepare) ----------------------------
    def _workers(self):
        if self._pool is None:
            from inbox_bot.workers import PreparePool

            # The model is loaded (or trained) here first: the child then only reads it, and two
            # processes never train into the same folder at once.
            classify.model(self.settings)
            self._pool = PreparePool(self.prepare_settings, self.settings.limits.message_seconds,
                                     classify_with=self.settings.classifier)
            gctune.settle_after_start()  # the model is loaded: what a backlog's work keeps is here
        return self._pool

    def start_workers(self, wait: bool = False) -> int | None:
        """Start the worker process now rather than at the first backlog batch; its pid, or None
        on a single-core machine or with `limits.worker_process` off, where everything is
        prepared in place. `wait`: until ready."""
        if not self._workers_wanted():
            return None
        return self._workers().start(wait=wait)

    def _workers_wanted(self) -> bool:
        return self.settings.limits.worker_process and _POOL_CPUS > 1

    def close(self) -> None:
        """Stop the worker process, if one was started."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- one pass over recorded messages --------------------------------------------------
    def process(self, pks: Iterable[int]) -> list[Outcome]:
        """Process recorded messages: prepare, classify, apply. Outcomes for every pk given."""
        return self.finish(self.begin(pks))

    def begin(self, pks: Iterable[int], fresh: dict[int, Recorded] | None = None) -> Begun:
        """Load the records and start preparing them, in the order of their ids; `finish` does
        the rest. `fresh`: records just created (`Recording.fresh`), taken as they are.

        A backlog's batches go to the worker process (inbox_bot.workers), so that the caller can
        fetch and apply the previous batch while this one is parsed on the other core.
        """
        wanted = sorted(set(pks))
        known = fresh or {}
        items_by_pk = {pk: known[pk] for pk in wanted if pk in known}
        settled: list[Outcome] = []
        rest = [pk for pk in wanted if pk not in items_by_pk]
        if rest:
            # Plain rows, not ORM objects: only these columns are needed, and the records are
            # loaded again, locked, when applied.
            columns = (Message.id, Message.uid, Message.uidvalidity, Message.status, Message.decision,
                       Message.screen_verdict, Message.received_at, Message.raw)
            with self.db.engine.connect() as conn:
                for row in conn.execute(select(*columns).where(Message.id.in_(rest))):
                    if row.status != "new":
                        settled.append(Outcome(row.id, row.uid, row.uidvalidity, row.status, row.decision,
                                               destination=_destination_of(row)))
                    else:
                        items_by_pk[row.id] = Recorded(row.id, row.uid, row.uidvalidity, row.received_at,
                                                       row.raw or b"")
        items = [items_by_pk[pk] for pk in wanted if pk in items_by_pk]
        batch = None
        if len(items) >= POOL_MIN_BATCH and self._workers_wanted():
            batch = self._workers().submit(items)
        return Begun(settled, items, batch)

    def finish(self, begun: Begun) -> list[Outcome]:
        outcomes = list(begun.settled)
        prepared: list[Prepared] = []
        by_pk: dict[int, Classification] = {}
        results: list[Prepared | BaseException] = []
        if begun.batch is not None:
            for result, classification in self._pool.results_classified(begun.batch):
                results.append(result)
                if classification is not None:
                    by_pk[result.pk] = classification
        else:
            for item in begun.items:
                try:
                    # A time limit per message: a message built to make the parser crawl must not
                    # hold up the rest of the mailbox (see inbox_bot.timelimit for the mechanism).
                    results.append(run_with_limit(prepare, item, self.prepare_settings,
                                                  seconds=self.settings.limits.message_seconds,
                                                  what=f"parsing message #{item.pk}"))
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the pass
                    results.append(exc)
        for item, result in zip(begun.items, results):
            if isinstance(result, BaseException):
                outcomes.append(self._failed(item.pk, result))
            else:
                prepared.append(result)
        # Requests the worker process did not classify (a small batch, or its pass failed).
        requests = [p for p in prepared if p.screen.is_request and p.pk not in by_pk]
        # None in a backlog's usual batch (the worker classified them all): no hand-over to the
        # time limit's thread for an empty list.
        if requests:
            try:
                classify.model(self.settings)  # loading or training the model is not the message's time
                try:
                    classifications = run_with_limit(
                        classify.classify_many, self.settings, [p.mail for p in requests],
                        seconds=self.settings.limits.message_seconds * len(requests), what="classification",
                    )
                except MessageTimeLimit as exc:
                    # Slow classification of a batch is counted as an attempt, not blamed on one sender.
                    raise TimeoutError(str(exc)) from None
                by_pk.update((p.pk, c) for p, c in zip(requests, classifications))
            except Exception as exc:  # noqa: BLE001 - a model fault is ours: retry the requests later
                log.exception("classification failed for %d messages", len(requests))
                outcomes.extend(self._failed(p.pk, exc) for p in requests)
                prepared = [p for p in prepared if p.pk in by_pk or not p.screen.is_request]
        for start in range(0, len(prepared), COMMIT_GROUP):
            if self.stop is not None and self.stop.is_set():
                break  # the rest stays recorded as new and is processed after the restart
            outcomes.extend(self._apply_group(prepared[start:start + COMMIT_GROUP], by_pk))
        return outcomes

    def _apply_group(self, group: Sequence[Prepared], by_pk: dict[int, Classification]) -> list[Outcome]:
        """Apply a group of messages in one transaction; if any of them fails, each alone.

        The group's rows are written in one flush at its commit (an INSERT per table, not per
        message). Lookups in between do not flush: what they must see of earlier messages in
        the group they take from the session (inbox_bot.cases, outbox, suppression). When a
        message fails, the group is rolled back whole and applied again one message per
        transaction, so that the failure costs that message only. Nothing leaves before a
        commit (replies are delivered from the committed outbox, the server copy is moved
        after), so a crash before it just leaves the group "new", to be done again.
        """
        done: list[Outcome] = []
        failed: list[tuple[int, Exception]] = []
        try:
            with self.db.transaction() as session, session.no_autoflush:
                rows = _locked_rows(session, [p.pk for p in group])
                grouplookups.load(session, self.settings, {p.mail.sender for p in group if p.mail.sender}, utcnow())
                for p in group:
                    if self.stop is not None and self.stop.is_set():
                        break
                    done.append(self._apply(session, p, by_pk.get(p.pk), rows[p.pk]))
                _write_records(session, rows.values())
        except Exception as exc:  # noqa: BLE001 - a message (or the commit) failed: each message again, alone
            if len(group) > 1:
                log.warning("a group of %d messages failed (%s); applying them one by one", len(group), type(exc).__name__)
            done, failed = [], []
            for p in group:
                if self.stop is not None and self.stop.is_set():
                    break
                try:
                    with self.db.transaction() as session, session.no_autoflush:
                        rows = _locked_rows(session, [p.pk])
                        done.append(self._apply(session, p, by_pk.get(p.pk), rows[p.pk]))
                        _write_records(session, rows.values())
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the pass
                    failed.append((p.pk, exc))
        if done:
            # Logged after the commit, so the log never tells of work that was rolled back; one
            # line per group ("applied #17 open IODO-2026-00042, #18 ignore, ..."): a line per
            # message was 2 % of applying a backlog.
            log.info("applied %s", ", ".join(
                f"#{o.message_pk} {o.decision}{' ' + o.case_reference if o.case_reference else ''}" for o in done))
        # Counted in transactions of their own, after the group's (SQLite has one writer).
        return done + [self._failed(pk, exc) for pk, exc in failed]

    def _failed(self, pk: int, exc: Exception) -> Outcome:
        limit = self.settings.limits.max_attempts
        sender_fault = isinstance(exc, SenderError)
        with self.db.transaction() as session:
            row = session.get(Message, pk)
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            # Mail that cannot be parsed will not parse better next time: park it at once.
            if sender_fault or row.attempts >= limit:
                row.status = "quarantined"
                row.processed_at = utcnow()
            status, uid, uidvalidity = row.status, row.uid, row.uidvalidity
        if sender_fault:
            log.info("message #%d quarantined: %s", pk, type(exc).__name__)
        else:
            log.error("message #%d failed (%s), attempt status %s", pk, type(exc).__name__, status, exc_info=exc)
        if status == "quarantined":
            return Outcome(pk, uid, uidvalidity, "quarantined", destination="quarantine")
        return Outcome(pk, uid, uidvalidity, "retry", destination="stay")

    def _apply(self, session: Session, p: Prepared, classification: Classification | None, row: _Record) -> Outcome:
        """Apply one message inside the caller's transaction; `row` is its record, locked.

        What changes in the record is noted in `row.changes` and written by `_write_records`.
        """
        settings = self.settings
        if row.status != "new":  # another process got here first
            return Outcome(p.pk, row.uid, row.uidvalidity, row.status, row.decision, destination=_destination_of(row))
        if approval.concerns_draft(session, settings, p.mail, p.keys):
            # The DPO's answer to a draft: approval, rejection or edit. Never a new case.
            outcome = approval.handle(session, settings, p.mail, p.screen, p.keys)
            decision = f"approval:{outcome}"[:32]
            row.changes = dict(sender=p.mail.sender, subject=p.mail.subject[:1000], language=p.mail.language,
                               screen_verdict=p.screen.verdict, decision=decision, status="processed",
                               processed_at=utcnow())
            return Outcome(p.pk, p.uid, p.uidvalidity, "processed", decision)
        threaded = self._find_thread(session, p, classification)
        decision = decide(p.mail, p.screen, threaded, classification, Policy(settings.replies.acknowledge_other))
        for hit in p.screen.hits:
            eventlog.buffer_row(session, ScreenHit, {"message_pk": row.id, "rule": hit.rule, "verdict": hit.verdict,
                                                     "reason": hit.reason[:1000]})
        case = self._carry_out(session, p, decision, classification, threaded)
        if p.screen.verdict == "bounce" and case is None:
            case = self._note_bounce(session, row, p.bounced_ids)
        changes = dict(sender=p.mail.sender, message_id=p.mail.message_id, subject=p.mail.subject[:1000],
                       language=p.mail.language, screen_verdict=p.screen.verdict, decision=decision.action,
                       case_id=case.id if case is not None else None, status="processed", processed_at=utcnow())
        if classification is not None:
            changes.update(labels=list(classification.labels), confidence=classification.confidence,
                           model_version=classification.model_version)
        if p.minimised is not None:
            # Attachment content is kept only where configured; the original stays on the server.
            changes["raw"] = p.minimised
        row.changes = changes
        reference = case.reference if case is not None else None
        destination = "other" if decision.action == "ignore" and p.screen.is_request else "processed"
        return Outcome(p.pk, p.uid, p.uidvalidity, "processed", decision.action, reference, destination)

    # -- threading ------------------------------------------------------------------------
    def _find_thread(self, session: Session, p: Prepared, classification: Classification | None) -> ThreadedCase | None:
        if not p.screen.is_request:
            return None
        for reference in p.keys.references_in_subject:
            case = cases.by_reference(session, reference)
            if case is not None:
                return _threaded(case, "subject")
        if p.keys.our_message_ids:
            case_id = session.execute(
                select(OutboxRow.case_id).where(OutboxRow.message_id.in_(p.keys.our_message_ids), OutboxRow.case_id.is_not(None))
            ).scalars().first()
            if case_id is not None:
                return _threaded(session.get(Case, case_id), "in_reply_to")
        if p.mail.sender and classification and not classification.triage:
            wanted = set(classification.labels) & RIGHTS_LABELS
            for case in cases.find_open_case_for(session, p.mail.sender):
                if wanted and wanted <= set(case.labels):
                    return _threaded(case, "duplicate")
        return None

    # -- applying a decision ----------------------------------------------------------------
    def _carry_out(
        self,
        session: Session,
        p: Prepared,
        decision: Decision,
        classification: Classification | None,
        threaded: ThreadedCase | None,
    ) -> Case | None:
        settings = self.settings
        mail = p.mail
        if decision.action == "ignore" and not decision.replies:
            return None
        if decision.action == "attach":
            case = cases.by_reference(session, decision.case_reference)
            self._attach(session, case, p, decision)
        else:
            case = self._open(session, p, decision, classification)
        if decision.suppress and mail.sender:
            if suppression.add(session, mail.sender, source=case.reference if case else None):
                cases.record_event(session, case, "suppressed", detail={"list": "marketing"})
        for plan in decision.replies:
            if not plan.automatic or not mail.sender:
                continue
            language = _reply_language(mail.language, settings)
            try:
                # outbox.queue raises before it adds anything: no savepoint needed to undo it.
                row = outbox.queue(
                    session,
                    settings,
                    outbox.Outgoing(
                        kind=plan.kind,
                        recipient=mail.sender,
                        language=language,
                        context=_reply_context(settings, case, language),
                        in_reply_to=mail.message_id,
                        references=outbox.reply_references(mail.message_id, mail.references),
                    ),
                    case,
                )
            except ValueError as exc:
                # A reply we cannot build (an address our SMTP cannot carry) must not cost the
                # requester the case and its deadline: the case stands, the DPO sees why.
                cases.record_event(session, case, "reply_not_built", detail={"kind": plan.kind, "why": str(exc)[:300]})
                continue
            if row is None:
                cases.record_event(session, case, "reply_capped", detail={"kind": plan.kind})
                continue
            cases.record_event(session, case, "reply_queued", detail={"kind": plan.kind, "outbox": row.id})
            if case.status == "new":
                cases.transition(session, case, "acknowledged", why=f"{plan.kind} queued")
            if plan.kind == "optout_confirmation" and set(case.labels) == {"marketing_optout"}:
                cases.transition(session, case, "answered", why="marketing stopped and confirmed")
        if case is not None and decision.action != "attach":
            if "breach_report" in case.labels and settings.cases.breach_alert:
                self._alert_breach(session, case, mail)
            lifecycle.on_opened(session, settings, case, mail, now=p.received_at)
        return case

    def _open(self, session: Session, p: Prepared, decision: Decision, classification: Classification | None) -> Case:
        settings = self.settings
        org = settings.organisation
        received = p.received_at
        local_year = received.astimezone(org.tz).year
        labels = list(decision.labels)
        due = deadlines.due_at(received, org.timezone, org.holidays)
        breach_due = deadlines.breach_due_at(received) if "breach_report" in labels else None
        if set(labels) == {"breach_report"}:
            due = breach_due  # the only clock running is the controller's 72 hours
        case = eventlog.add_new(
            session,
            Case,
            id=ids.next_id(session, Case),
            reference=cases.next_reference(session, settings.cases.reference_prefix, local_year),
            requester=p.mail.sender,
            labels=labels,
            language=_reply_language(p.mail.language, settings),
            status="new",
            received_at=received,
            due_at=due,
            original_due_at=due,
            breach_due_at=breach_due,
            flags=list(decision.flags),
            thread_message_id=p.mail.message_id,
            thread_references=list(p.mail.references),
            created_at=utcnow(),
        )
        lookups = grouplookups.of(session)
        if lookups is not None:
            lookups.opened.append(case)  # a second request of the group finds it (cases.find_open_case_for)
        detail = {"message": p.pk, "labels": labels, "reason": decision.reason}
        if classification is not None:
            detail.update(confidence=round(classification.confidence, 4), model=classification.model_version)
        cases.record_event(session, case, "opened", detail=detail, to_status="new")
        if decision.action == "triage":
            cases.transition(session, case, "triage", why=decision.reason)
        return case

    def _attach(self, session: Session, case: Case, p: Prepared, decision: Decision) -> None:
        cases.record_event(
            session, case, "follow_up", actor=p.mail.sender or "unknown sender",
            detail={"message": p.pk, "flags": list(decision.flags), "labels": list(decision.labels)},
        )
        case.flags = sorted(set(case.flags) | set(decision.flags))
        lifecycle.on_follow_up(session, self.settings, case, p.mail, decision, now=p.received_at)

    def _note_bounce(self, session: Session, row: _Record, returned: Sequence[str]) -> Case | None:
        """A bounce of one of our replies: record it on the reply's case and tell the DPO.

        The reply is found by its Message-ID (fixed in the outbox when queued) in the headers the
        bounce returns (found by the prepare step). The requester has not been reached, and only
        the DPO can do something.
        """
        if not returned:
            return None
        # Plain columns on the bare connection: a bounce returns mail that was sent, so committed
        # before this transaction began, and none of the mail this group queued can be it. As an
        # ORM query it wrote the group's queued mail first and loaded a whole row, raw bytes and all.
        sent = session.connection().execute(
            select(OutboxRow.id, OutboxRow.case_id, OutboxRow.kind)
            .where(OutboxRow.message_id.in_(returned)).order_by(OutboxRow.id).limit(1)
        ).first()
        if sent is None or sent.case_id is None:
            return None
        case = session.get(Case, sent.case_id)
        cases.record_event(session, case, "bounced", detail={"message": row.id, "outbox": sent.id, "kind": sent.kind})
        if sent.kind in ("delivery_alert", "mailbox_alert"):
            return case  # an alert about an alert could loop on a broken DPO address
        org = self.settings.organisation
        for dpo in org.dpo:
            outbox.queue(
                session,
                self.settings,
                outbox.Outgoing(
                    kind="delivery_alert", recipient=dpo, language=org.default_language, context={},
                    automatic=False, auto_submitted="auto-generated", copy_to_sent=False,
                    subject=f"inbox-bot: a reply bounced - {case.reference}",
                    text=(f"The {sent.kind} sent for case {case.reference} (outbox entry #{sent.id}) came back "
                          f"as undeliverable (inbound message #{row.id}).\n"
                          "The requester has not received it; please find another way to reach them.\n"),
                ),
                case,
            )
        return case

    def _alert_breach(self, session: Session, case: Case, mail: InboundMail) -> None:
        org = self.settings.organisation
        # The DPO gets the start of the report so the 72 hours are not spent opening a database.
        excerpt = mail.text.strip()[:600] or None
        for dpo in org.dpo:
            row = outbox.queue(
                session,
                self.settings,
                outbox.Outgoing(
                    kind="breach_alert",
                    recipient=dpo,
                    language=org.default_language,
                    context=_reply_context(self.settings, case, org.default_language, excerpt=excerpt),
                    automatic=False,
                    auto_submitted="auto-generated",
                    copy_to_sent=False,
                ),
                case,
            )
            cases.record_event(session, case, "breach_alert_queued", detail={"outbox": row.id})


@dataclass
class _Record:
    """A message's record as applying reads it, and the columns applying changes in it."""

    id: int
    uid: int | None
    uidvalidity: int | None
    status: str
    decision: str | None
    screen_verdict: str | None
    changes: dict | None = None


def _locked_rows(session: Session, pks: Sequence[int]) -> dict[int, _Record]:
    # Locked on PostgreSQL, so a daemon and a `run --once` cannot both open a case for a message.
    # Plain columns, not ORM objects: the raw mail stays in the database (the prepare step had
    # it already, and took from it what applying needs), and the changes are written by
    # `_write_records` in one statement per shape instead of a flushed object per message.
    table = Message.__table__
    query = (select(table.c.id, table.c.uid, table.c.uidvalidity, table.c.status, table.c.decision,
                    table.c.screen_verdict).where(table.c.id.in_(list(pks))).with_for_update())
    return {row.id: _Record(*row) for row in session.connection().execute(query)}


def _write_records(session: Session, records: Iterable[_Record]) -> None:
    """Write the changes `_apply` noted, an executemany per set of changed columns."""
    shapes: dict[tuple[str, ...], list[dict]] = {}
    for record in records:
        if record.changes:
            shapes.setdefault(tuple(sorted(record.changes)), []).append(dict(record.changes, _pk=record.id))
    # The group's new cases first: a record points at its case, and the database checks that.
    session.flush()
    table = Message.__table__
    connection = session.connection()
    for rows in shapes.values():
        eventlog.update_rows(connection, table, rows, "_pk")


def _threaded(case: Case, how: str) -> ThreadedCase:
    return ThreadedCase(case.reference, case.status, tuple(case.labels), case.requester, how)


def _destination_of(row: Message) -> str:
    if row.status == "quarantined":
        return "quarantine"
    if row.decision == "ignore" and row.screen_verdict == "request":
        return "other"
    return "processed"


def _reply_language(language: str, settings: Settings) -> str:
    from inbox_bot.compose import pick_language

    return pick_language(language or "und", "acknowledgement", settings.organisation.default_language)


def _reply_context(settings: Settings, case: Case, language: str, **extra) -> dict:
    """What every template may use; `extra` adds kind-specific values (address, excerpt, …)."""
    org = settings.organisation
    labels = list(case.labels)
    # A breach report alone starts the controller's 72-hour clock, not an answer owed to the
    # reporter: the acknowledgement promises no date for it.
    promised = None if set(labels) == {"breach_report"} else case.due_at
    context = {
        "reference": case.reference,
        "labels": labels,
        "triage": case.status == "triage" or not labels,
        "received_at": case.received_at.astimezone(org.tz),
        "due_at": promised.astimezone(org.tz) if promised else None,
        "breach_due_at": case.breach_due_at.astimezone(org.tz) if case.breach_due_at else None,
        "organisation": org.name,
        "contact": org.contact or org.address,
        "language": language,
        "timezone": org.timezone,
        "suppressed": "marketing_optout" in labels,
        "requester": case.requester or "",
        "address": case.requester or "",
        "suppressed_at": utcnow().astimezone(org.tz),
        "excerpt": None,
    }
    context.update(extra)
    return context


def requester_fingerprint(address: str | None) -> str:
    return fingerprint(address)
