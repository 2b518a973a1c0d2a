"""Outgoing message bytes: headers that thread and stop robots, UTF-8 that survives, no injection."""

from __future__ import annotations

from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser

import pytest

from inbox_bot.compose import (
    build_message,
    clean_header_text,
    make_message_id,
    pick_language,
    render,
    thread_references,
)

UTC = timezone.utc
REF = "IODO-2026-00042"


def build(**overrides) -> bytes:
    args = dict(
        from_addr="iodo@optingo.eu",
        from_name="Optingo Digital Sp. z o.o.",
        to="jan@example.pl",
        subject=f"Potwierdzenie otrzymania żądania [{REF}]",
        text="Dzień dobry,\n\nzażółć gęślą jaźń – ŻÓŁĆ.\n",
        html=None,
        message_id="0123abcd@optingo.eu",
        in_reply_to="orig-1@example.pl",
        references=["root@example.pl"],
        auto_submitted="auto-replied",
        loop_header=("X-Inbox-Bot-Loop", "iodo@optingo.eu"),
        case_reference=REF,
        date=datetime(2026, 11, 23, 9, 15, tzinfo=UTC),
    )
    args.update(overrides)
    return build_message(**args)


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


def plain_body(msg) -> str:
    # The parser keeps the wire's CRLF inside decoded text; compare line content, not line ends.
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_headers_that_thread_and_stop_robots():
    msg = parse(build())
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Message-ID"] == "<0123abcd@optingo.eu>"
    assert msg["In-Reply-To"] == "<orig-1@example.pl>"
    # References: the original's References, then the original's own id, oldest first.
    assert msg["References"].split() == ["<root@example.pl>", "<orig-1@example.pl>"]
    assert msg["X-Inbox-Bot-Loop"] == "iodo@optingo.eu"
    assert msg["Precedence"] is None  # deliberately not sent (see the module docstring)
    assert msg["Date"] == "Mon, 23 Nov 2026 09:15:00 +0000"


def test_lines_end_in_crlf():
    data = build()
    assert b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")


def test_reference_added_to_subject_once():
    assert parse(build(subject="Odpowiedź"))["Subject"] == f"[{REF}] Odpowiedź"
    assert parse(build())["Subject"].count(REF) == 1


def test_polish_diacritics_survive_into_the_bytes():
    # A wrong charset or transfer encoding turns "żółć" into mojibake in the requester's client.
    msg = parse(build(html="<p>Zażółć gęślą jaźń</p>"))
    assert msg["Subject"] == f"Potwierdzenie otrzymania żądania [{REF}]"
    assert plain_body(msg) == "Dzień dobry,\n\nzażółć gęślą jaźń – ŻÓŁĆ.\n"
    assert "Zażółć gęślą jaźń" in msg.get_body(("html",)).get_content()
    assert msg.get_content_type() == "multipart/alternative"


def test_rendered_acknowledgement_round_trips():
    when = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
    out = render("acknowledgement", "pl", {
        "organisation": "Optingo Digital Sp. z o.o.", "contact": "iodo@optingo.eu", "reference": REF,
        "labels": ["erasure"], "triage": False, "received_at": when,
        "due_at": datetime(2026, 12, 23, 22, 59, 59, tzinfo=UTC),
    })  # fmt: skip
    msg = parse(build(subject=out.subject, text=out.text))
    body = plain_body(msg)
    assert body == out.text and "usunięcie danych" in body and "23 grudnia 2026 r." in body


def test_message_id_is_unique_in_our_domain_without_brackets():
    ids = {make_message_id("Optingo.EU") for _ in range(200)}
    assert len(ids) == 200
    for mid in ids:
        assert mid.endswith("@optingo.eu") and "<" not in mid and ">" not in mid
    with pytest.raises(ValueError):
        make_message_id("optingo.eu>\r\nBcc: x@evil")


def test_long_message_ids_are_not_encoded():
    # The email package RFC 2047-encodes a long unbroken header token; an encoded id threads
    # nowhere. Ours are written as they are.
    long_id = "y" * 120 + "@mail.example.com"
    data = build(in_reply_to=long_id, references=["a@b.example", long_id])
    head = data.split(b"\r\n\r\n")[0].decode("ascii")
    threading = head[head.index("In-Reply-To:") : head.index("Auto-Submitted:")]
    assert "=?" not in threading
    msg = parse(data)
    assert msg["In-Reply-To"] == f"<{long_id}>"
    assert msg["References"].split() == ["<a@b.example>", f"<{long_id}>"]


def test_invalid_reference_ids_from_inbound_mail_are_dropped():
    msg = parse(build(in_reply_to="bad id@x", references=["ok@x.example", "no-at-sign", "a\r\nBcc: b@evil"]))
    assert msg["In-Reply-To"] is None
    assert msg["References"] == "<ok@x.example>"
    assert msg["Bcc"] is None


def test_references_are_truncated_to_root_and_latest():
    refs = [f"m{i}@x.example" for i in range(50)]
    kept = thread_references(refs, "parent@x.example", limit=20)
    assert len(kept) == 20
    assert kept[0] == "m0@x.example" and kept[-1] == "parent@x.example" and kept[-2] == "m49@x.example"


def test_brackets_are_tolerated_on_input():
    msg = parse(build(message_id="<abc@optingo.eu>", in_reply_to="<p@x.example>", references=["<r@x.example>"]))
    assert msg["Message-ID"] == "<abc@optingo.eu>"
    assert msg["References"].split() == ["<r@x.example>", "<p@x.example>"]


