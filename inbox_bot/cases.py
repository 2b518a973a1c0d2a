"""Cases: references, opening, the lifecycle's allowed transitions, and the append-only history.

Every change of a case is a CaseEvent recording who, when and why; a transition the lifecycle
does not allow raises LifecycleError instead of silently corrupting the register.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from inbox_bot import eventlog, grouplookups, txscope
from inbox_bot.database import unwritten
from inbox_bot.errors import LifecycleError
from inbox_bot.schema import Case, CaseEvent, ReferenceCounter, utcnow

# Statuses in which a case's clock is running and a follow-up attaches to it.
OPEN_STATUSES = frozenset(
    {"new", "triage", "acknowledged", "awaiting_identity", "in_progress", "awaiting_approval"}
)
FINAL_STATUSES = frozenset({"closed", "rejected", "withdrawn"})

# The lifecycle, one row per status: where a case may go from there.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "triage", "awaiting_identity", "in_progress", "answered", "rejected", "withdrawn"}),
    "triage": frozenset({"new", "acknowledged", "awaiting_identity", "in_progress", "rejected", "withdrawn", "closed"}),
    "acknowledged": frozenset({"awaiting_identity", "in_progress", "awaiting_approval", "answered", "rejected", "withdrawn"}),
    "awaiting_identity": frozenset({"in_progress", "awaiting_approval", "rejected", "withdrawn"}),
    "in_progress": frozenset({"awaiting_identity", "awaiting_approval", "answered", "rejected", "withdrawn"}),
    "awaiting_approval": frozenset({"in_progress", "awaiting_identity", "answered", "rejected", "withdrawn"}),
    "answered": frozenset({"closed", "in_progress"}),
    "rejected": frozenset({"closed", "in_progress"}),
    "withdrawn": frozenset({"closed"}),
    "closed": frozenset({"in_progress"}),
}
STATUSES = frozenset(TRANSITIONS)
# Statuses whose reaching is the case's outcome in the register.
OUTCOME_STATUSES = frozenset({"answered", "rejected", "withdrawn"})


_UNSET = object()


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def record_event(
    session: Session,
    case: Case,
    kind: str,
    *,
    actor: str = "inbox-bot",
    detail: dict | None = None,
    at: datetime | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
) -> None:
    """Append an entry to the case's history, in the caller's transaction."""
    row = dict(kind=kind, actor=actor, detail=detail or {}, at=at or utcnow(), from_status=from_status,
               to_status=to_status)
    if "events" in case.__dict__:
        # The caller holds the loaded history: keep it true with an ORM object.
        event = CaseEvent(**row)
        case.events.append(event)
        session.add(event)
    else:
        eventlog.buffer(session, case, row)


def transition(
    session: Session, case: Case, target: str, *, actor: str = "inbox-bot", why: str = "", at: datetime | None = None
) -> None:
    """Move a case to `target`, recording the change; LifecycleError when the lifecycle forbids it."""
    if target not in STATUSES:
        raise LifecycleError(f"{case.reference}: unknown status {target!r}")
    if not can_transition(case.status, target):
        raise LifecycleError(f"{case.reference}: a case cannot go from {case.status} to {target}")
    previous = case.status
    case.status = target
    now = at or utcnow()
    if target == "answered":
        case.answered_at = now
    if target == "closed":
        case.closed_at = now
    elif previous == "closed":
        case.closed_at = None
    # The register's outcome is the last answer given; reopening withdraws it until the next one.
    if target in OUTCOME_STATUSES:
        case.outcome = target
    elif target in OPEN_STATUSES and case.__dict__.get("outcome", _UNSET) is not None:
        # Not set again when it is None already (a new case's every transition): the same
        # row either way, one attribute event less; read from the dict, so never a load.
        case.outcome = None
    record_event(session, case, "status", actor=actor, detail={"why": why} if why else {}, at=now,
                 from_status=previous, to_status=target)


def add_flag(session: Session, case: Case, flag: str, *, detail: dict | None = None,
             at: datetime | None = None, actor: str = "inbox-bot") -> None:
    """Set a flag on the case and record it as an event of the same name, so the history says when."""
    case.flags = sorted(set(case.flags or []) | {flag})
    record_event(session, case, flag, actor=actor, detail=detail, at=at)


_COUNTERS = txscope.key("inbox_bot.reference_counters")  # read under its row lock: this transaction only
_SNAPSHOTS = txscope.key("inbox_bot.reference_counters_at_savepoints")


class _Counter:
    """A year's counter as this transaction holds it: the last number handed out, and the value
    its row holds now (None when not known, after a rolled-back savepoint)."""

    __slots__ = ("last", "stored")

    def __init__(self, last: int):
        self.last = last
        self.stored: int | None = last


def next_reference(session: Session, prefix: str, year: int) -> str:
    """Hand out the next reference of the year, e.g. IODO-2026-00042, inside the caller's transaction.

    The counter's row is read once per transaction under its row lock and counted on in memory;
    its new value is written before the transaction (or a savepoint) commits. As an ORM object
    it cost a query through the ORM and an update through the unit of work per group of
    messages, for one integer.
    """
    counters: dict = session.info.get(_COUNTERS)
    if counters is None:
        counters = session.info[_COUNTERS] = {}
    counter = counters.get(year)
    if counter is None:  # not yet read in this transaction, or read in a rolled-back savepoint
        table = ReferenceCounter.__table__
        connection = session.connection()
        last = connection.execute(
            select(table.c.last).where(table.c.year == year).with_for_update()
        ).scalar_one_or_none()
        if last is None:
            # Written at once, as the ORM's flush of a new counter was: a second process opening
            # the year's first case waits on this row (or fails on its key) instead of numbering too.
            connection.execute(insert(table).values(year=year, last=0))
            last = 0
        counter = counters[year] = _Counter(last)
    counter.last += 1
    return f"{prefix}-{year}-{counter.last:05d}"


@event.listens_for(Session, "before_commit")
def _write_counters(session: Session) -> None:
    """The counters' new values go to their rows before the transaction or savepoint commits."""
    counters = session.info.get(_COUNTERS)
    if not counters:
        return
    table = ReferenceCounter.__table__
    connection = session.connection()
    for year, counter in counters.items():
        if counter.stored != counter.last:
            connection.execute(update(table).where(table.c.year == year).values(last=counter.last))
            counter.stored = counter.last


