"""The bot's own data: logs carry no address and no message text, the SQLite file is owner-only,
and attachments are kept as metadata only.
"""

from __future__ import annotations

import logging
import stat
from email.message import EmailMessage
from pathlib import Path

from helpers import count, request_mail, run_once, settings_for
from inbox_bot.logs import RedactingFilter

SECRET_BODY = "Mój numer PESEL to 85010112345 i mieszkam przy ulicy Kwiatowej 7"
ADDRESSES = ("zofia.wisniewska@example.pl", "mailer-daemon@mx.example.pl")


def test_a_pass_logs_no_address_and_no_body_text(dovecot, smtp_sink, tmp_path, caplog, classifier_ready):  # noqa: F811
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/p.db")
    dovecot.append(request_mail(f"Zofia Wiśniewska <{ADDRESSES[0]}>", "Usunięcie danych",
                                f"Proszę o usunięcie moich danych. {SECRET_BODY}."))
    dovecot.append(b"   \r\n\r\n")  # quarantined: error paths log too
    dovecot.append((f"From: MAILER-DAEMON <{ADDRESSES[1]}>\r\nSubject: Undelivered\r\n"
                    f"X-Failed-Recipients: {ADDRESSES[0]}\r\n\r\n{SECRET_BODY}\r\n").encode())
    smtp_sink.fail_next(550, stage="RCPT")  # the refusal text and the park path log as well
    # The handler the daemon installs carries the redacting filter; pytest's capture gets the same.
    caplog.handler.addFilter(RedactingFilter())
    # Our own modules at DEBUG; libraries at INFO, as logs.setup leaves them (imapclient's DEBUG
    # is the IMAP protocol itself, which logs.setup always silences).
    with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, logger="inbox_bot"):
        run_once(settings)
    assert caplog.records, "the pass logged nothing: the test would prove nothing"
    text = "\n".join(caplog.handler.format(r) for r in caplog.records) + "\n" + caplog.text
    for needle in (*ADDRESSES, "Wiśniewska", "Zofia", "85010112345", "Kwiatowej"):
        assert needle.lower() not in text.lower(), needle
    # Body text is never logged even before the address filter: it has no pattern to catch.
    raw_messages = "\n".join(str(r.msg) % r.args if r.args else str(r.msg) for r in caplog.records)
    assert "85010112345" not in raw_messages


def test_sqlite_database_is_owner_only(dovecot, smtp_sink, tmp_path):
    path = tmp_path / "new" / "p.db"
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{path}")
    run_once(settings)
    for file in [path, *path.parent.glob("p.db-*")]:
        mode = stat.S_IMODE(file.stat().st_mode)
        assert mode & 0o077 == 0, f"{file.name} is {oct(mode)}"


def test_attachment_content_is_not_stored_beside_the_message(dovecot, smtp_sink, tmp_path, classifier_ready):  # noqa: F811
    # The raw message is kept (no loss); nothing else holds the attachment: no decoded copy.
    msg = EmailMessage()
    msg["From"] = "Jan <jan@example.pl>"
    msg["To"] = "iodo@optingo.eu"
    msg["Subject"] = "Wniosek o dostęp"
    msg["Message-ID"] = "<att-1@example.pl>"
    msg.set_content("Proszę o kopię moich danych osobowych (art. 15 RODO). Skan dowodu w załączniku.")
    content = b"SCAN-OF-ID-CARD-" * 64
    msg.add_attachment(content, maintype="application", subtype="octet-stream", filename="dowod.bin")
    path = Path(tmp_path) / "a.db"
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{path}")
    dovecot.append(msg.as_bytes())
    run_once(settings)
    from inbox_bot.schema import Message

    assert count(settings, Message) == 1
    data = b"".join(p.read_bytes() for p in path.parent.glob("a.db*"))
    assert b"SCAN-OF-ID-CARD-SCAN" not in data
