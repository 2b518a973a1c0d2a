"""The pure steps of processing one recorded message: parse, screen, thread keys, minimise.

Kept apart from the pipeline's database work so that they can run anywhere — in the pipeline's
own thread or in a worker process (inbox_bot.workers) — from plain values: the raw bytes and a
few settings, nothing that holds a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inbox_bot.screening import ScreenContext
from inbox_bot.values import InboundMail, ScreenResult, ThreadKeys

# A message larger than the configured limit is still read for its headers and text, but the
# text handed on is cut: a 25 MB attachment must not become a 25 MB feature vector.
OVERSIZED_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Recorded:
    """What the prepare step needs of a recorded message (picklable: crosses process borders)."""

    pk: int
    uid: int | None
    uidvalidity: int | None
    received_at: datetime
    raw: bytes


@dataclass(frozen=True)
class PrepareSettings:
    """The settings the prepare step reads, as plain values."""

    screen: ScreenContext
    max_message_bytes: int
    dkim_verify: bool
    reference_prefix: str
    domain: str
    keep_attachments: bool = False
    attachment_max_bytes: int = 10_000_000

    @classmethod
    def from_settings(cls, settings) -> "PrepareSettings":
        return cls(
            screen=ScreenContext.from_settings(settings),
            max_message_bytes=settings.limits.max_message_bytes,
            dkim_verify=settings.approval.dkim_verify,
            reference_prefix=settings.cases.reference_prefix,
            domain=settings.organisation.domain,
            keep_attachments=settings.retention.keep_attachments,
            attachment_max_bytes=settings.retention.attachment_max_bytes,
        )


@dataclass(frozen=True)
class Prepared:
    pk: int
    uid: int | None
    uidvalidity: int | None
    received_at: datetime
    mail: InboundMail
    screen: ScreenResult
    keys: ThreadKeys
    # The raw mail to keep once processed, attachment content replaced by a note
    # (inbox_bot.minimise); None when it is kept as received.
    minimised: bytes | None = None
    # A bounce's Message-IDs of ours that it returns (inbox_bot.parsing.bounced_message_ids).
    bounced_ids: tuple[str, ...] = ()


def prepare(item: Recorded, ps: PrepareSettings) -> Prepared:
    """Parse, screen and compute the thread keys of one message. Raises on mail that cannot be read."""
    from inbox_bot.parsing import mail_language, parse_message_tree
    from inbox_bot.screening import screen
    from inbox_bot.threadkeys import thread_keys

    raw = item.raw or b""
    # The language is detected below, for requests only: screening does not read it, and a
    # robot's language is read by nothing (~0.35 ms a message saved on bounces and lists).
    if len(raw) > ps.max_message_bytes:
        mail, tree = parse_message_tree(raw, max_text_chars=OVERSIZED_TEXT_CHARS, detect=False)
    else:
        mail, tree = parse_message_tree(raw, detect=False)
    result = screen(mail, ps.screen)
    if result.verdict == "spoof" and ps.dkim_verify:
        # Our own DKIM check may clear mail our server left unauthenticated (inbox_bot.spoof).
        from inbox_bot.screening import RULES
        from inbox_bot.spoof import recheck

        result = recheck(mail, raw, result, ps.screen, RULES)
    if result.is_request:
        # After the recheck: a spoof verdict it clears becomes a request, which needs its language
        # for the classifier and the reply. Set on the mail itself: parse_message_tree built it
        # above and nothing else holds it yet, and dataclasses.replace (a second InboundMail
        # through its 22-field __init__) cost 4 µs a request.
        object.__setattr__(mail, "language", mail_language(mail.subject, mail.text))
    keys = thread_keys(mail, ps.reference_prefix, ps.domain)
    bounced_ids: tuple[str, ...] = ()
    if result.verdict == "bounce":
        from inbox_bot.parsing import bounced_message_ids

        # Before the minimised copy below rewrites the tree: the bounce is read from it as parsed.
        bounced_ids = tuple(bounced_message_ids(raw, ps.domain, parsed=tree))
    minimised = None
    if mail.attachments:
        # Here rather than where the record is written: rewriting a message with attachments is
        # the costliest thing done to it, and this step runs beside the database work. The tree
        # parse_message read is rewritten rather than parsing the raw bytes a second time.
        from inbox_bot.minimise import strip_attachments, strip_parsed

        if tree is not None:
            kept = strip_parsed(tree, raw, keep=ps.keep_attachments, max_bytes=ps.attachment_max_bytes)
        else:
            kept = strip_attachments(raw, keep=ps.keep_attachments, max_bytes=ps.attachment_max_bytes)
        minimised = kept if kept is not raw else None
    return Prepared(item.pk, item.uid, item.uidvalidity, item.received_at, mail, result, keys, minimised, bounced_ids)