@event.listens_for(Session, "after_transaction_create")
def _snapshot_counters(session: Session, transaction) -> None:
    # A savepoint rolled back takes the counters back to where they were when it began, as the
    # ORM's rollback expired a changed counter and read it again (begin_nested had flushed it).
    if transaction.nested:
        counters = session.info.get(_COUNTERS)
        snapshots = session.info.get(_SNAPSHOTS)
        if snapshots is None:
            snapshots = session.info[_SNAPSHOTS] = {}
        snapshots[transaction] = {year: counter.last for year, counter in (counters or {}).items()}


@event.listens_for(Session, "after_soft_rollback")
def _restore_counters(session: Session, previous) -> None:
    if not previous.nested:
        return
    snapshot = (session.info.get(_SNAPSHOTS) or {}).pop(previous, None)
    counters = session.info.get(_COUNTERS)
    if snapshot is None or not counters:
        return
    for year in list(counters):
        if year in snapshot:
            counters[year].last = snapshot[year]
            counters[year].stored = None  # the savepoint may have written a later value, now undone
        else:
            del counters[year]  # read or created within the savepoint: read again (its row may be gone)


def find_open_case_for(session: Session, requester: str) -> list[Case]:
    """The requester's open cases, oldest first (those added in this transaction included)."""
    lookups = grouplookups.of(session)
    if lookups is not None and requester in lookups.open_cases:  # read with the group's other senders
        found = [session.get(Case, case_id) for case_id in lookups.open_cases[requester]]
        found += [c for c in lookups.opened if c.requester == requester]
        return [c for c in found if c.status in OPEN_STATUSES]
    query = select(Case.id).where(Case.requester == requester, Case.status.in_(OPEN_STATUSES)).order_by(Case.id)
    # Ids first, on the bare connection: most senders of a backlog have no case yet, and an
    # empty answer then costs no ORM load.
    ids = list(session.connection().execute(query).scalars())
    found = [session.get(Case, case_id) for case_id in ids]
    added = [c for c in unwritten(session, Case) if c.requester == requester and c.status in OPEN_STATUSES]
    return found + sorted(added, key=lambda c: c.id or 0)


def by_reference(session: Session, reference: str) -> Case | None:
    """The case with this reference, one opened earlier in this transaction and not yet written included.

    A duplicate request in the same group as the one that opened its case attaches to a case
    the query cannot see yet (the group is written at its commit): without this the group failed
    and was redone one message at a time.
    """
    reference = reference.upper()
    for case in unwritten(session, Case):
        if case.reference == reference:
            return case
    return session.execute(select(Case).where(Case.reference == reference)).scalar_one_or_none()
