"""prepare() reads each costly thing once: the decoded attachment, the parsed bounce, the mail itself.

The walk of parse_message_tree decodes an attachment for its size and strip_parsed reuses that
decoding for its digest (minimise.decoded_payload); a bounce's returned Message-IDs are read
from the tree parse_message_tree already built; a request's language is set on the mail just
parsed instead of copying it. Each shortcut must give what the plain reading gives: a stale
decoding after a rewrite, a tree already rewritten by the minimised copy, or a language lost
on the way would change what is stored or answered.
"""

from __future__ import annotations

import base64
import email.policy
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32

from inbox_bot import config as config_mod
from inbox_bot.minimise import decoded_payload, strip_attachments
from inbox_bot.parsing import bounced_message_ids, parse_message, parse_message_tree
from inbox_bot.prepare import PrepareSettings, Recorded, prepare

PS = PrepareSettings.from_settings(config_mod.from_dict({"organisation": dict(config_mod.DEFAULT_ORGANISATION)}, "<test>"))
RECEIVED = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


def _with_attachment(padding_ok: bool = True) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "jan.kowalski@example.pl"
    msg["To"] = "iodo@optingo.eu"
    msg["Subject"] = "Wniosek o usunięcie danych"
    msg["Message-ID"] = "<att@example.pl>"
    msg.set_content("Proszę o usunięcie moich danych osobowych, skan dowodu w załączniku.")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="skan.pdf")
    raw = msg.as_bytes()
    if not padding_ok:
        # Base64 with its padding cut off: the stdlib repairs it and notes a defect.
        tail = base64.b64encode(PDF)[-12:]
        assert tail.endswith(b"=") and raw.count(tail) == 1
        raw = raw.replace(tail, tail.rstrip(b"="))
    return raw


def test_decoded_payload_equals_the_stdlib_and_is_not_reused_after_a_rewrite():
    # Guards against a digest or size computed from stale bytes: the kept decoding is for the
    # payload it was made of only.
    part = message_from_bytes(_with_attachment(), policy=compat32).get_payload()[1]
    first = decoded_payload(part)
    assert first == part.get_payload(decode=True) == PDF
    assert decoded_payload(part) is first  # the second reader gets the same decoding
    part.set_payload(base64.encodebytes(b"other bytes").decode("ascii"))
    assert decoded_payload(part) == b"other bytes"
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "8bit"
    assert decoded_payload(part) == part.get_payload(decode=True) != b"other bytes"


def test_minimised_copy_and_attachment_size_equal_the_plain_readings():
    # Guards against the reused decoding changing the note's size or SHA-256 in the stored copy.
    for raw in (_with_attachment(), _with_attachment(padding_ok=False)):
        part = message_from_bytes(raw, policy=compat32).get_payload()[1]
        assert part.get_payload(decode=True) == PDF
        prepared = prepare(Recorded(1, 1, 7, RECEIVED, raw), PS)
        assert prepared.minimised == strip_attachments(raw)
        assert b"skan.pdf" in prepared.minimised and len(prepared.minimised) < len(raw)
        assert [a.size for a in prepared.mail.attachments] == [len(PDF)]


def test_bounce_read_from_the_parsed_tree_names_the_same_ids():
    # Guards against the bounce's ids being read from a tree the minimised copy already
    # rewrote, or from a tree that is not the one a fresh parse gives.
    returned = b"From: iodo@optingo.eu\r\nMessage-ID: <ack.7@optingo.eu>\r\n\r\nx\r\n"
    raw = (b"From: MAILER-DAEMON@mx.example.pl\r\nTo: iodo@optingo.eu\r\nSubject: Undelivered Mail Returned to Sender\r\n"
           b"Auto-Submitted: auto-replied\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed permanently.\r\n"
           b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.pl\r\n\r\n"
           b"Final-Recipient: rfc822; jan@example.pl\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
           b"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(returned)
           + b"--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(PDF) + b"--b--\r\n")
    _, tree = parse_message_tree(raw, detect=False)
    assert tree is not None
    assert bounced_message_ids(raw, "optingo.eu", parsed=tree) == bounced_message_ids(raw, "optingo.eu") == ("ack.7@optingo.eu",)
    prepared = prepare(Recorded(2, 2, 7, RECEIVED, raw), PS)
    assert prepared.screen.verdict == "bounce"
    assert prepared.bounced_ids == ("ack.7@optingo.eu",)
    assert prepared.minimised is not None  # the tree was rewritten after the ids were read


def test_request_language_is_the_one_a_detecting_parse_gives():
    # Guards against the language set on the parsed mail going missing (an "und" request gets
    # its reply in the default language) or landing on a robot's mail.
    raw = _with_attachment()
    prepared = prepare(Recorded(3, 3, 7, RECEIVED, raw), PS)
    assert prepared.screen.is_request
    assert prepared.mail.language == parse_message(raw).language == "pl"
    assert prepared.mail == parse_message(raw)
