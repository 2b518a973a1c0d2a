"""The bot's own data: logs carry no address and no message text, the SQLite file is owner-only,
and attachment content is not kept in the database unless configured.
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


def test_a_pass_logs_no_address_and_no_body_text(dovecot, smtp_sink, tmp_path, caplog, classifier_ready):
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


def test_attachment_content_is_not_stored_beside_the_message(dovecot, smtp_sink, tmp_path, classifier_ready):
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


def test_stored_record_keeps_a_note_of_the_attachment_not_its_content(dovecot, smtp_sink, tmp_path, classifier_ready):
    # The scan is gone from the database (the original stays in the processed folder on the
    # server), and the record still says what was attached.
    import base64
    import email
    import email.policy

    from helpers import messages_of

    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Jan <jan@example.pl>", "iodo@optingo.eu", "Dostęp do danych"
    msg["Message-ID"] = "<att-2@example.pl>"
    msg.set_content("Proszę o kopię moich danych osobowych. W załączniku skan dowodu.")
    msg.add_attachment(b"SCAN-OF-ID-CARD" * 1000, maintype="image", subtype="jpeg", filename="dowod.jpg")
    settings = settings_for(dovecot, smtp_sink, f"sqlite:///{tmp_path}/m.db")
    dovecot.append(msg.as_bytes())
    run_once(settings)
    (record,) = messages_of(settings)
    assert b"SCAN-OF-ID-CARD" not in record.raw
    assert base64.b64encode(b"SCAN-OF-ID-CARD" * 3) not in record.raw
    stored = email.message_from_bytes(record.raw, policy=email.policy.default)
    assert "skan dowodu" in stored.get_body(preferencelist=("plain",)).get_content()
    assert b"attachment removed by inbox-bot: dowod.jpg, image/jpeg, 15000 bytes" in record.raw
    # The original, with its attachment, is still in the mailbox for the DPO.
    client = dovecot.imap_client()
    client.select_folder(settings.mailbox.processed_folder)
    (uid,) = client.search("ALL")
    original = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    client.logout()
    assert base64.b64encode(b"SCAN-OF-ID-CARD" * 3)[:40] in original.replace(b"\r\n", b"")


def test_attachments_are_kept_when_configured_within_the_cap():
    from inbox_bot.minimise import strip_attachments

    import email.message

    msg = email.message.EmailMessage()
    msg["From"], msg["Subject"] = "a@example.pl", "x"
    msg.set_content("tekst")
    msg.add_attachment(b"small", maintype="application", subtype="pdf", filename="a.pdf")
    msg.add_attachment(b"L" * 5000, maintype="application", subtype="pdf", filename="big.pdf")
    raw = msg.as_bytes()
    kept = strip_attachments(raw, keep=True, max_bytes=1000)
    assert b"attachment removed by inbox-bot: big.pdf" in kept
    assert b"attachment removed by inbox-bot: a.pdf" not in kept
    # Nothing to remove: the very same bytes come back.
    plain = b"From: a@example.pl\r\nSubject: x\r\n\r\ntekst\r\n"
    assert strip_attachments(plain) is plain
    # Bytes that are not a message at all are never "minimised" into something else.
    assert strip_attachments(b"\x00\xff garbage") == b"\x00\xff garbage"


def test_the_imap_protocol_trace_is_off_even_when_imapclient_logs_at_debug(dovecot, caplog):
    # imapclient turns imaplib's protocol trace on and sends it to its DEBUG log: every line and
    # literal read, so whole messages with their addresses. logs.setup keeps that logger quiet,
    # but imaplib still formatted each message's bytes for it (a tenth of a backlog's processing
    # time); the mailbox switches the trace off at its source, so not even an operator who turns
    # imapclient's logging up gets mail in the log.
    from inbox_bot.mailbox import Mailbox

    dovecot.append(request_mail(f"Zofia Wiśniewska <{ADDRESSES[0]}>", "Usunięcie danych", SECRET_BODY))
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="imapclient"):
        with Mailbox(dovecot.mailbox_settings()) as mb:
            mb.select()
            (fetched,) = list(mb.fetch(mb.pending_uids()))
    assert b"85010112345" in fetched.raw  # the mail was read
    assert any(r.name.startswith("imapclient") for r in caplog.records), "imapclient logged nothing: proves nothing"
    text = "\n".join(str(r.msg) % r.args if r.args else str(r.msg) for r in caplog.records)
    for needle in ("85010112345", ADDRESSES[0], "Kwiatowej"):
        assert needle not in text, needle
