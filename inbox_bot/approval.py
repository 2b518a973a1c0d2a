"""Approval of drafts by email: the DPO answers a draft mail with OK, a rejection or an edit.

The pipeline asks `concerns_draft` for every message before deciding; when it says yes, the
message is handed to `handle` instead of opening or attaching to a case.

An answer counts only when all of these hold: the approval token in the subject is the draft's
(HMAC, compared in constant time), the sender is one of the configured DPO addresses, and, where
`[approval] require_authentication` is set, our own mail server (`authserv_id`) stamped a DKIM or
SPF pass for the sender's domain. Anything else sends nothing to the requester, is recorded on
the case, and the DPO is told by an alert — except mail from robots (an out-of-office answering
the draft mail) and answers to our own alerts, which are recorded and left at that, so that two
robots, or a robot and this module, cannot keep each other busy.

The parsing of the answer (`parse_answer`) and the authentication check (`authenticated`) are
pure functions of strings and values.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inbox_bot import alerts, cases, drafts
from inbox_bot.compose import REPLY_MARKERS
from inbox_bot.config import Settings
from inbox_bot.logs import fingerprint
from inbox_bot.parsing import normalise_address
from inbox_bot.schema import Case, Draft, OutboxRow, utcnow
from inbox_bot.values import InboundMail, ScreenResult, ThreadKeys

log = logging.getLogger(__name__)

ALERT_KIND = "approval_alert"
# At most this many alerts about refused answers per hour, whatever arrives: a flood of forged
# answers must not become a flood of alerts.
ALERT_CAP_PER_HOUR = 5
# Screening verdicts of mail no person wrote: recorded, never alerted about.
ROBOT_VERDICTS = frozenset({"auto_reply", "bounce", "read_receipt", "mailing_list", "challenge", "noreply"})
# Rules whose hit means the message is our own mail coming back.
OWN_MAIL_RULES = frozenset({"loop_header", "own_address"})

_TOKEN = re.compile(r"\btoken\W{0,3}([A-Z2-7]{%d})(?![A-Za-z0-9])" % drafts.TOKEN_LENGTH, re.IGNORECASE)


# --- reading the answer (pure) ----------------------------------------------------------------

_APPROVE = re.compile(
    r"^(?:ok|okay|okej|zatwierdzam|zatwierdzone|zatwierdzony|approve|approved|i\s+approve|akceptuj[ęe]|"
    r"akceptuj[ęe]\s+projekt|accept|accepted)[\s.!]*$",
    re.IGNORECASE,
)
_REJECT = re.compile(
    r"^(?:odrzucam|odrzucone|odrzucony|nie\s+zatwierdzam|reject|rejected|i\s+reject)\b\s*[:\-–—.,]?\s*(.*)$",
    re.IGNORECASE,
)
# Where the quoted history begins in a top-posted reply, in the clients' own words.
_QUOTE_HEADER = re.compile(
    r"^(?:on\s.{1,200}\swrote:|w\sdniu\s.{1,200}\s(?:pisze|napisał(?:a|\(a\))?):|dnia\s.{1,200}\s(?:pisze|napisał(?:a|\(a\))?):"
    r"|.{1,200}\s(?:pisze|napisał(?:a|\(a\))?|wrote):\s*$"
    r"|-{2,}\s*(?:original\smessage|oryginalna\swiadomość|wiadomość\soryginalna|forwarded\smessage)\s*-{2,}"
    r"|_{10,}|(?:from|od):\s.+)$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^--\s?$")


@dataclass(frozen=True)
class Answer:
    """What a DPO's answer says: approve, reject (with a reason), edit (with the text), or nothing clear."""

    action: str  # approve | reject | edit | unclear
    reason: str = ""
    text: str | None = None  # the edited reply, for "edit"


def own_lines(text: str) -> list[str]:
    """The lines the answerer wrote above the quoted history and the signature."""
    lines: list[str] = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_HEADER.match(stripped) or _SIGNATURE.match(line.rstrip(" ")):
            break
        if _is_marker(stripped, "begin"):
            break
        lines.append(line.rstrip())
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _unquote(line: str) -> str:
    # One level of quoting: "> text" or ">text".
    if line.startswith(">"):
        line = line[1:]
        return line[1:] if line.startswith(" ") else line
    return line


