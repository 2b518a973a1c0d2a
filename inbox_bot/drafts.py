"""Drafts: the substantive replies that leave only when the DPO approves them.

This module is the one place that creates a Draft, asks the DPO for approval by mail, and —
once a decision is taken, by mail (inbox_bot.approval) or on the command line — records it and
queues the approved text to the requester, at most once. Everything runs in the caller's
transaction.

The approval token is an HMAC-SHA256 over the draft's id and nonce, under the configured
`[approval] secret`, or under a random key generated once and kept in the `meta` table when the
configuration names none. It stands in the subject of the mail to the DPO; an answer counts
only when it carries it back.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import secrets
import weakref
from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from inbox_bot import cases, compose, eventlog, ids, outbox
from inbox_bot.config import Settings
from inbox_bot.database import unwritten
from inbox_bot.errors import InboxBotError, LifecycleError
from inbox_bot.schema import Case, Draft, Meta, utcnow

log = logging.getLogger(__name__)

META_KEY = "approval_key"
_KEY_CACHE = "inbox_bot.approval_key"
TOKEN_LENGTH = 16  # base32 characters: 80 bits, short enough to survive any subject line
DRAFT_MAIL_KIND = "draft_for_approval"
SENT_STATUS = "sent"

# The draft kinds the templates know (templates/<lang>/<kind>.txt.j2).
DRAFT_KINDS: tuple[str, ...] = (
    "identity_request",
    "extension_notice",
    "rectification_done",
    "erasure_done",
    "restriction_done",
    "access_reply",
    "refusal",
    "objection_reply",
    "complaint_reply",
    "portability_reply",
)

# Which substantive reply each request type calls for when its case opens. Marketing opt-outs
# are answered by their automatic confirmation, breach reports are for the DPO's own
# assessment (art. 33), and "other" is not a data protection request: none of them gets a draft.
KIND_FOR_LABEL: dict[str, str] = {
    "access": "access_reply",
    "rectification": "rectification_done",
    "erasure": "erasure_done",
    "restriction": "restriction_done",
    "portability": "portability_reply",
    "objection": "objection_reply",
    "complaint": "complaint_reply",
}


# Letters that do not answer the request: the case keeps its status and its clock when they go.
NOT_ANSWERS = frozenset({"identity_request", "extension_notice"})


# The places a template leaves for the DPO: "[[TO FILL IN: ...]]", "[[DO UZUPEŁNIENIA: ...]]".
_PLACEHOLDER = re.compile(r"\[\[[^\[\]]{2,}?\]\]")


class DraftError(InboxBotError):
    """A decision that cannot be taken on this draft (unknown, already decided, no recipient)."""


# --- the token -------------------------------------------------------------------------------


def approval_key(session: Session, settings: Settings) -> bytes:
    """The HMAC key: the configured secret, else one generated once and kept in the database."""
    configured = settings.approval.key()
    if configured:
        return configured.encode("utf-8")
    cached = session.info.get(_KEY_CACHE)
    if cached is not None:
        return cached
    bind = session.get_bind(Meta)
    stored = _STORED_KEYS.get(bind)
    if stored is not None:
        # Committed for good: the session may keep it for its later transactions too, as below.
        session.info[_KEY_CACHE] = stored
        return stored
    row = session.get(Meta, META_KEY)
    if row is None:
        row = Meta(key=META_KEY, value=secrets.token_hex(32))
        session.add(row)
        session.flush()
        session.info[_KEY_GENERATED] = True
    else:
        # Kept for the session only once it is known to be stored: a key generated inside a
        # savepoint that is then rolled back must not sign the drafts that follow.
        session.info[_KEY_CACHE] = row.value.encode("utf-8")
        if not session.info.get(_KEY_GENERATED):
            # Not written by this session, so committed by another: stored for good (nothing
            # changes or deletes it), and each later transaction need not read it again.
            _STORED_KEYS[bind] = row.value.encode("utf-8")
    return row.value.encode("utf-8")


# The generated key as read from each database (by engine), once it is known to be committed.
_STORED_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_KEY_GENERATED = "inbox_bot.approval_key_generated"


def token_for(key: bytes, draft_id: int, nonce: str) -> str:
    """The approval token of one draft: 16 base32 characters of HMAC-SHA256(key, id:nonce)."""
    # hmac.digest: the one-shot form, the same bytes as hmac.new(...).digest() without building
    # an HMAC object and its two hash objects in Python for every draft.
    digest = hmac.digest(key, f"{draft_id}:{nonce}".encode("utf-8"), "sha256")
    return base64.b32encode(digest[:10]).decode("ascii")[:TOKEN_LENGTH]


def token_matches(key: bytes, draft: Draft, candidate: str) -> bool:
    """Constant-time comparison, so that the token cannot be guessed one character at a time."""
    expected = token_for(key, draft.id, draft.nonce)
    return hmac.compare_digest(expected.encode("ascii"), candidate.strip().upper().encode("ascii", "replace"))


def draft_token(session: Session, settings: Settings, draft: Draft) -> str:
    return token_for(approval_key(session, settings), draft.id, draft.nonce)


# --- creating a draft ----------------------------------------------------------------------------


def letter_context(settings: Settings, case: Case) -> dict:
    """Every variable any draft template may ask for, with the values that leave a place to fill.

    The templates render with StrictUndefined; a context that covers all kinds means a new
    caller cannot break a letter by forgetting a variable, and None prints the template's
    "[to be completed by the DPO]" marker instead of a guess.
    """
    org = settings.organisation
    return {
        "organisation": org.name,
        "contact": org.contact or org.address,
        "reference": case.reference,
        "received_at": case.received_at,
        "labels": [label for label in (case.labels or []) if label != "other"] or list(case.labels or []),
        "timezone": org.timezone,
        "details": None,
        "clock_paused": case.paused_since is not None,
        "reason": case.extension_reason or "",
        "original_due_at": case.original_due_at or case.due_at or case.received_at,
        "new_due_at": case.due_at or case.received_at,
        "recipients": None,
        "retained": None,
        "reasons": None,
        "upheld": None,
        "grounds": None,
        "response": None,
        "data_format": None,
        "transmitted_to": None,
    }


def create_draft(
    session: Session,
    settings: Settings,
    case: Case,
    kind: str,
    context: dict | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> Draft:
    """Render `kind` for the case as a pending draft and mail it to every DPO for approval.

    `context` adds to or overrides `letter_context`; `language` defaults to the case's
    language where the template exists in it, else the organisation's default. The mail to
    the DPO carries the case reference and the approval token in its subject; its Message-ID
    is kept in `dpo_message_id` so that the DPO's answer threads back to the draft.
    """
    if kind not in DRAFT_KINDS:
        raise ValueError(f"no draft template for {kind!r}")
    now = now or utcnow()
    org = settings.organisation
    language = compose.pick_language(language or case.language, kind, org.default_language)
    values = letter_context(settings, case)
    values.update(context or {})
    rendered = compose.render(kind, language, values, timezone_name=org.timezone)
    # As Draft(...) and session.add, without the instrumentation's cost per attribute.
    draft = eventlog.add_new(
        session,
        Draft,
        id=ids.next_id(session, Draft),
        case_id=case.id,
        kind=kind,
        language=language,
        subject=rendered.subject,
        body=rendered.text,
        status="pending",
        nonce=compose.random_hex(16),  # as secrets.token_hex(16), from a pool of os.urandom
        created_at=now,
    )
    cases.record_event(session, case, "draft_created", at=now, detail={"kind": kind, "draft": draft.id})
    ask_dpo(session, settings, case, draft, now=now)
    if kind not in NOT_ANSWERS and case.status in ("acknowledged", "in_progress"):
        cases.transition(session, case, "awaiting_approval", at=now, why=f"draft {draft.id} ({kind}) for the DPO")
    return draft


def ask_dpo(session: Session, settings: Settings, case: Case, draft: Draft, now: datetime | None = None) -> list[int]:
    """Queue the draft-for-approval mail to each DPO address; return the outbox row ids."""
    org = settings.organisation
    if not org.dpo:
        # No DPO address: the draft waits for the command line. Recorded, so nobody wonders.
        cases.record_event(session, case, "draft_not_mailed", at=now, detail={"draft": draft.id, "why": "no DPO address configured"})
        return []
    language = compose.pick_language(org.default_language, DRAFT_MAIL_KIND, org.default_language)
    context = {
        "organisation": org.name,
        "reference": case.reference,
        "token": draft_token(session, settings, draft),
        "draft_kind": draft.kind,
        "requester": case.requester or "-",
        "draft_subject": draft.subject,
        "draft_text": draft.body,
        "due_at": case.due_at,
        "timezone": org.timezone,
    }
    ids: list[int] = []
    for dpo in org.dpo:
        row = outbox.queue(
            session,
            settings,
            outbox.Outgoing(
                kind=DRAFT_MAIL_KIND,
                recipient=dpo,
                language=language,
                context=context,
                automatic=False,
                auto_submitted="auto-generated",
                copy_to_sent=False,
            ),
            case,
        )
        if row is None:  # pragma: no cover - only automatic mail is capped
            continue
        ids.append(row.id)
        if draft.dpo_message_id is None:
            draft.dpo_message_id = row.message_id
    cases.record_event(session, case, "draft_mailed", at=now, detail={"draft": draft.id, "outbox": ids})
    return ids


def kinds_for_labels(labels) -> list[str]:
    """The draft kinds a new case with these request types calls for, in label order, once each."""
    from inbox_bot.values import LABELS

    kinds: list[str] = []
    for label in LABELS:
        if label in (labels or ()) and label in KIND_FOR_LABEL and KIND_FOR_LABEL[label] not in kinds:
            kinds.append(KIND_FOR_LABEL[label])
    return kinds


def drafts_for_new_case(session: Session, settings: Settings, case: Case, now: datetime | None = None) -> list[Draft]:
    """Create the drafts a newly opened case calls for (see KIND_FOR_LABEL).

    Nothing for a case in triage (the DPO has not yet said what it asks for), for one without a
    requester (nobody to answer), or while identity is awaited (the answer would go to someone
    not yet identified; the DPO drafts it once identity is confirmed: `drafts create`).
    """
    if case.requester is None or case.status in ("triage", "awaiting_identity"):
        return []
    existing = {d.kind for d in unwritten(session, Draft) if d.case_id == case.id}
    if inspect(case).persistent:
        # A case opened in this transaction is not written yet: no draft of it can be either.
        existing |= set(session.execute(select(Draft.kind).where(Draft.case_id == case.id)).scalars())
    return [create_draft(session, settings, case, kind, now=now) for kind in kinds_for_labels(case.labels) if kind not in existing]


# --- deciding ------------------------------------------------------------------------------------


def pending(session: Session) -> list[Draft]:
    return list(session.execute(select(Draft).where(Draft.status == "pending").order_by(Draft.id)).scalars())


def approve(
    session: Session,
    settings: Settings,
    draft: Draft,
    *,
    actor: str,
    text: str | None = None,
    now: datetime | None = None,
    via: str = "cli",
) -> int:
    """Approve a pending draft (with `text` replacing its body when edited) and queue it to the requester.

    Returns the outbox row id. A draft is sent at most once: a draft that is no longer pending
    raises DraftError and queues nothing.
    """
    now = now or utcnow()
    case = session.get(Case, draft.case_id)
    if draft.status != "pending":
        raise DraftError(f"draft {draft.id} is already {draft.status}")
    if not case.requester:
        raise DraftError(f"case {case.reference} has no requester address to send to")
    edited = text is not None and not same_text(text, draft.body)
    final = _finish(text) if edited else draft.body
    left = placeholders(final)
    if left:
        # "OK" on a cover letter whose places are still marked would send the requester
        # "[[TO FILL IN: ...]]" instead of the information the law requires.
        raise DraftError(f"draft {draft.id} still has {len(left)} place(s) to fill in: {left[0][:80]}")
    row = outbox.queue(
        session,
        settings,
        outbox.Outgoing(
            kind=draft.kind,
            recipient=case.requester,
            language=draft.language,
            context={},
            in_reply_to=case.thread_message_id,
            references=outbox.reply_references(case.thread_message_id, case.thread_references or []),
            automatic=False,
            auto_submitted="auto-replied",
            subject=draft.subject,
            text=final,
        ),
        case,
    )
    draft.status = SENT_STATUS
    draft.final_text = final
    draft.decided_by = actor
    draft.decided_at = now
    draft.outbox_id = row.id
    detail = {"draft": draft.id, "kind": draft.kind, "via": via, "edited": edited, "outbox": row.id, "final_text": final}
    cases.record_event(session, case, "draft_edited" if edited else "draft_approved", actor=actor, at=now, detail=detail)
    cases.record_event(session, case, "reply_queued", actor=actor, at=now, detail={"kind": draft.kind, "outbox": row.id})
    _after_sending(session, case, draft, actor, now)
    return row.id


def revise(
    session: Session, settings: Settings, draft: Draft, text: str, *, actor: str, now: datetime | None = None
) -> Draft:
    """Replace a pending draft's text and ask the DPO again, under a new token.

    The new nonce makes the token of the earlier draft mail worthless: an "OK" to the old
    text must not send the new one, which the approving DPO may not have read.
    """
    now = now or utcnow()
    if draft.status != "pending":
        raise DraftError(f"draft {draft.id} is already {draft.status}")
    case = session.get(Case, draft.case_id)
    draft.body = _finish(text)
    draft.nonce = compose.random_hex(16)
    draft.dpo_message_id = None
    cases.record_event(session, case, "draft_revised", actor=actor, at=now,
                       detail={"draft": draft.id, "kind": draft.kind, "text": draft.body})
    ask_dpo(session, settings, case, draft, now=now)
    return draft


def placeholders(text: str) -> list[str]:
    """The places marked for the DPO that are still in `text`."""
    return _PLACEHOLDER.findall(text or "")


def reject(
    session: Session, settings: Settings, draft: Draft, *, actor: str, reason: str, now: datetime | None = None, via: str = "cli"
) -> None:
    """Reject a pending draft with the DPO's reason; nothing is sent."""
    now = now or utcnow()
    case = session.get(Case, draft.case_id)
    if draft.status != "pending":
        raise DraftError(f"draft {draft.id} is already {draft.status}")
    draft.status = "rejected"
    draft.decided_by = actor
    draft.decided_at = now
    draft.decision_note = reason
    cases.record_event(session, case, "draft_rejected", actor=actor, at=now,
                       detail={"draft": draft.id, "kind": draft.kind, "via": via, "reason": reason})
    if case.status == "awaiting_approval" and not _other_pending(session, case, draft):
        cases.transition(session, case, "in_progress", actor=actor, at=now, why=f"draft {draft.id} rejected")


