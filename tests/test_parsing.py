"""parse_message on literal messages: charsets, encodings, structure, addresses, hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from inbox_bot.errors import SenderError
from inbox_bot.parsing import decode_bytes, normalise_address, parse_message

DATA = Path(__file__).parent / "data"


def load(name: str):
    return parse_message((DATA / name).read_bytes())


def msg(headers: str, body: str = "Hello, please delete my data.\n") -> bytes:
    return (headers.strip("\n").replace("\n", "\r\n") + "\r\n\r\n" + body).encode("utf-8")


def test_windows_1250_body_and_encoded_words():
    # Guards against Polish mail from Outlook on Windows being read as latin-1 mojibake.
    mail = load("pl_windows1250.eml")
    assert "usunięcie moich danych" in mail.text
    assert mail.display_name == "Łukasz Żółw"
    assert mail.subject == "Usunięcie danych"
    assert mail.language == "pl"


def test_iso_8859_2_quoted_printable_and_base64_subject():
    mail = load("pl_iso88592_qp.eml")
    assert "proszę o kopię moich danych" in mail.text
    assert mail.subject == "Żądanie dostępu do danych"
    assert mail.display_name == "Paweł Kołodziej"


def test_declared_latin1_but_utf8_bytes():
    # Old clients label UTF-8 as iso-8859-1; latin-1 never fails, so it must not win blindly.
    assert "Proszę o wypisanie" in load("mislabelled_latin1_utf8.eml").text


def test_declared_ascii_but_cp1250_bytes():
    assert "chcę więcej ofert. Dziękuję" in load("mislabelled_ascii_cp1250.eml").text


def test_html_only_base64_becomes_text():
    mail = load("html_only_base64.eml")
    assert "welche Daten Sie über mich speichern" in mail.text
    assert "<p>" not in mail.full_text
    assert mail.display_name == "Jürgen Müller"
    assert mail.language == "de"


def test_alternative_prefers_plain_and_attachment_is_metadata_only():
    mail = load("alternative_with_attachment.eml")
    assert mail.text == "Please send me a copy of my personal data."
    assert "HTML VERSION" not in mail.full_text
    assert [(a.filename, a.content_type) for a in mail.attachments] == [("id.pdf", "application/pdf")]
    assert mail.part_types == ("multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf")
    # The invalid Cc is dropped; the DPO address comes out with its domain lower-cased.
    assert mail.recipients == ("iodo@optingo.eu", "dpo@optingo.eu")
    assert mail.in_reply_to == "ack-1@optingo.eu"
    assert mail.references == ("first@example.com", "ack-1@optingo.eu")
    assert mail.message_id == "alt-1@example.com"


def test_empty_plain_part_falls_back_to_html():
    raw = msg(
        """From: a@example.com
Subject: x
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b"
""",
        '--b\r\nContent-Type: text/plain\r\n\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Usuncie moje konto prosze</p>\r\n--b--\r\n',
    )
    assert "Usuncie moje konto" in parse_message(raw).text


def test_broken_encoded_word_is_kept_not_fatal():
    # A broken RFC 2047 word (bad base64, unknown charset) must not stop parsing.
    mail = parse_message(msg("From: =?x-unknown?B?!!!?= <a@example.com>\nSubject: =?utf-8?B?not*base64?= hi\n"))
    assert mail.sender == "a@example.com"
    assert "hi" in mail.subject


def test_unknown_charset_body_still_read():
    raw = msg("From: a@example.com\nContent-Type: text/plain; charset=x-no-such-charset\n", "plain words\n")
    assert parse_message(raw).text == "plain words"


def test_header_values_never_carry_cr_lf():
    # Guards against header injection through encoded words carrying CR/LF.
    raw = msg("From: a@example.com\nSubject: =?utf-8?Q?a=0D=0ABcc:_victim@example.com?=\n")
    mail = parse_message(raw)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert all("\n" not in v and "\r" not in v for _, v in mail.headers)


def test_invalid_sender_is_none_not_an_error():
    mail = parse_message(msg("From: MAILER-DAEMON\nSubject: x\n"))
    assert mail.sender is None
    assert mail.sender_header == "MAILER-DAEMON"


def test_null_return_path_and_report_type():
    raw = msg(
        """Return-Path: <>
From: MAILER-DAEMON@mx.example.com
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"
""",
        "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; x@example.org\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n--b--\r\n",
    )
    mail = parse_message(raw)
    assert mail.return_path == ""
    assert mail.report_type == "delivery-status"
    assert "message/delivery-status" in mail.part_types
    assert mail.attachments == ()


def test_empty_input_and_headerless_input_are_sender_errors():
    with pytest.raises(SenderError):
        parse_message(b"")
    with pytest.raises(SenderError):
        parse_message(b"\r\n\r\njust a body with no header at all\r\n")


def test_bom_before_headers_is_tolerated():
    assert parse_message(b"\xef\xbb\xbf" + msg("From: a@example.com\nSubject: s\n")).subject == "s"


def test_deep_nesting_and_many_headers_do_not_hang():
    depth = 3000
    parts = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth))
    raw = b"From: a@example.com\r\nSubject: deep\r\n" + parts.encode() + b"Content-Type: text/plain\r\n\r\nhi\r\n"
    start = time.monotonic()
    mail = parse_message(raw)
    assert time.monotonic() - start < 10
    assert mail.subject == "deep"
    many = b"From: a@example.com\r\n" + b"X-H: v\r\n" * 50_000 + b"\r\nbody\r\n"
    start = time.monotonic()
    assert len(parse_message(many).headers) <= 500
    assert time.monotonic() - start < 10


def test_normalise_address():
    # Suppression checks compare this form: case differences must not matter.
    assert normalise_address("Jan.Kowalski@Example.PL") == "jan.kowalski@example.pl"
    assert normalise_address("<a@example.com>") == "a@example.com"
    assert normalise_address("not an address") is None
    assert normalise_address("a@b") is None
    assert normalise_address("") is None


def test_decode_bytes_prefers_polish_reading_of_8bit():
    assert decode_bytes("zażółć gęślą jaźń".encode("iso-8859-2"), None) == "zażółć gęślą jaźń"
    assert decode_bytes("zażółć gęślą jaźń".encode("cp1250"), "utf-8") == "zażółć gęślą jaźń"


def test_size_and_date():
    raw = msg("From: a@example.com\nDate: Mon, 2 Mar 2026 10:00:00 +0100\n")
    mail = parse_message(raw)
    assert mail.size == len(raw)
    assert mail.date is not None and mail.date.hour == 9 and mail.date.utcoffset().total_seconds() == 0


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_sender_error(data):
    try:
        mail = parse_message(data)
    except SenderError:
        return
    assert all("\n" not in v and "\r" not in v for _, v in mail.headers)


header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=150, deadline=None)
@given(header_text, header_text, header_text)
def test_arbitrary_header_values_never_break_parsing(sender, subject, other):
    def clean(value: str) -> bytes:
        # Raw bytes of arbitrary text, with line breaks turned into folding so the header stays one field.
        return value.replace("\r", " ").replace("\n", "\r\n ").encode("utf-8", "surrogatepass")

    raw = b"From: " + clean(sender) + b"\r\nSubject: " + clean(subject) + b"\r\nReferences: " + clean(other) + b"\r\n\r\nbody\r\n"
    try:
        mail = parse_message(raw)
    except SenderError:
        return
    for value in (mail.subject, mail.sender_header, mail.display_name, *(v for _, v in mail.headers)):
        assert "\r" not in value and "\n" not in value
