"""Plain, immutable values passed between the steps of the message pipeline.

fetch -> record -> parse -> screen -> thread -> classify -> decide -> apply -> deliver.
Every step takes and returns one of these; none of them holds a connection or a session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# The request types of DESIGN.md, in a fixed order (used for model columns and display).
LABELS: tuple[str, ...] = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "marketing_optout",
    "complaint",
    "breach_report",
    "other",
)

# Labels under articles 15-22 that start the one-month clock of art. 12(3).
RIGHTS_LABELS: frozenset[str] = frozenset(
    {"access", "rectification", "erasure", "restriction", "portability", "objection", "marketing_optout"}
)

# Screening verdicts. "request" is mail a person wrote; every other value is a robot or a fake.
SCREEN_REQUEST = "request"
ScreenVerdictName = Literal[
    "request",
    "auto_reply",
    "bounce",
    "read_receipt",
    "mailing_list",
    "own_mail",
    "spoof",
    "noreply",
    "challenge",
]


@dataclass(frozen=True)
class FetchedMessage:
    """One message as the mail server holds it (step 1)."""

    mailbox: str  # the folder it was fetched from, e.g. "INBOX"
    uidvalidity: int
    uid: int
    raw: bytes
    internaldate: datetime  # timezone-aware, UTC: the legal time of receipt


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class InboundMail:
    """A parsed message (step 3). Pure data; built by inbox_bot.parsing.parse_message."""

    message_id: str | None  # without angle brackets; None when absent or unusable
    sender: str | None  # normalised address (email-validator); None when missing or invalid
    sender_header: str  # the From header as decoded, for audit and error messages
    display_name: str
    reply_to: str | None  # normalised Reply-To address, when valid
    return_path: str | None  # the Return-Path as written ("" for the null path <>), None when absent
    recipients: tuple[str, ...]  # normalised To and Cc addresses
    subject: str
    text: str  # what the sender wrote: HTML as text, quoted history and signature set aside
    full_text: str  # the whole text body, quoted history included
    language: str  # ISO 639-1 code, "und" when unknown
    in_reply_to: str | None  # without angle brackets
    references: tuple[str, ...]  # without angle brackets, oldest first
    headers: tuple[tuple[str, str], ...]  # every top-level header, name lower-cased, value decoded
    content_type: str  # the top-level MIME type, e.g. "multipart/report"
    report_type: str | None  # the report-type parameter of a multipart/report
    part_types: tuple[str, ...]  # the MIME types of every part, in walk order
    attachments: tuple[Attachment, ...]
    date: datetime | None  # the Date header, when parseable
    size: int  # raw size in bytes
    defects: tuple[str, ...] = ()  # parser defects noted, for the audit trail

    def header(self, name: str) -> tuple[str, ...]:
        """Every value of a header, by case-insensitive name."""
        index = self.__dict__.get("_by_name")
        if index is None:
            # Built at the first call: screening asks for some thirty headers of every message,
            # and scanning all of them for each was a tenth of screening.
            index = {}
            for k, v in self.headers:
                index.setdefault(k, []).append(v)
            index = {k: tuple(v) for k, v in index.items()}
            object.__setattr__(self, "_by_name", index)
        return index.get(name.lower(), ())

    def __getstate__(self) -> dict:
        # The index is rebuilt where needed, not carried across the worker's pipe.
        state = dict(self.__dict__)
        state.pop("_by_name", None)
        return state

    def first_header(self, name: str) -> str | None:
        values = self.header(name)
        return values[0] if values else None


@dataclass(frozen=True)
class RuleHit:
    """One screening rule that matched, kept for audit."""

    rule: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class ScreenResult:
    """The outcome of screening (step 4): "request" or the verdict of the first rule that hit."""

    verdict: str
    hits: tuple[RuleHit, ...] = ()

    @property
    def is_request(self) -> bool:
        return self.verdict == SCREEN_REQUEST


@dataclass(frozen=True)
class ThreadKeys:
    """What in a message may point at an existing case (step 5), before any database lookup."""

    references_in_subject: tuple[str, ...]  # case references written in the subject
    our_message_ids: tuple[str, ...]  # In-Reply-To / References ids in our own domain


@dataclass(frozen=True)
class Classification:
    """The classifier's answer (step 6)."""

    labels: tuple[str, ...]  # chosen labels, in LABELS order; ("other",) alone or rights labels
    scores: dict[str, float] = field(default_factory=dict)  # calibrated probability per label
    confidence: float = 0.0  # how sure the model is of the label set as a whole, 0..1
    language: str = "und"
    model_version: str = ""
    triage: bool = False  # below the confidence threshold: the DPO must label it


@dataclass(frozen=True)
class ReplyPlan:
    """A reply the decision wants queued (automatic) or drafted (needs the DPO's approval)."""

    kind: str  # "acknowledgement", "optout_confirmation", "identity_request", ...
    automatic: bool  # True: goes to the outbox at once; False: a draft for approval


@dataclass(frozen=True)
class Decision:
    """What to do with one message (step 7), a pure function of the values above."""

    action: Literal["open_case", "attach", "triage", "ignore", "hold"]
    reason: str
    labels: tuple[str, ...] = ()
    case_reference: str | None = None  # for "attach"
    suppress: bool = False  # put the sender on the marketing suppression list
    replies: tuple[ReplyPlan, ...] = ()
    flags: tuple[str, ...] = ()  # e.g. "reminder", "duplicate", "reopened"