def _is_marker(line: str, which: str) -> bool:
    value = line.strip().lstrip(">").strip()
    return any(value == getattr(m, which) for m in REPLY_MARKERS.values())


def between_markers(text: str) -> str | None:
    """The text between the reply markers (either language), unquoted one level; None without both.

    The first pair wins: a DPO who copies the markers above the quote edits there, and the
    quoted original comes after it.
    """
    lines = (text or "").replace("\r\n", "\n").split("\n")
    begin = next((i for i, line in enumerate(lines) if _is_marker(line, "begin")), None)
    if begin is None:
        return None
    end = next((i for i in range(begin + 1, len(lines)) if _is_marker(lines[i], "end")), None)
    if end is None:
        return None
    inner = lines[begin + 1:end]
    quoted = lines[begin].lstrip().startswith(">")
    if quoted:
        inner = [_unquote(line.lstrip()) if line.lstrip().startswith(">") else line for line in inner]
    return "\n".join(line.rstrip() for line in inner).strip("\n")


def is_full_text(candidate: str, draft_body: str) -> bool:
    """The answer above the quote is clearly a whole letter, not a remark to us.

    It must open with the draft's own first line (its greeting) and run to several lines:
    "please change the second paragraph" must never reach the requester as their reply.
    """
    lines = [line for line in candidate.split("\n") if line.strip()]
    body_lines = [line for line in draft_body.split("\n") if line.strip()]
    if len(lines) < 3 or not body_lines:
        return False
    return " ".join(lines[0].split()).lower() == " ".join(body_lines[0].split()).lower()


def parse_answer(text: str, draft_body: str | None = None) -> Answer:
    """Read a DPO's answer to a draft mail.

    The first non-empty line above the quoted history decides: an approval word alone ("OK",
    "zatwierdzam", "approve", "akceptuję"), or a rejection word with the reason after it or on
    the following lines ("odrzucam: ...", "reject: ..."). Text between the markers that differs
    from the draft (whitespace aside) is an edit, and wins over a bare approval, since the DPO
    approved what they wrote. Without markers, a whole letter above the quote that opens like
    the draft is an edit. Anything else is unclear: nothing is sent on a guess.
    """
    mine = own_lines(text)
    start = next((i for i, line in enumerate(mine) if line.strip()), len(mine))
    first = mine[start].strip() if start < len(mine) else ""
    rejected = _REJECT.match(first)
    if rejected:
        reason = "\n".join([rejected.group(1).strip(), *mine[start + 1:]]).strip()
        return Answer("reject", reason=reason)
    marked = between_markers(text)
    if marked is not None and marked.strip() and (draft_body is None or not drafts.same_text(marked, draft_body)):
        return Answer("edit", text=marked)
    if _APPROVE.match(first):
        return Answer("approve")
    own = "\n".join(mine).strip()
    if draft_body is not None and own and is_full_text(own, draft_body) and not drafts.same_text(own, draft_body):
        return Answer("edit", text=own)
    return Answer("unclear")


# --- authentication (pure) -------------------------------------------------------------------