HOSTILE = [
    "Hi\r\nBcc: x@evil.example",
    "Hi\nBcc: x@evil.example",
    "Hi\rBcc: x@evil.example",
    "=?utf-8?q?Hi=0D=0ABcc:_x@evil.example?=",
    "=?utf-8?b?SGkNCkJjYzogeEBldmlsLmV4YW1wbGU=?=",
    # Doubly encoded: decoding once yields another encoded word.
    "=?utf-8?b?PT91dGYtOD9xP0hpPTBEPTBBQmNjOl94QGV2aWwuZXhhbXBsZT89?=",
    "Hi\u2028Bcc: x@evil.example",
    "Hi\x85Bcc: x@evil.example",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_subject_cannot_inject_a_header(hostile):
    msg = parse(build(subject=hostile))
    assert msg["Bcc"] is None
    assert "evil" in msg["Subject"]  # the text stays visible, on the same line


@pytest.mark.parametrize("hostile", HOSTILE)
def test_display_name_cannot_inject_a_header(hostile):
    msg = parse(build(from_name=hostile))
    assert msg["Bcc"] is None
    assert msg["From"].addresses[0].addr_spec == "iodo@optingo.eu"


@pytest.mark.parametrize("hostile", HOSTILE[:3])
def test_loop_header_value_cannot_inject(hostile):
    assert parse(build(loop_header=("X-Inbox-Bot-Loop", hostile)))["Bcc"] is None


@pytest.mark.parametrize(
    "bad",
    [
        {"to": "jan@example.pl\r\nBcc: x@evil.example"},
        {"to": "jan@example.pl, x@evil.example"},
        {"from_addr": "Eve <eve@evil.example>"},
        {"loop_header": ("X-Loop\r\nBcc", "x")},
        {"message_id": "abc@optingo.eu\r\nBcc: x@evil.example"},
        {"case_reference": "IODO-1]\r\nBcc: x@evil.example"},
        {"auto_submitted": "no"},
        {"date": datetime(2026, 1, 1)},
    ],
)
def test_malformed_addresses_and_fixed_fields_are_refused(bad):
    # These come from configuration or our own code, never from a sender: refuse loudly.
    with pytest.raises(ValueError):
        build(**bad)


def test_clean_header_text_keeps_ordinary_text():
    assert clean_header_text("  Zażółć   gęślą  jaźń ") == "Zażółć gęślą jaźń"
    assert clean_header_text("plain =? text") == "plain =? text"


def test_pick_language():
    assert pick_language("pl", "acknowledgement", "en") == "pl"
    assert pick_language("en-GB", "acknowledgement", "pl") == "en"
    assert pick_language("PL_pl", "acknowledgement", "en") == "pl"
    # No German templates: the configured default.
    assert pick_language("de", "acknowledgement", "pl") == "pl"
    assert pick_language("und", "acknowledgement", "en") == "en"
    assert pick_language(None, "acknowledgement", "en") == "en"
    # A language code can never walk out of templates/.
    assert pick_language("..", "acknowledgement", "pl") == "pl"
    assert pick_language("pl", "no_such_kind", "en") == "en"


def _parsed_back_names(head: str) -> list[str] | None:
    """The reference the header check stands in for: the block parsed by the email package."""
    from email import policy
    from email.parser import Parser

    return sorted(k.lower() for k in Parser(policy=policy.compat32).parsestr(head + "\r\n", headersonly=True).keys())


@pytest.mark.parametrize("head, names", [
    ("From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\n", ["From", "To", "Subject"]),
    ("Subject: a long one\r\n folded once\r\n\tand twice\r\nTo: b@example.com\r\n", ["Subject", "To"]),
    ("Subject: Hi\r\nBcc: eve@example.com\r\nTo: b@example.com\r\n", ["Subject", "To"]),  # one field too many
    ("Subject: Hi\r\nno colon on this line\r\nTo: b@example.com\r\n", ["Subject", "To"]),  # ends the block
    ("Subject: Hi\r\n\r\nTo: b@example.com\r\n", ["Subject", "To"]),  # a blank line ends the block
    (" Subject: Hi\r\nTo: b@example.com\r\n", ["Subject", "To"]),  # a continuation with nothing before it
    ("Subject: Hi\rBcc: eve@example.com\r\nTo: b@example.com\r\n", ["Subject", "To"]),  # a bare CR
    ("Subject: Hi\nBcc: eve@example.com\r\nTo: b@example.com\r\n", ["Subject", "To"]),  # a bare LF
    ("Subject: Hi\r\nTo: b@example.com", ["Subject", "To"]),  # no line end after the last field
])
def test_header_check_refuses_what_a_parser_would_read_otherwise(head, names):
    # Guards the last line of defence against header injection: the check passes a header block
    # only when a mail parser reads exactly the fields we set from it. The email package's own
    # parser is the reference (the check is a cheaper reading of the same lines).
    from inbox_bot.compose import _assert_headers_as_written

    same = "\r\n" in head and head.endswith("\r\n") and head.count("\n") == head.count("\r\n") == head.count("\r") \
        and _parsed_back_names(head) == sorted(n.lower() for n in names)
    if same:
        _assert_headers_as_written(head, names)
    else:
        with pytest.raises(ValueError, match="refusing to send"):
            _assert_headers_as_written(head, names)
    # The first two are well formed, every other one must be refused.
    assert same == (head.startswith("From:") or "folded once" in head)
