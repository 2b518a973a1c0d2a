"""The DPO's morning digest: every running clock, built from the database, mailed by the scheduler.

`build_digest` reads the cases at a given moment and returns a plain Digest value (sections of
items, each with reference, types and deadline); `render_digest` turns it into text and HTML
with the `digest` templates; `send_digest` queues one copy per DPO address and delivers it;
`schedule_digest` adds the daily cron job to the daemon's APScheduler (the scheduler itself is
created in inbox_bot.scheduler, the only module that imports APScheduler).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox_bot import cases, clocks, compose, deadlines, outbox
from inbox_bot.config import Settings
from inbox_bot.database import Database
from inbox_bot.schema import Case, Draft, Meta

log = logging.getLogger(__name__)

LAST_DIGEST_KEY = "last_digest_at"

# The order sections appear in; the templates show them in their own fixed order.
SECTIONS = (
    "overdue",
    "breach_clocks",
    "due_soon",
    "extension_notices_owed",
    "drafts_awaiting",
    "waiting_for_requester",
    "triage",
    "new_since_last",
)

# The short notes beside an item, in the digest's language. (Better placed in the templates'
# _labels.j2 one day; kept here while those belong to another module.)
NOTES = {
    "pl": {
        "notice_by": "zawiadomienie należy wysłać do {date}", "late": "PO TERMINIE: ",
        "paused": "termin wstrzymany od {date}", "running": "termin biegnie",
        "hours_left": "pozostało {h} h", "hours_past": "{h} h po terminie", "draft": "projekt: {kind}",
        "raised": "ponaglenie", "duplicate": "ponowione żądanie", "reopened": "wznowiona",
    },
    "en": {
        "notice_by": "notice due by {date}", "late": "LATE: ",
        "paused": "clock paused since {date}", "running": "clock running",
        "hours_left": "{h} h left", "hours_past": "{h} h past", "draft": "draft: {kind}",
        "raised": "reminder", "duplicate": "repeated request", "reopened": "reopened",
    },
}

# Without a previous digest, "new" means what came in during the last day.
FIRST_DIGEST_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class DigestItem:
    reference: str
    labels: tuple[str, ...]
    status: str
    due_at: datetime | None  # for breach_clocks the 72-hour deadline
    received_at: datetime
    note: str = ""


@dataclass(frozen=True)
class Digest:
    generated_at: datetime
    sections: dict[str, tuple[DigestItem, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.sections.values())

    def references(self, section: str) -> list[str]:
        return [item.reference for item in self.sections.get(section, ())]


def _item(case: Case, due: datetime | None = None, note: str = "") -> DigestItem:
    return DigestItem(case.reference, tuple(case.labels or ()), case.status,
                      case.due_at if due is None else due, case.received_at, note)


def last_digest_at(session: Session) -> datetime | None:
    row = session.get(Meta, LAST_DIGEST_KEY)
    return datetime.fromisoformat(row.value) if row is not None else None


def build_digest(session: Session, settings: Settings, now: datetime) -> Digest:
    """What the DPO must see at `now`. Reads the database; writes nothing."""
    tz = settings.organisation.timezone
    words = NOTES.get(_language(settings), NOTES["en"])

    def day(moment: datetime) -> str:
        return deadlines.local_date(moment, tz).isoformat()

    def flags_note(case: Case) -> str:
        return ", ".join(words[f] for f in (case.flags or []) if f in ("raised", "duplicate", "reopened"))

    soon = deadlines.end_of_day(deadlines.local_date(now, tz) + timedelta(days=settings.digest.due_soon_days), tz)
    open_cases = list(session.execute(
        select(Case).where(Case.status.in_(cases.OPEN_STATUSES)).order_by(Case.due_at, Case.id)
    ).scalars())
    overdue, due_soon, owed, waiting, triage, breach = [], [], [], [], [], []
    for case in open_cases:
        running = case.paused_since is None
        flags = flags_note(case)
        if case.due_at is not None and running and case.due_at < now:
            overdue.append(_item(case, note=flags))
        elif case.due_at is not None and running and case.due_at <= soon:
            due_soon.append(_item(case, note=flags))
        if clocks.extension_notice_owed(case):
            notice_by = case.original_due_at or case.due_at
            late = notice_by is not None and notice_by < now
            note = (words["late"] if late else "") + words["notice_by"].format(date=day(notice_by))
            owed.append(_item(case, due=notice_by, note=note))
        if case.status == "awaiting_identity":
            note = words["paused"].format(date=day(case.paused_since)) if case.paused_since else words["running"]
            waiting.append(_item(case, note=note))
        if case.status == "triage":
            triage.append(_item(case, note=flags))
        if case.breach_due_at is not None:
            hours = (case.breach_due_at - now).total_seconds() / 3600
            note = words["hours_left" if hours >= 0 else "hours_past"].format(h=f"{abs(hours):.0f}")
            breach.append(_item(case, due=case.breach_due_at, note=note))
    drafts = []
    for draft, case in session.execute(
        select(Draft, Case).join(Case, Draft.case_id == Case.id).where(Draft.status == "pending").order_by(Draft.id)
    ):
        drafts.append(_item(case, note=words["draft"].format(kind=draft.kind)))
    since = last_digest_at(session) or (now - FIRST_DIGEST_LOOKBACK)
    # New is what was opened since the last digest, not what was received: mail that arrived
    # before a digest and was processed after it (the daemon was down, a backlog, a retry from
    # quarantine) would otherwise never be shown as new.
    new = [
        _item(case, note=flags_note(case))
        for case in session.execute(
            select(Case).where(Case.created_at > since, Case.created_at <= now).order_by(Case.received_at, Case.id)
        ).scalars()
    ]
    breach.sort(key=lambda item: item.due_at)
    return Digest(now, {
        "overdue": tuple(overdue),
        "breach_clocks": tuple(breach),
        "due_soon": tuple(due_soon),
        "extension_notices_owed": tuple(owed),
        "drafts_awaiting": tuple(drafts),
        "waiting_for_requester": tuple(waiting),
        "triage": tuple(triage),
        "new_since_last": tuple(new),
    })


def render_digest(settings: Settings, digest: Digest) -> compose.Rendered:
    org = settings.organisation
    language = _language(settings)
    return compose.render("digest", language, _context(settings, digest), timezone_name=org.timezone)


def _language(settings: Settings) -> str:
    return compose.pick_language(settings.organisation.default_language, "digest", "pl")


def _context(settings: Settings, digest: Digest) -> dict:
    return {
        "organisation": settings.organisation.name,
        "generated_at": digest.generated_at,
        "sections": {key: list(digest.sections.get(key, ())) for key in SECTIONS},
        "timezone": settings.organisation.timezone,
    }


def send_digest(settings: Settings, db: Database, now: datetime) -> int:
    """Queue the digest for every DPO address and deliver it; return how many were queued.

    Nothing is queued when the digest is empty, unless `digest.send_when_empty`. The time of the
    digest is remembered only when one was queued, so "new since the last digest" never skips
    a case that no digest has shown.
    """
    org = settings.organisation
    with db.transaction() as session:
        digest = build_digest(session, settings, now)
        if digest.empty and not settings.digest.send_when_empty:
            log.info("digest empty; nothing sent")
            return 0
        context = _context(settings, digest)
        language = _language(settings)
        queued = 0
        for dpo in org.dpo:
            outbox.queue(session, settings, outbox.Outgoing(
                kind="digest", recipient=dpo, language=language, context=context,
                automatic=False, auto_submitted="auto-generated", copy_to_sent=False,
            ))
            queued += 1
        row = session.get(Meta, LAST_DIGEST_KEY)
        if row is None:
            session.add(Meta(key=LAST_DIGEST_KEY, value=now.isoformat()))
        else:
            row.value = now.isoformat()
    from inbox_bot.deliver import deliver_outbox

    deliver_outbox(settings, db)
    log.info("digest queued for %d DPO addresses", queued)
    return queued


def digest_job(settings: Settings, db: Database, now: datetime | None = None) -> int:
    """What the scheduler runs: skip holidays when only working days are wanted."""
    from inbox_bot.schema import utcnow

    now = now or utcnow()
    org = settings.organisation
    if settings.digest.working_days_only and not deadlines.is_working_day(
        deadlines.local_date(now, org.timezone), org.holidays
    ):
        log.info("digest skipped: not a working day")
        return 0
    return send_digest(settings, db, now)


def schedule_digest(scheduler, settings: Settings, db: Database, *, at: str | None = None):
    """Add the daily digest job at `digest.time` (or `at`, "HH:MM[:SS]"), local time of the organisation.

    Mondays to Fridays when only working days are wanted; the job itself also skips public
    holidays, which a cron expression cannot know.
    """
    hour, minute, second = (list(map(int, (at or settings.digest.time).split(":"))) + [0, 0])[:3]
    return scheduler.add_job(
        digest_job, "cron", args=(settings, db), id="digest", replace_existing=True,
        hour=hour, minute=minute, second=second,
        day_of_week="mon-fri" if settings.digest.working_days_only else "*",
        timezone=settings.organisation.timezone,
        max_instances=1, coalesce=True, misfire_grace_time=3600,
    )
