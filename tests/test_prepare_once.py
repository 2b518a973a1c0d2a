"""prepare() does each costly thing once, and only where its result is read, with the same answers.

Four short-cuts of the prepare step, each checked against the slow reading it replaces:
- the language is detected for requests only (nothing reads a robot's), and then equals
  parse_message's;
- a message with attachments is minimised from the tree parse_message already read
  (minimise.strip_parsed) instead of parsing it again: the bytes equal strip_attachments(raw);
- the HTML of a multipart/alternative is converted only when no plain alternative has text;
- textprep and _clean skip a pattern on text lacking a literal every match needs.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, timezone
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, compat32
from pathlib import Path

import pytest

from classifiers import textprep
from helpers import ORGANISATION, request_mail
from inbox_bot import config as config_mod
from inbox_bot.errors import SenderError
from inbox_bot.minimise import strip_attachments, strip_parsed
from inbox_bot.parsing import _clean, _html_to_text, parse_message, parse_message_tree
from inbox_bot.prepare import PrepareSettings, Recorded, prepare

MIME = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "mime"
AT = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
SETTINGS = PrepareSettings.from_settings(config_mod.from_dict({"organisation": dict(ORGANISATION)}))

POLISH_REQUEST = (
    "Dzień dobry, proszę o usunięcie wszystkich moich danych osobowych z Państwa bazy oraz o "
    "potwierdzenie, że zostały usunięte. Z poważaniem, Jan Kowalski"
)
ENGLISH_TEXT = (
    "Hello, I am away from the office until Monday and will read your message when I am back. "
    "For urgent matters please call the front desk."
)


def _prepared(raw: bytes, ps: PrepareSettings = SETTINGS):
    return prepare(Recorded(1, 1, 1, AT, raw), ps)


def _with_attachment(body: str, *, blank_lines_first: bool = False) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Jan Kowalski <jan.kowalski@example.pl>"
    msg["To"] = "iodo@optingo.eu"
    msg["Subject"] = "Wniosek o usunięcie danych"
    msg["Message-ID"] = "<att-1@example.pl>"
    msg.set_content(body)
    msg.add_attachment(b"%PDF-1.4 scan of an ID card" * 50, maintype="application", subtype="pdf",
                       filename="dowod.pdf")
    msg.add_attachment(b"\x89PNG fake image", maintype="image", subtype="png", filename="skan.png")
    raw = msg.as_bytes()
    return b"\r\n\r\n" + raw if blank_lines_first else raw


# -- language: detected for requests only -----------------------------------------------------

def test_a_request_gets_the_language_parse_message_gives():
    # A request whose language was skipped would be answered in the default language and
    # classified without its language hint.
    raw = request_mail("jan.kowalski@example.pl", "Usunięcie danych", POLISH_REQUEST)
    p = _prepared(raw)
    assert p.screen.is_request
    assert p.mail.language == parse_message(raw).language == "pl"


def test_a_robot_language_is_not_detected():
    # An auto-reply is screened out before anything reads its language: detecting it costs
    # ~0.35 ms for nothing. parse_message itself still detects it for its other callers.
    raw = request_mail("anna@example.com", "Automatic reply: your message", ENGLISH_TEXT,
                       extra_headers={"Auto-Submitted": "auto-replied"})
    p = _prepared(raw)
    assert not p.screen.is_request
    assert p.mail.language == "und"
    assert parse_message(raw).language == "en"
    assert parse_message(raw, detect=False).language == "und"


def test_undetected_mail_differs_from_the_detected_one_only_in_its_language():
    raw = request_mail("anna@example.com", "Automatic reply", ENGLISH_TEXT,
                       extra_headers={"Auto-Submitted": "auto-replied"})
    from dataclasses import replace

    detected = parse_message(raw)
    assert replace(parse_message(raw, detect=False), language=detected.language) == detected


# -- attachments: minimised from the tree already parsed --------------------------------------

def test_parse_message_tree_is_the_plain_parse_of_the_raw_bytes():
    # strip_parsed rewrites this tree: it must be what a fresh compat32 parse gives, unchanged
    # by the walk over it.
    raw = _with_attachment(POLISH_REQUEST)
    mail, tree = parse_message_tree(raw)
    assert mail == parse_message(raw)
    assert tree is not None
    assert tree.as_bytes() == BytesParser(policy=compat32).parsebytes(raw).as_bytes()


def test_no_tree_when_the_parser_read_other_bytes_than_raw():
    # Leading blank lines are cut before parsing: that tree is not the parse of raw, and
    # strip_attachments(raw) (which does not cut them) must be asked instead.
    raw = _with_attachment(POLISH_REQUEST, blank_lines_first=True)
    assert parse_message_tree(raw)[1] is None
    assert parse_message_tree(b"\xef\xbb\xbf" + _with_attachment(POLISH_REQUEST))[1] is None


@pytest.mark.parametrize("blank_lines_first", [False, True])
@pytest.mark.parametrize("keep", [False, True])
def test_minimised_bytes_equal_strip_attachments(blank_lines_first, keep):
    from dataclasses import replace

    raw = _with_attachment(POLISH_REQUEST, blank_lines_first=blank_lines_first)
    ps = replace(SETTINGS, keep_attachments=keep, attachment_max_bytes=100)
    p = _prepared(raw, ps)
    expected = strip_attachments(raw, keep=keep, max_bytes=100)
    assert (p.minimised if p.minimised is not None else raw) == expected
    if not blank_lines_first:
        # (With blank lines first strip_attachments reads no header and keeps the message as
        # it is, as before; the tree path must not change that either.)
        assert b"sha256" in p.minimised and b"scan of an ID card" not in p.minimised


def _mime_with_attachments(limit: int) -> list[tuple[str, bytes]]:
    if not (MIME / "MANIFEST.csv").is_file():
        pytest.skip(f"shared corpus not found at {MIME} (a plain checkout has no ../shared)")
    with open(MIME / "MANIFEST.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = []
    for row in rows:
        raw = (MIME / row["file"]).read_bytes()
        if len(raw) < 300_000 and re.search(rb"(?i)content-disposition:\s*attachment|filename=", raw):
            found.append((row["file"], raw))
    return found[:limit]


def test_minimised_bytes_equal_strip_attachments_on_corpus_mail():
    # Real attachments by other clients (nested, forwarded, broken): the tree parse_message
    # walked gives the same bytes as parsing the message again did. The step prepare() takes,
    # without the language detection (whose model takes seconds to load).
    checked = 0
    for name, raw in _mime_with_attachments(60):
        try:
            mail, tree = parse_message_tree(raw, detect=False)
        except SenderError:
            continue
        if not mail.attachments:  # prepare minimises only these, as before
            continue
        expected = strip_attachments(raw)
        got = strip_parsed(tree, raw) if tree is not None else strip_attachments(raw)
        assert got == expected, name
        checked += got is not raw
    assert checked >= 10


# -- HTML converted only when it is the body ----------------------------------------------------

def _alternative(plain: str | None, html: str, *, html_first: bool = False) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "jan.kowalski@example.pl"
    msg["To"] = "iodo@optingo.eu"
    msg["Subject"] = "Dane"
    if html_first:
        msg.set_content(html, subtype="html")
        msg.make_alternative()
        msg.add_alternative(plain or "")
    else:
        msg.set_content(plain or "")
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


HTML = "<p>Proszę o <b>usunięcie</b> danych.</p><p>Jan</p>"


def test_alternative_prefers_plain_in_either_order():
    for html_first in (False, True):
        mail = parse_message(_alternative("Tekst zwykły", HTML, html_first=html_first))
        assert mail.full_text.strip() == "Tekst zwykły"


def test_alternative_with_an_empty_plain_part_still_reads_the_html():
    # The deferred conversion must still happen when the plain part has no text.
    mail = parse_message(_alternative("  \n", HTML))
    assert mail.full_text == _html_to_text(HTML).replace("\r\n", "\n")
    assert "usunięcie" in mail.full_text
    assert mail.part_types == ("multipart/alternative", "text/plain", "text/html")


# -- literal pre-checks give what the patterns alone give ---------------------------------------

def _split_history_plain(lines):
    # The loop as it was before the literal pre-checks.
    for i in range(len(lines)):
        if textprep._SEPARATOR.match(lines[i]):
            return lines[:i], lines[i + 1 :], bool(textprep._FORWARD_SEPARATOR.search(lines[i]))
        line = lines[i].strip()
        if line:
            if len(line) < 400 and textprep._ATTRIBUTION.match(line):
                return lines[:i], lines[i + 1 :], False
            if i + 1 < len(lines):
                joined = f"{line} {lines[i + 1].strip()}"
                if len(joined) < 400 and textprep._ATTRIBUTION.match(joined) and not line.endswith((".", "?", "!")):
                    return lines[:i], lines[i + 2 :], False
        if textprep._is_header_block(lines, i):
            return lines[:i], lines[i:], False
    return lines, [], False


TRICKY_REPLIES = [
    # attribution wrapped over two lines, the ":" only on the second
    "Proszę o kopię danych\n\nW dniu 1 stycznia 2026 Jan Kowalski <jan@example.pl>\nnapisał:\n> stare",
    "Please erase my data\n\nOn Mon, 1 Jan 2026 at 10:00, Optingo <iodo@optingo.eu>\nwrote:\n> old",
    "Bitte löschen\n-----Ursprüngliche Nachricht-----\nVon: a",
    "Usuńcie mnie\n__________\nstopka",
    "Fwd below\nBegin forwarded message:\nFrom: x@y.z\nDate: today\nSubject: s\n\ntreść",
    "Hi\nFrom: Optingo <iodo@optingo.eu>\nSent: Monday\nTo: me\nSubject: Re\n\nold text",
    "A line with a colon: but no attribution\nand -- dashes -- inside\nbye",
]


def test_split_history_prechecks_agree_with_the_patterns_alone():
    for text in TRICKY_REPLIES:
        lines = text.split("\n")
        assert textprep._split_history(lines) == _split_history_plain(lines), text
    # and the wrapped attribution really is found (the ":" came from the next line)
    own, history, _ = textprep._split_history(TRICKY_REPLIES[0].split("\n"))
    assert own == ["Proszę o kopię danych", ""] and history == ["> stare"]


def test_split_history_prechecks_on_corpus_text():
    checked = 0
    for _name, raw in _mime_with_attachments(40):
        try:
            lines = parse_message(raw, detect=False).full_text.split("\n")
        except Exception:  # noqa: BLE001
            continue
        assert textprep._split_history(lines) == _split_history_plain(lines)
        checked += 1
    assert checked >= 10


def test_clean_precheck_agrees_with_the_pattern():
    # A value with CR, LF or NUL anywhere must still be put on one line (header injection).
    for value in ("plain", " padded ", "a\r\nBcc: x@y.z", "a\nb", "a\rb", "nul\x00here", "", "\r\n"):
        assert _clean(value) == re.sub(r"[\r\n\x00]+", " ", value).strip()
