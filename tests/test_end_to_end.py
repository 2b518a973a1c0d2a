"""The privacy inbox end to end: real Dovecot, real aiosmtpd, SQLite and PostgreSQL.

A request in the mailbox must become exactly one case and exactly one acknowledgement, threaded
to the request; robots must get nothing; a second pass must do nothing; an SMTP outage must lose
nothing and duplicate nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from email.utils import parseaddr
from pathlib import Path

import pytest

from helpers import (
    body_text,
    cases_of,
    messages_of,
    outbox_rows,
    parsed,
    request_mail,
    run_once,
    settings_for,
    to_requesters,
    write_config,
)

REQUESTS = [
    ("pl", "Wniosek o dostęp do danych", "Dzień dobry, na podstawie art. 15 RODO proszę o informację, jakie moje dane osobowe przetwarzacie, oraz o ich kopię."),
    ("pl", "Usunięcie konta", "Proszę o usunięcie mojego konta i wszystkich moich danych osobowych z Waszych systemów (art. 17 RODO)."),
    ("en", "Subject access request", "Hello, under Article 15 GDPR I request a copy of all personal data you hold about me, and the purposes of processing."),
    ("en", "Delete my data", "Please erase all personal data you hold about me and close my account, as is my right under Article 17 GDPR."),
    ("pl", "Kopia danych", "Chciałbym otrzymać kopię wszystkich danych, które o mnie przechowujecie. Proszę o odpowiedź."),
    ("en", "Data copy", "I would like to know what personal information your company stores about me. Please send me a copy."),
]


def _requests(n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        _lang, subject, body = REQUESTS[i % len(REQUESTS)]
        sender = f"osoba{i:03d}@example.pl"
        out.append((sender, request_mail(f"Osoba {i} <{sender}>", subject, body)))
    return out




def test_fifty_requests_make_fifty_cases_and_fifty_acknowledgements(dovecot, smtp_sink, db_url, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, db_url)
    requests = _requests(50)
    ids = {}
    for sender, raw in requests:
        dovecot.append(raw)
        ids[sender] = parsed(raw)["Message-ID"].strip("<>")

    report = run_once(settings)

    assert report.passes.fetched == 50
    cases = cases_of(settings)
    assert len(cases) == 50
    assert {c.requester for c in cases} == set(ids)
    sent = to_requesters(smtp_sink, 50)
    assert len(sent) == 50
    for message in sent:
        msg = parsed(message.raw)
        recipient = message.rcpt_tos[0]
        # Each acknowledgement goes to its sender and threads to that sender's request.
        assert msg["In-Reply-To"].strip("<>") == ids[recipient]
        assert msg["Auto-Submitted"] == "auto-replied"
        assert msg["Message-ID"].strip("<>").endswith("@optingo.eu")
        reference = next(c.reference for c in cases if c.requester == recipient)
        assert reference in msg["Subject"]
    # Handled mail left the inbox for the processed folder, only after the commit.
    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.folder_uids(settings.mailbox.processed_folder)) == 50
    # The DPO sees every reply in the Sent folder.
    assert len(dovecot.folder_uids(settings.mailbox.sent_folder)) == 50

    # A second pass opens nothing and sends nothing.
    again = run_once(settings)
    assert again.passes.fetched == 0
    assert len(cases_of(settings)) == 50
    assert len(to_requesters(smtp_sink)) == 50


def test_fetching_the_same_mail_twice_records_it_once(dovecot, smtp_sink, tmp_path, classifier_ready):
    # Guards against a changed UIDVALIDITY or a copy put back by hand opening a second case.
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/t.db")
    sender, raw = _requests(1)[0]
    dovecot.append(raw)
    run_once(settings)
    dovecot.append(raw)  # the same Message-ID under a new UID
    run_once(settings)
    assert len(messages_of(settings)) == 1
    assert len(cases_of(settings)) == 1
    assert len(to_requesters(smtp_sink)) == 1
    assert dovecot.folder_uids("INBOX") == []


ROBOTS = {
    "out_of_office": request_mail(
        "Anna Nowak <anna.nowak@example.pl>",
        "Odpowiedź automatyczna: Wniosek o dostęp",
        "Dziękuję za wiadomość. Jestem na urlopie do 30 listopada. W pilnych sprawach proszę o kontakt z biurem.",
        extra_headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
    ),
    "bounce": (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.pl>\r\n"
        b"To: iodo@optingo.eu\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce-1@mx.example.pl>\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered:\r\n"
        b"please delete my data.\r\n"
        b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.pl\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@example.pl\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--b1--\r\n"
    ),
    "own_address": request_mail(
        "Optingo IODO <iodo@optingo.eu>",
        "Prośba o usunięcie danych",
        "Proszę o usunięcie moich danych osobowych.",
    ),
}


def test_robots_and_our_own_mail_get_no_reply_and_no_case(dovecot, smtp_sink, db_url, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, db_url)
    for raw in ROBOTS.values():
        dovecot.append(raw)
    report = run_once(settings)
    assert report.passes.fetched == 3
    assert cases_of(settings) == []
    assert smtp_sink.messages() == []
    verdicts = sorted(m.screen_verdict for m in messages_of(settings))
    assert verdicts == ["auto_reply", "bounce", "own_mail"]
    # They are settled too, so they are not fetched again.
    assert dovecot.folder_uids("INBOX") == []


@pytest.mark.parametrize("charset", ["windows-1250", "iso-8859-2"])
def test_polish_request_in_a_legacy_charset_gets_a_polish_acknowledgement(dovecot, smtp_sink, tmp_path, charset, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/t.db")
    raw = request_mail(
        "Łukasz Żółć <lukasz@example.pl>",
        "Żądanie usunięcia danych",
        "Dzień dobry,\nżądam usunięcia wszystkich moich danych osobowych zgodnie z art. 17 RODO.\nŁukasz Żółć",
        charset=charset,
        cte="quoted-printable",
    )
    assert "ł".encode(charset) in raw or b"=" in raw  # really encoded in the legacy charset
    dovecot.append(raw)
    run_once(settings)
    (sent,) = to_requesters(smtp_sink, 1)
    text = body_text(sent.raw)
    case = cases_of(settings)[0]
    assert case.language == "pl"
    assert case.reference in text
    # Polish diacritics survive the round trip through parsing, templates and SMTP.
    assert any(word in text for word in ("Szanowni", "Szanowna", "Szanowny", "Dzień dobry", "otrzymaliśmy", "Otrzymaliśmy"))
    assert "ą" in text or "ę" in text or "ś" in text
    assert "Łukasz" not in text  # no personal data beyond the address it goes to


def test_english_request_gets_an_english_acknowledgement(dovecot, smtp_sink, tmp_path, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/t.db")
    dovecot.append(request_mail(
        "John Smith <john.smith@example.com>",
        "Subject access request",
        "Dear Sir or Madam,\nunder Article 15 GDPR I request a copy of all personal data you hold about me.\nJohn Smith",
    ))
    run_once(settings)
    (sent,) = to_requesters(smtp_sink, 1)
    text = body_text(sent.raw)
    case = cases_of(settings)[0]
    assert case.language == "en"
    assert case.labels == ["access"]
    assert "request" in text.lower() and case.reference in text
    assert "Smith" not in text


def _cli(config_file: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "inbox_bot", "--config", str(config_file), *args],
        capture_output=True, text=True, timeout=180, env=env,
    )


def test_unsubscribe_puts_the_normalised_address_on_the_suppression_list(dovecot, smtp_sink, tmp_path, classifier_ready):
    config_file = write_config(
        tmp_path / "config.toml", dovecot, smtp_sink, f"sqlite:///{tmp_path}/cli.db",
        mailbox={"password": None, "password_env": "TEST_IMAP_PASSWORD"},
    )
    env = {"TEST_IMAP_PASSWORD": dovecot.password}
    dovecot.append(request_mail(
        "Marta <Marta.Kowalska@EXAMPLE.PL>",
        "Re: Newsletter listopad",
        "Wypiszcie mnie z newslettera, nie chcę więcej dostawać od Was maili marketingowych.\n\n> Newsletter Optingo\n> Aby się wypisać kliknij tutaj",
    ))
    assert _cli(config_file, "db", "upgrade", env_extra=env).returncode == 0
    run = _cli(config_file, "run", "--once", env_extra=env)
    assert run.returncode == 0, run.stderr
    check = _cli(config_file, "suppression", "check", "Marta.Kowalska@example.pl", env_extra=env)
    assert (check.returncode, check.stdout.strip()) == (0, "suppressed")
    # The domain is matched case-insensitively: the list holds one normalised form.
    check_upper = _cli(config_file, "suppression", "check", "Marta.Kowalska@EXAMPLE.PL", env_extra=env)
    assert check_upper.returncode == 0
    other = _cli(config_file, "suppression", "check", "someone.else@example.pl", env_extra=env)
    assert (other.returncode, other.stdout.strip()) == (1, "not suppressed")
    # The confirmation went out by itself.
    (sent,) = to_requesters(smtp_sink, 1)
    assert parseaddr(sent.rcpt_tos[0])[1].lower() == "marta.kowalska@example.pl"
    listing = _cli(config_file, "cases", "list", "--json", env_extra=env)
    assert listing.returncode == 0
    import json

    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert len(rows) == 1 and "marketing_optout" in rows[0]["labels"]
    assert set(rows[0]) >= {"reference", "labels", "status", "requester", "received_at", "due_at"}
    datetime.fromisoformat(rows[0]["due_at"])


def test_smtp_outage_loses_no_acknowledgement_and_sends_each_once(dovecot, smtp_sink, db_url, classifier_ready):
    settings = settings_for(dovecot, smtp_sink, db_url)
    for _sender, raw in _requests(5):
        dovecot.append(raw)
    smtp_sink.stop()
    first = run_once(settings)
    assert len(cases_of(settings)) == 5
    assert first.delivery.sent == 0
    acknowledgements = [r for r in outbox_rows(settings) if r.automatic]
    assert len(acknowledgements) == 5 and all(r.status == "queued" for r in acknowledgements)

    smtp_sink.start()
    # The deferred rows wait for their backoff; the next run after it sends each exactly once.
    from inbox_bot.database import Database
    from inbox_bot.schema import OutboxRow

    db = Database(settings.database.url)
    with db.transaction() as session:
        for row in session.query(OutboxRow):
            row.next_attempt_at = datetime.now(timezone.utc)
    db.dispose()
    second = run_once(settings)
    assert second.delivery.sent >= 5
    assert len(to_requesters(smtp_sink, 5)) == 5
    third = run_once(settings)
    assert third.delivery.sent == 0
    assert len(to_requesters(smtp_sink)) == 5
    recipients = sorted(m.rcpt_tos[0] for m in to_requesters(smtp_sink))
    assert recipients == sorted(s for s, _ in _requests(5))