_RESULT = re.compile(r"\b(dkim|spf)\s*=\s*(\w+)", re.IGNORECASE)
_PROPERTY = re.compile(r"\b(header\.d|header\.i|smtp\.mailfrom|smtp\.helo|header\.from)\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)


def authenticated(mail: InboundMail, authserv_id: str | None, sender: str | None) -> tuple[bool, str]:
    """Whether our own mail server (`authserv_id`) saw DKIM or SPF pass for the sender's domain.

    Only Authentication-Results headers whose authserv-id is ours count (RFC 8601 section 5:
    anyone can write the header; our border server removes forged copies of its own). A pass
    counts only for the sender's own domain: a forger's domain passing DKIM proves nothing.
    Returns (ok, why).
    """
    if not authserv_id:
        return False, "authentication required but no [approval] authserv_id configured"
    if not sender or "@" not in sender:
        return False, "no sender address"
    domain = sender.rpartition("@")[2].lower()
    ours = 0
    for value in mail.header("authentication-results"):
        head, _, rest = value.partition(";")
        server = head.strip().split()[0].lower() if head.strip() else ""
        if server != authserv_id.lower():
            continue
        ours += 1
        for resinfo in rest.split(";"):
            match = _RESULT.search(resinfo)
            if not match or match.group(2).lower() != "pass":
                continue
            for prop, raw in _PROPERTY.findall(resinfo):
                value_domain = raw.rpartition("@")[2].lower().rstrip(".")
                if value_domain == domain:
                    return True, f"{match.group(1).lower()}=pass for {domain} ({prop.lower()})"
    if not ours:
        return False, f"no Authentication-Results from {authserv_id}"
    return False, f"no dkim or spf pass for the sender's domain from {authserv_id}"


# --- the pipeline's two questions ------------------------------------------------------------


def token_in_subject(subject: str) -> str | None:
    match = _TOKEN.search(subject or "")
    return match.group(1).upper() if match else None


def _our_rows(session: Session, keys: ThreadKeys, kinds) -> list[OutboxRow]:
    if not keys.our_message_ids:
        return []
    return list(session.execute(
        select(OutboxRow).where(OutboxRow.message_id.in_(list(keys.our_message_ids)), OutboxRow.kind.in_(list(kinds)))
    ).scalars())


def concerns_draft(session: Session, settings: Settings, mail: InboundMail, keys: ThreadKeys) -> bool:
    """True when the message answers one of our draft-for-approval mails (or an alert about one).

    Either it carries an approval token in the subject, or its In-Reply-To/References name a
    draft mail or an alert we sent. A forged answer is still "about a draft": handle refuses it.
    """
    if token_in_subject(mail.subject):
        return True
    return bool(_our_rows(session, keys, (drafts.DRAFT_MAIL_KIND, ALERT_KIND)))


def _find_draft(session: Session, settings: Settings, token: str | None, keys: ThreadKeys) -> tuple[Draft | None, Case | None]:
    """The draft whose token matches, else the case the answer points at (for the record)."""
    case_ids: list[int] = []
    for row in _our_rows(session, keys, (drafts.DRAFT_MAIL_KIND, ALERT_KIND)):
        if row.case_id is not None and row.case_id not in case_ids:
            case_ids.append(row.case_id)
    for reference in keys.references_in_subject:
        case = cases.by_reference(session, reference)
        if case is not None and case.id not in case_ids:
            case_ids.append(case.id)
    if token:
        key = drafts.approval_key(session, settings)
        candidates = list(session.execute(select(Draft).where(Draft.case_id.in_(case_ids)).order_by(Draft.id)).scalars()) if case_ids else []
        if not candidates:
            # No case named: look at the drafts still waiting, the only ones a token can approve.
            candidates = list(session.execute(select(Draft).where(Draft.status == "pending").order_by(Draft.id.desc()).limit(1000)).scalars())
        for draft in candidates:
            if drafts.token_matches(key, draft, token):
                return draft, session.get(Case, draft.case_id)
    case = session.get(Case, case_ids[0]) if case_ids else None
    return None, case


def handle(session: Session, settings: Settings, mail: InboundMail, screen: ScreenResult, keys: ThreadKeys) -> str:
    """Act on a DPO's answer to a draft inside the message's transaction; return what happened.

    Outcomes: approved, edited, rejected, refused, unclear, ignored (robots and our own mail).
    """
    token = token_in_subject(mail.subject)
    draft, case = _find_draft(session, settings, token, keys)
    actor = mail.sender or "unknown sender"

    own_hit = next((h.rule for h in screen.hits if h.rule in OWN_MAIL_RULES), None)
    if screen.verdict in ROBOT_VERDICTS or own_hit:
        # An out-of-office answering the draft mail, a bounce, our own copy: nobody decided anything.
        if case is not None:
            cases.record_event(session, case, "approval_ignored", actor=actor,
                               detail={"draft": draft.id if draft else None, "why": f"screened as {own_hit or screen.verdict}"})
        return "ignored"

    answers_alert = bool(_our_rows(session, keys, (ALERT_KIND,)))
    refusal = _refusal(session, settings, mail, screen, token, draft)
    if refusal:
        return _refuse(session, settings, case, draft, actor, refusal, answers_alert)

    answer = parse_answer(mail.full_text or mail.text, draft.body)
    try:
        if answer.action == "approve":
            drafts.approve(session, settings, draft, actor=actor, via="mail")
            return "approved"
        if answer.action == "edit":
            drafts.approve(session, settings, draft, actor=actor, text=answer.text, via="mail")
            return "edited"
        if answer.action == "reject":
            drafts.reject(session, settings, draft, actor=actor, reason=answer.reason or "(no reason given)", via="mail")
            return "rejected"
    except drafts.DraftError as exc:
        return _refuse(session, settings, case, draft, actor, str(exc), answers_alert)
    return _refuse(session, settings, case, draft, actor,
                   "the answer is neither an approval, a rejection nor an edited text", answers_alert, outcome="unclear")


def _refusal(session: Session, settings: Settings, mail: InboundMail, screen: ScreenResult,
             token: str | None, draft: Draft | None) -> str | None:
    """Why the answer cannot count, or None when it may be acted on."""
    if token is None:
        return "no approval token in the subject"
    if draft is None:
        return "the approval token matches no draft"
    dpo = {normalise_address(a) or a.strip().lower() for a in settings.organisation.dpo}
    sender = normalise_address(mail.sender) if mail.sender else None
    if sender is None or sender not in dpo:
        return "the sender is not a configured DPO address"
    if screen.verdict == "spoof":
        return "screening found the sender forged: " + "; ".join(h.reason for h in screen.hits if h.verdict == "spoof")
    if settings.approval.require_authentication:
        ok, why = authenticated(mail, settings.approval.authserv_id, sender)
        if not ok:
            return "authentication failed: " + why
    if draft.status != "pending":
        return f"the draft is already {draft.status}"
    return None


def _refuse(session: Session, settings: Settings, case: Case | None, draft: Draft | None, actor: str,
            reason: str, answers_alert: bool, outcome: str = "refused") -> str:
    log.info("draft answer refused%s: %s (sender %s)", f" in {case.reference}" if case else "", reason, fingerprint(actor))
    if case is not None:
        cases.record_event(session, case, "approval_refused", actor=actor,
                           detail={"draft": draft.id if draft else None, "reason": reason})
    if answers_alert:
        return outcome  # never an alert in answer to an alert
    _alert(session, settings, case, draft, actor, reason)
    return outcome


def _alert(session: Session, settings: Settings, case: Case | None, draft: Draft | None, actor: str, reason: str) -> None:
    org = settings.organisation
    since = utcnow() - timedelta(hours=1)
    recent = session.execute(
        select(func.count(OutboxRow.id)).where(OutboxRow.kind == ALERT_KIND, OutboxRow.created_at >= since)
    ).scalar_one()
    if recent >= ALERT_CAP_PER_HOUR * max(1, len(org.dpo)):
        log.warning("approval alert not queued: %d alerts within the hour", recent)
        if case is not None:
            cases.record_event(session, case, "approval_alert_capped", detail={"reason": reason})
        return
    subject, text = _alert_text(org.default_language, case, draft, actor, reason)
    queued = alerts.tell_dpo(session, settings, ALERT_KIND, subject, text, case)
    if case is not None:
        cases.record_event(session, case, "approval_alert_queued", detail={"alerts": queued})


def _alert_text(language: str, case: Case | None, draft: Draft | None, actor: str, reason: str) -> tuple[str, str]:
    where = case.reference if case is not None else "-"
    which = f"{draft.id} ({draft.kind})" if draft is not None else "-"
    if language == "pl":
        return (
            "inbox-bot: odpowiedź na projekt nie została przyjęta",
            f"Odpowiedź na projekt w sprawie {where} nie została przyjęta i nic nie wysłano.\n\n"
            f"Projekt: {which}\nNadawca: {actor}\nPowód: {reason}\n\n"
            "Aby zatwierdzić projekt, proszę odpowiedzieć na wiadomość z projektem (nie na tę), "
            "z adresu IOD, nie zmieniając tokenu w temacie, albo użyć polecenia `inbox-bot drafts`.\n",
        )
    return (
        "inbox-bot: an answer to a draft was not accepted",
        f"An answer to a draft in case {where} was not accepted, and nothing was sent.\n\n"
        f"Draft: {which}\nSender: {actor}\nReason: {reason}\n\n"
        "To approve the draft, answer the draft mail itself (not this one) from a DPO address, "
        "keeping the token in the subject, or use `inbox-bot drafts`.\n",
    )
