"""Real-world mail by others (../shared/corpora): parsing never crashes, robots screen as robots.

Every file of mime/ parses without any exception but SenderError, within a time limit; every
bounce, report and autoreply file gets a non-request verdict (except the few listed below, whose
content shows they are not robot mail); every request letter of requests/, wrapped in a plain
message, screens as "request".
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from inbox_bot.errors import SenderError
from inbox_bot.parsing import parse_message
from inbox_bot.screening import ScreenContext, screen

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
MIME = CORPORA / "mime"
REQUESTS = CORPORA / "requests"
PER_FILE_SECONDS = 5.0

CTX = ScreenContext(
    own_address="iodo@optingo.eu",
    own_domain="optingo.eu",
    message_id_domain="optingo.eu",
    dpo_addresses=("dpo@optingo.eu",),
)

# Files filed under a robot kind whose content is not robot mail. Each says why.
NOT_ROBOTS = {
    # Mail::DeliveryStatus::BounceParser keeps spam in its corpus to test that spam is *not*
    # taken for a bounce: these are ordinary (spam) messages from a person-like sender.
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-bogus-email-in-report.msg": "spam, not a bounce",
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-lots-of-bogus-addresses.msg": "spam, not a bounce",
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-with-badly-parsed-email.msg": "spam, not a bounce",
    "perl-Mail-DeliveryStatus-BounceParser/t/corpus/spam-with-image.msg": "spam, not a bounce",
    # A person forwarding a bounce to someone ("Fwd: Returned mail ...") with their own client:
    # a person's message about a bounce, which the DPO should see.
    "sisimai-set-of-emails/maildir/bsd/lhost-sendmail-14.eml": "a person forwarding a bounce",
}

ROBOT_KINDS = ("bounce", "report", "autoreply")


def _manifest(folder: Path) -> list[dict[str, str]]:
    if not (folder / "MANIFEST.csv").is_file():
        pytest.skip(f"shared corpus not found at {folder} (a plain checkout has no ../shared)")
    with open(folder / "MANIFEST.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def parsed_mime():
    """(manifest row, InboundMail or None for SenderError, seconds) for every mime/ file."""
    results = []
    for row in _manifest(MIME):
        raw = (MIME / row["file"]).read_bytes()
        start = time.monotonic()
        try:
            mail = parse_message(raw)
        except SenderError:
            mail = None
        results.append((row, mail, time.monotonic() - start))
    return results


def test_every_mime_file_parses_in_time(parsed_mime):
    slow = [(row["file"], round(seconds, 2)) for row, _mail, seconds in parsed_mime if seconds > PER_FILE_SECONDS]
    assert slow == []
    tally = Counter("sender_error" if mail is None else "parsed" for _row, mail, _s in parsed_mime)
    print(f"\nmime corpus: {len(parsed_mime)} files, {tally['parsed']} parsed, {tally['sender_error']} SenderError")
    # Only files that are not messages at all (bare bodies, TNEF blobs, HTML fragments) may fail.
    assert tally["parsed"] >= 1250


def test_sender_errors_only_for_files_without_headers(parsed_mime):
    for row, mail, _s in parsed_mime:
        if mail is None:
            head = (MIME / row["file"]).read_bytes()[:2000].lstrip(b"\xef\xbb\xbf\r\n")
            first_line = head.split(b"\n", 1)[0]
            assert b":" not in first_line.split(b" ", 1)[0] or row["kind"] not in ROBOT_KINDS, row["file"]


def test_robots_screen_as_robots(parsed_mime):
    missed = []
    robots = screened = 0
    for row, mail, _s in parsed_mime:
        if row["kind"] not in ROBOT_KINDS or mail is None:
            continue
        robots += 1
        result = screen(mail, CTX)
        if result.is_request and row["file"] not in NOT_ROBOTS:
            missed.append(row["file"])
        elif not result.is_request:
            screened += 1
    print(f"\nrobots: {robots}, screened as robots: {screened}, listed as not robots: {len(NOT_ROBOTS)}")
    assert missed == []
    assert screened + len(NOT_ROBOTS) == robots


def test_listed_exceptions_really_are_in_the_corpus(parsed_mime):
    # A stale exception list would hide a regression under a file name that no longer exists.
    files = {row["file"] for row, _m, _s in parsed_mime}
    assert set(NOT_ROBOTS) <= files


def test_request_letters_screen_as_requests():
    rows = _manifest(REQUESTS)
    wrong = []
    for row in rows:
        message = EmailMessage()
        message["From"] = "Maria Example <maria.example@example.org>"
        message["To"] = "iodo@optingo.eu"
        message["Subject"] = "GDPR request"
        message["Message-ID"] = "<letter-1@example.org>"
        message.set_content((REQUESTS / row["file"]).read_text(encoding="utf-8"))
        mail = parse_message(message.as_bytes())
        result = screen(mail, CTX)
        if not result.is_request:
            wrong.append((row["file"], result.verdict))
        assert mail.text.strip(), row["file"]
    assert wrong == []