def _after_sending(session: Session, case: Case, draft: Draft, actor: str, now: datetime) -> None:
    # Letters that answer the request close the art. 12(3) clock; an identity request or an
    # extension notice keeps it running (or paused), so the case stays where it is for those.
    if draft.kind == "extension_notice":
        case.extension_notified_at = case.extension_notified_at or now
        return
    if draft.kind == "identity_request":
        return
    if _other_pending(session, case, draft):
        return
    target = "rejected" if draft.kind == "refusal" else "answered"
    try:
        cases.transition(session, case, target, actor=actor, at=now, why=f"{draft.kind} sent")
    except LifecycleError:
        # A case already answered (or in triage) keeps its status; the sent reply is in the history.
        log.info("%s: %s sent, status %s kept", case.reference, draft.kind, case.status)


def _other_pending(session: Session, case: Case, draft: Draft) -> bool:
    return session.execute(
        select(Draft.id).where(Draft.case_id == case.id, Draft.status == "pending", Draft.id != draft.id)
    ).first() is not None


def same_text(a: str | None, b: str | None) -> bool:
    """Equal but for whitespace and line breaks: mail clients re-wrap quoted text."""
    return " ".join((a or "").split()) == " ".join((b or "").split())


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _finish(text: str) -> str:
    return _normalise(text) + "\n"
